"""One window, sequential: from `next` sent to the call arriving at an MQTT subscriber, for
the real server and for the floor, a bare aiohttp endpoint that runs one EVALSHA and one
QoS 1 publish (bench/bare.py), in the same run.

Each `next` waits for its call to arrive before the next one is sent, so nothing queues:
this is the path's own latency. Calls alternate between the two, one each in turn, so the
machine's other load hits both alike. Send and arrival are timed with perf_counter in this
process; a call is matched to its request by (hall, window, number). Then 200 more calls
each with Redis's SLOWLOG logging every command: the time each side's script takes inside
Redis, the one stage of the path that Redis alone accounts for.

    python -m bench.latency [--calls 500] [--rounds 2]   (rounds x calls of each)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import time

import aiohttp
import redis

from bench.bare import COUNT
from bench.common import (
    KIOSK,
    BenchError,
    Watch,
    bare,
    percentiles,
    server,
    stack,
    watch,
    window_token,
    write_hall,
)
from queue_server.protocol import topic_calls
from queue_server.store.scripts import source

SCRIPTS = {  # EVALSHA sha -> whose script it is
    hashlib.sha1(source("next").encode()).hexdigest(): "hallcall",  # noqa: S324 (Redis's name)
    hashlib.sha1(COUNT.encode()).hexdigest(): "bare",  # noqa: S324
}

HALL, BARE = "seq", "seqbare"


async def pre_issue(session: aiohttp.ClientSession, base: str, n: int) -> None:
    url = f"{base}/api/v1/halls/{HALL}/tickets"
    sem = asyncio.Semaphore(32)

    async def one() -> None:
        async with sem, session.post(url, json={"service": "A"}, headers=KIOSK) as resp:
            if resp.status != 201:
                raise BenchError(f"issue failed: {resp.status} {await resp.text()}")

    await asyncio.gather(*(one() for _ in range(n)))


async def sequential(
    session: aiohttp.ClientSession, w: Watch, url: str, hall: str, calls: int
) -> tuple[list[float], list[float]]:
    """`calls` next → call latencies in ms, one at a time; and the HTTP answers' times."""
    out: list[float] = []
    answers: list[float] = []
    auth = {"Authorization": f"Bearer {window_token(HALL, 1)}"}
    for _ in range(calls):
        t0 = time.perf_counter()
        async with session.post(url, headers=auth) as resp:
            if resp.status != 200:
                raise BenchError(f"POST {url} answered {resp.status}: {await resp.text()}")
            body = await resp.json()
        answers.append((time.perf_counter() - t0) * 1000)
        if not body.get("ticket"):
            raise BenchError(f"POST {url} called nobody: {body}")
        arrived = await w.arrival((hall, "1", body["ticket"]["number"]))
        out.append((arrived - t0) * 1000)
    return out, answers


class ScriptTimes:
    """Redis's own time per script call (SLOWLOG logs every command while this is open): the
    stage of the path that runs inside Redis, beside what the bare endpoint's INCR costs."""

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.before: dict[str, str] = {
            str(k): str(v) for k, v in self.redis.config_get("slowlog-*").items()
        }

    def __enter__(self) -> ScriptTimes:
        self.redis.config_set("slowlog-log-slower-than", 0)
        self.redis.config_set("slowlog-max-len", 100_000)
        self.redis.slowlog_reset()
        return self

    def __exit__(self, *_: object) -> None:
        for name, value in self.before.items():
            self.redis.config_set(name, value)
        self.redis.close()

    def medians(self) -> dict[str, float]:
        """Median µs per EVALSHA of each side's script."""
        took: dict[str, list[int]] = {name: [] for name in SCRIPTS.values()}
        for entry in self.redis.slowlog_get(100_000):
            command = entry["command"]  # bytes, even with decode_responses
            args = (command.decode() if isinstance(command, bytes) else command).split()
            if len(args) > 1 and args[0].upper() == "EVALSHA":
                who = SCRIPTS.get(args[1])
                if who is not None:
                    took[who].append(int(entry["duration"]))
        return {name: statistics.median(us) if us else 0.0 for name, us in took.items()}


async def measure(srv: str, floor: str, w: Watch, calls: int, rounds: int, redis_url: str) -> None:
    targets = {
        "hallcall": (f"{srv}/api/v1/halls/{HALL}/windows/1/next", HALL),
        "bare": (f"{floor}/bare/{BARE}/windows/1/next", BARE),
    }
    lat: dict[str, list[float]] = {name: [] for name in targets}
    http: dict[str, list[float]] = {name: [] for name in targets}
    async with aiohttp.ClientSession() as session:
        await pre_issue(session, srv, (calls + 20) * rounds + 200)
        for url, hall in targets.values():  # warm-up: connections, scripts; not timed
            await sequential(session, w, url, hall, 20)
        for _ in range(rounds * calls):
            for name, (url, hall) in targets.items():
                calls_ms, answers_ms = await sequential(session, w, url, hall, 1)
                lat[name] += calls_ms
                http[name] += answers_ms
        # apart from the timed calls: logging every command costs Redis a little
        with ScriptTimes(redis_url) as scripts:
            for _ in range(200):
                for url, hall in targets.values():
                    await sequential(session, w, url, hall, 1)
            in_redis = scripts.medians()
    q = {name: percentiles(ms) for name, ms in lat.items()}
    h = {name: percentiles(ms) for name, ms in http.items()}
    print(f"latency: one window, sequential, next -> call at a subscriber, {rounds} x {calls}")
    for name, p in q.items():
        print(
            f"  {name:<9} p50 {p['p50']:.2f} ms  p90 {p['p90']:.2f}  p99 {p['p99']:.2f}"
            f"  max {p['max']:.2f}; HTTP answer p50 {h[name]['p50']:.2f} ms"
        )
    print(
        f"  ratio of p50s: {q['hallcall']['p50'] / q['bare']['p50']:.2f}x the bare endpoint"
        " (one EVALSHA + one QoS 1 publish; target <= 1.3x)"
    )
    print(
        f"  of which inside Redis (script p50, 200 more calls each): hallcall next.lua"
        f" {in_redis['hallcall']:.0f} us, bare INCR {in_redis['bare']:.0f} us"
    )


def run(calls: int = 500, rounds: int = 2) -> None:
    with stack() as s, server(s, write_hall(s, HALL, 1)) as srv, bare(s) as floor:
        topics = [topic_calls(HALL), topic_calls(BARE)]

        async def main() -> None:
            async with watch(s.broker, "hallcall-display", topics) as w:
                await measure(srv.url, floor.url, w, calls, rounds, s.redis.url)

        asyncio.run(main())


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.latency")
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    run(a.calls, a.rounds)


if __name__ == "__main__":
    main()
