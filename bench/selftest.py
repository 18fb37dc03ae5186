"""Selftest benchmark: wall time of `pinlab selftest cow` over every era.

Prints the median of REPEAT runs of each era and of all eras together (the
acceptance figure of issue 4 is "all eras in under a minute").

    python bench/selftest.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from pinlab.kernel.eras import ERAS
from pinlab.selftests.cow import run_cow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    total: list[float] = []
    per_era: dict[str, list[float]] = {era.name: [] for era in ERAS}
    for _ in range(args.repeat):
        start_all = time.perf_counter()
        for era in ERAS:
            start = time.perf_counter()
            run_cow(era)
            per_era[era.name].append(time.perf_counter() - start)
        total.append(time.perf_counter() - start_all)
    for name, times in per_era.items():
        print(f"cow {name:<8} {statistics.median(times):8.3f} s")
    print(f"cow all eras {statistics.median(total):8.3f} s (median of {args.repeat})")


if __name__ == "__main__":
    main()
