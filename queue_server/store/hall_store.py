"""One hall's state in Redis: every change is one Lua script, so server processes can share it."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from queue_server.clock import Clock
from queue_server.config import HallConfig
from queue_server.domain.numbering import service_day
from queue_server.domain.priority import MINUTE_MS, Rules
from queue_server.store import keys


class StoreError(Exception):
    """A change refused by a script, with the script's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Issued:
    ticket: str
    number: str
    ahead: int
    seq: int
    event: str


@dataclass(frozen=True, slots=True)
class Brief:
    """What a call announces and notifies, returned by the script that made the call."""

    number: str = ""
    service: str = ""
    cls: str = ""
    phone: str = ""

    @classmethod
    def of(cls, raw: list[str | None]) -> Brief:
        number, service, klass, phone = raw
        return cls(number or "", service or "", klass or "", phone or "")


@dataclass(frozen=True, slots=True)
class Near:
    ticket: str
    ahead: int
    number: str
    phone: str


@dataclass(frozen=True, slots=True)
class Called:
    """Outcome of next / call / unpark: the ticket called (or "" if none waited), the ticket
    the window finished on the way, and the "near" notices due (ticket, ahead)."""

    ticket: str
    closed: str
    seq: int
    event: str = ""
    call_seq: int = 0
    near: list[Near] = field(default_factory=list)
    brief: Brief = Brief()


@dataclass(frozen=True, slots=True)
class Recalled:
    missed: bool
    ticket: str
    seq: int
    event: str = ""
    call_seq: int = 0
    recalls: int = 0
    brief: Brief = Brief()


@dataclass(frozen=True, slots=True)
class Stepped:
    ticket: str
    seq: int


def _run_error(exc: ResponseError) -> StoreError:
    code, _, message = str(exc).partition(" ")
    # redis-py may prefix script errors with the command context; keep the code we raised.
    return StoreError(code.strip(), message.split(" script:", 1)[0].strip())


def rules_from_config(hall: HallConfig) -> dict[str, float]:
    q = hall.queue
    out: dict[str, float] = {
        f"boost:{c.id}": round(c.boost_minutes * MINUTE_MS) for c in hall.classes
    }
    out.update(
        recall_limit=q.recall_limit,
        rejoin_ms=round(q.rejoin_minutes * MINUTE_MS),
        notify_ahead=q.notify_ahead,
    )
    return out


def policy_from_config(hall: HallConfig) -> Rules:
    """The rules as the file states them, before any manager's change."""
    boosts = {c.id: round(c.boost_minutes * MINUTE_MS) for c in hall.classes}
    return Rules(boosts=boosts, offsets=offsets_from_config(hall))


def offsets_from_config(hall: HallConfig) -> dict[str, dict[str, int]]:
    return {w.id: {s: round(o * MINUTE_MS) for s, o in w.services.items()} for w in hall.windows}


