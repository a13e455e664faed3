"""Idempotency-Key for window actions: a retry with the same key returns the first answer.

(Issuing a ticket claims its key inside the issue script instead, in the same atomic change
as the ticket: see `Route.claims` and store/lua/issue.lua. A retry gets status 201 and the
same ticket as it is now, marked `Idempotent-Replayed: true`; a refused issue claims
nothing, so its retry runs again.)

The first request with a key claims it in Redis with SET NX (a "pending" marker), runs, and
stores its answer for 10 minutes. A retry, or a concurrent duplicate reaching another server
process, finds the key taken: it waits for the stored answer and returns it, changing
nothing, so a `next` retried after a timeout never calls two citizens. A key sent again with
another action or body is refused. Answers of a failed store (5xx) are not kept: the action
did not happen, so the retry runs it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from queue_server.domain.keyed import KeyedHash
from queue_server.errors import Refused
from queue_server.store import keys
from queue_server.store.hall_store import MISMATCH

TTL_SECONDS = 600
PENDING = "pending"
WAIT_SECONDS = 5.0  # how long a duplicate waits for the first request's answer
POLL_SECONDS = 0.005
HEADER = "Idempotency-Key"
MAX_KEY = 200


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str  # JSON text, as sent the first time
    replayed: bool = False


def check_key(value: str) -> str:
    if not 0 < len(value) <= MAX_KEY or not value.isascii() or not value.isprintable():
        raise Refused(
            "invalid_request", f"{HEADER}: 1 to {MAX_KEY} printable ASCII characters, please"
        )
    return value


def fingerprint(method: str, path: str, body: bytes, secret: bytes = b"") -> str:
    """What the request was, keyed with the server's secret: a body may hold a phone or ID
    number, which a bare hash would give away to whoever reads Redis (they are few enough to
    try them all). HMAC-SHA256 of `method NUL path NUL body`, as `hmac.new(secret, …)`."""
    found = _PRINTS.get((secret, method, path))
    if found is None:
        if len(_PRINTS) >= 4096:  # never grows without end (secrets of tests, many windows)
            _PRINTS.clear()
        prefix = b"\0".join((method.encode(), path.encode(), b""))
        found = _PRINTS[(secret, method, path)] = KeyedHash(secret, prefix)
    return found.digest(body).hex()


# The HMAC with the secret's key and the request's method and path already fed, made once per
# (secret, method, path): an issue or keyed window action only hashes its body. Only routed
# paths of known halls and windows get here.
_PRINTS: dict[tuple[bytes, str, str], KeyedHash] = {}


async def once(
    redis: Redis,
    hall: str,
    window: str,
    key: str,
    request_print: str,
    run: Callable[[], Awaitable[Answer]],
) -> Answer:
    """Run `run` once per (hall, window, key); duplicates get the first answer."""
    slot_ = slot(hall, window, key)
    if await redis.set(slot_, f"{PENDING}:{request_print}", nx=True, ex=TTL_SECONDS):
        try:
            answer = await run()
        except BaseException:
            await redis.delete(slot_)
            raise
        if answer.status >= 500:
            await redis.delete(slot_)
        else:
            stored = json.dumps({"p": request_print, "s": answer.status, "b": answer.body})
            await redis.set(slot_, stored, ex=TTL_SECONDS)
        return answer
    return await _replay(redis, slot_, request_print)


def slot(hall: str, scope: str, key: str) -> str:
    """The Redis key that holds a key's answer (or an issue's claim) in its scope."""
    return keys.idempotency(hall, scope, hashlib.sha256(key.encode()).hexdigest()[:32])


async def _replay(redis: Redis, slot: str, request_print: str) -> Answer:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        raw = await redis.get(slot)
        if raw is None:  # the first request failed and let go of the key
            raise Refused("idempotency_retry", f"the first request with this {HEADER} failed")
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        if text.startswith(PENDING + ":"):
            if text[len(PENDING) + 1 :] != request_print:
                raise _mismatch()
            if time.monotonic() > deadline:
                raise Refused(
                    "idempotency_pending", f"the first request with this {HEADER} still runs"
                )
            await asyncio.sleep(POLL_SECONDS)
            continue
        if not text.startswith("{"):  # an issue's claim (another route): never this request
            raise _mismatch()
        stored = json.loads(text)
        if stored["p"] != request_print:
            raise _mismatch()
        return Answer(int(stored["s"]), str(stored["b"]), replayed=True)


def _mismatch() -> Refused:
    return Refused("idempotency_mismatch", MISMATCH)
