"""The floors: a bare aiohttp app doing the least each route's job needs, so the server's
figures can be put in proportion in the same run.

    python -m bench.bare PORT [REDIS_URL MQTT_URL]

- `POST /api/v1/halls/{hall}/tickets`: answers a small JSON (aiohttp alone).
With Redis and a broker:
- `POST /bare/{hall}/tickets`: one EVALSHA (a counter), then the JSON answer.
- `POST /bare/{hall}/windows/{window}/next`: one EVALSHA (the hall's call counter), then
  one QoS 1 publish (awaiting the broker's PUBACK) of a call on `hallcall/{hall}/calls`
  shaped like the server's, then the answer (`ticket.number`, as the server's).
- `POST /bare/{hall}/windows/{window}/finish`: one EVALSHA.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator

import aiomqtt
from aiohttp import web
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from queue_server.link import client_for, parse_mqtt_url
from queue_server.protocol import Call, encode, topic_calls

COUNT = "local n = redis.call('INCR', KEYS[1]) return n"

REDIS = web.AppKey("redis", Redis)
SCRIPT = web.AppKey("script", AsyncScript)
MQTT = web.AppKey("mqtt", aiomqtt.Client)


async def issue(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"number": f"{body['service']}001", "ahead": 0}, status=201)


async def issue_redis(request: web.Request) -> web.Response:
    body = await request.json()
    n = await request.app[SCRIPT](keys=[f"bare:{{{request.match_info['hall']}}}:tickets"])
    return web.json_response({"number": f"{body['service']}{n:03d}", "ahead": 0}, status=201)


async def next_(request: web.Request) -> web.Response:
    hall, window = request.match_info["hall"], request.match_info["window"]
    n = await request.app[SCRIPT](keys=[f"bare:{{{hall}}}:calls"])
    number = f"A{n:03d}"
    call = Call(
        event=f"{n}-0",
        number=number,
        service="A",
        window=window,
        window_name=f"{window}号窗口",
        kind="call",
        green=False,
        time=time.time(),
        seq=n,
    )
    await request.app[MQTT].publish(topic_calls(hall), encode(call), qos=1)
    return web.json_response({"ticket": {"number": number}, "seq": n})


async def finish(request: web.Request) -> web.Response:
    n = await request.app[SCRIPT](keys=[f"bare:{{{request.match_info['hall']}}}:finished"])
    return web.json_response({"finished": n})


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def app_for(redis_url: str | None, mqtt_url: str | None) -> web.Application:
    app = web.Application()
    app.router.add_post("/api/v1/halls/{hall}/tickets", issue)
    app.router.add_get("/healthz", healthz)
    if redis_url and mqtt_url:

        async def services(app: web.Application) -> AsyncIterator[None]:
            redis = Redis.from_url(redis_url)
            async with client_for(parse_mqtt_url(mqtt_url), "bench-bare") as mqtt:
                app[REDIS], app[MQTT] = redis, mqtt
                app[SCRIPT] = redis.register_script(COUNT)
                yield
            with contextlib.suppress(Exception):
                await redis.aclose()

        app.cleanup_ctx.append(services)
        app.router.add_post("/bare/{hall}/tickets", issue_redis)
        app.router.add_post("/bare/{hall}/windows/{window}/next", next_)
        app.router.add_post("/bare/{hall}/windows/{window}/finish", finish)
    return app


def main() -> None:
    port = int(sys.argv[1])
    redis_url, mqtt_url = (sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else (None, None)
    # Same run_app options as queue-server (no access log), so only the work differs.
    web.run_app(
        app_for(redis_url, mqtt_url), host="127.0.0.1", port=port, print=None, access_log=None
    )


if __name__ == "__main__":
    main()
