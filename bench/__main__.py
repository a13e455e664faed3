"""Run every benchmark in turn: `python -m bench`. Each prints its figures; none asserts."""

from __future__ import annotations

import time

from bench import issue, latency, memory


def main() -> None:
    for bench in (issue.run, latency.run, memory.run):
        t0 = time.perf_counter()
        bench()
        print(f"  ({time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
