"""Benchmark pinlab's litmus runs, and herd7's when it is installed.

For the kernel and paulmck sets of the shared data, per test and in total:
pinlab's wall time, explored and consistent executions and verdict; then,
when a ``herd7`` binary is found (``--herd7``, default on PATH) with the LKMM
files (``--lkmm-dir``, the directory holding linux-kernel.cfg), the same
tests through herd7, one process per test as the kernel's scripts run it,
its verdict and the time ratio.  The kernel set is also timed as one
``pinlab litmus`` process, which is how it compares with herd7's
one-process-per-test run.

    python bench/litmus.py [--set kernel|paulmck|all] [--model lkmm]
                           [--herd7 PATH] [--lkmm-dir DIR] [--timeout SECONDS]
                           [--speedcheck false|true|fast] [--match TEXT]
                           [--no-factor]

``--speedcheck`` runs both tools in that herd7 mode (only the executions
that settle the condition are counted); ``--match`` keeps the tests whose
path contains TEXT; ``--no-factor`` enumerates observer locations' executions
one by one instead of counting them in product form (pinlab only).  Tests
that a tool does not finish within the timeout in the default mode are run
again with ``-speedcheck true`` by both tools, in a table of their own, so
that what can still be settled is shown.

It prints figures and asserts nothing.  The shared data is found in
$PINLAB_SHARED/litmus (default: <repo>/../shared/litmus).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pinlab.litmus.run import SPEEDCHECK, run_file
from pinlab.litmus.verdict import parse_herd7

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PINLAB_SHARED", REPO.parent / "shared")).resolve()


@dataclass
class Row:
    path: str
    seconds: float
    explored: int | None
    consistent: int | None
    verdict: str
    herd_seconds: float | None = None
    herd_verdict: str | None = None


def tests_of(which: str) -> list[Path]:
    paths: list[Path] = []
    for sub in ("kernel", "paulmck") if which == "all" else (which,):
        with (SHARED / "litmus" / sub / "expected.tsv").open(newline="") as f:
            paths += [
                SHARED / "litmus" / sub / r["path"] for r in csv.DictReader(f, delimiter="\t")
            ]
    return paths


def pinlab_row(path: Path, model: str, timeout: float, speedcheck: str, factor: bool = True) -> Row:
    start = time.perf_counter()
    run = run_file(path, model, time_limit=timeout, speedcheck=speedcheck, factor=factor)
    seconds = time.perf_counter() - start
    v = run.verdict
    if v is None:
        return Row(str(path), seconds, None, None, f"error: {run.error}")
    flags = "+" + "+".join(v.flags) if v.flags else ""
    return Row(str(path), seconds, v.explored, v.consistent,
               f"{v.observation or v.outcome} {v.positive} {v.negative}{flags}")  # fmt: skip


def herd_row(row: Row, herd7: str, lkmm_dir: Path, timeout: float, speedcheck: str) -> None:
    start = time.perf_counter()
    try:
        cmd = [herd7, "-I", str(lkmm_dir), "-conf", "linux-kernel.cfg"]
        cmd += ["-speedcheck", speedcheck, row.path]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout
    except subprocess.TimeoutExpired:
        row.herd_seconds, row.herd_verdict = timeout, "TIMEOUT"
        return
    row.herd_seconds = time.perf_counter() - start
    verdicts = parse_herd7(out)
    if not verdicts:
        row.herd_verdict = "ERROR"
        return
    v = verdicts[0]
    flags = "+" + "+".join(v.flags) if v.flags else ""
    row.herd_verdict = f"{v.observation} {v.positive} {v.negative}{flags}"


def one_process(paths: list[Path], model: str, speedcheck: str) -> float:
    """Wall time of one ``pinlab litmus`` process over ``paths`` (Python start-up included)."""
    start = time.perf_counter()
    cmd = [sys.executable, "-c", "from pinlab.cli import main; main()", "litmus"]
    cmd += ["--model", model, "--speedcheck", speedcheck, *map(str, paths)]
    subprocess.run(cmd, capture_output=True, check=False)
    return time.perf_counter() - start


def _stopped(row: Row) -> bool:
    """Whether either tool gave up on the test at the timeout."""
    return row.verdict.startswith("time-limit") or row.herd_verdict == "TIMEOUT"


def report(rows: list[Row], label: str) -> None:
    herd = [r for r in rows if r.herd_seconds is not None]
    print(f"\n== {label}: {len(rows)} tests")
    head = f"{'seconds':>9} {'explored':>9} {'consist.':>9}  {'pinlab':<24}"
    if herd:
        head += f" {'herd7 s':>8} {'ratio':>6}  {'herd7':<24}"
    print(head + "  test")
    for r in rows:
        line = f"{r.seconds:9.3f} {r.explored or 0:9d} {r.consistent or 0:9d}  {r.verdict:<24}"
        if herd:
            hs = r.herd_seconds or 0.0
            mark = "" if r.herd_verdict == r.verdict else " *"
            line += f" {hs:8.3f} {hs / r.seconds:6.1f}  {r.herd_verdict or '':<24}{mark}"
        print(f"{line}  {Path(r.path).relative_to(SHARED / 'litmus')}")
    total = sum(r.seconds for r in rows)
    explored = sum(r.explored or 0 for r in rows)
    consistent = sum(r.consistent or 0 for r in rows)
    print(f"total: pinlab {total:.2f} s, explored {explored}, consistent {consistent}, "
          f"explored/consistent {explored / consistent if consistent else 0:.2f}; "
          f"slowest {max(rows, key=lambda r: r.seconds).seconds:.2f} s")  # fmt: skip
    if herd:
        htotal = sum(r.herd_seconds or 0.0 for r in herd)
        agree = sum(r.herd_verdict == r.verdict for r in herd)
        print(
            f"herd7 {htotal:.2f} s (ratio {htotal / total:.2f}), "
            f"same verdict, counts and flags on {agree}/{len(herd)} (* marks the others)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--set", choices=("kernel", "paulmck", "all"), default="all")
    ap.add_argument("--model", default="lkmm")
    ap.add_argument("--herd7", default=shutil.which("herd7"))
    ap.add_argument("--lkmm-dir", type=Path, help="directory holding linux-kernel.cfg")
    ap.add_argument("--timeout", type=float, default=120.0, help="per test and tool")
    ap.add_argument("--speedcheck", choices=SPEEDCHECK, default="false")
    ap.add_argument("--no-factor", action="store_true", help="no product form (pinlab)")
    ap.add_argument("--match", default="", help="only the tests whose path contains this")
    args = ap.parse_args()
    use_herd = args.herd7 is not None and args.lkmm_dir is not None
    if args.herd7 is not None and args.lkmm_dir is None:
        print("herd7 found but no --lkmm-dir: herd7 runs skipped", file=sys.stderr)
    for which in ("kernel", "paulmck") if args.set == "all" else (args.set,):
        paths = [p for p in tests_of(which) if args.match in str(p)]
        if not paths:
            continue
        rows = []
        for path in paths:
            rows.append(
                pinlab_row(path, args.model, args.timeout, args.speedcheck, not args.no_factor)
            )
            if use_herd:
                herd_row(rows[-1], args.herd7, args.lkmm_dir, args.timeout, args.speedcheck)
        report(rows, which)
        stopped = [r for r in rows if _stopped(r)]
        if stopped and args.speedcheck == "false":
            again = []
            for r in stopped:
                again.append(pinlab_row(Path(r.path), args.model, args.timeout, "true"))
                if use_herd:
                    herd_row(again[-1], args.herd7, args.lkmm_dir, args.timeout, "true")
            report(again, f"{which}, not finished in {args.timeout:g} s, with -speedcheck true")
        if which == "kernel":
            seconds = one_process(paths, args.model, args.speedcheck)
            print(f"one 'pinlab litmus' process over the kernel set: {seconds:.2f} s")


if __name__ == "__main__":
    main()
