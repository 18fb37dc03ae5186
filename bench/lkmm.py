"""The LKMM at kernel scale: every scenario of the catalogue, and the slow litmus tests.

Part 1, the scenarios: each row as `pinlab check` runs it (a reachable verdict
stops at its first witness, which the waiting explorer then finds again; a
never verdict explores everything). Per row it prints the model, the verdict,
the executions, the seconds and the procedure that gave the verdict. Then the total,
the slowest row, and the goals of issue 16 (whole catalogue under 5 minutes,
no row over 60 s).

Part 2, the litmus tests: the paulmck tests that take the waiting explorer
more than ``--slow`` seconds, each timed under ``--engine explore`` and
``--engine auto``. The shared data records herd7's run time only for the
catalogue tests (their ``Time`` line), and those are printed beside pinlab's
time as well.

    python bench/lkmm.py [--model sc|lkmm] [--engine auto|revisit|explore]
                         [--litmus] [--slow SECONDS] [NAME...]

It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

from pinlab.engine.explore import Limits
from pinlab.litmus.run import run_file
from pinlab.scenarios import select

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PINLAB_SHARED", REPO.parent / "shared")).resolve()
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


def litmus(args: argparse.Namespace) -> None:
    print(f"{'test':58s} {'explore':>9s} {'auto':>9s} {'herd7':>9s}  verdict (explore | auto)")
    cat = sorted((SHARED / "litmus" / "catalogue").glob("*.litmus"))
    paul = sorted((SHARED / "litmus" / "paulmck").rglob("*.litmus"))
    for path in cat + paul:
        herd = ""
        expected = Path(f"{path}.expected")
        if expected.is_file():
            m = re.search(r"^Time \S+ ([0-9.]+)", expected.read_text(), re.M)
            herd = f"{float(m.group(1)):8.2f}s" if m else ""
        first, verdict = _timed(path, "explore")
        if first < args.slow and not herd.strip():
            continue
        if first < args.slow and herd and float(herd[:-1]) < args.slow:
            continue
        second, verdict2 = _timed(path, "auto")
        name = str(path.relative_to(SHARED / "litmus"))
        print(f"{name:58s} {first:8.2f}s {second:8.2f}s {herd:>9s}  {verdict} | {verdict2}",
              flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--model", default=None)
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--litmus", action="store_true", help="part 2 only")
    ap.add_argument("--slow", type=float, default=2.0)
    args = ap.parse_args()
    if not args.litmus:
        scenarios(args)
    if args.litmus or not args.names:
        litmus(args)


if __name__ == "__main__":
    main()
