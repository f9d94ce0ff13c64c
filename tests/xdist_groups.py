"""``--dist loadgroup`` for the suite's own tests: two tests marked ``@pytest.mark.xdist_group("x")`` run on one
worker (``make test``: the prod flavour's modules share one prod demo stack instead of a stack per worker).

xdist 3.8 gives a worker's items the suffix its loadgroup scheduler reads (``nodeid@group``, the sorted group names
joined by ``_``) by writing ``item._nodeid``; pytest 9 keeps node ids in ``_id`` and no longer reads ``_nodeid``,
so the suffix was silently lost and every group was spread over the workers. This hook sets it as xdist intends,
through the same helper as the browser checks' group (scenescout_ir/pytest_plugin/xdist_footprint.py), after
xdist's own hook and
before the worker sends its collection to the controller. With a pytest that still reads ``_nodeid`` the suffix
is already there and nothing is changed.
"""

from __future__ import annotations

import pytest

from scenescout_ir.pytest_plugin.xdist_footprint import _set_nodeid, is_worker


def group_of(item: pytest.Item) -> str | None:
    """xdist's group of the item (remote.py): its xdist_group names, sorted, joined by ``_``; None without one."""
    names = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
    return "_".join(sorted(names)) if names else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not (is_worker(config) and config.getvalue("loadgroup")):
        return
    for item in items:
        group = group_of(item)
        if group is not None and "@" not in item.nodeid:
            _set_nodeid(item, f"{item.nodeid}@{group}")
