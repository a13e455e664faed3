"""Window staff as fast as they can: each window presses `next`, then `finish`, in a closed
loop, for a given time. Run as its own process (see bench/fullload.py). Prints one JSON line:
how many calls and when each `next` was sent (perf_counter, i.e. CLOCK_MONOTONIC, comparable
with the subscriber's arrival times in the measuring process), with the number it called.

Any answer other than 2xx fails the run (exit 1, the error named); a `next` that finds the
queue empty is counted, and its `finish` skipped.

    python -m bench.windows PREFIX --windows 6 --seconds 60 [--token-prefix bench-full-]

PREFIX is the URL up to `/windows` (`http://host:port/api/v1/halls/full`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp


class Failed(Exception):
    """The first non-2xx answer or transport error, named."""


async def press(session: aiohttp.ClientSession, url: str, token: str) -> dict[str, object]:
    try:
        async with session.post(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            text = await resp.text()
    except aiohttp.ClientError as exc:
        raise Failed(f"POST {url}: {type(exc).__name__}: {exc}") from None
    if resp.status >= 300:
        raise Failed(f"POST {url} answered {resp.status}: {text[:300]}")
    body: dict[str, object] = json.loads(text)
    return body


async def run(prefix: str, windows: int, seconds: float, token_prefix: str) -> dict[str, object]:
    sent: list[tuple[float, str, str]] = []  # (next sent, window, number called)
    empty = 0
    stop_at = time.perf_counter() + seconds

    async def window(session: aiohttp.ClientSession, n: int) -> None:
        nonlocal empty
        w, token = str(n), f"{token_prefix}{n}"
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            body = await press(session, f"{prefix}/windows/{w}/next", token)
            ticket = body.get("ticket")
            if not isinstance(ticket, dict):
                empty += 1
                continue
            sent.append((t0, w, str(ticket["number"])))
            await press(session, f"{prefix}/windows/{w}/finish", token)

    async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as tg:
        for n in range(1, windows + 1):
            tg.create_task(window(session, n))
    return {"calls": len(sent), "empty": empty, "seconds": seconds, "sent": sent}


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.windows")
    p.add_argument("prefix")
    p.add_argument("--windows", type=int, default=6)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--token-prefix", default="")
    a = p.parse_args()
    try:
        result = asyncio.run(run(a.prefix, a.windows, a.seconds, a.token_prefix))
    except* Failed as group:
        sys.exit(f"windows: {group.exceptions[0]}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
