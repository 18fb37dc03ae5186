"""How much faster `--jobs 2` is than `--jobs 1` (issue 21).

Times whole commands, each ``--repeat`` times with the two job counts taking
turns, with an empty results cache (``--no-cache``), and prints for each the
median seconds with one and with two workers and the speed-up (their ratio):

- one long scenario: ``check fork-vs-pin-fast --era large-flag-set+mb
  --model lkmm`` (about 30 s on one core: 395 executions, never), goal 1.8;
- the whole catalogue: ``check``, goal 1.7;
- the slowest paulmck litmus tests we hold (from bench/data, by herd7's
  time), each ``litmus -j N`` on the one file: the split of one exploration.

    python bench/parallel.py [--repeat N] [--quick]

``--quick`` leaves out the whole catalogue.  Two cores are assumed; on this
kind of machine two busy processes each run about 15% slower than one alone
(measured: 6.09 s alone, 7.05 s as a pair), which bounds any speed-up at
about 1.75.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PINLAB_SHARED", REPO.parent / "shared"))
GOALS = {"one long scenario": 1.8, "whole catalogue": 1.7}
LONG = ["check", "fork-vs-pin-fast", "--era", "large-flag-set+mb", "--model", "lkmm"]
# The paulmck tests pinlab itself takes longest on, from bench/litmus.py runs.
SLOW_LITMUS = ["C-ManfredSpraul-L1G2xchg.litmus", "C-RomanPenyaev-list-rcu-rr.litmus"]


def _time(args: list[str], jobs: int) -> float:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PINLAB_CACHE_DIR": cache, "PINLAB_JOBS": str(jobs)}
        cmd = [sys.executable, "-m", "pinlab", *args, "--jobs", str(jobs)]
        if args[0] == "check":
            cmd.append("--no-cache")
        start = time.perf_counter()
        run = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=False)
        seconds = time.perf_counter() - start
        if run.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)}: exit {run.returncode}")
        return seconds


def measure(label: str, args: list[str], repeat: int) -> None:
    one: list[float] = []
    two: list[float] = []
    for _ in range(repeat):
        one.append(_time(args, 1))
        two.append(_time(args, 2))
    a, b = statistics.median(one), statistics.median(two)
    goal = GOALS.get(label)
    verdict = "" if goal is None else f"; goal {goal}: {'met' if a / b >= goal else 'NOT met'}"
    print(f"{label}: --jobs 1 median {a:.1f} s, --jobs 2 median {b:.1f} s, "
          f"speed-up {a / b:.2f} over {repeat} run(s){verdict}", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="leave out the whole catalogue")
    args = ap.parse_args()
    measure("one long scenario", LONG, args.repeat)
    if not args.quick:
        measure("whole catalogue", ["check"], args.repeat)
    for name in SLOW_LITMUS:
        found = sorted((SHARED / "litmus").rglob(name))
        if not found:
            print(f"{name}: not found under {SHARED / 'litmus'} (set PINLAB_SHARED)")
            continue
        measure(f"litmus {name}", ["litmus", str(found[0]), "--no-factor"], args.repeat)


if __name__ == "__main__":
    main()
