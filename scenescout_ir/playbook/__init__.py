"""The playbook itself (its commands, read from docs/playbook.md) and its traceability to the checks.

May import core only; collecting the checks runs pytest in a child process (pytest_plugin/collect_checks.py), so
this layer never imports pytest itself."""
