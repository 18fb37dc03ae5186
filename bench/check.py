"""How long `pinlab check` takes on the whole built-in catalogue.

Runs every scenario as `pinlab check` does (a reachable verdict stops at its
first witness; a never verdict explores everything), ``--repeat`` times, and
prints per scenario the verdict, executions and the median seconds, then the
median total against the 5-minute goal of issue 6.

    python bench/check.py [--repeat N] [NAME...]
"""

from __future__ import annotations

import argparse
import statistics
import time

from pinlab.engine.explore import Limits
from pinlab.scenarios import select

GOAL_SECONDS = 300.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    scenarios = select(args.names)
    totals = []
    rows: dict[str, list[float]] = {}
    verdicts: dict[str, str] = {}
    for _ in range(args.repeat):
        start = time.perf_counter()
        for s in scenarios:
            r = s.run(Limits(stop_at_witness=True))
            rows.setdefault(s.key, []).append(r.seconds)
            ok = "ok" if r.as_expected else f"EXPECTED {s.expected}"
            verdicts[s.key] = f"{r.verdict:12s} {r.executions:6d} executions  {ok}"
        totals.append(time.perf_counter() - start)
    for key, secs in rows.items():
        print(f"{key:60s} {verdicts[key]}  {statistics.median(secs):7.2f} s")
    total = statistics.median(totals)
    print(
        f"catalogue: {len(scenarios)} scenarios, median {total:.1f} s over {args.repeat} run(s); "
        f"goal {GOAL_SECONDS:.0f} s: {'met' if total < GOAL_SECONDS else 'NOT met'} "
        f"(ratio {total / GOAL_SECONDS:.2f})"
    )


if __name__ == "__main__":
    main()
