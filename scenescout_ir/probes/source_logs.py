"""The latest lines of the ingestion log that mention one source: the playbook's
`tail -100 logs/ingestion.log | grep -i error` and `supabase functions logs ingest_<source> --limit 50`.

Reads at most a bounded tail of the file (never the whole of a large log); plain-text and JSON (pino) lines.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from scenescout_ir.core.evidence import Evidence
from scenescout_ir.core.outcomes import CouldNotRun
from scenescout_ir.core.signatures import json_record
from scenescout_ir.probes.logs import LogLine, parse_line

TAIL_BYTES = 1024 * 1024  # the tail looked at, at most


@dataclass(frozen=True)
class SourceTail:
    path: Path
    source: str
    lines: tuple[LogLine, ...]  # oldest first, the newest last
    bytes_read: int
    file_size: int

    @property
    def errors(self) -> tuple[LogLine, ...]:
        return tuple(line for line in self.lines if line.error)

    def latest_error(self) -> str:
        """The newest error line's message, in one line ("" when none)."""
        return line_message(self.errors[-1].text) if self.errors else ""

    def evidence(self) -> Evidence:
        head = (
            f"{self.path}: the latest {len(self.lines)} lines mentioning {self.source} "
            f"({len(self.errors)} errors); read the last {self.bytes_read} of {self.file_size} bytes"
        )
        body = "\n".join(f"{'>>' if line.error else '  '} {line.text.strip()[:500]}" for line in self.lines)
        return Evidence("log", f"{self.source} in {self.path.name}", head + ("\n\n" + body if body else ""),
                        {"path": str(self.path), "lines": len(self.lines), "errors": len(self.errors)})


def tail_mentions(path: Path, source: str, limit: int = 50, max_bytes: int = TAIL_BYTES) -> SourceTail:
    """The newest ``limit`` lines of ``path`` mentioning ``source`` (case-insensitive), from its last
    ``max_bytes``; raises CouldNotRun when the file cannot be read."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise CouldNotRun(f"{path} is not a regular file")
        with open(path, "rb") as fh:
            start = max(0, info.st_size - max_bytes)
            fh.seek(start)
            data = fh.read(info.st_size - start)
    except FileNotFoundError:
        raise CouldNotRun(f"log file {path} does not exist (set logs or ingestion_log in targets.toml)") from None
    except OSError as exc:
        raise CouldNotRun(f"cannot read log file {path}: {exc.strerror}") from None
    raw = data.split(b"\n")
    if start > 0 and raw:
        raw = raw[1:]  # the first line is cut: it began before the tail
    needle = source.lower()
    found: list[LogLine] = []
    for chunk in reversed(raw):
        text = chunk.decode("utf-8", errors="replace")
        if text.strip() and needle in text.lower():
            found.append(parse_line(text))
            if len(found) >= limit:
                break
    found.reverse()
    return SourceTail(path, source, tuple(found), len(data), info.st_size)


def line_message(text: str) -> str:
    """What a log line says: a JSON line's msg (and its err.message), a plain line as it is."""
    stripped = text.strip()
    record = json_record(stripped)
    if record is not None:
        msg = str(record.get("msg") or record.get("message") or "")
        err = record.get("err") or record.get("error")
        detail = err.get("message") if isinstance(err, dict) else err
        if detail and str(detail) not in msg:
            msg = f"{msg}: {detail}" if msg else str(detail)
        return " ".join(msg.split())[:300] or stripped[:300]
    return " ".join(stripped.split())[:300]
