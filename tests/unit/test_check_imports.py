"""Checks read like the playbook: they ask the probes, they do not open connections, build SQL or HTTP clients.

Walks checks/ and scenarios/ with ``ast`` and fails when a check module imports a client library directly, or
reaches past the fixtures into the suite: of the suite's own packages a check imports only the core records
(outcomes, evidence), the judge layer and the probes' results; what it needs of the run (the evidence log, the
baseline, the reports directory, the incident's start) is a fixture (scenescout_ir/pytest_plugin/fixtures.py).
Imports under ``if TYPE_CHECKING:`` (type hints only) are allowed.
"""

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK_DIRS = ("checks", "scenarios")
FORBIDDEN = ("psycopg", "requests", "socket", "urllib.request", "http.client", "playwright.sync_api")
SUITE = "scenescout_ir"
ALLOWED_LAYERS = ("scenescout_ir.core", "scenescout_ir.judge", "scenescout_ir.probes")  # never pytest_plugin & co


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _forbidden(module: str) -> str | None:
    if _within(module, SUITE) and module != SUITE and not any(_within(module, layer) for layer in ALLOWED_LAYERS):
        return module  # the plugin, the reports, the incident log: a fixture gives what a check needs of them
    return next((f for f in FORBIDDEN if _within(module, f)), None)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def direct_client_imports(source: str) -> list[str]:
    """``line: import psycopg`` for each import of a client library outside ``if TYPE_CHECKING:``."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(f"{node.lineno}: import {a.name}" for a in node.names if _forbidden(a.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _forbidden(node.module):
                found.append(f"{node.lineno}: from {node.module} import ...")
            else:  # from urllib import request, from http import client, from scenescout_ir import pytest_plugin
                found.extend(f"{node.lineno}: from {node.module} import {a.name}" for a in node.names
                             if _forbidden(f"{node.module}.{a.name}"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


PROBES = "scenescout_ir.probes"
# not a record, and allowed with its reason: it builds the vendor API's request (URL, key from the environment), no I/O
PROBE_HELPERS = {"scenescout_ir.probes.http.upstream_request"}


def probe_imports_that_are_not_records(source: str) -> list[str]:
    """``line: name`` for each name a check imports from the probes that is not a result record (a dataclass): the
    probes' I/O (a sampler, a log reader, a page script) reaches a check through a fixture."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(f"{node.lineno}: import {a.name}" for a in node.names if _within(a.name, PROBES))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _within(node.module, PROBES):
            module = importlib.import_module(node.module)
            for alias in node.names:
                thing = getattr(module, alias.name, None)
                record = isinstance(thing, type) and dataclasses.is_dataclass(thing)
                if not record and f"{node.module}.{alias.name}" not in PROBE_HELPERS:
                    found.append(f"{node.lineno}: {node.module}.{alias.name}")
    return found


CHECK_MODULES = sorted(p for d in CHECK_DIRS for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("path", CHECK_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_check_module_imports_a_client_library(path):
    found = direct_client_imports(path.read_text())
    assert not found, (
        f"{path.relative_to(ROOT)} imports a client library directly ({'; '.join(found)}): "
        "ask a probe (scenescout_ir/probes/) or a fixture (scenescout_ir/pytest_plugin/fixtures.py) for what the "
        "check needs"
    )


def test_the_rule_sees_every_spelling_and_allows_type_only_imports():
    assert CHECK_MODULES, "no check modules found"
    source = (
        "import psycopg\nfrom psycopg import sql\nimport requests.adapters\nfrom urllib import request\n"
        "from http import client\nimport socket\nfrom playwright.sync_api import Page\n"
        "from urllib.parse import urlsplit\nimport json\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from playwright.sync_api import Page\n"
        "def f():\n    import socket\n"
    )
    assert [line.split(":")[0] for line in direct_client_imports(source)] == [
        "1", "2", "3", "4", "5", "6", "7", "14"]


def test_the_rule_keeps_checks_to_core_judge_and_probes():
    source = (
        "from scenescout_ir.core.outcomes import Finding\nfrom scenescout_ir.judge.tls import certificate_problem\n"
        "from scenescout_ir.probes.db import TableCounts\nfrom scenescout_ir.pytest_plugin.plugin import suite\n"
        "import scenescout_ir.pytest_plugin.fixtures\nfrom scenescout_ir import pytest_plugin\n"
        "from scenescout_ir.incident.log import open_incident_start\nfrom scenescout_ir.reporting import report\n"
        "from scenescout_ir import judge\nimport scenescout_ir_extra\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from scenescout_ir.pytest_plugin.plugin import Suite\n"
    )
    assert [line.split(":")[0] for line in direct_client_imports(source)] == ["4", "5", "6", "7", "8"]


@pytest.mark.parametrize("path", CHECK_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_check_takes_only_result_records_from_the_probes(path):
    found = probe_imports_that_are_not_records(path.read_text())
    assert not found, (
        f"{path.relative_to(ROOT)} imports probe machinery ({'; '.join(found)}): make it a fixture in "
        "scenescout_ir/pytest_plugin/fixtures.py and ask that"
    )


def test_the_probe_rule_tells_records_from_machinery():
    source = (
        "from scenescout_ir.probes.db import TableCounts\nfrom scenescout_ir.probes.sampling import ResponseSampler\n"
        "from scenescout_ir.probes.source_logs import tail_mentions, SourceTail\nimport scenescout_ir.probes.db\n"
        "from scenescout_ir.probes.http import upstream_request, HttpResult\n"
    )
    assert probe_imports_that_are_not_records(source) == [
        "2: scenescout_ir.probes.sampling.ResponseSampler", "3: scenescout_ir.probes.source_logs.tail_mentions",
        "4: import scenescout_ir.probes.db"]
