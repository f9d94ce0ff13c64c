"""The performance machinery without a target: sampling rules, statistics, the chart, blocking chains,
the efficiency counters' deltas and the freshness plan's reading."""

import http.server
import math
import threading
import xml.etree.ElementTree as ET

import pytest

from scenescout_ir.core.chart import samples_svg
from scenescout_ir.core.config import Performance, Thresholds, Timeouts
from scenescout_ir.core.outcomes import Blind, CouldNotRun, Finding
from scenescout_ir.judge.performance import (
    CounterSnapshots,
    blocking_chains,
    check_response_times,
    efficiency,
    full_reads,
    plan_outline,
    plan_root,
    statements_view,
)
from scenescout_ir.probes.db import explained
from scenescout_ir.probes.http import HttpProbe, HttpResult
from scenescout_ir.probes.sampling import ResponseSampler, Sample, SampleSet, percentile, settled

LIMITS = Thresholds(response_slo_s=2.0, response_sev2_s=10.0)


class ScriptedProbe:
    """Stands in for HttpProbe: answers from a script and moves a fake clock by each answer's time."""

    def __init__(self, answers, clock):
        self.answers = list(answers)
        self.clock = clock
        self.calls = []

    def get(self, url, *, headers=None, read_s=None, record=True):
        self.calls.append((url, read_s, record))
        status, seconds = self.answers.pop(0)
        if status is None:  # no answer: the read bound ran out
            self.clock.now += read_s
            return HttpResult("GET", url, None, read_s, error=f"no answer within {read_s:g} s (read timeout)")
        self.clock.now += seconds
        return HttpResult("GET", url, status, seconds, ttfb_s=seconds * 0.9)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def sampler(answers, tmp_path=None, **perf):
    clock = Clock()
    probe = ScriptedProbe(answers, clock)
    evidence = []
    s = ResponseSampler(probe, Performance(**perf), LIMITS, Timeouts(), evidence.append,  # type: ignore[arg-type]
                        chart_dir=tmp_path, clock=clock)
    return s, probe, evidence


def a_set(*times, status=200, planned=10):
    samples = tuple(Sample(i, 0.0, t, t / 2, status) for i, t in enumerate(times))
    return SampleSet("http://x/health", planned, samples, 12.0, 30.0, 1, sum(times))


# --- statistics and judgement -----------------------------------------------------------------------


def test_percentiles_interpolate_between_ranks():
    values = [0.1 * i for i in range(1, 11)]
    assert percentile(values, 0.5) == pytest.approx(0.55)
    assert percentile(values, 0.95) == pytest.approx(0.955)
    assert percentile([3.0], 0.95) == 3.0
    assert math.isnan(percentile([], 0.5))


def test_fast_answers_pass():
    check_response_times(a_set(0.1, 0.2, 0.15), LIMITS)


def test_a_mean_over_the_slo_is_a_slow_site():
    with pytest.raises(Finding) as found:
        check_response_times(a_set(2.5, 2.6, 2.4), LIMITS)
    assert found.value.condition == "slow_site"
    assert "mean 2.500 s" in str(found.value) and "SLO: 2 s" in str(found.value)


def test_a_p95_over_the_slo_is_a_slow_site_even_with_a_fast_mean():
    with pytest.raises(Finding) as found:
        check_response_times(a_set(*[0.1] * 9, 9.0), LIMITS)
    assert found.value.condition == "slow_site" and "p95 4.995 s" in str(found.value)
    assert str(found.value).startswith("/health is slow: mean"), str(found.value)


def test_over_ten_seconds_is_significant_degradation():
    with pytest.raises(Finding) as found:
        check_response_times(a_set(10.5), LIMITS)
    assert found.value.condition == "significant_degradation"
    assert "10.500 s" in str(found.value) and "SEV2 line" in str(found.value)


def test_a_fast_error_page_is_not_timed_but_a_slow_one_is():
    with pytest.raises(CouldNotRun, match="HTTP 500"):
        check_response_times(a_set(0.01, status=500), LIMITS)
    with pytest.raises(Finding) as found:
        check_response_times(a_set(11.0, status=503), LIMITS)
    assert found.value.condition == "significant_degradation"


def test_no_answer_at_all_could_not_run():
    refused = SampleSet("http://x/", 10, (Sample(0, 0, 0.001, None, None, "connection refused"),), 12, 30, 1, 0.0)
    with pytest.raises(CouldNotRun, match="connection refused"):
        check_response_times(refused, LIMITS)


# --- the sampler's rules ----------------------------------------------------------------------------


