"""Selftest benchmark: wall and CPU time of `pinlab selftest cow` and `gup_longterm` over every era.

Prints the median of REPEAT runs of each era and of all eras together (the
acceptance figures: issue 4, cow over all eras in under a minute on a
2-core machine; issue 5, both selftests over all eras in under two minutes).
CPU time is the process's own, so it means something on a busy machine too.

    python bench/selftest.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from pinlab.kernel.eras import ERAS, Era
from pinlab.kernel.mm_types import FILESYSTEMS
from pinlab.selftests.cow import run_cow
from pinlab.selftests.gup_longterm import run_gup_longterm


def _cow(era: Era) -> None:
    run_cow(era)


def _gup_longterm(era: Era) -> None:
    for fstype in FILESYSTEMS:
        run_gup_longterm(era, fstype)


def _bench(name: str, run: Callable[[Era], None], repeat: int) -> tuple[float, float]:
    wall: list[float] = []
    cpu: list[float] = []
    per_era: dict[str, list[float]] = {era.name: [] for era in ERAS}
    for _ in range(repeat):
        start_all, cpu_all = time.perf_counter(), time.process_time()
        for era in ERAS:
            start = time.perf_counter()
            run(era)
            per_era[era.name].append(time.perf_counter() - start)
        wall.append(time.perf_counter() - start_all)
        cpu.append(time.process_time() - cpu_all)
    for era_name, times in per_era.items():
        print(f"{name} {era_name:<8} {statistics.median(times):8.3f} s")
    w, c = statistics.median(wall), statistics.median(cpu)
    print(f"{name} all eras {w:8.3f} s wall, {c:8.3f} s CPU (median of {repeat})")
    return w, c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cow = _bench("cow", _cow, args.repeat)
    gup = _bench("gup_longterm", _gup_longterm, args.repeat)
    print(f"both all eras {cow[0] + gup[0]:8.3f} s wall, {cow[1] + gup[1]:8.3f} s CPU")


if __name__ == "__main__":
    main()
