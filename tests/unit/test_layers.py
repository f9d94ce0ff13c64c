"""The package's folders are its layers, and imports only go down (README, "Architecture").

From the bottom: core < probes < judge < reporting < incident, playbook < pytest_plugin and ``__main__``. A module
may import its own package and any lower layer, never a higher one nor a package of its own floor (incident and
playbook know nothing of each other), so no cycle between packages can form. Below pytest_plugin nothing imports
pytest or a pytest plugin. Every import counts: at the top, inside a function, under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "scenescout_ir"
LAYERS = {"core": 0, "probes": 1, "judge": 2, "reporting": 3, "incident": 4, "playbook": 4, "pytest_plugin": 5,
          "__main__": 5}
PYTEST = ("pytest", "_pytest", "xdist", "pytest_playwright", "allure_pytest", "pluggy")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def _layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, "scenescout_ir.judge.verdict")`` for each import in the module, relative ones resolved; ``from
    scenescout_ir import report`` counts as importing ``scenescout_ir.report``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = ("scenescout_ir", *path.relative_to(PACKAGE).parent.parts)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, (base, node.module or "")))
            if module == "scenescout_ir":
                found += [(node.lineno, f"scenescout_ir.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


def _target_layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "scenescout_ir" and len(parts) > 1 else None


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{line}"


def upward_imports() -> list[str]:
    problems = []
    for path in _modules():
        layer = _layer_of(path)
        for line, module in _imports(path):
            target = _target_layer(module)
            if target is None or target == layer:
                continue
            if target not in LAYERS:
                problems.append(f"{_where(path, line)}: imports {module}, of no known layer (add it to LAYERS)")
            elif LAYERS[target] >= LAYERS[layer]:
                problems.append(f"{_where(path, line)}: {layer} imports {module} ({target} is not below {layer})")
    return problems


def package_cycles() -> list[list[str]]:
    """Cycles in the graph of which package imports which (a second net under the ranks above)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in _modules():
        for _, module in _imports(path):
            target = _target_layer(module)
            if target and target != _layer_of(path):
                edges[_layer_of(path)].add(target)
    cycles: list[list[str]] = []

    def walk(node: str, trail: list[str]) -> None:
        for nxt in sorted(edges[node]):
            if nxt == trail[0] and min(trail) == trail[0]:  # each cycle once, from its smallest name
                cycles.append([*trail, nxt])
            elif nxt not in trail:
                walk(nxt, [*trail, nxt])

    for start in sorted(edges):
        walk(start, [start])
    return cycles


def pytest_below_the_adapter() -> list[str]:
    problems = []
    for path in _modules():
        layer = _layer_of(path)
        if LAYERS.get(layer, 0) >= LAYERS["pytest_plugin"]:
            continue
        for line, module in _imports(path):
            if module.split(".")[0] in PYTEST:
                problems.append(f"{_where(path, line)}: {layer} imports {module} (only pytest_plugin knows pytest)")
    return problems


def test_every_module_belongs_to_a_layer() -> None:
    unknown = sorted({_layer_of(p) for p in _modules()} - set(LAYERS))
    assert not unknown, f"modules outside the known layers: {unknown} (add them to LAYERS and the README)"


def test_no_import_goes_up_a_layer() -> None:
    problems = upward_imports()
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_no_cycle_between_packages() -> None:
    cycles = package_cycles()
    assert not cycles, "import cycles between packages: " + "; ".join(" -> ".join(c) for c in cycles)


def test_nothing_below_the_pytest_adapter_imports_pytest() -> None:
    problems = pytest_below_the_adapter()
    assert not problems, "pytest imported below pytest_plugin:\n" + "\n".join(problems)


@pytest.mark.parametrize("layer", sorted(name for name in LAYERS if not name.startswith("_")))
def test_each_layer_says_what_lives_there_and_what_it_may_import(layer: str) -> None:
    """Its ``__init__`` docstring names every package it does import (so the docstring stays true)."""
    init = PACKAGE / layer / "__init__.py"
    assert init.is_file(), f"{layer}/ has no __init__.py to say what lives there"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    assert "May import" in doc or "Imports nothing" in doc, f"{layer}/__init__.py does not say what it may import"
    used = {_target_layer(m) for p in (PACKAGE / layer).rglob("*.py") for _, m in _imports(p)} - {None, layer}
    unnamed = sorted(t for t in used if t and t not in doc)
    assert not unnamed, f"{layer}/__init__.py does not name {unnamed}, which {layer} imports"


# What judge may take from the probes: their result records, constants and pure helpers, never a function that
# does I/O (a judgement is a function of what was seen, testable without a network).
PROBE_RECORDS = {"HttpResult", "short_url", "SampleSet", "STATEMENTS"}


def test_judge_takes_only_result_records_from_the_probes() -> None:
    taken = []
    for path in sorted((PACKAGE / "judge").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scenescout_ir.probes"):
                taken += [f"{_where(path, node.lineno)}: {node.module}.{a.name}" for a in node.names
                          if a.name not in PROBE_RECORDS]
            elif isinstance(node, ast.Import):
                taken += [f"{_where(path, node.lineno)}: import {a.name}" for a in node.names
                          if a.name.startswith("scenescout_ir.probes")]
    assert not taken, "judge takes more than result records from the probes:\n" + "\n".join(taken)


# --- the test sees what it must: an upward import, a cycle, pytest below the adapter -----------------------


def test_the_walk_finds_an_upward_import_a_cycle_and_pytest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "scenescout_ir"
    for layer, text in {
        "core": "from scenescout_ir.judge.verdict import Verdict\n",  # up two floors
        "judge": "from ..core import x\nimport pytest\n",  # down (relative): fine; pytest: not fine
        "incident": "from scenescout_ir import playbook\n",  # the same floor
        "playbook": "from scenescout_ir.incident import log\n",  # and back: a cycle
    }.items():
        (root / layer).mkdir(parents=True)
        (root / layer / "mod.py").write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", root)
    assert upward_imports() == [
        "scenescout_ir/core/mod.py:1: core imports scenescout_ir.judge.verdict (judge is not below core)",
        "scenescout_ir/incident/mod.py:1: incident imports scenescout_ir.playbook (playbook is not below incident)",
        "scenescout_ir/playbook/mod.py:1: playbook imports scenescout_ir.incident (incident is not below playbook)",
    ]
    assert package_cycles() == [["core", "judge", "core"], ["incident", "playbook", "incident"]]
    assert pytest_below_the_adapter() == [
        "scenescout_ir/judge/mod.py:2: judge imports pytest (only pytest_plugin knows pytest)"]
