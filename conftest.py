"""The checkout's own pytest settings: none beyond pyproject.toml. The suite is the `scenescout_ir.pytest_plugin.plugin`
pytest plugin, registered by its pytest11 entry point when the package is installed (make install)."""
