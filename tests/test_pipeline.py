"""The auto-pipelined Redis connection the hall scripts use (queue_server/store/pipeline.py),
against the real Redis: replies reach their own callers in order under concurrency and
cancellation, arguments survive packing, scripts come back after SCRIPT FLUSH, and a lost or
silent connection fails what waits on it with redis-py's errors and connects again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queue_server.store.pipeline import Packed, Pipeline, command, endpoint
from queue_server.store.scripts import Script

INCR = "return {KEYS[1], redis.call('INCRBY', KEYS[1], ARGV[1])}"
ECHO = "return ARGV"
FAIL = "return redis.error_reply('bad_thing ' .. ARGV[1])"


def link_of(redis: Any) -> Pipeline:
    link = redis.pipeline_link
    assert isinstance(link, Pipeline), "store.connect gives the pipelined client"
    return link


async def test_concurrent_replies_reach_their_callers(redis: Any) -> None:
    script = Script(redis, INCR)
    link = link_of(redis)
    cid = await link.execute(command(Packed.of(["CLIENT", "ID"])))
    got = await asyncio.gather(*[script([f"k{i % 7}"], [i]) for i in range(300)])
    for i, (key, _) in enumerate(got):
        assert key == f"k{i % 7}"
    # each key's last value is the sum of what was added to it, in whatever order
    for k in range(7):
        assert int(await redis.get(f"k{k}")) == sum(i for i in range(300) if i % 7 == k)
    # all of it went over the one connection
    assert await link.execute(command(Packed.of(["CLIENT", "ID"]))) == cid


async def test_packing_keeps_text_and_numbers(redis: Any) -> None:
    script = Script(redis, ECHO)
    args: list[str | int] = ["", "暂停：午休 ☕", 0, -12, "a\r\nb", "x" * 70_000]
    assert await script([], args) == [str(a) for a in args]
    # parts packed apart and together are one command
    assert command(Packed.of(["a", 1]), Packed.of(["bc"])) == command(Packed.of(["a", 1, "bc"]))


async def test_script_errors_are_redis_py_errors_and_the_link_stays(redis: Any) -> None:
    fail, echo = Script(redis, FAIL), Script(redis, ECHO)
    with pytest.raises(ResponseError, match="bad_thing now"):
        await fail([], ["now"])
    assert await echo([], ["still"]) == ["still"]


async def test_scripts_are_loaded_again_after_a_flush(redis: Any) -> None:
    echo = Script(redis, ECHO)
    assert await echo([], [1]) == ["1"]
    await redis.script_flush()
    got = await asyncio.gather(*[echo([], [i]) for i in range(20)])
    assert got == [[str(i)] for i in range(20)]


async def test_cancelled_callers_do_not_shift_replies(redis: Any) -> None:
    script = Script(redis, INCR)
    tasks = [asyncio.create_task(script([f"c{i}"], [i + 1])) for i in range(100)]
    await asyncio.sleep(0)  # sent, not yet answered
    for t in tasks[::3]:
        t.cancel()
    for i, t in enumerate(tasks):
        if i % 3:
            assert await t == [f"c{i}", i + 1]
    assert await script(["after"], [5]) == ["after", 5]


async def test_a_killed_connection_fails_waiters_and_reconnects(redis: Any) -> None:
    link = link_of(redis)
    cid = await link.execute(command(Packed.of(["CLIENT", "ID"])))
    blocked = asyncio.create_task(link.execute(command(Packed.of(["BLPOP", "never", 5]))))
    await asyncio.sleep(0.05)
    await redis.client_kill_filter(_id=cid)
    with pytest.raises(RedisConnectionError):
        await blocked
    assert await link.execute(command(Packed.of(["PING"]))) == "PONG"
    assert await link.execute(command(Packed.of(["CLIENT", "ID"]))) != cid


async def test_a_silent_redis_is_given_up(redis: Any) -> None:
    link = Pipeline(endpoint(redis) or {}, reply_timeout=0.3)
    try:
        assert await link.execute(command(Packed.of(["PING"]))) == "PONG"
        await redis.execute_command("CLIENT", "PAUSE", 1500, "ALL")
        with pytest.raises(RedisTimeoutError):
            await link.execute(command(Packed.of(["PING"])))
        await redis.ping()  # paused too: answers when the pause ends
        assert await link.execute(command(Packed.of(["PING"]))) == "PONG"
    finally:
        await link.aclose()


async def test_no_redis_is_a_connection_error() -> None:
    link = Pipeline({"host": "127.0.0.1", "port": 1, "password": None, "db": 0, "username": None})
    with pytest.raises(RedisConnectionError):
        await link.execute(command(Packed.of(["PING"])))
    await link.aclose()
