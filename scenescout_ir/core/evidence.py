"""What a check saw, kept for the person reading the finding: recorded by the probes, not by the checks."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 4000


@dataclass(frozen=True)
class Evidence:
    kind: str  # http, sql, log, host, dns
    title: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)  # structured form (columns and rows of a query...)

    def bounded(self) -> Evidence:
        if len(self.text) <= MAX_TEXT:
            return self
        cut = len(self.text) - MAX_TEXT
        return Evidence(self.kind, self.title, self.text[:MAX_TEXT] + f"\n... ({cut} more characters)", self.data)


class EvidenceLog:
    """The evidence of the check running now; the plugin opens and closes it around each check."""

    def __init__(self) -> None:
        self._items: list[Evidence] = []
        self._lock = threading.Lock()

    def __call__(self, item: Evidence) -> None:
        with self._lock:
            self._items.append(item.bounded())

    def take(self) -> list[Evidence]:
        with self._lock:
            items, self._items = self._items, []
        return items


def table_text(columns: list[str], rows: list[tuple[Any, ...]], limit: int = 50) -> str:
    """Rows as an aligned plain-text table, as psql would show them."""
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in row] for row in rows[:limit]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    more = f"\n({len(rows)} rows, {limit} shown)" if len(rows) > limit else f"\n({len(rows)} rows)"
    return "\n".join(lines) + more