def test_ten_sequential_samples_with_a_longer_read_bound(tmp_path):
    s, probe, evidence = sampler([(200, 0.1)] * 10, tmp_path)
    result = s.sample("http://x/health", name="test_x[/health]")
    assert len(result.samples) == 10 and result.stopped is None
    assert {read_s for _, read_s, _ in probe.calls} == {12.0}  # the SEV2 line plus 2 s, not the 5 s read timeout
    assert [record for _, _, record in probe.calls] == [True] + [False] * 9  # the first exchange, then a table
    (item,) = evidence
    assert item.data["mean"] == pytest.approx(0.1) and len(item.data["samples"]) == 10
    chart = tmp_path / "test_x_health.svg"
    assert item.data["chart"] == str(chart) and chart.read_text().startswith("<svg")


def test_the_first_answer_over_the_sev2_line_stops_sampling():
    s, probe, _ = sampler([(200, 10.5)] + [(200, 0.1)] * 9)
    result = s.sample("http://x/")
    assert len(probe.calls) == 1 and "over the SEV2 line" in result.stopped


def test_a_first_answer_that_fails_stops_sampling():
    s, probe, _ = sampler([(None, 0)] + [(200, 0.1)] * 9)
    result = s.sample("http://x/")
    assert len(probe.calls) == 1 and result.samples[0].timed_out
    assert result.times == [12.0]  # counted at its bound: a lower bound of the real time
    with pytest.raises(Finding) as found:
        check_response_times(result, LIMITS)
    assert found.value.condition == "significant_degradation"


def test_an_error_status_stops_sampling():
    s, probe, _ = sampler([(500, 0.1)] + [(200, 0.1)] * 9)
    assert "HTTP 500" in s.sample("http://x/").stopped and len(probe.calls) == 1


def test_the_budget_stops_sampling_before_it_is_exceeded():
    s, probe, _ = sampler([(200, 1.5)] * 10, sample_budget_s=4.0)
    result = s.sample("http://x/")
    assert len(probe.calls) == 2  # 1.5 s + 1.5 s; a third might end at 4.5 s > 4 s
    assert "time budget" in result.stopped and result.wall_s <= 4.0


# --- issue 8, item 10: sampling stops once the verdict cannot change; the run's budget -------------------


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([0.1] * 9, None),  # within the SLO: never settled early, every sample is needed
        ([2.5], None),  # one slow answer of ten: nine fast ones could still pull mean and p95 under
        ([2.5, 2.5], "verdict settled after 2 samples: 2 over the SLO (2 s)"),  # p95 of 10 stays over 2 s
        ([0.1, 9.0], "verdict settled after 2 samples: 1 over the SLO (2 s)"),  # one 9 s answer: p95 4.995 s
        ([1.0, 11.0], None),  # over the SEV2 line now, but it could still end as SEV3: keep sampling
        ([9.0, 11.0, 11.0], "verdict settled after 3 samples: 2 over the SEV2 line (10 s)"),
        ([3.0] * 10, None),  # nothing left to take
    ],
)
def test_the_stop_rule_settles_only_a_verdict_the_other_samples_cannot_change(times, expected):
    said = settled(times, 10, slo_s=2.0, sev2_s=10.0)
    assert (said if said is None else said.split(" keep ")[0]) == expected


def test_the_stop_rule_agrees_with_the_judgement_of_every_completion():
    """Brute force: whenever the rule stops, any further samples from instant up to the SEV2 line (and any
    at all once over that line) end in the same condition as the samples taken."""
    grid = (0.1, 1.9, 2.5, 6.0, 9.9, 10.5)
    import itertools

    def condition(times):
        try:
            check_response_times(a_set(*times), LIMITS)
        except Finding as found:
            return found.condition
        return None

    for n in (1, 2, 3):
        for taken in itertools.product(grid, repeat=n):
            if settled(list(taken), 4, 2.0, 10.0) is None:
                continue
            now = condition(taken)
            for rest in itertools.product((0.0, 10.0), repeat=4 - n):
                assert condition([*taken, *rest]) == now, (taken, rest, now)


def test_a_site_answering_in_2_5_s_is_sampled_twice_not_ten_times():
    s, probe, evidence = sampler([(200, 2.5)] * 10)
    result = s.sample("http://x/")
    assert len(probe.calls) == 2 and result.stopped.startswith("verdict settled after 2 samples")
    (item,) = evidence
    assert item.data["taken"] == 2 and item.data["planned"] == 10
    assert "2 of 10 samples taken; stopped early: verdict settled" in item.text
    with pytest.raises(Finding) as found:
        check_response_times(result, LIMITS)
    assert found.value.condition == "slow_site"


def test_the_runs_budget_stops_sampling_too():
    clock = Clock()
    probe = ScriptedProbe([(200, 1.0)] * 10, clock)
    left_at_start = 2.5
    s = ResponseSampler(probe, Performance(), LIMITS, Timeouts(), [].append, clock=clock,  # type: ignore[arg-type]
                        run_left=lambda: left_at_start - (clock.now - 100.0))
    result = s.sample("http://x/")
    assert len(probe.calls) == 2  # 1 s + 1 s; 0.5 s left of the run cannot hold a third
    assert result.stopped.startswith("run budget: 0.5 s left of the run's time budget")


