"""docs/benchmarks.md from the benchmarks' figures."""

from __future__ import annotations

import re
from typing import Any

GOALS = {"healthy": 1.2, "db_hanging": 4.5, "app_hanging": 13.0}  # issue 11: start-up + the slowest probe


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 0.01:
        return f"{value * 1000:.2f} ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def _x(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def _met(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def machine_section(m: dict[str, Any]) -> list[str]:
    p = m["packages"]
    return [
        "## The machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu_model']}, {m['cpus']} cores (nproc) |",
        f"| memory | {m['memory_gib']} GiB |",
        f"| OS | {m['os']}, kernel {m['kernel']} |",
        f"| Python | {m['python']}; pytest {p['pytest']}, pytest-xdist {p['pytest-xdist']}, psycopg {p['psycopg']}, "
        f"requests {p['requests']}, playwright {p['playwright']} |",
        f"| PostgreSQL | {m['postgres']} (client: {m['psql']}) |",
        f"| curl | {m['curl'].split(' (')[0]} |",
        f"| described | {m['measured_at']} (each section says when it was measured) |",
        "",
    ]


def triage_section(t: dict[str, Any]) -> list[str]:
    rows = []
    by_fault = {s["fault"]: s for s in t["scenarios"]}
    for s in t["scenarios"]:
        suite, playbook = s["suite"], s["playbook"]
        capped = playbook["capped"]
        book = _s(playbook["sequential_s"])
        if capped:
            book = f"≥ {book} ({len(capped)} capped at {t['cap_s']:g} s)"
        ratio = playbook["sequential_s"] / suite["median"] if suite["median"] else 0
        name = s["fault"] + (" " + ", ".join(f"{k}={v}" for k, v in s["params"].items()) if s["params"] else "")
        rows.append(
            f"| {name} | {s['severity']} | {_s(suite['median'])} ({_s(suite['min'])}–{_s(suite['max'])}) | "
            f"{_s(s['verdict_duration_s'])} | {book} | {'≥ ' if capped else ''}{ratio:.1f}x |"
        )
    goals = []
    for fault, limit in GOALS.items():
        if fault in by_fault:
            median = by_fault[fault]["suite"]["median"]
            met = _met(median <= limit)
            goals.append(f"- {fault.replace('_', ' ')}: {_s(median)}, goal at most {limit:g} s: {met}")
    healthy = by_fault.get("healthy", {})
    capped_names = sorted({c for s in t["scenarios"] for c in s["playbook"]["capped"]})
    return [
        "## 1. Time to verdict: `pytest -m emergency` against the playbook's commands",
        "",
        "Wall time of `python -m pytest -m emergency` as a process (interpreter and pytest start-up, collection, "
        "every check, the verdict written), median of "
        f"{t['suite_runs']} runs per fault and {t['healthy_runs']} healthy (min–max in brackets), on the demo stack. "
        "Beside it, the playbook's Initial Response and Investigation commands on the same stack, as an on-call "
        "engineer pastes them one after another: the sum of their times, until all their output is on screen "
        "(and still to be read; the suite's verdict is already judged). The playbook's commands have no "
        f"timeouts: each is capped at {t['cap_s']:g} s here, and a capped command counts as {t['cap_s']:g} s, so "
        "those sums are lower bounds. Under app_hanging and db_hanging they were started together so the "
        "benchmark waits the cap once, not once per command.",
        "",
        "| fault | suite verdict | `pytest -m emergency` | of which the checks | playbook commands, one after another "
        "| playbook / suite |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "\"Of which the checks\" is the verdict's own duration (first check to verdict); the rest is the Python "
        "interpreter, pytest's start-up and collection. The playbook's raw commands are quicker whenever nothing "
        "hangs (each is one small process and nothing is judged); the suite is quicker as soon as something "
        "hangs, because each of its requests is bounded, the run's independent probes (the database connection, "
        "each health endpoint and route) start together when the session starts, and a dependency found dead is "
        "not asked again: the run waits for its slowest probe once.",
        "",
        f"Load average of the machine (1, 5, 15 min; other work ran on it too): {t['load']['start']} at the "
        f"start (the benchmark waits up to 5 min for the 1-minute figure to drop under the number of cores), "
        f"{t['load']['end']} at the end.",
        "",
        "Goals (issue 11: start-up plus the slowest probe, medians on 2 cores):",
        "",
        *goals,
        "",
        f"The healthy run's footprint on the target: {healthy.get('max_rss_kb', 0) / 1024:.0f} MiB peak memory of the "
        "pytest process; see section 4 for connections and requests.",
        "",
        "The playbook commands timed: " + "; ".join(f"`{c}`" for c in t["playbook_commands"]) + ".",
        f"Capped at {t['cap_s']:g} s under some fault: " + (", ".join(f"`{c}`" for c in capped_names) or "none") + ".",
        "Not run: " + "; ".join(t["omitted"]) + ".",
        "",
        "Thresholds of the benchmark's target: stuck_transaction_s = 1 and blocking_wait_s = 1 (as the test "
        "suite's, so a fault injected a second ago is found; the benchmark waits until it is 1.5 s old), and host "
        "limits a machine busy with benchmarks does not trip. Time to verdict does not depend on them.",
        "",
    ]


