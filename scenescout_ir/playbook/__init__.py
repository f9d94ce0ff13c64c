"""The playbook itself (docs/playbook.md) and its traceability to the checks.

May import core."""