def test_concurrency_takes_samples_in_rounds():
    s, probe, _ = sampler([(200, 0.1)] * 5, samples=5, concurrency=2)
    result = s.sample("http://x/")
    assert len(result.samples) == 5 and result.concurrency == 2
    assert sorted(sample.index for sample in result.samples) == [0, 1, 2, 3, 4]


def test_against_a_real_server_the_counts_and_first_byte_are_measured(tmp_path):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        evidence = []
        probe = HttpProbe(Timeouts(connect_s=1, read_s=1), evidence.append)
        s = ResponseSampler(probe, Performance(samples=4), LIMITS, probe.timeouts, evidence.append, tmp_path)
        result = s.sample(f"http://127.0.0.1:{server.server_port}/health")
        probe.close()
    finally:
        server.shutdown()
        server.server_close()
    assert probe.requests_made == 4 and [x.status for x in result.samples] == [200] * 4
    assert all(x.ttfb_s is not None and x.ttfb_s <= x.elapsed_s for x in result.samples)
    assert len(evidence) == 2  # the first exchange and the samples


# --- the chart --------------------------------------------------------------------------------------


def test_the_chart_is_valid_svg_with_bars_and_threshold_lines():
    svg = samples_svg([(0.5, 0.4, True), (2.5, 2.4, True), (11.0, None, False)], slo_s=2, sev2_s=10,
                      title="GET /<x> & co")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    rects = root.findall(f"{ns}rect")
    assert len(rects) == 1 + 3 + 2  # background, three bars, two first-byte parts (not for the failed one)
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert "SLO 2 s" in labels and "SEV2 10 s" in labels and "GET /<x> & co" in labels


def test_limits_far_above_the_bars_are_named_not_drawn():
    svg = samples_svg([(0.01, 0.005, True), (0.02, 0.01, True)], slo_s=2, sev2_s=10, title="fast")
    assert "SLO 2 s and SEV2 10 s: above the chart" in svg and "stroke-dasharray" not in svg
    svg = samples_svg([(2.5, 2.4, True)], slo_s=2, sev2_s=10, title="slow")
    assert svg.count("stroke-dasharray") == 1 and "SEV2 10 s: above the chart" in svg


# --- pg_stat_statements -----------------------------------------------------------------------------


def status(**kw):
    return {"database": "app", "extversion": "1.10", "schema": "extensions", "reads_all_stats": True,
            "shared_preload_libraries": "pg_stat_statements", **kw}


def test_the_statements_view_is_found_in_its_schema():
    assert statements_view(status()) == "extensions.pg_stat_statements"


def test_a_missing_extension_could_not_run_with_the_fix():
    with pytest.raises(CouldNotRun, match="not installed in database app: CREATE EXTENSION pg_stat_statements$"):
        statements_view(status(extversion=None))
    with pytest.raises(CouldNotRun, match="shared_preload_libraries"):
        statements_view(status(extversion=None, shared_preload_libraries=""))
    with pytest.raises(Blind, match="GRANT pg_read_all_stats") as blind:  # a blind part, never a pass
        statements_view(status(reads_all_stats=False))
    assert blind.value.component == "database statements"


# --- blocking chains --------------------------------------------------------------------------------


def pair(blocked, blocking, wait=5.0):
    return {"blocked_pid": blocked, "blocking_pid": blocking, "waiting_s": wait, "blocked_statement": f"q{blocked}",
            "blocking_state": "idle in transaction", "blocking_xact_s": 9.0, "blocking_statement": f"q{blocking}"}


def test_one_session_waiting_on_another_is_one_level():
    (chain,) = blocking_chains([pair(2, 1)])
    assert chain.depth == 1 and chain.head.pid == 1


def test_a_chain_is_followed_to_its_head():
    (chain,) = blocking_chains([pair(2, 1, 6.0), pair(3, 2, 4.0)])
    assert [link.pid for link in chain.links] == [3, 2, 1] and chain.depth == 2
    assert chain.longest_wait_s == 6.0
    assert chain.describe() == (
        "pid 3 (waiting 4.0 s: 'q3') waits on pid 2 (waiting 6.0 s: 'q2') waits on "
        "pid 1 (idle in transaction, transaction open 9.0 s: 'q1')"
    )


def test_separate_heads_give_separate_chains_deepest_first():
    chains = blocking_chains([pair(2, 1), pair(12, 11), pair(13, 12), pair(14, 13)])
    assert [(c.head.pid, c.depth) for c in chains] == [(11, 3), (1, 1)]


