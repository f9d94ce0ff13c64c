"""The incident: its log (log.py), the post-mortem draft built from the log and the kept runs (postmortem.py),
and the notifications a verdict calls for (notify.py).

May import core, judge (the typed Verdict) and reporting (the kept runs and their reports, which the log links
and the post-mortem reads); never probes, playbook, nor pytest."""
