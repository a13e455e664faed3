"""Notices leave the server on the relay's fast path, like calls (the call → SMS latency)."""

from __future__ import annotations

import asyncio

from queue_server.store import keys
from tests.conftest import subscribe
from tests.test_relay import Env, _true, env, until

__all__ = ["env"]  # the fixture, shared with the relay tests


async def test_a_call_and_its_notices_all_go_out_from_the_answer(env: Env) -> None:
    """One change writes a call and notices in the same millisecond: the two streams give
    them equal ids ("<ms>-0"). Each must still go out at once, not wait ~0.5 s for the
    sweep: here the streams are emptied before any sweep could read them."""
    n = await env.node()
    topics = [f"hallcall/{env.cfg.id}/calls", f"hallcall/{env.cfg.id}/notify"]
    async with subscribe(env.broker, topics, user="hallcall-sms") as sub:
        env.running.append(asyncio.create_task(n.publisher.run()))
        await until(lambda: _true(n.relay.live))
        for phone in ("13800000001", "13800000002"):
            await n.store.issue("A", "normal", "web", phone=phone)
        first = await n.store.call("1")
        await sub.get("/notify", where=lambda b: b["kind"] == "called")
        env.clock.advance(1)
        second = await n.store.call("1")  # finishes A001, calls A002
        entries = second.entries
        streams = {e.stream for e in entries}
        assert streams == {"calls", "notify"} and first.entries
        for e in entries:
            key = keys.outbox(env.cfg.id, n.relay.id, e.stream)
            assert await env.redis.xdel(key, e.id) == 1
        n.relay.publish_now(entries)
        kinds = {e.fields["kind"] for e in entries if e.stream == "notify"}
        assert kinds >= {"finished", "called"}
        got = {}
        for kind in sorted(kinds):
            got[kind] = await sub.get("/notify", where=lambda b, k=kind: b["kind"] == k)
        assert (got["finished"]["number"], got["called"]["number"]) == ("A001", "A002")
        assert (await sub.get("/calls", where=lambda b: b["number"] == "A002"))["kind"] == "call"