def test_a_cycle_does_not_loop():
    chains = blocking_chains([pair(1, 2), pair(2, 1), pair(3, 1)])
    assert chains and all(c.depth <= 3 for c in chains)


# --- efficiency counters ----------------------------------------------------------------------------


def counters(**kw):
    base = {"database": "app", "blks_hit": 990_000, "blks_read": 10_000, "temp_files": 0, "temp_bytes": 0,
            "deadlocks": 0, "confl_tablespace": 0, "confl_lock": 0, "confl_snapshot": 0, "confl_bufferpin": 0,
            "confl_deadlock": 0, "stats_reset": None, "server_started": "2026-01-01T00:00:00+00:00",
            "taken_at": "2026-01-02T00:00:00+00:00"}
    return {**base, **kw}


PERF = Performance(cache_hit_ratio=0.9, temp_bytes_limit=1 << 30, deadlocks_limit=0)


def test_the_first_look_judges_only_the_cache_hit_ratio():
    seen = efficiency(counters(deadlocks=40, temp_bytes=1 << 40), None)
    assert not seen.deltas and "next run" in seen.window
    assert seen.problems(PERF) == []
    assert efficiency(counters(blks_hit=1000, blks_read=9000), None).problems(PERF) == [
        "cache hit ratio 10.0% over 10000 block reads (limit: 90%)"]


def test_deltas_since_the_previous_run_are_judged():
    before = counters(deadlocks=40, temp_bytes=1 << 40)
    now = counters(deadlocks=41, temp_bytes=(1 << 40) + (2 << 30), temp_files=3, confl_lock=2,
                   blks_hit=1_000_000, blks_read=1_000_000, taken_at="2026-01-02T00:10:00+00:00")
    seen = efficiency(now, before)
    assert seen.deltas and seen.deadlocks == 1 and "2026-01-02T00:00:00" in seen.window
    problems = seen.problems(PERF)
    assert "1 deadlock (limit: 0)" in problems
    assert any("2.0 GiB spilled" in p for p in problems)
    assert "recovery conflicts: lock 2" in problems
    assert any(p.startswith("cache hit ratio 1.0%") for p in problems)  # 10 000 hits, 990 000 reads since


def test_too_little_traffic_since_the_last_run_falls_back_to_the_long_run_ratio():
    seen = efficiency(counters(blks_hit=990_010), counters())
    assert seen.deltas and seen.blocks == 1_000_010 and seen.cache_hit_ratio == pytest.approx(0.99, abs=1e-3)


def test_a_reset_or_a_restart_makes_the_previous_snapshot_useless():
    assert not efficiency(counters(stats_reset="2026-01-01T12:00:00+00:00"), counters()).deltas
    assert not efficiency(counters(server_started="2026-01-01T13:00:00+00:00"), counters()).deltas
    assert not efficiency(counters(deadlocks=0), counters(deadlocks=5)).deltas  # went backwards


def test_snapshots_round_trip_per_key_and_survive_a_broken_file(tmp_path):
    store = CounterSnapshots(tmp_path / "reports" / "counters.json")
    assert store.load("demo/app") is None
    store.save("demo/app", counters())
    store.save("prod/app", counters(deadlocks=3))
    assert store.load("demo/app")["deadlocks"] == 0 and store.load("prod/app")["deadlocks"] == 3
    store.path.write_text("{not json")
    assert store.load("demo/app") is None
    store.save("demo/app", counters())
    assert store.load("demo/app") is not None


# --- the freshness query's plan ---------------------------------------------------------------------

INDEXED = [([{"Plan": {"Node Type": "Limit", "Plans": [
    {"Node Type": "Index Only Scan", "Index Name": "events_source_created_at_idx", "Relation Name": "events"}]}}],)]
SCANNED = [([{"Plan": {"Node Type": "Limit", "Plans": [
    {"Node Type": "Sort", "Sort Key": ["events.created_at DESC"], "Plans": [
        {"Node Type": "Seq Scan", "Relation Name": "events", "Plan Rows": 2500000}]}]}}],)]


def test_an_index_scan_is_no_full_read():
    plan = plan_root(INDEXED)
    assert full_reads(plan) == []
    assert plan_outline(plan) == "Limit -> Index Only Scan using events_source_created_at_idx on events"


def test_a_seq_scan_and_a_sort_are_full_reads():
    plan = plan_root(SCANNED)
    assert full_reads(plan) == ["Sort by events.created_at DESC", "Seq Scan on events (~2500000 rows)"]


def test_the_explained_query_is_the_freshness_query_with_its_identifiers():
    text = explained("ingestion_freshness", table="public.events", source_column="source",
                     timestamp_column="created_at").as_string(None)
    assert text.startswith("EXPLAIN (FORMAT JSON)\n") and 'FROM "public"."events"' in text
