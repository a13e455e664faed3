"""Ticket issuing over HTTP, with and without phones, beside two floors in the same run.

One server process and one load generator process (the machine has 2 cores; Redis and
Mosquitto share them). Keep-alive connections, 64 requests in flight. Every phone is a
distinct valid mainland mobile number, so the per-phone limit never refuses one; each such
ticket also makes an SMS notice. Rounds alternate between the targets, every other round in
reverse order, so the machine's other load and the hall's growing day hit them alike; the best
round of each is the figure.

- hallcall, no phone / with phone: `POST /api/v1/halls/iss/tickets` on the real server;
- bare aiohttp: the same route answering a small JSON (bench/bare.py);
- bare + EVALSHA: the same plus one Lua call on the same Redis;
- kiosk route: as the kiosk page issues (its device token and an Idempotency-Key per press),
  beside the plain API with a staff token and no key (issue 9: within 10%).

    python -m bench.issue [--requests N] [--rounds 4]
"""

from __future__ import annotations

import argparse
import statistics

from bench.common import bare, cpu_seconds, run_module, server, stack, write_hall
from tests.services import MANAGER_TOKEN

HALL = "iss"
KIOSK_ROUTE = "kiosk route (key)"
PLAIN_API = "plain API (staff)"
WARMUP = 1_000  # loadgen's default warm-up requests before each round


def line(name: str, r: dict[str, float]) -> str:
    return (
        f"  {name:<20} {r['rps']:>7.0f}/s  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms"
        f"  CPU {r['cpu_ms']:.2f} ms/request ({r['requests']:.0f} requests in {r['seconds']:.1f} s)"
    )


def run(requests: int = 10_000, concurrency: int = 64, rounds: int = 4) -> None:
    results: dict[str, list[dict[str, float]]] = {}
    with stack() as s, server(s, write_hall(s, HALL, 3)) as srv, bare(s) as floor:
        path = f"/api/v1/halls/{HALL}/tickets"
        targets = {
            "hallcall, no phone": (srv, srv.url + path, 0),
            "hallcall, phone": (srv, srv.url + path, 1),
            "bare aiohttp": (floor, floor.url + path, 0),
            "bare + EVALSHA": (floor, f"{floor.url}/bare/{HALL}/tickets", 0),
            KIOSK_ROUTE: (srv, srv.url + path, 0),
            PLAIN_API: (srv, srv.url + path, 0),
        }
        extra = {KIOSK_ROUTE: ["--idempotency"], PLAIN_API: [f"--token={MANAGER_TOKEN}"]}
        for k in range(rounds):
            # every other round in reverse order (ABBA): the hall's growing day and any drift
            # of the machine weigh on every target alike, not on the later ones
            order = list(targets.items())
            for name, (proc, url, every) in order if k % 2 == 0 else order[::-1]:
                args = [url, f"--requests={requests}", f"--concurrency={concurrency}"]
                args += extra.get(name, [])
                # distinct phones in every round (and its warm-up)
                args += [f"--phone-every={every}", f"--phone-base={k * (requests + 10_000)}"]
                before = cpu_seconds(proc.pid)
                r = run_module("loadgen", *args)
                # the warm-up's requests count too: the CPU was read around both
                r["cpu_ms"] = (cpu_seconds(proc.pid) - before) * 1000 / (r["requests"] + WARMUP)
                results.setdefault(name, []).append(r)
    print(f"issue: POST tickets, {concurrency} in flight, keep-alive, {rounds} rounds")
    for name, rs in results.items():
        for r in rs:
            print(line(name, r))
    best = {name: max(r["rps"] for r in rs) for name, rs in results.items()}
    cpu = {name: min(r["cpu_ms"] for r in rs) for name, rs in results.items()}
    print(
        f"  best rounds: no phone {best['hallcall, no phone']:.0f}/s, "
        f"phone {best['hallcall, phone']:.0f}/s (target >= 4000/s, the figure before issue 5);"
        f" floors: bare aiohttp {best['bare aiohttp']:.0f}/s, "
        f"bare + EVALSHA {best['bare + EVALSHA']:.0f}/s"
    )
    nophone, phone = results["hallcall, no phone"], results["hallcall, phone"]
    pairs = [p["rps"] / n["rps"] for n, p in zip(nophone, phone, strict=True)]
    both = best["hallcall, phone"] / best["hallcall, no phone"]
    print(
        f"  phone / no phone: best rounds {both:.0%}; round by round (each pair run back to"
        f" back) {', '.join(f'{r:.0%}' for r in pairs)}, median {statistics.median(pairs):.0%}"
        " (target: within 10%, issue 8)"
    )
    ratio = best[KIOSK_ROUTE] / best[PLAIN_API]
    print(
        f"  kiosk route (device token + Idempotency-Key) {best[KIOSK_ROUTE]:.0f}/s vs plain API"
        f" (staff token, no key) {best[PLAIN_API]:.0f}/s: {ratio:.0%} (target: within 10%)"
    )
    print(
        "  CPU per request of the answering process (least of the rounds): "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items())
        + " (1 ms caps one process at 1000/s)"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.issue")
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=4)
    a = p.parse_args()
    run(a.requests, a.concurrency, a.rounds)


if __name__ == "__main__":
    main()