def freshness_section(f: dict[str, Any]) -> list[str]:
    w, wo = f["with_index"], f["without_index"]
    ratio_ok = w["ratio"] >= 20
    return [
        f"## 2. Ingestion freshness on {f['rows']:,} events",
        "",
        f"An events table of {f['rows']:,} rows ({f['table_size']} with its indexes; 4 sources, 40/30/20/10 %, "
        f"created over 90 days) in a throw-away PostgreSQL 15 cluster: loaded with generate_series in "
        f"{f['load_s']:g} s, unique constraint and VACUUM ANALYZE {f['constraint_and_vacuum_s']:g} s, the "
        f"(source, created_at) index built in {f['index_build_s']:g} s; whole benchmark {f['total_s']:g} s. "
        f"Median of {f['runs']} runs after one warm-up round (the first round in brackets). The suite's figure is "
        f"its query (`scenescout_ir/probes/queries/ingestion_freshness.sql`) run once per source, all {f['sources']} "
        "summed; the playbook's is its `SELECT source, MAX(created_at) ... FROM events GROUP BY source`.",
        "",
        "| | playbook `GROUP BY source` | suite, 4 sources | playbook / suite |",
        "|---|---|---|---|",
        f"| with the (source, created_at) index | {_s(w['playbook']['median'])} ({_s(w['first_round']['playbook_s'])}) "
        f"| {_s(w['suite']['median'])} ({_s(w['first_round']['suite_s'])}) | **{_x(w['ratio'])}** |",
        f"| without it | {_s(wo['playbook']['median'])} ({_s(wo['first_round']['playbook_s'])}) "
        f"| {_s(wo['suite']['median'])} ({_s(wo['first_round']['suite_s'])}) | {_x(wo['ratio'])} |",
        "",
        f"Goal: 20x faster or better with the index: {_met(ratio_ok)} ({_x(w['ratio'])}). Without the index the "
        "suite's per-source query has to read every row of the source and sort them, four times, so it "
        f"{'loses to' if wo['ratio'] < 1 else 'barely beats'} the single GROUP BY: that is why the suite checks "
        "for the index (`test_freshness_query_uses_an_index`, condition missing_index):",
        "",
        f"- without the index: {f['check_without_index']['severity']}, "
        f"{f['check_without_index']['condition']}: {f['check_without_index']['finding']}",
        f"- with the index: {f['check_with_index']['severity']} (the check passes), "
        f"{_s(f['check_with_index']['seconds'])} for the whole `pytest -m performance -k freshness_query` run.",
        "",
        "Plans (EXPLAIN):",
        "",
        "```",
        "-- suite, with the index",
        *w["suite_plan"],
        "-- suite, without it",
        *wo["suite_plan"],
        *(["-- playbook (the same with or without the index)", *w["playbook_plan"]]
          if _shape(w["playbook_plan"]) == _shape(wo["playbook_plan"]) else
          ["-- playbook, with the index", *w["playbook_plan"], "-- playbook, without it", *wo["playbook_plan"]]),
        "```",
        "",
        "Server settings: " + ", ".join(f"{k} {v}" for k, v in sorted(f["settings"].items())) + ". "
        f"Load average when it started: {f.get('load', 'not recorded')}.",
        "",
    ]


def _shape(plan: list[str]) -> list[str]:
    """A plan without its cost and row estimates, to tell whether two plans are the same."""
    return [re.sub(r"\s*\(cost=[^)]*\)|rows=\d+", "", line) for line in plan]


