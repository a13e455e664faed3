"""The window's HTTP calls to the queue server, each answer sorted into an outcome.

Every window action carries an ``Idempotency-Key`` and is retried once, with the same key,
when the answer is lost (timeout, dropped connection): the server then returns the first
answer instead of acting twice, so a retried `next` never calls two citizens.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiohttp

ACTIONS = (
    "next",
    "recall",
    "skip",
    "start",
    "finish",
    "transfer",
    "park",
    "unpark",
    "call",
    "pause",
    "resume",
    "signin",
    "signout",
)


class Outcome(StrEnum):
    DONE = "done"
    EMPTY = "empty"  # `next` found nobody waiting
    REFUSED = "refused"  # the server said no (wrong state, bad input, locked, ...)
    AUTH = "auth"  # the token or PIN was not accepted
    UNREACHABLE = "unreachable"  # no answer, or the server's store is away


EXIT_CODES = {
    Outcome.DONE: 0,
    Outcome.EMPTY: 3,
    Outcome.REFUSED: 4,
    Outcome.AUTH: 5,
    Outcome.UNREACHABLE: 6,
}
"""Exit codes of `window-client`; 2 is a usage or settings error."""


@dataclass(frozen=True, slots=True)
class Reply:
    outcome: Outcome
    status: int  # HTTP status; 0 when no answer came
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.DONE, Outcome.EMPTY)

    @property
    def error(self) -> str:
        return str(self.body.get("error", ""))

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))

    @property
    def number(self) -> str:
        """The number of the ticket the action touched, or ""."""
        ticket = self.body.get("ticket")
        return str(ticket.get("number", "")) if isinstance(ticket, dict) else ""


def classify(status: int, body: dict[str, Any], action: str = "") -> Outcome:
    if 200 <= status < 300:
        if action == "next" and body.get("ticket") is None:
            return Outcome.EMPTY
        return Outcome.DONE
    if status in (401, 403) or body.get("error") in ("bad_pin", "staff_locked"):
        return Outcome.AUTH
    if status >= 500:
        return Outcome.UNREACHABLE
    return Outcome.REFUSED


def unreachable(message: str) -> Reply:
    return Reply(Outcome.UNREACHABLE, 0, {"error": "unreachable", "message": message})


class ServerApi:
    """One hall's HTTP API as seen by a window (or its pad), with one token."""

    def __init__(self, base: str, hall: str, token: str, timeout: float = 3.0) -> None:
        self.base = base.rstrip("/")
        self.hall = hall
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.last_ms = 0.0  # how long the last answer took, retries included

    async def __aenter__(self) -> ServerApi:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def _url(self, rest: str) -> str:
        return f"{self.base}/api/v1/halls/{self.hall}{rest}"

    async def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        key: str | None,
        action: str = "",
    ) -> Reply:
        headers = {"Authorization": f"Bearer {self._token}"}
        if key:
            headers["Idempotency-Key"] = key
        last = ""
        started = time.perf_counter()
        for attempt in range(2 if key or method == "GET" else 1):
            try:
                async with self._http().request(
                    method, self._url(path), json=body, headers=headers
                ) as resp:
                    raw = await resp.read()
                    try:
                        data = json.loads(raw) if raw else {}
                    except ValueError:
                        data = {"error": "bad_answer", "message": raw[:200].decode(errors="ignore")}
                    if not isinstance(data, dict):
                        data = {"error": "bad_answer", "message": "the answer is not a JSON map"}
                    self.last_ms = (time.perf_counter() - started) * 1000
                    return Reply(classify(resp.status, data, action), resp.status, data)
            except (TimeoutError, aiohttp.ClientConnectionError) as exc:
                last = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
                if attempt == 0 and isinstance(exc, aiohttp.ClientConnectorError):
                    await asyncio.sleep(0)  # refused at once: one quick second try
        return unreachable(f"server {self.base} unreachable: {last}")

    async def act(
        self, window: str, action: str, body: dict[str, Any] | None = None, key: str | None = None
    ) -> Reply:
        """A window action; `key` defaults to a fresh idempotency key for this press."""
        return await self._send(
            "POST",
            f"/windows/{window}/{action}",
            body or {},
            key or uuid.uuid4().hex,
            action,
        )

    async def window(self, window: str) -> Reply:
        return await self._send("GET", f"/windows/{window}", None, None)

    async def rate(self, ticket: str, body: dict[str, Any], key: str | None = None) -> Reply:
        return await self._send(
            "POST", f"/tickets/{ticket}/rating", body, key or uuid.uuid4().hex, "rating"
        )
