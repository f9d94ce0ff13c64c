"""Data loss judged against the last healthy run's row counts (the baseline, judge/baseline.py).

A table that lost more than the limit's share of its rows, or is gone, is a loss; a table not read this time is
listed as such and judged next time. Pure arithmetic over two dicts of counts: the check reads and writes them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

COLUMNS = ["table", "baseline", "now", "change"]


@dataclass(frozen=True)
class DataLoss:
    losses: list[str] = field(default_factory=list)  # one sentence per table that lost rows, or is gone
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # table, baseline, now, change: the evidence table


def data_loss(before: dict[str, int], now: dict[str, int], not_read: Collection[str], limit: float) -> DataLoss:
    """Each table of ``before`` compared with ``now``; ``limit``: the share of rows a table may lose (0.1: 10%)."""
    result = DataLoss()
    for table, then in sorted(before.items()):
        count = now.get(table)
        if table in not_read:
            result.rows.append((table, then, "", "not read"))
            continue
        if count is None:
            result.losses.append(f"{table} is gone (it had {then} rows)")
            result.rows.append((table, then, "", "GONE"))
            continue
        drop = (then - count) / then if then else 0.0
        result.rows.append((table, then, count, f"{-drop:+.1%}"))
        if drop > limit:
            result.losses.append(f"{table} has {count} rows, {then} at the baseline (-{drop:.0%}; limit: {limit:.0%})")
    return result


def refreshed(before: dict[str, int], now: dict[str, int]) -> dict[str, int]:
    """The counts the next run compares against: this run's, and the last count of a table not read this time."""
    return {**before, **now}