def logs_section(lg: dict[str, Any]) -> list[str]:
    rows = []
    for s in lg["sizes"]:
        rows.append(
            f"| {s['size_bytes'] / 1024**2:,.0f} MiB | {_s(s['suite']['median'])} ({_s(s['suite']['min'])}–"
            f"{_s(s['suite']['max'])}) | {s['bytes_read'] / 1024:,.0f} KiB | {s['lines_in_window']} lines, "
            f"{s['errors']} errors | {_s(s['tail_grep']['median'])} | {_s(s['grep_whole_file_s'])} |"
        )
    worst = max(s["suite"]["max"] for s in lg["sizes"])
    return [
        "## 3. Error rate of the last 15 minutes of a large log",
        "",
        "A pino-style JSON log (the demo app's format) of old lines written from a repeated 1 MiB block, then "
        f"{lg['recent_lines']} lines inside the last 14 minutes (one in 50 an error); the file is deleted "
        f"afterwards. The suite's reader (`LogReader.scan`, window {lg['window_s'] / 60:g} min, byte budget "
        f"{lg['max_bytes'] / 1024**2:g} MiB) reads backwards from the end until the first line older than the "
        f"window. Median of {lg['runs']} runs (min–max). The file was just written (and fsynced before timing), "
        "so it is in the page cache; the suite reads a few hundred KiB of it either way.",
        "",
        "| file | suite: error rate of the window | read from the end | found | playbook `tail -100 \\| grep -i error` "
        "| `grep -ci error` over the whole file |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Goal: under 0.5 s and constant in the file's size: {_met(worst < 0.5)} (slowest run {_s(worst)}; "
        f"2 GiB / 200 MiB: {lg['growth']:g}x the median time for 10x the file, and "
        + ("the same " + f"{lg['sizes'][0]['bytes_read'] / 1024:,.0f} KiB read from the end of each"
           if len({s['bytes_read'] for s in lg["sizes"]}) == 1 else "different amounts read from the end")
        + "). `tail -100` is as fast but sees 100 "
        "lines, not 15 minutes, and no rate; anything reading the file from the start grows with it. "
        f"Load average when it started: {lg.get('load', 'not recorded')}.",
        "",
    ]


def footprint_section(fp: dict[str, Any]) -> list[str]:
    rows = []
    for r in fp["runs"]:
        f = r["footprint"]
        rows.append(
            f"| `{' '.join(['pytest -m emergency', *([r['args']] if r['args'] != '(serial)' else [])])}` "
            f"| {r['severity']} "
            f"| {_s(r['seconds'])} | {r['peak_rss_mib']:g} MiB | {f['db_connections']} / {r['server_connections']} "
            f"| {f['db_statements']} / {r['server_statements']} | {f['http_requests']} / {r['app_requests']} |"
        )
    return [
        "## 4. The suite's own footprint",
        "",
        "One emergency run on the healthy demo stack. Peak memory is the pytest process' maximum resident set "
        "(os.wait4's rusage, its reaped children included, so with -n 2 the largest of controller and "
        "workers). Each figure is given as the verdict's `footprint` counts it / as the target saw it: "
        "connections from PostgreSQL's log_connections (lines `connection authorized: user=oncall`), "
        "statements from pg_stat_statements (calls by the oncall role), requests from the app's access log.",
        "",
        "| run | verdict | wall time | peak memory | DB connections | DB statements | HTTP requests |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`; `python -m bench --only logs` re-measures one part). These "
        "are measurements of one machine, not timed tests: the test suite (`make test`) asserts behaviour, never "
        "durations. The scripts are in `bench/`. The time to a verdict on deployments the demo is not (a site "
        "answering in 11 s, one that never answers, a body trickling in, a hung database), the demo's emergency run "
        "with its probes started together, and the cost of the probable cause and the changes are in "
        "`docs/benchmarks-realworld.md` (`python -m bench.realworld`).",
        "",
    ]
    if "machine" in results:
        lines += machine_section(results["machine"])
    for key, section in (("triage", triage_section), ("freshness", freshness_section), ("logs", logs_section),
                         ("footprint", footprint_section)):
        if key in results:
            body = section(results[key])
            when = results[key].get("measured_at")
            lines += body[:2] + ([f"Measured {when}.", ""] if when else []) + body[2:]
        else:
            lines += [f"## {key}", "", "Not measured yet: `python -m bench --only " + key + "`.", ""]
    return "\n".join(lines).rstrip() + "\n"