class HallStore:
    def __init__(
        self, redis: Redis, scripts: dict[str, AsyncScript], hall: HallConfig, clock: Clock
    ) -> None:
        self.redis = redis
        self.hall = hall
        self.clock = clock
        self._scripts = scripts
        self._prefix = keys.prefix(hall.id)
        self._seq_key = keys.seq(hall.id)

    # -- plumbing --------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def day(self) -> str:
        return service_day(self.clock.now(), self.hall.tz)

    def day_start_ms(self) -> int:
        local = datetime.fromtimestamp(self.clock.now(), self.hall.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return int(midnight.timestamp() * 1000)

    async def _run(self, name: str, *args: str | int) -> Any:
        try:
            return await self._scripts[name](
                keys=[self._seq_key], args=[self._prefix, self.now_ms(), *args]
            )
        except ResponseError as exc:
            raise _run_error(exc) from exc

    # -- configuration ---------------------------------------------------------------------

    async def seed(self) -> bool:
        """Load the config file's rules into Redis unless they are there for this same file."""
        done = await self._run(
            "seed",
            self.hall.fingerprint(),
            json.dumps(rules_from_config(self.hall)),
            json.dumps(offsets_from_config(self.hall)),
            json.dumps({s.id: round(s.avg_minutes * MINUTE_MS) for s in self.hall.services}),
        )
        return bool(done)

    async def rules(self) -> tuple[Rules, dict[str, float]]:
        """Live boosts and offsets (ms), and the other live numbers (recall_limit, …)."""
        pipe = self.redis.pipeline(transaction=True)  # one consistent read
        pipe.hgetall(keys.rules(self.hall.id))
        for w in self.hall.windows:
            pipe.hgetall(keys.window_services(self.hall.id, w.id))
        raw, *offs = await pipe.execute()
        boosts = {k[6:]: int(float(v)) for k, v in raw.items() if k.startswith("boost:")}
        other = {k: float(v) for k, v in raw.items() if not k.startswith("boost:")}
        offsets = {
            w.id: {s: int(float(v)) for s, v in o.items()}
            for w, o in zip(self.hall.windows, offs, strict=True)
        }
        return Rules(boosts=boosts, offsets=offsets), other

    async def set_rules(
        self,
        values: dict[str, float],
        offsets: dict[str, dict[str, int]],
        reason: str,
        version: int,
    ) -> int:
        """Replace the rules read at `version`; StoreError rules_conflict if they changed."""
        (seq, _event) = await self._run(
            "rules", reason, json.dumps(values), json.dumps(offsets), version
        )
        return int(seq)

    # -- tickets ---------------------------------------------------------------------------

    async def issue(
        self,
        service: str,
        cls: str,
        channel: str,
        phone: str = "",
        base_ms: int | None = None,
    ) -> tuple[Issued, str]:
        """Issue a ticket; returns it and its secret (shown once, to its holder)."""
        secret = secrets.token_urlsafe(16)
        digest = (
            hashlib.sha256(f"{self.hall.id}:{phone}".encode()).hexdigest()[:24] if phone else ""
        )
        now = self.now_ms()
        tid, number, ahead, seq, event = await self._run(
            "issue",
            self.day(),
            self.day_start_ms(),
            service,
            cls,
            channel,
            base_ms if base_ms is not None else now,
            phone,
            digest,
            self.hall.queue.max_per_phone,
            secret,
        )
        return Issued(tid, number, int(ahead), int(seq), event), secret

    async def ticket(self, tid: str) -> dict[str, str]:
        fields = await self.redis.hgetall(keys.ticket(self.hall.id, tid))
        return cast(dict[str, str], fields)

    async def status(self, tid: str) -> tuple[dict[str, str], int] | None:
        """A ticket's fields and how many are ahead of it (-1 unless queued)."""
        out = await self._run("status", tid, self.day_start_ms())
        if not out:
            return None
        flat, ahead = out
        return dict(zip(flat[::2], flat[1::2], strict=True)), int(ahead)

    async def cancel(self, tid: str, secret: str) -> int:
        _state, seq, _event = await self._run("citizen", tid, secret, "cancel", self.day_start_ms())
        return int(seq)

    async def rejoin(self, tid: str, secret: str) -> tuple[int, int]:
        """Back into the queue after a miss; returns (seq, tickets ahead)."""
        _state, seq, _event, ahead = await self._run(
            "citizen", tid, secret, "rejoin", self.day_start_ms()
        )
        return int(seq), int(ahead)

    # -- window actions --------------------------------------------------------------------

    async def call(self, window: str, mode: str = "next", ticket: str = "") -> Called:
        out = await self._run("next", window, mode, ticket, self.day_start_ms())
        if out[0] == "":
            return Called(ticket="", closed=out[1], seq=int(out[2]))
        tid, closed, seq, event, call_seq, flat, brief = out
        near = [
            Near(flat[i], int(flat[i + 1]), flat[i + 2], flat[i + 3])
            for i in range(0, len(flat), 4)
        ]
        return Called(tid, closed, int(seq), event, int(call_seq), near, Brief.of(brief))

    async def recall(self, window: str) -> Recalled:
        outcome, tid, seq, event, call_seq, recalls, brief = await self._run("recall", window)
        return Recalled(
            outcome == "missed",
            tid,
            int(seq),
            event,
            int(call_seq),
            int(recalls),
            Brief.of(brief),
        )

    async def step(self, window: str, action: str, service: str = "", reason: str = "") -> Stepped:
        """skip, start, finish, transfer (to `service`), park, pause (for `reason`), resume."""
        out = await self._run("step", window, action, service, reason)
        return Stepped(ticket=out[0], seq=int(out[1]))

    def find(self, number: str) -> str:
        """Today's ticket id for a number as printed ("A005")."""
        return f"{self.day()}-{number}"

    # -- reads for screens -----------------------------------------------------------------

    async def snapshot(self, recent: int = 10) -> dict[str, Any]:
        raw = await self._run(
            "snapshot",
            self.day_start_ms(),
            recent,
            ",".join(self.hall.service_ids),
            *[w.id for w in self.hall.windows],
        )
        data: dict[str, Any] = json.loads(raw)
        return data

    async def seq(self) -> int:
        return int(await self.redis.get(self._seq_key) or 0)
