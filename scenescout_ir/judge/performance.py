"""Pure judgements behind the performance checks: response times, blocking chains, the database's
efficiency counters and the freshness query's plan. No I/O here except the counter snapshot file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scenescout_ir.core.config import Performance, Thresholds
from scenescout_ir.core.outcomes import Blind, CouldNotRun, Finding
from scenescout_ir.probes.db import STATEMENTS
from scenescout_ir.probes.sampling import SampleSet

# --- response times ---------------------------------------------------------------------------------


def check_response_times(samples: SampleSet, limits: Thresholds) -> None:
    """Mean or p95 over the SLO: minor performance issues; over the SEV2 line: significant degradation."""
    if not samples.times:  # no answer at all, and not for want of time: the availability checks say why
        first = samples.samples[0]
        raise CouldNotRun(f"GET {samples.path} gave no answer to time ({first.error})")
    worst = max(samples.mean, samples.p95)
    stopped = f"; {samples.stopped}" if samples.stopped else ""
    text = samples.summary() + stopped
    said = f"{samples.path} is slow: " + text.removeprefix(f"GET {samples.path}: ")  # the word that names it
    if worst > limits.response_sev2_s:
        raise Finding(
            "significant_degradation",
            f"{said} (limit: {limits.response_sev2_s:g} s, the playbook's SEV2 line)",
        )
    failed = [s for s in samples.failures if s.answered]
    if failed and worst <= limits.response_slo_s:
        raise CouldNotRun(
            f"GET {samples.path} answers HTTP {failed[0].status}: the time of an error page is not the "
            f"endpoint's response time (the availability checks report the error)"
        )
    if worst > limits.response_slo_s:
        raise Finding("slow_site", f"{said} (SLO: {limits.response_slo_s:g} s for the mean and the p95)")


# --- pg_stat_statements -----------------------------------------------------------------------------


def statements_view(status: Mapping[str, Any]) -> str:
    """The schema-qualified view, or CouldNotRun saying how to make it readable."""
    if not status["extversion"]:
        preloaded = "pg_stat_statements" in str(status["shared_preload_libraries"])
        how = "CREATE EXTENSION pg_stat_statements" + (
            "" if preloaded else " after adding it to shared_preload_libraries (a restart)"
        )
        raise CouldNotRun(f"pg_stat_statements is not installed in database {status['database']}: {how}")
    if not status["reads_all_stats"]:  # other roles' statements hidden: a blind part, never a pass
        raise Blind(STATEMENTS, "pg_stat_statements is installed but this role sees only its own statements' text: "
                                "GRANT pg_read_all_stats (or pg_monitor) to it")
    return f"{status['schema']}.pg_stat_statements"


def describe_statement(row: Mapping[str, Any]) -> str:
    return (
        f"{row['query'][:100]!r}: mean {float(row['mean_ms']):.0f} ms over {row['calls']} calls "
        f"(max {float(row['max_ms']):.0f} ms, total {float(row['total_ms']) / 1000:.1f} s)"
    )


# --- blocking chains --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    pid: int
    state: str  # "waiting 4.1 s" or "idle in transaction, transaction open 6.2 s"
    statement: str
    waiting_s: float | None  # None for the head of the chain, which holds the lock and waits on nobody

    def describe(self) -> str:
        return f"pid {self.pid} ({self.state}: {self.statement[:80]!r})"


@dataclass(frozen=True)
class Chain:
    links: tuple[Link, ...]  # from the last waiter to the session at the head, which blocks them all

    @property
    def depth(self) -> int:
        """Levels of waiting: 1 is one session waiting on another; a chain has more than one."""
        return len(self.links) - 1

    @property
    def longest_wait_s(self) -> float:
        return max((link.waiting_s or 0.0) for link in self.links)

    @property
    def head(self) -> Link:
        return self.links[-1]

    def describe(self) -> str:
        return " waits on ".join(link.describe() for link in self.links)


def blocking_chains(pairs: list[dict[str, Any]]) -> list[Chain]:
    """The longest path from each last waiter to a session that waits on nobody, from the rows of
    ``blocking_locks`` (one row per blocked/blocking pair); deepest first, one per head of chain."""
    blockers: dict[int, list[int]] = {}
    waiting: dict[int, Link] = {}
    holding: dict[int, Link] = {}
    for row in pairs:
        blocked, blocking = int(row["blocked_pid"]), int(row["blocking_pid"])
        blockers.setdefault(blocked, []).append(blocking)
        wait = float(row["waiting_s"])
        waiting[blocked] = Link(blocked, f"waiting {wait:.1f} s", str(row["blocked_statement"] or ""), wait)
        holding[blocking] = Link(
            blocking, f"{row['blocking_state']}, transaction open {row['blocking_xact_s']} s",
            str(row["blocking_statement"] or ""), None,
        )

    def path(pid: int, seen: frozenset[int]) -> tuple[Link, ...]:
        if pid not in blockers or pid in seen:  # the head (or a cycle the deadlock detector will break)
            return (holding.get(pid) or waiting[pid],)
        longest = max((path(b, seen | {pid}) for b in blockers[pid]), key=len)
        return (waiting[pid], *longest)

    waited_on = {b for bs in blockers.values() for b in bs}
    by_head: dict[int, Chain] = {}
    for pid in blockers:
        if pid in waited_on:
            continue  # not the last waiter: it is inside someone else's chain
        chain = Chain(path(pid, frozenset()))
        known = by_head.get(chain.head.pid)
        if known is None or chain.depth > known.depth:
            by_head[chain.head.pid] = chain
    return sorted(by_head.values(), key=lambda c: (-c.depth, -c.longest_wait_s))


# --- database efficiency counters -------------------------------------------------------------------

COUNTERS = (
    "blks_hit", "blks_read", "temp_files", "temp_bytes", "deadlocks",
    "confl_tablespace", "confl_lock", "confl_snapshot", "confl_bufferpin", "confl_deadlock",
)
CONFLICTS = ("confl_tablespace", "confl_lock", "confl_snapshot", "confl_bufferpin", "confl_deadlock")
MIN_BLOCKS = 1000  # fewer block accesses than this make a hit ratio noise


@dataclass(frozen=True)
class Efficiency:
    window: str  # what the figures cover, in words
    deltas: bool  # since the previous snapshot (True) or since the statistics were reset (False)
    blocks: int
    cache_hit_ratio: float | None
    temp_files: int
    temp_bytes: int
    deadlocks: int
    conflicts: dict[str, int]

    def problems(self, perf: Performance) -> list[str]:
        found = []
        if self.cache_hit_ratio is not None and self.cache_hit_ratio < perf.cache_hit_ratio:
            found.append(
                f"cache hit ratio {self.cache_hit_ratio:.1%} over {self.blocks} block reads "
                f"(limit: {perf.cache_hit_ratio:.0%})"
            )
        if not self.deltas:  # cumulative event counts say nothing about now: judged from the next run on
            return found
        if self.temp_bytes > perf.temp_bytes_limit:
            found.append(
                f"{plural(self.temp_files, 'temporary file')}, {_bytes(self.temp_bytes)} spilled to disk "
                f"(limit: {_bytes(perf.temp_bytes_limit)})"
            )
        if self.deadlocks > perf.deadlocks_limit:
            found.append(f"{plural(self.deadlocks, 'deadlock')} (limit: {perf.deadlocks_limit})")
        conflicts = {k.removeprefix("confl_"): v for k, v in self.conflicts.items() if v}
        if conflicts:
            found.append("recovery conflicts: " + ", ".join(f"{k} {v}" for k, v in conflicts.items()))
        return found


def efficiency(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> Efficiency:
    """Deltas since ``previous`` when it is a snapshot of the same statistics (same server start, not
    reset since);
    otherwise the cumulative figures since the statistics were reset, of which only the cache hit
    ratio is judged (a ratio over a long time is still a ratio; a count of deadlocks over months
    is not news)."""
    comparable = (
        previous is not None
        and all(_plain(previous.get(k)) == _plain(current.get(k)) for k in ("stats_reset", "server_started"))
        and all(int(current[k]) >= int(previous.get(k, 0)) for k in COUNTERS)
    )
    if comparable:
        assert previous is not None
        values = {k: int(current[k]) - int(previous[k]) for k in COUNTERS}
        window = f"since the previous run at {_plain(previous['taken_at'])}"
    else:
        values = {k: int(current[k]) for k in COUNTERS}
        since = f"since the statistics were reset ({_plain(current['stats_reset'])})" if current["stats_reset"] \
            else "since the statistics began (never reset)"
        window = f"{since}; deadlocks, temporary files and conflicts are judged as deltas from the next run on"
    blocks = values["blks_hit"] + values["blks_read"]
    if blocks < MIN_BLOCKS and comparable:  # too little traffic since the last run: the long-run ratio
        total = int(current["blks_hit"]) + int(current["blks_read"])
        blocks, hits = total, int(current["blks_hit"])
    else:
        hits = values["blks_hit"]
    ratio = hits / blocks if blocks >= MIN_BLOCKS else None
    return Efficiency(
        window=window, deltas=comparable, blocks=blocks, cache_hit_ratio=ratio,
        temp_files=values["temp_files"], temp_bytes=values["temp_bytes"], deadlocks=values["deadlocks"],
        conflicts={k: values[k] for k in CONFLICTS},
    )


class CounterSnapshots:
    """The counters as last seen, per target and database, in a small JSON file beside the verdict."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        entry = data.get(key) if isinstance(data, dict) else None
        return entry if isinstance(entry, dict) and all(k in entry for k in COUNTERS) else None

    def save(self, key: str, counters: Mapping[str, Any]) -> None:
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[key] = {k: _plain(v) for k, v in counters.items()}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
            os.replace(tmp, self.path)
        except OSError:
            pass  # next run compares against the statistics' reset instead: said in its window


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # unreachable


