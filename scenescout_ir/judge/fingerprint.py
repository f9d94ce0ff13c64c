"""What changed since the last healthy run: a compact fingerprint of the target, kept from every OK run.

The fingerprint is read from the evidence the checks gathered (no extra request): per endpoint its status
and latency, per table its row count, per source its freshness, per log file its error signatures, the
database's version, and the deploy's version where the target shows one (a version header, a version in
a health body, the front end's hashed asset names). Nothing secret goes in: URLs lose their query values
and every text passes the run's redactor before it is written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_PARAM = re.compile(r"\[(.+)\]$")
_FROM = re.compile(r"\bFROM\s+((?:\"?\w+\"?\.)?\"?\w+\"?)", re.I)


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    query = "&".join(p.split("=", 1)[0] for p in parts.query.split("&") if p) if parts.query else ""
    return (parts.path or "/") + (f"?{query}" if query else "")


def build(records: Iterable[Mapping[str, Any]], taken_at: str) -> dict[str, Any]:
    """The fingerprint of one run, from its check records (``CheckRecord.to_dict()``)."""
    fp: dict[str, Any] = {"taken_at": taken_at, "endpoints": {}, "tables": {}, "freshness": {}, "errors": {},
                          "database": {}, "deploy": {}}
    for record in records:
        param = _PARAM.search(str(record.get("check", "")))
        for ev in record.get("evidence") or []:
            kind, title, data = ev.get("kind"), str(ev.get("title", "")), ev.get("data") or {}
            if kind == "http" and data.get("url"):
                key = f"{data.get('method', 'GET')} {_endpoint(data['url'])}"
                latency = data.get("p50", data.get("elapsed_s"))
                status = data.get("status")
                if status is None and data.get("samples"):
                    status = data["samples"][-1].get("status")
                entry = fp["endpoints"].setdefault(key, {})
                if status is not None:
                    entry["status"] = status
                if latency is not None:
                    entry["latency_s"] = latency
                fp["deploy"].update({f"{key} {k}": v for k, v in (data.get("deploy") or {}).items()})
            elif kind == "sql" and data.get("rows"):
                row = dict(zip(data.get("columns", []), data["rows"][0], strict=False))
                if title == "connectivity" and row.get("version"):
                    fp["database"]["version"] = str(row["version"]).split(" on ")[0]
                elif title == "ingestion_freshness" and "age_s" in row and param:
                    fp["freshness"][param.group(1)] = float(row["age_s"])
                elif title == "table_row_count" and "row_count" in row:
                    table = _FROM.search(ev.get("text", ""))
                    if table:
                        fp["tables"][table.group(1).replace('"', "")] = int(row["row_count"])
                elif title == "connection_saturation" and "max_connections" in row:
                    fp["database"]["max_connections"] = row["max_connections"]
            elif kind == "log" and "signatures" in data:  # a log read without errors is {}: read, and clean
                name = str(data.get("file") or title.removeprefix("errors in "))
                fp["errors"][name] = {sig: int(n) for sig, n in data["signatures"]}
    return fp


@dataclass(frozen=True)
class Change:
    kind: str  # new_error | version | status | latency | rows | freshness | database | more_errors
    text: str
    weight: float  # the more telling, the higher

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def diff(healthy: Mapping[str, Any], now: Mapping[str, Any]) -> list[Change]:
    """What differs in ``now`` from the last healthy fingerprint, most telling first."""
    changes: list[Change] = []
    for part in (_error_changes, _deploy_changes, _endpoint_changes, _table_changes, _freshness_changes,
                 _database_changes):
        changes += part(healthy, now)
    return sorted(changes, key=lambda c: -c.weight)


def _error_changes(healthy: Mapping[str, Any], now: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for log, sigs in (now.get("errors") or {}).items():
        if log not in (healthy.get("errors") or {}):
            continue  # not read by the healthy run: nothing to compare with, nothing is "new"
        before = healthy["errors"][log]
        for sig, count in sigs.items():
            if sig not in before:
                changes.append(Change("new_error", f"{sig} x{count}, new in {log}", 100 + count))
            elif count >= 3 * max(1, before[sig]) and count - before[sig] >= 5:
                changes.append(Change("more_errors", f"{sig} x{before[sig]} -> x{count} in {log}", 30 + count))
    return changes


def _deploy_changes(healthy: Mapping[str, Any], now: Mapping[str, Any]) -> list[Change]:
    since = f"since the last healthy run ({healthy.get('taken_at', '?')})"
    old_deploy, new_deploy = healthy.get("deploy") or {}, now.get("deploy") or {}
    changes: list[Change] = []
    for key in sorted(set(old_deploy) & set(new_deploy)):
        if old_deploy[key] != new_deploy[key]:
            what = "front end assets changed" if key.endswith("assets") else f"{key} changed"
            changes.append(Change("version", f"{what}: {old_deploy[key]} -> {new_deploy[key]} {since}", 90))
    return changes


def _endpoint_changes(healthy: Mapping[str, Any], now: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for key, entry in (now.get("endpoints") or {}).items():
        before = (healthy.get("endpoints") or {}).get(key)
        if not before:
            continue
        if "status" in entry and "status" in before and entry["status"] != before["status"]:
            changes.append(Change("status", f"{key} {before['status']} -> {entry['status']}", 80))
        old_s, new_s = before.get("latency_s"), entry.get("latency_s")
        if old_s is not None and new_s is not None and new_s >= 3 * old_s and new_s - old_s >= 0.3:
            changes.append(Change("latency", f"{key} p50 {_seconds(old_s)} -> {_seconds(new_s)}",
                                  70 + min(new_s / max(old_s, 0.001) / 10, 9)))
    return changes


def _table_changes(healthy: Mapping[str, Any], now: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for table, count in (now.get("tables") or {}).items():
        before = (healthy.get("tables") or {}).get(table)
        if before and count < before * 0.9:
            changes.append(Change("rows", f"{table} rows {before} -> {count} ({(count - before) / before:+.0%})", 60))
    return changes


def _freshness_changes(healthy: Mapping[str, Any], now: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for source, age in (now.get("freshness") or {}).items():
        before = (healthy.get("freshness") or {}).get(source)
        if before is not None and age > before + 600 and age > 2 * before:
            changes.append(Change("freshness", f"{source} newest event {_seconds(before)} old -> {_seconds(age)} old",
                                  50))
    return changes


def _database_changes(healthy: Mapping[str, Any], now: Mapping[str, Any]) -> list[Change]:
    old_db, new_db = healthy.get("database") or {}, now.get("database") or {}
    return [Change("database", f"database {key}: {old_db[key]} -> {new_db[key]}", 40)
            for key in sorted(set(old_db) & set(new_db)) if old_db[key] != new_db[key]]


def merge(last: Mapping[str, Any] | None, now: Mapping[str, Any]) -> dict[str, Any]:
    """The new healthy fingerprint: this run's values over the last one's, so a healthy run of some checks only
    (``-k``) does not forget what the others saw."""
    merged: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in (last or {}).items()}
    for key, value in now.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def fingerprint_file(reports_dir: Path, target: str) -> Path:
    return reports_dir / "fingerprints" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', target)}.json"


def load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save(path: Path, fp: Mapping[str, Any], redact: Callable[[str], str] = lambda s: s) -> None:
    """Atomically, through the redactor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fingerprint-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(redact(json.dumps(fp, indent=1, sort_keys=True)) + "\n")
    os.replace(tmp, path)
