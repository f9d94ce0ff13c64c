"""Judgement: from what the probes saw to findings, probable causes and the run's verdict. Health bodies
(health.py), response times (response_times.py), a route's failure (routes.py), job runs (jobs.py), performance
samples, the provider's answers, the data-loss baseline, the fingerprint of the last healthy run, the verdict
(verdict.py: a typed Verdict, written to and read back from verdict.json).

May import core, and from probes only their result records, constants and pure helpers (HttpResult, short_url,
SampleSet, STATEMENTS; tests/unit/test_layers.py lists them): never a probe's I/O. No network, never pytest; the
only files it touches are the kept state it owns (verdict.json, the fingerprint, the baseline)."""