# --- the freshness query's plan ---------------------------------------------------------------------


def plan_nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def plan_outline(node: Mapping[str, Any]) -> str:
    """``Limit -> Sort -> Seq Scan on events``"""
    parts = []
    for n in plan_nodes(node):
        label = str(n["Node Type"])
        if n.get("Index Name"):
            label += f" using {n['Index Name']}"
        if n.get("Relation Name"):
            label += f" on {n['Relation Name']}"
        parts.append(label)
    return " -> ".join(parts)


def full_reads(plan: Mapping[str, Any]) -> list[str]:
    """The nodes that make the newest-row-per-source query read every row of a source (or the table):
    a sequential scan, or a sort (through the right index the newest row is the first one read)."""
    found = []
    for n in plan_nodes(plan):
        if n["Node Type"] == "Seq Scan":
            found.append(f"Seq Scan on {n.get('Relation Name', '?')} (~{n.get('Plan Rows', '?')} rows)")
        elif n["Node Type"] in ("Sort", "Incremental Sort"):
            found.append(f"{n['Node Type']} by {', '.join(n.get('Sort Key', []))}")
    return found


def plan_root(explain_rows: list[tuple[Any, ...]]) -> Mapping[str, Any]:
    document = explain_rows[0][0]
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]["Plan"]  # type: ignore[no-any-return]
