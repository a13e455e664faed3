"""The MQTT side of a screen: the shared Link feeds the Store; no drawing here.

Calls are ordered by ``seq`` (``CallOrder``): a duplicate is dropped, a gap that stays open
past the grace period makes the screen read the retained ``board`` again (resubscribing
brings the retained copy). The board is also where a screen that was away finds the calls it
missed: those it has not seen are shown, and announced unless this is the first board since
start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiomqtt

from display_client import state as st
from display_client.store import Store
from queue_server.link import CallOrder, Link, Message, MqttTarget
from queue_server.protocol import topic_board

log = logging.getLogger(__name__)

OnCall = Callable[[st.ShownCall], None]
OnHall = Callable[[st.Hall], None]
STALE_SECONDS = 60.0  # a missed call older than this is shown but not announced


class Feed:
    def __init__(
        self,
        store: Store,
        target: MqttTarget,
        hall: str,
        *,
        window: str | None = None,
        program: str | None = None,
        on_call: OnCall | None = None,
        on_hall: OnHall | None = None,
        keepalive: int = 15,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.hall = hall
        self.order = CallOrder(grace=1.0)
        self._on_call = on_call
        self._on_hall = on_hall
        self._clock = clock
        self._last_resync = 0.0
        self._boards = 0  # boards read since start: the first one's calls are history
        topics = ["hall", "calls", "board"] + ([f"windows/{window}"] if window else [])
        self._window = window
        self.link = Link(
            target,
            hall,
            topics,
            self.on_message,
            on_state=self._on_state,
            program=program,
            keepalive=keepalive,
        )

    def _on_state(self, up: bool) -> None:
        self.store.update(st.set_online, up)

    async def run(self) -> None:
        watch = asyncio.create_task(self._watch_gaps())
        try:
            await self.link.run()
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    def stop(self) -> None:
        self.link.stop()

    async def on_message(self, msg: Message) -> None:
        try:
            await self._dispatch(msg)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignored a %s message: bad field %s", msg.kind, exc)

    async def _dispatch(self, msg: Message) -> None:
        now = self._clock()
        if msg.kind == "hall":
            hall = st.parse_hall(msg.body)
            self.store.update(st.apply_hall, hall)
            if self._on_hall is not None:
                self._on_hall(hall)
        elif msg.kind == "calls":
            call = st.call_of(msg.body)
            if self.order.accept(call.seq):
                self.store.update(st.add_call, call, now)
                self._announce(call)
            await self._resync_if_gap()
        elif msg.kind == "board":
            self._board(msg.body, now)
        elif self._window and msg.kind == f"windows/{self._window}":
            self.store.update(st.apply_panel, msg.body, now)

    def _board(self, body: dict[str, Any], now: float) -> None:
        first = self._boards == 0
        self._boards += 1
        recent = [st.call_of(r) for r in body.get("recent", ())]  # newest first
        call_seq = int(body["call_seq"])
        self.store.update(st.apply_board, body)
        unseen = [c for c in recent if self.order.accept(c.seq)]
        self.order.resync(call_seq)
        if first:
            self.store.update(st.seed_calls, recent, now)
            return
        for call in reversed(unseen):  # oldest first, as they were called
            log.info("call %s (seq %d) found on the board", call.number, call.seq)
            self.store.update(st.add_call, call, now)
            if time.time() - call.time < STALE_SECONDS:
                self._announce(call)

    def _announce(self, call: st.ShownCall) -> None:
        if self._on_call is not None:
            self._on_call(call)

    async def _resync_if_gap(self) -> None:
        now = self._clock()
        if not self.order.gap_open() or now - self._last_resync < self.order.grace:
            return
        self._last_resync = now
        client = self.link.client
        if client is None:
            return
        log.info("calls seq gap after %d: reading the board again", self.order.high)
        topic = topic_board(self.hall)
        with contextlib.suppress(aiomqtt.MqttError):
            await client.unsubscribe(topic)
            await client.subscribe(topic, qos=1)

    async def _watch_gaps(self) -> None:
        """A gap is noticed even when no further call comes to reveal it."""
        while True:
            await asyncio.sleep(0.25)
            await self._resync_if_gap()
