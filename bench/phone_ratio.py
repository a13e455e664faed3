"""The issue rate with phones against the rate without, in many short slots that alternate.

`bench.issue` runs each target for 10,000 requests in a round of six targets, so a phone
round and its phoneless pair are ~15 s apart; this VM's speed swings by a third within
seconds, and single pairs ranged from 66% to 148%. Here one load generator process, on the
same keep-alive connections to one server, alternates phone and no phone in slots of half a
second, back to back in ABBA order, 64 in flight; a slot ends when its last request is
answered. Both modes sample the same swings, and each mode's rate is pooled over its slots
(its requests over its seconds). Every phone is distinct (the per-phone limit never refuses
one) and each makes an SMS notice; phoneless tickets come from a kiosk (its token), as in
`bench.issue`. The server's CPU per ticket is read at each slot's ends.

    python -m bench.phone_ratio [--pairs 150] [--slot 0.5] [--concurrency 64] [--warmup 2000]
"""

from __future__ import annotations

import argparse
import statistics

from bench.common import BenchError, run_module, server, stack, write_hall

HALL = "iss"


def run(pairs: int = 150, slot: float = 0.5, concurrency: int = 64, warmup: int = 2_000) -> None:
    with stack() as s, server(s, write_hall(s, HALL, 3)) as srv:
        out = run_module(
            "loadgen",
            f"{srv.url}/api/v1/halls/{HALL}/tickets",
            f"--alternate={pairs}",
            f"--slot={slot}",
            f"--concurrency={concurrency}",
            f"--warmup={warmup}",
            f"--cpu-pid={srv.pid}",
        )
    slots: list[list[float]] = out["slots"]
    if not slots or any(x[1] == 0 for x in slots):
        raise BenchError("phone_ratio: a slot had no answer (is the slot shorter than a request?)")
    by = {m: [x for x in slots if x[0] == m] for m in (0, 1)}
    pooled = {m: sum(x[1] for x in xs) / sum(x[2] for x in xs) for m, xs in by.items()}
    cpu = {m: sum(x[3] for x in xs) * 1000 / sum(x[1] for x in xs) for m, xs in by.items()}
    rates = [x[1] / x[2] for x in slots]
    # a pair is two adjacent slots, one of each mode (ABBA: slots 2k and 2k+1)
    ratios = sorted(
        (rates[i + 1] / rates[i]) if slots[i][0] == 0 else (rates[i] / rates[i + 1])
        for i in range(0, len(slots) - 1, 2)
    )
    q1, med, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    print(
        f"phone_ratio: {pairs} pairs of {slot:g} s slots, {concurrency} in flight, ABBA, "
        f"one load generator\n"
        f"  no phone {pooled[0]:.0f}/s, phone {pooled[1]:.0f}/s pooled over their slots: "
        f"phone / no phone {pooled[1] / pooled[0]:.1%} (target: within 10%, issue 8)\n"
        f"  pairs: median {med:.1%}, quartiles {q1:.1%} - {q3:.1%}, "
        f"range {ratios[0]:.0%} - {ratios[-1]:.0%}\n"
        f"  server CPU per ticket: no phone {cpu[0]:.3f} ms, phone {cpu[1]:.3f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.phone_ratio")
    p.add_argument("--pairs", type=int, default=150)
    p.add_argument("--slot", type=float, default=0.5, help="seconds of each slot")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--warmup", type=int, default=2_000, help="requests before the first slot")
    a = p.parse_args()
    run(a.pairs, a.slot, a.concurrency, a.warmup)


if __name__ == "__main__":
    main()
