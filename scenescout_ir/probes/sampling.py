"""The playbook's response-time loop (`for i in {1..10}; do curl -w "%{time_total}" ...`), bounded.

A bounded number of GETs per endpoint, sequential unless configured otherwise, with a total time budget;
sampling stops at once when the first answer is already over the SEV2 line or fails, so a struggling site
is asked once, not ten times; it also stops once the endpoint's verdict is settled (:func:`settled`: e.g. two
answers of 2.5 s of ten planned keep the p95 over the SLO whatever the other eight take) and when the whole
run's time budget cannot hold another sample. The evidence says how many samples were taken and why it stopped.
Each request, the first too, ends with the run's time budget (the HTTP probe caps it, as for any check): a first
sample cut short makes the check "could not run", a later one ends the sampling with the samples taken so far.
Each request gets its own longer read bound (the SEV2 line plus 2 s) so an
answer over 10 s can be measured at all: the HTTP probe's usual read timeout is shorter than that line.

Total time of one endpoint's samples: at most ``sample_budget_s``, or one request's bound
(``connect_s + response_sev2_s + 2 s``) when that is longer: a sample is started only while the budget
leaves room for one more as slow as the slowest so far.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scenescout_ir.core.chart import samples_svg
from scenescout_ir.core.config import Performance, Thresholds, Timeouts
from scenescout_ir.core.evidence import Evidence, table_text
from scenescout_ir.core.outcomes import CouldNotRun
from scenescout_ir.probes.http import HttpProbe, HttpResult
from scenescout_ir.probes.threads import for_main_thread

READ_MARGIN_S = 2.0  # past the SEV2 line, so "over 10 s" is a measurement, not a timeout


@dataclass(frozen=True)
class Sample:
    index: int
    started_s: float  # since the first request of the set
    elapsed_s: float
    ttfb_s: float | None
    status: int | None
    error: str | None = None
    timed_out: bool = False  # no answer within the read bound: elapsed_s is a lower bound

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 400


@dataclass(frozen=True)
class SampleSet:
    """The samples of one endpoint, and what they add up to."""

    url: str
    planned: int
    samples: tuple[Sample, ...]
    read_bound_s: float
    budget_s: float
    concurrency: int
    wall_s: float
    stopped: str | None = None  # why sampling ended before `planned`

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def times(self) -> list[float]:
        """The response times: answered samples, and timed-out ones counted at their bound."""
        return [s.elapsed_s for s in self.samples if s.answered or s.timed_out]

    @property
    def ttfbs(self) -> list[float]:
        return [s.ttfb_s for s in self.samples if s.ttfb_s is not None]

    @property
    def mean(self) -> float:
        return sum(self.times) / len(self.times) if self.times else math.nan

    @property
    def p50(self) -> float:
        return percentile(self.times, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.times, 0.95)

    @property
    def max(self) -> float:
        return max(self.times) if self.times else math.nan

    @property
    def ttfb_mean(self) -> float:
        return sum(self.ttfbs) / len(self.ttfbs) if self.ttfbs else math.nan

    @property
    def ttfb_p50(self) -> float:
        return percentile(self.ttfbs, 0.50)

    @property
    def timeouts(self) -> int:
        return sum(1 for s in self.samples if s.timed_out)

    @property
    def failures(self) -> list[Sample]:
        return [s for s in self.samples if s.failed]

    def summary(self) -> str:
        """``GET /health: mean 0.012 s, p50 ..., p95 ..., max ... over 10 samples; first byte mean ...``"""
        if not self.times:
            return f"GET {self.path}: no answer ({self.samples[0].error if self.samples else 'not sampled'})"
        if len(self.times) == 1:
            line = f"GET {self.path}: {self.max:.3f} s (1 of {self.planned} samples)"
            if self.ttfbs:
                line += f"; first byte {self.ttfb_mean:.3f} s"
        else:
            line = (
                f"GET {self.path}: mean {self.mean:.3f} s, p50 {self.p50:.3f} s, p95 {self.p95:.3f} s, "
                f"max {self.max:.3f} s over {len(self.times)} of {self.planned} samples"
            )
            if self.ttfbs:
                line += f"; first byte mean {self.ttfb_mean:.3f} s, p50 {self.ttfb_p50:.3f} s"
        if self.timeouts:
            line += f"; {self.timeouts} without an answer within {self.read_bound_s:g} s (counted at that bound)"
        return line


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def level(times: Sequence[float], slo_s: float, sev2_s: float) -> int:
    """What check_response_times makes of these times: 2 over the SEV2 line, 1 over the SLO, 0 within it."""
    if not times:
        return 0
    worst = max(sum(times) / len(times), percentile(times, 0.95))
    return 2 if worst > sev2_s else 1 if worst > slo_s else 0


def settled(times: Sequence[float], planned: int, slo_s: float, sev2_s: float) -> str | None:
    """Why the samples still to take cannot change the endpoint's verdict, or None (keep sampling).

    The remaining samples are counted as instant answers (the most they can pull the mean and the p95
    down): if the mean or the p95 of all ``planned`` samples is then still over a line, it is over that
    line whatever they take. Over the SEV2 line that settles it; over the SLO it settles it while no answer
    so far was over the SEV2 line (nothing hints that more samples would make it worse). A verdict of
    "within the SLO" is never settled early: it needs every sample.
    """
    left = planned - len(times)
    if left <= 0 or not times:
        return None
    floor = level([*times, *[0.0] * left], slo_s, sev2_s)
    if floor == 0 or level(times, slo_s, sev2_s) != floor or (floor == 1 and max(times) > sev2_s):
        return None
    line, name = (sev2_s, "the SEV2 line") if floor == 2 else (slo_s, "the SLO")
    over = sum(1 for t in times if t > line)
    return (f"verdict settled after {len(times)} samples: {over} over {name} ({line:g} s) keep the mean or "
            f"p95 of {planned} over it however fast the other {left} would be")


class ResponseSampler:
    """Samples an endpoint's response time through the session's HTTP probe (same footprint, same
    memory of hosts that are down), records the samples as one piece of evidence with an SVG chart."""

    def __init__(
        self,
        http: HttpProbe,
        performance: Performance,
        thresholds: Thresholds,
        timeouts: Timeouts,
        record: Callable[[Evidence], None],
        chart_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        run_left: Callable[[], float] | None = None,  # seconds left of the whole run's budget
    ) -> None:
        self._run_left = run_left
        self.http = http
        self.performance = performance
        self.thresholds = thresholds
        self.timeouts = timeouts
        self._record = record
        self.chart_dir = chart_dir
        self._clock = clock

    @property
    def read_bound_s(self) -> float:
        return max(self.timeouts.read_s, self.thresholds.response_sev2_s + READ_MARGIN_S)

    def sample(self, url: str, name: str | None = None, headers: dict[str, str] | None = None) -> SampleSet:
        perf = self.performance
        planned = max(1, perf.samples)
        concurrency = max(1, min(perf.concurrency, planned))
        start = self._clock()
        samples: list[Sample] = []
        stopped: str | None = None
        first = self._one(url, 0, start, record=True, headers=headers)  # in full; the rest as a table
        samples.append(first)
        stopped = self._stop_reason(first, first=True)
        while stopped is None and len(samples) < planned:
            spent = self._clock() - start
            slowest = max(s.elapsed_s for s in samples)
            if spent + slowest > perf.sample_budget_s:
                stopped = (
                    f"time budget: {spent:.1f} s spent, another sample may take {slowest:.1f} s "
                    f"(budget {perf.sample_budget_s:g} s)"
                )
                break
            run_left = self._run_left() if self._run_left else math.inf
            if slowest > run_left:
                stopped = (f"run budget: {max(run_left, 0):.1f} s left of the run's time budget, another sample "
                           f"may take {slowest:.1f} s")
                break
            batch = min(concurrency, planned - len(samples))
            indexes = range(len(samples), len(samples) + batch)
            try:
                if batch == 1:
                    taken = [self._one(url, indexes[0], start, headers=headers)]
                else:
                    with ThreadPoolExecutor(batch) as pool:
                        with for_main_thread():  # its threads start here, leaving a Ctrl-C to the main thread
                            answers = pool.map(lambda i: self._one(url, i, start, headers=headers), indexes)
                        taken = list(answers)
            except CouldNotRun as cut:  # a later sample cut by the run's budget: the samples taken still count
                stopped = str(cut)
                break
            samples.extend(taken)
            stopped = next((r for s in taken if (r := self._stop_reason(s, first=False))), None)
            if stopped is None:
                times = [s.elapsed_s for s in samples if s.answered or s.timed_out]
                stopped = settled(times, planned, self.thresholds.response_slo_s, self.thresholds.response_sev2_s)
        result = SampleSet(
            url=url, planned=planned, samples=tuple(samples), read_bound_s=self.read_bound_s,
            budget_s=perf.sample_budget_s, concurrency=concurrency, wall_s=self._clock() - start,
            stopped=stopped,
        )
        self._record(self._evidence(result, name))
        return result

    def _one(self, url: str, index: int, start: float, record: bool = False,
             headers: dict[str, str] | None = None) -> Sample:
        began = self._clock() - start
        result: HttpResult = self.http.get(url, headers=headers, read_s=self.read_bound_s, record=record)
        timed_out = result.status is None and "read timeout" in (result.error or "")
        return Sample(
            index=index, started_s=began, elapsed_s=result.elapsed_s, ttfb_s=result.ttfb_s,
            status=result.status, error=result.error, timed_out=timed_out,
        )

    def _stop_reason(self, sample: Sample, first: bool) -> str | None:
        which = "the first answer" if first else f"sample {sample.index + 1}"
        if sample.status is None:
            return f"{which} failed: {sample.error}"
        if sample.status >= 400:
            return f"{which} failed: HTTP {sample.status}"
        if first and sample.elapsed_s > self.thresholds.response_sev2_s:
            return (
                f"{which} took {sample.elapsed_s:.1f} s, over the SEV2 line "
                f"({self.thresholds.response_sev2_s:g} s): not asked again"
            )
        return None

    def _evidence(self, result: SampleSet, name: str | None) -> Evidence:
        rows = [
            (s.index + 1, f"{s.started_s:.3f}", f"{s.elapsed_s:.4f}",
             "" if s.ttfb_s is None else f"{s.ttfb_s:.4f}", s.status if s.status is not None else s.error)
            for s in result.samples
        ]
        text = "\n".join(filter(None, [
            result.summary(),
            "sequential" if result.concurrency == 1 else f"{result.concurrency} at a time",
            f"read bound {result.read_bound_s:g} s per request, budget {result.budget_s:g} s, "
            f"took {result.wall_s:.2f} s",
            f"{len(result.samples)} of {result.planned} samples taken; stopped early: {result.stopped}"
            if result.stopped else f"{len(result.samples)} of {result.planned} samples taken",
            "",
            table_text(["#", "started_s", "total_s", "first_byte_s", "status"], rows),
        ]))
        data: dict[str, object] = {
            "url": result.url,
            "samples": [
                {"total_s": round(s.elapsed_s, 4), "first_byte_s": None if s.ttfb_s is None else round(s.ttfb_s, 4),
                 "status": s.status, "error": s.error, "timed_out": s.timed_out}
                for s in result.samples
            ],
            "planned": result.planned,
            "taken": len(result.samples),
            "stopped": result.stopped,
        }
        if result.times:
            data.update({k: round(getattr(result, k), 4) for k in ("mean", "p50", "p95", "max")})
            if result.ttfbs:
                data["first_byte_mean"] = round(result.ttfb_mean, 4)
        chart = self._chart(result, name)
        if chart is not None:
            data["chart"] = str(chart)
        return Evidence("http", f"response times of GET {result.path}", text, data)

    def _chart(self, result: SampleSet, name: str | None) -> Path | None:
        if self.chart_dir is None or not result.samples:
            return None
        svg = samples_svg(
            [(s.elapsed_s, s.ttfb_s, not s.failed) for s in result.samples],
            slo_s=self.thresholds.response_slo_s, sev2_s=self.thresholds.response_sev2_s,
            title=f"GET {result.path}: {len(result.samples)} of {result.planned} samples, mean {result.mean:.3f} s",
        )
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name or f"response_time{result.path}").strip("_") or "root"
        path = self.chart_dir / f"{stem}.svg"
        try:
            self.chart_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(svg, encoding="utf-8")
        except OSError:
            return None  # a chart is a convenience: the samples are in the evidence anyway
        return path
