"""The probes: every piece of I/O the checks need (DNS, TCP, TLS, HTTP, the browser, PostgreSQL, logs, the host,
the provider's API), each with a timeout, each returning a plain result record (HttpResult, SampleSet...). A probe
also owns the reading of its own answers: why a database connection failed (connect_errors.py), which version
a response names (deploy_version.py).

May import core only; never judge (a probe reports what it saw, the judge says what it means), never pytest."""
