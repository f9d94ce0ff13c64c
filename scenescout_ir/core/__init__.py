"""The ground floor: typed configuration (targets.toml), redaction, the conditions table, plain records.

Imports nothing else of scenescout_ir."""
