"""``-n N`` asks the target no more than one process does (issue 15).

A single process starts its independent HTTP probes at once when the session starts (fixtures.py); an xdist
worker does not know which checks it will be given, so it starts none and asks each URL when a check of its
own needs it: N workers then make the requests one process makes, not N times the prefetch.

The browser checks share one page load per route (``route_pages``): spread over workers, two workers would load
the same route twice and start a Chromium each. They are kept on one worker: the run's default ``--dist load``
becomes ``loadgroup`` and every browser check is in the group ``scenescout-browser`` (another ``--dist`` the
user gives is left alone).
"""

from __future__ import annotations

from typing import Any

import pytest

BROWSER_GROUP = "scenescout-browser"
_BROWSER_FIXTURES = {"browser_page", "route_pages", "smoke_browser"}
_DIST_KEY = "scenescout_dist"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if is_worker(config):
        # the worker parsed the user's command line (--dist load); the controller switched to loadgroup
        if config.workerinput.get(_DIST_KEY) == "loadgroup":  # type: ignore[attr-defined]
            config.option.loadgroup = True
    elif getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[_DIST_KEY] = node.config.getvalue("dist")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from scenescout_ir.pytest_plugin.plugin import is_check

    for item in items:  # the checks only: another project's tests (or the suite's own) keep their distribution
        if is_check(item) and _BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group(BROWSER_GROUP))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """The group as xdist's loadgroup scheduler reads it (``nodeid@group``), before the worker sends its ids.
    xdist 3.8 writes ``item._nodeid``, which pytest 9 no longer reads (its node ids live in ``_id``): its own
    suffix is silently lost, so it is set here, on the browser checks only."""
    if not (is_worker(session.config) and session.config.getvalue("loadgroup")):
        return
    for item in session.items:
        if "@" not in item.nodeid and any(m.args == (BROWSER_GROUP,) for m in item.iter_markers("xdist_group")):
            _set_nodeid(item, f"{item.nodeid}@{BROWSER_GROUP}")


def _set_nodeid(item: pytest.Item, nodeid: str) -> None:
    if hasattr(item, "_id"):  # pytest >= 9
        from _pytest.nodeid import coerce_node_id  # type: ignore[import-not-found,unused-ignore]

        item._id = coerce_node_id(nodeid)
    else:
        item._nodeid = nodeid  # type: ignore[attr-defined]
