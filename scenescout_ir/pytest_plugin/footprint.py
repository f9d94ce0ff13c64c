"""What the run itself asked of the target: connections, statements and requests its probes made.

Each process counts its own probes; an xdist worker sends its counts back with it (``workeroutput``) and the
controlling process adds them up, so the verdict states the whole run's footprint.
"""

from __future__ import annotations

from typing import Any

WORKER_KEY = "scenescout_footprint"


class Footprint:
    def __init__(self) -> None:
        self.probes: list[Any] = []  # the session's probes, for the footprint the run left on the target
        self.totals: dict[str, int] = {}

    def own(self) -> dict[str, int]:
        counts = {"db_connections": 0, "db_statements": 0, "http_requests": 0}
        for probe in self.probes:
            counts["db_connections"] += getattr(probe, "connections_opened", 0)
            counts["db_statements"] += getattr(probe, "statements_run", 0)
            counts["http_requests"] += getattr(probe, "requests_made", 0)
        return counts

    def add(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            self.totals[key] = self.totals.get(key, 0) + value

    def add_worker(self, node: Any) -> None:
        """xdist: each worker's footprint comes back with it."""
        self.add(getattr(node, "workeroutput", {}).get(WORKER_KEY, {}))
