"""Engine benchmark: explored and consistent executions, rate and memory.

Prints, for a fixed set of programs under sc and lkmm: executions explored
(complete candidates decided by the model), consistent, their ratio (1.0 is
optimal), dead ends, executions per second (median of REPEAT runs) and the
peak memory allocated during one run (tracemalloc).  One program has more
than 10,000 consistent executions.

    python bench/engine.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable, Generator
from typing import Any

from pinlab.engine import kapi
from pinlab.engine.explore import ExplorationResult, explore
from pinlab.engine.program import Loc, Program

X, Y = Loc("x"), Loc("y")
Thread = Callable[[], Generator[Any, Any, dict[str, Any]]]


def writer_reader(w: Loc, wv: int, r: Loc, *, fence: bool = False) -> Thread:
    def thread() -> Generator[Any, Any, dict[str, Any]]:
        yield from kapi.WRITE_ONCE(w, wv)
        if fence:
            yield from kapi.smp_mb()
        r0 = yield from kapi.READ_ONCE(r)
        return {"r0": r0}

    return thread


def reader_writer(r: Loc, w: Loc) -> Thread:
    def thread() -> Generator[Any, Any, dict[str, Any]]:
        r0 = yield from kapi.READ_ONCE(r)
        yield from kapi.WRITE_ONCE(w, 1)
        return {"r0": r0}

    return thread


def writes(*pairs: tuple[Loc, int]) -> Thread:
    def thread() -> Generator[Any, Any, dict[str, Any]]:
        for loc, v in pairs:
            yield from kapi.WRITE_ONCE(loc, v)
        return {}

    return thread


def reads(*locs: Loc) -> Thread:
    def thread() -> Generator[Any, Any, dict[str, Any]]:
        out = {}
        for i, loc in enumerate(locs):
            out[f"r{i}"] = yield from kapi.READ_ONCE(loc)
        return out

    return thread


def incrementer(loc: Loc) -> Thread:
    def thread() -> Generator[Any, Any, dict[str, Any]]:
        old = yield from kapi.atomic_fetch_add(1, loc)
        yield from kapi.atomic_inc(loc)
        return {"r0": old}

    return thread


PROGRAMS: dict[str, Program] = {
    "SB": Program("SB", (writer_reader(X, 1, Y), writer_reader(Y, 1, X))),
    "SB+mbs": Program(
        "SB+mbs", (writer_reader(X, 1, Y, fence=True), writer_reader(Y, 1, X, fence=True))
    ),
    "MP": Program("MP", (writes((X, 1), (Y, 1)), reads(Y, X))),
    "LB": Program("LB", (reader_writer(X, Y), reader_writer(Y, X))),
    "IRIW": Program("IRIW", (writes((X, 1)), writes((Y, 1)), reads(X, Y), reads(Y, X))),
    "3-incrementers": Program("3-incrementers", tuple(incrementer(X) for _ in range(3))),
    "5-writers-x-y": Program(
        "5-writers-x-y", tuple(writes((X, t + 1), (Y, t + 1)) for t in range(5))
    ),
}


def measure(program: Program, model: str, repeat: int) -> tuple[ExplorationResult, float, int]:
    times = []
    result = explore(program, model)
    for _ in range(repeat):
        start = time.perf_counter()
        result = explore(program, model)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    explore(program, model)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, statistics.median(times), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header = (
        f"{'program':<16} {'model':<5} {'explored':>9} {'consistent':>10} {'ratio':>6} "
        f"{'blocked':>8} {'exec/s':>8} {'median s':>9} {'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, program in PROGRAMS.items():
        for model in ("sc", "lkmm"):
            res, secs, peak = measure(program, model, args.repeat)
            st = res.stats
            rate = st.consistent / secs if secs else float("inf")
            print(
                f"{name:<16} {model:<5} {st.explored:>9} {st.consistent:>10} {st.ratio:>6.2f} "
                f"{st.blocked:>8} {rate:>8.0f} {secs:>9.3f} {peak / 2**20:>9.2f}"
            )


if __name__ == "__main__":
    main()
