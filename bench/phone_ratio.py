"""The issue rate with phones against the rate without, in many short alternating rounds.

`bench.issue` runs each target for 10,000 requests in a round of six targets, so a phone
round and its phoneless pair are ~15 s apart; this VM's speed swings by a third within
seconds, and single pairs ranged from 66% to 148%. Here one server issues in short rounds
that alternate phone and no phone back to back (ABBA), 64 in flight, so both modes sample the
same swings; each mode's rate is pooled over all its rounds (its requests over its seconds).
Every phone is distinct (the per-phone limit never refuses one) and each makes an SMS notice;
phoneless tickets come from a kiosk (its token), as in `bench.issue`.

    python -m bench.phone_ratio [--pairs 20] [--requests 3000] [--concurrency 64] [--warmup 500]
"""

from __future__ import annotations

import argparse
import statistics

from bench.common import cpu_seconds, run_module, server, stack, write_hall

HALL = "iss"


def run(pairs: int = 20, requests: int = 3_000, concurrency: int = 64, warmup: int = 500) -> None:
    done: dict[int, list[tuple[float, float, float]]] = {0: [], 1: []}  # requests, s, CPU s
    with stack() as s, server(s, write_hall(s, HALL, 3)) as srv:
        url = f"{srv.url}/api/v1/halls/{HALL}/tickets"
        for k in range(pairs):
            for every in (0, 1) if k % 2 == 0 else (1, 0):
                before = cpu_seconds(srv.pid)
                r = run_module(
                    "loadgen",
                    url,
                    f"--requests={requests}",
                    f"--concurrency={concurrency}",
                    f"--warmup={warmup}",
                    f"--phone-every={every}",
                    f"--phone-base={k * (requests + warmup)}",
                )
                done[every].append((r["requests"], r["seconds"], cpu_seconds(srv.pid) - before))
    pooled = {m: sum(n for n, _, _ in rs) / sum(t for _, t, _ in rs) for m, rs in done.items()}
    cpu = {
        m: sum(c for _, _, c in rs) * 1000 / sum(n + warmup for n, _, _ in rs)
        for m, rs in done.items()
    }
    ratios = sorted((p[0] / p[1]) / (n[0] / n[1]) for n, p in zip(done[0], done[1], strict=True))
    q1, med, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    print(
        f"phone_ratio: {pairs} pairs of {requests} requests, {concurrency} in flight, ABBA\n"
        f"  no phone {pooled[0]:.0f}/s, phone {pooled[1]:.0f}/s pooled over their rounds: "
        f"phone / no phone {pooled[1] / pooled[0]:.1%} (target: within 10%, issue 8)\n"
        f"  pairs: median {med:.1%}, quartiles {q1:.1%} - {q3:.1%}, "
        f"range {ratios[0]:.0%} - {ratios[-1]:.0%}\n"
        f"  server CPU per ticket: no phone {cpu[0]:.3f} ms, phone {cpu[1]:.3f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.phone_ratio")
    p.add_argument("--pairs", type=int, default=20)
    p.add_argument("--requests", type=int, default=3_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--warmup", type=int, default=500, help="requests before each round")
    a = p.parse_args()
    run(a.pairs, a.requests, a.concurrency, a.warmup)


if __name__ == "__main__":
    main()
