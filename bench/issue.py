"""Ticket issuing over HTTP: the real server vs a bare aiohttp app, same load generator.

One server process and one load generator process (the machine has 2 cores; Redis and
Mosquitto share them). Keep-alive connections, 64 requests in flight, no phones (so the
per-phone limit never applies).

    python -m bench.issue [--requests N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench.common import DEMO, server, stack
from tests.services import HttpProcess, free_port

PATH = "/api/v1/halls/demo/tickets"


def load(p: HttpProcess, requests: int, concurrency: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            p.url + PATH,
            f"--requests={requests}",
            f"--concurrency={concurrency}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def line(name: str, r: dict[str, float]) -> str:
    return (
        f"  {name:<14} {r['rps']:>7.0f}/s  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms"
        f"  ({r['requests']:.0f} requests in {r['seconds']:.1f} s, {r['errors']:.0f} errors)"
    )


def run(requests: int = 20_000, concurrency: int = 64, rounds: int = 2) -> None:
    results: dict[str, list[dict[str, float]]] = {"hallcall": [], "bare aiohttp": []}
    with stack() as s, server(s, DEMO) as srv:
        port = free_port()
        bare = HttpProcess.spawn(
            [sys.executable, "-m", "bench.bare", str(port)], {}, s.dir / "bare.log", port
        )
        try:
            bare.wait()
            # Rounds alternate so that noise from other work on the machine hits both alike.
            for _ in range(rounds):
                results["hallcall"].append(load(srv, requests, concurrency))
                results["bare aiohttp"].append(load(bare, requests, concurrency))
        finally:
            bare.stop()
    print(f"issue: POST {PATH}, {concurrency} in flight, keep-alive, {rounds} rounds")
    for name, rs in results.items():
        for r in rs:
            print(line(name, r))
    hall, base = (max(r["rps"] for r in rs) for rs in results.values())
    print(
        f"  hallcall issue: {hall:.0f}/s, bare aiohttp: {base:.0f}/s (best rounds; "
        f"{hall / base:.0%} of bare; target >= 3000/s)"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.issue")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    run(a.requests, a.concurrency, a.rounds)


if __name__ == "__main__":
    main()
