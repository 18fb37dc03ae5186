"""The LKMM at kernel scale: every scenario of the catalogue, and the slow litmus tests.

Part 1, the scenarios: each row as `pinlab check` runs it (a reachable verdict
stops at its first witness, which the waiting explorer then finds again; a
never verdict explores everything). Per row it prints the model, the verdict,
the executions, the seconds and the procedure that gave the verdict. Then the total,
the slowest row, and the goals of issue 16 (whole catalogue under 5 minutes,
no row over 60 s).

Part 2, the litmus tests: the paulmck tests that herd7 takes more than
``--slow`` seconds on (and the two it gives up on), each timed under
``--engine explore`` and ``--engine auto``, beside herd7's time.  herd7's
times come from ``bench/data/herd7-paulmck-times.tsv``, measured on this
project's 2-core machine (its header says how); the shared litmus data
records herd7's run time only for the catalogue tests.

    python bench/lkmm.py [--part scenarios|litmus|both] [--model sc|lkmm]
                         [--engine auto|revisit|explore] [--slow SECONDS]
                         [--herd7-times FILE] [NAME...]

It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

from pinlab.engine.explore import Limits
from pinlab.litmus.run import run_file
from pinlab.scenarios import select

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PINLAB_SHARED", REPO.parent / "shared")).resolve()
HERD7_TIMES = REPO / "bench" / "data" / "herd7-paulmck-times.tsv"
GOAL_TOTAL = 300.0
GOAL_ROW = 60.0


def scenarios(args: argparse.Namespace) -> None:
    chosen = select(args.names, model=args.model) if args.names else select(model=args.model)
    start = time.perf_counter()
    worst = (0.0, "")
    unexpected = 0
    for s in chosen:
        r = s.run(Limits(stop_at_witness=True), args.engine)
        procedure = r.exploration.procedure
        ok = "ok" if r.as_expected else f"EXPECTED {s.expected}"
        unexpected += not r.as_expected
        print(f"{s.key:62s} {s.model:5s} {r.verdict:12s} {r.executions:6d} {r.seconds:8.2f} s "
              f"{procedure:8s} {ok}", flush=True)  # fmt: skip
        worst = max(worst, (r.seconds, s.key))
    total = time.perf_counter() - start
    print(f"{len(chosen)} scenarios in {total:.1f} s ({unexpected} unexpected); slowest "
          f"{worst[1]} {worst[0]:.1f} s; goals: total < {GOAL_TOTAL:.0f} s "
          f"{'met' if total < GOAL_TOTAL else 'NOT met'}, every row < {GOAL_ROW:.0f} s "
          f"{'met' if worst[0] < GOAL_ROW else 'NOT met'}")  # fmt: skip


def _timed(path: Path, engine: str) -> tuple[float, str]:
    start = time.perf_counter()
    run = run_file(path, "lkmm", engine=engine, time_limit=300)
    seconds = time.perf_counter() - start
    v = run.verdict
    if v is None or v.observation is None:
        return seconds, "no verdict"
    return seconds, f"{v.observation} {v.positive}/{v.negative}"


def _herd7_times(path: Path) -> dict[str, tuple[str, str]]:
    """path -> (herd7 seconds, herd7's observation) from a recorded table."""
    rows = csv.DictReader(
        (line for line in path.read_text().splitlines() if not line.startswith("#")),
        delimiter="\t",
    )
    return {row["path"]: (row["herd7_seconds"], row["observation"]) for row in rows}


def litmus(args: argparse.Namespace) -> None:
    """The paulmck tests herd7 takes over ``--slow`` seconds on (from the table)."""
    times = _herd7_times(args.herd7_times)
    slow = sorted(
        (p for p, (sec, obs) in times.items() if obs == "TIMEOUT" or float(sec) > args.slow),
        key=lambda p: -float(times[p][0]) if times[p][1] != "TIMEOUT" else float("-inf"),
    )
    print(
        f"{'paulmck test':62s} {'herd7':>9s} {'explore':>9s} {'auto':>9s}  verdict (explore | auto)"
    )
    totals = [0.0, 0.0, 0.0]
    for name in slow:
        herd_s, herd_obs = times[name]
        path = SHARED / "litmus" / "paulmck" / name
        first, verdict = _timed(path, "explore")
        second, verdict2 = _timed(path, "auto")
        herd = "timeout" if herd_obs == "TIMEOUT" else f"{float(herd_s):8.2f}s"
        if herd_obs != "TIMEOUT":
            totals[0] += float(herd_s)
            totals[1] += first
            totals[2] += second
        print(f"{name:62s} {herd:>9s} {first:8.2f}s {second:8.2f}s  {verdict} | {verdict2}",
              flush=True)  # fmt: skip
    h, e, a = totals
    print(f"{len(slow)} tests; where herd7 finishes: herd7 {h:.1f} s, explore {e:.1f} s "
          f"({e / h:.2f} of herd7), auto {a:.1f} s ({a / h:.2f} of herd7)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--model", default=None)
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--part", choices=("scenarios", "litmus", "both"), default="both")
    ap.add_argument("--slow", type=float, default=2.0, help="herd7 seconds (part 2)")
    ap.add_argument("--herd7-times", type=Path, default=HERD7_TIMES, help="herd7's timings")
    args = ap.parse_args()
    if args.part != "litmus":
        scenarios(args)
    if args.part != "scenarios" and not args.names:
        litmus(args)


if __name__ == "__main__":
    main()
