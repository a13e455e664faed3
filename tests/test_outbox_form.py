"""Outbox entries as `j <JSON>` (common.lua's outbox()), and entries of the earlier forms (a
field per value, or `n <count> j <JSON>`, left in a stream by a previous version) still read and
relayed after an upgrade."""

from __future__ import annotations

import asyncio
from typing import Any

from queue_server.store import keys
from queue_server.store.hall_store import Entry, _entries, entry_fields
from tests.conftest import subscribe
from tests.test_relay import Env, env

__all__ = ["env"]  # the fixture, shared with test_relay


def test_every_form_reads_as_strings() -> None:
    text = '{"kind":"called","ahead":"0","name":"\\u7a97\\/\\"1\\"","time":"1764200000123"}'
    want = {"kind": "called", "ahead": "0", "name": '窗/"1"', "time": "1764200000123"}
    assert entry_fields(["j", text]) == want  # this version's
    assert entry_fields(["n", 3, "j", text]) == want  # the one before
    old = ["n", 3, "kind", "called", "ahead", 0, "window", "4", "time", 1764200000123]
    assert entry_fields(old) == {
        "n": "3",
        "kind": "called",
        "ahead": "0",
        "window": "4",
        "time": "1764200000123",
    }


async def test_entries_of_the_earlier_form_still_go(env: Env) -> None:
    n = await env.node()
    hall, relay = env.cfg.id, n.relay.id
    issued = await n.store.issue("A", "normal", "kiosk", phone="13800000001", phone_key="a")
    (entry,) = issued.entries
    assert entry.fields["ahead"] == "0" and entry.fields["time"] == str(issued.issued_ms)
    notify = keys.outbox(hall, relay, "notify")
    stored: list[Any] = await env.redis.xrange(notify) or []
    assert [sorted(f) for _, f in stored] == [["j"]]  # the new form: one field
    ms = str(int(env.clock.now() * 1000))
    await env.redis.xadd(  # as the previous version wrote a call and its notice
        keys.outbox(hall, relay, "calls"),
        {
            "n": "1",
            "kind": "call",
            "event": "1-0",
            "ticket": "x-B007",
            "number": "B007",
            "service": "B",
            "window": "4",
            "class": "normal",
            "time": ms,
            "seq": "9",
            "step": "0",
            "steps": "0",
        },
    )
    await env.redis.xadd(
        notify,
        {
            "n": "2",
            "kind": "called",
            "ticket": "x-B007",
            "number": "B007",
            "service": "B",
            "window": "4",
            "ahead": "0",
            "phone": "13800000009",
            "lang": "zh",
            "round": "0",
            "time": ms,
            "step": "0",
            "steps": "0",
        },
    )
    async with subscribe(env.broker, [f"hallcall/{hall}/#"], user="hallcall-server") as sub:
        env.running.append(asyncio.create_task(n.publisher.run()))
        call = await sub.get("/calls", where=lambda b: b["number"] == "B007")
        old = await sub.get("/notify", where=lambda b: b["number"] == "B007")
        new = await sub.get("/notify", where=lambda b: b["number"] == "A001")
    assert (call["window"], call["seq"], call["time"]) == ("4", 9, int(ms) / 1000)
    assert (old["kind"], old["phone"], old["window"]) == ("called", "13800000009", "4")
    assert (new["kind"], new["ahead"], new["ticket"]) == ("ticket_taken", 0, issued.ticket)


def test_a_script_answer_reads_every_form_as_entry_fields_does() -> None:
    text = '{"kind":"ticket_taken","phone":"13812345678","name":"\\u7a97\\/\\"1\\""}'
    forms: list[list[Any]] = [
        ["j", text],  # this version's, read inline
        ["n", 3, "j", text],
        ["kind", "called", "ahead", 0],
    ]
    raw = [["notify", f"{i}-0", *flat] for i, flat in enumerate(forms)]
    assert _entries(raw) == [
        Entry("notify", f"{i}-0", entry_fields(f)) for i, f in enumerate(forms)
    ]
    assert _entries(None) == [] and _entries([]) == []
