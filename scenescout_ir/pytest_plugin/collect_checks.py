"""The checks of checks/ and scenarios/ as pytest collects them: the child process that
:func:`scenescout_ir.playbook.traceability.collect` runs (``python -m scenescout_ir.pytest_plugin.collect_checks``),
so the playbook layer itself never imports pytest."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import asdict
from typing import Any

from scenescout_ir.playbook.traceability import CHECK_MARKERS, CheckInfo


class _Collector:
    def __init__(self) -> None:
        self.checks: dict[str, dict[str, Any]] = {}

    def pytest_collection_finish(self, session: Any) -> None:
        for item in session.items:
            markers = tuple(m for m in CHECK_MARKERS if item.get_closest_marker(m))
            if not markers:
                continue
            nodeid = item.nodeid.split("[", 1)[0]
            if nodeid in self.checks:
                self.checks[nodeid]["cases"] += 1
                continue
            condition = item.get_closest_marker("condition")
            claims = [str(a) for m in item.iter_markers("playbook") for a in m.args]
            doc = (getattr(item, "function", None).__doc__ or "").strip()  # type: ignore[union-attr]
            self.checks[nodeid] = {
                "nodeid": nodeid, "name": nodeid.rsplit("::", 1)[-1], "markers": markers,
                "condition": condition.args[0] if condition else None, "claims": claims,
                "doc": " ".join(doc.split()), "cases": 1,
            }


def collect_here() -> list[dict[str, Any]]:
    import pytest

    collector = _Collector()
    with contextlib.redirect_stdout(io.StringIO()) as captured:
        # the package is imported already (this module): pytest cannot rewrite its plugin's asserts, and says so
        code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider",
                            "-W", "ignore::pytest.PytestAssertRewriteWarning", "checks", "scenarios"],
                           plugins=[collector])
    if code not in (0, 5):
        raise SystemExit(f"pytest could not collect the checks (exit {code}): {captured.getvalue()[-500:]}")
    return list(collector.checks.values())


if __name__ == "__main__":  # the child process of collect()
    print(json.dumps([asdict(CheckInfo(**c)) | {"markers": list(c["markers"])} for c in collect_here()]))
