"""The ground floor, shared by every layer: typed configuration (targets.toml), the one redactor, the conditions
table, the plain outcome records (Finding, CouldNotRun, Blind), evidence, log signatures, the run's time budget,
the one-line summaries and the SVG chart.

Imports nothing else of scenescout_ir (only the standard library and its own modules); never pytest."""
