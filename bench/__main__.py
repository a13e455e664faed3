"""Run every benchmark in turn: `python -m bench`. Each prints its figures beside a floor
measured in the same run; an error (a non-2xx answer, a lost call) stops it and exits 1."""

from __future__ import annotations

import sys
import time

from bench import (
    eta,
    fullload,
    issue,
    issue_script,
    kiosk_steps,
    latency,
    memory,
    midnight,
    notice_steps,
    pages,
    phone_ratio,
    sms,
    window,
)
from bench.common import BenchError


def main() -> None:
    for bench in (
        issue,
        phone_ratio,
        issue_script,
        kiosk_steps,
        notice_steps,
        latency,
        fullload,
        midnight,
        memory,
        window,
        eta,
        pages,
        sms,
    ):
        t0 = time.perf_counter()
        try:
            bench.run()
        except BenchError as exc:
            sys.exit(f"{bench.__name__} FAILED: {exc}")
        print(f"  ({time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
