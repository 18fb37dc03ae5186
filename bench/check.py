"""How long `pinlab check` takes on the whole built-in catalogue.

Runs every scenario as `pinlab check` does (a reachable verdict stops at its
first witness; a never verdict explores everything), ``--repeat`` times, and
prints per scenario the verdict, executions and the median seconds, then the
median total against the 5-minute goal of issue 6.  With ``--cached`` it
times the whole command instead, ``pinlab check`` with an empty results cache
and then again with nothing changed (issue 19: the second under 5 s).

    python bench/check.py [--repeat N] [--cached] [NAME...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from pinlab.engine.explore import Limits
from pinlab.scenarios import select

GOAL_SECONDS = 300.0
CACHED_GOAL_SECONDS = 5.0


def cached(names: list[str], repeat: int) -> None:
    """``pinlab check`` twice per repeat, a fresh cache each time: the first run
    fills it, the second reads it back."""
    firsts, seconds = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "PINLAB_CACHE_DIR": cache}
            cmd = [sys.executable, "-m", "pinlab", "check", *names]
            for out in (firsts, seconds):
                start = time.perf_counter()
                subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
                out.append(time.perf_counter() - start)
    first, second = statistics.median(firsts), statistics.median(seconds)
    print(
        f"pinlab check {' '.join(names) or '(whole catalogue)'}: first run median {first:.1f} s, "
        f"second (cached) median {second:.2f} s over {repeat} run(s); goal "
        f"{CACHED_GOAL_SECONDS:.0f} s: {'met' if second < CACHED_GOAL_SECONDS else 'NOT met'} "
        f"(ratio {second / CACHED_GOAL_SECONDS:.2f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cached", action="store_true", help="time a first and a cached run")
    args = ap.parse_args()
    if args.cached:
        cached(args.names, args.repeat)
        return
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
