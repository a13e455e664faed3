"""The screen's MQTT feed against a real Mosquitto: retained start-up state, a gap in the calls
`seq` read again from the retained board, and bad payloads skipped in one log line."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict

import aiomqtt
import msgpack
import pytest

from display_client import state as st
from display_client.feed import Feed
from display_client.store import Store
from queue_server.link import Message, parse_mqtt_url
from queue_server.protocol import (
    Board,
    Call,
    HallMessage,
    WindowPanel,
    encode,
    topic_board,
    topic_calls,
    topic_hall,
    topic_window,
)
from tests.services import Broker


def call(seq: int) -> Call:
    return Call(f"e{seq}", f"A{seq:03d}", "A", "3", "3号窗口", "call", False, time.time(), seq)


def board(hall: str, call_seq: int) -> Board:
    recent = [asdict(call(s)) for s in range(call_seq, 0, -1)]
    return Board(hall, "大厅", call_seq, call_seq, time.time(), recent=recent)


def hall_message(hall: str) -> HallMessage:
    return HallMessage(
        hall=hall, name={"zh": "大厅"}, address={"zh": "本机"}, timezone="Asia/Shanghai",
        lang="zh", languages=["zh"], services=[], windows=[{"id": "3", "name": {"zh": "3号窗口"}}],
        notices=[], display={}, voice={},
    )  # fmt: skip


@pytest.fixture
async def server_client(broker: Broker) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username="hallcall-server",
        password=broker.passwords["hallcall-server"],
        identifier=f"test-{uuid.uuid4().hex[:8]}",
    ) as client:
        yield client


class Recording(Feed):
    """The real feed, remembering which messages reached it (to see a resync happen)."""

    seen: list[tuple[str, bool]]

    async def on_message(self, msg: Message) -> None:
        self.seen.append((msg.kind, msg.retained))
        await super().on_message(msg)


async def until(cond: Callable[[], bool], store: Store, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            store.changed.clear()
            await store.changed.wait()


async def test_a_gap_is_filled_from_the_board(
    broker: Broker, server_client: aiomqtt.Client, caplog: pytest.LogCaptureFixture
) -> None:
    hall = f"f{uuid.uuid4().hex[:8]}"
    pub = server_client
    await pub.publish(topic_hall(hall), encode(hall_message(hall)), qos=1, retain=True)
    await pub.publish(topic_board(hall), encode(board(hall, 2)), qos=1, retain=True)
    store = Store(st.empty(hall))
    spoken: list[str] = []
    feed = Recording(
        store, parse_mqtt_url(broker.url("hallcall-display")), hall,
        on_call=lambda c: spoken.append(c.number),
    )  # fmt: skip
    feed.seen = []
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: store.state.synced and store.state.online, store)
        assert [c.number for c in store.state.recent] == ["A002", "A001"]
        assert spoken == []  # calls made before the screen looked are shown, not spoken
        await pub.publish(topic_calls(hall), encode(call(3)), qos=1)
        await until(lambda: bool(spoken), store)
        # bad payloads: not msgpack, an unknown version, a call without its fields
        caplog.set_level(logging.WARNING)
        await pub.publish(topic_calls(hall), b"\xc1garbage", qos=1)
        await pub.publish(topic_calls(hall), msgpack.packb({"v": 99, "seq": 4}), qos=1)
        await pub.publish(topic_calls(hall), msgpack.packb({"v": 1, "seq": 4}), qos=1)
        # call 4 is lost; 5 arrives: after the grace period the screen reads the board again
        await pub.publish(topic_calls(hall), encode(call(5)), qos=1)
        await until(lambda: feed.seen.count(("board", True)) >= 2, store, timeout=5)
        await pub.publish(topic_board(hall), encode(board(hall, 5)), qos=1, retain=True)
        await until(lambda: "A004" in [c.number for c in store.state.recent], store)
        assert [c.number for c in store.state.recent[:3]] == ["A005", "A004", "A003"]
        assert spoken == ["A003", "A005", "A004"]  # each once, the missed one when found
        recall = Call("e6", "A003", "A", "3", "3号窗口", "recall", False, time.time(), 6)
        await pub.publish(topic_calls(hall), encode(recall), qos=1)
        await until(lambda: len(spoken) == 4, store)
        assert spoken[-1] == "A003" and store.state.entries[0].call.kind == "recall"
        bad = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
        assert len(bad) == 3 and all("\n" not in line for line in bad)
    finally:
        feed.stop()
        await task


async def test_a_strip_starts_from_its_window_not_from_old_calls(
    broker: Broker, server_client: aiomqtt.Client
) -> None:
    hall = f"f{uuid.uuid4().hex[:8]}"
    pub = server_client
    panel = WindowPanel(hall, "3", "3号窗口", 4, time.time(), False, "", None)
    await pub.publish(topic_window(hall, "3"), encode(panel), qos=1, retain=True)
    await pub.publish(topic_board(hall), encode(board(hall, 2)), qos=1, retain=True)
    store = Store(st.empty(hall, "3"))
    feed = Feed(store, parse_mqtt_url(broker.url("hallcall-display")), hall, window="3")
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: bool(store.state.recent) and store.state.panel.since == 0, store)  # type: ignore[union-attr]
        assert store.state.panel == st.Panel("3", "3号窗口")  # idle: A002 was called long ago
        await pub.publish(topic_calls(hall), encode(call(3)), qos=1)
        await until(lambda: store.state.panel.number == "A003", store)  # type: ignore[union-attr]
        assert store.state.panel is not None and store.state.panel.state == "called"
    finally:
        feed.stop()
        await task
