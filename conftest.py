"""Registers the suite's plugins; nothing else lives here."""

pytest_plugins = (
    "scenescout_ir.plugin", "scenescout_ir.allure_evidence", "scenescout_ir.watch", "fixtures.target",
    "fixtures.browser",
)
