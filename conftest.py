"""Registers the suite's plugins; nothing else lives here."""

pytest_plugins = ("scenescout_ir.plugin", "fixtures.target")
