"""Run the benchmarks and write docs/benchmarks.md: `python -m bench [--only triage,freshness,logs,footprint]`.

triage and footprint start a demo stack of their own in .tmp/bench/stack and stop it at the end;
freshness starts (and removes) a throw-away PostgreSQL cluster; logs writes (and deletes) its files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from .common import ROOT, WORK, Results, log, machine

PARTS = ("triage", "freshness", "logs", "footprint")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--rows", type=int, default=10_000_000, help="events rows of the freshness benchmark")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part {', '.join(sorted(unknown))} (parts: {', '.join(PARTS)})")

    from . import footprint, freshness, logs, report, triage

    started = time.perf_counter()
    results = Results()
    results.put("machine", machine())

    def put(key: str, value: dict[str, object]) -> None:
        results.put(key, {**value, "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})

    if "freshness" in parts:
        put("freshness", freshness.run(args.rows))
    if "logs" in parts:
        put("logs", logs.run())
    if {"triage", "footprint"} & set(parts):
        from fixtures.demo import DemoStack

        stack_dir = WORK / "stack"
        stack = DemoStack(stack_dir)
        log(f"starting a demo stack in {stack_dir}")
        stack.start()
        try:
            if "triage" in parts:
                put("triage", triage.run(stack))
            if "footprint" in parts:
                put("footprint", footprint.run(stack))
        finally:
            stack.stop()
            shutil.rmtree(stack_dir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report.render(results.data))
    log(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
