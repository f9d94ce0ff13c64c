"""The data-loss baseline: the row counts of the last healthy run, per target, in integrity.baseline_file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scenescout_ir.core.evidence import Evidence
from scenescout_ir.core.outcomes import CouldNotRun


class Baseline:
    """The row counts of the last healthy run, per target, in the file integrity.baseline_file."""

    def __init__(self, path: Path, target: str, record: Callable[[Evidence], Any]) -> None:
        self.path = path
        self.target = target
        self._record = record

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CouldNotRun(f"cannot read the baseline {self.path}: {exc} (delete it to start a new one)") from None
        entry = data.get("targets", {}).get(self.target) if isinstance(data, dict) else None
        return entry if isinstance(entry, dict) and isinstance(entry.get("counts"), dict) else None

    def save(self, counts: dict[str, int]) -> str:
        """Atomically replace this target's entry; returns the time it was taken."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
            data = {"targets": {}}
        taken_at = datetime.now(UTC).isoformat(timespec="seconds")
        data["targets"][self.target] = {"taken_at": taken_at, "counts": dict(sorted(counts.items()))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".baseline-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, self.path)
        return taken_at

    def note(self, title: str, text: str, **data: Any) -> None:
        self._record(Evidence("baseline", title, text, {"baseline_file": str(self.path), **data}))
