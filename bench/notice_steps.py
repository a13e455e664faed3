"""The server's own steps that only a phone ticket takes, in µs per ticket, in-process (no
network, no Redis, no broker: those are in `bench.issue`'s end-to-end ratio): the phone's
canonical form in the request model, its keyed digest, its mask, the public rate limit (a
phone ticket comes without a token), the notice in the issue script's answer taken, and the
relay's fast path for its notice: rendered, sent at its loop turn's end (alone, and among
16: a turn's notices go as one message), its QoS 1 packet into the link's buffer, the PUBACK
parsed, the entry marked for deletion (the link writes into a sink here). Beside them, in
the same run: the forms they replaced (the notice built as a `Notice` and encoded, the
digest by `hmac.new`), the wrapper's check of a token-less request beside a kiosk's token
(phoneless tickets come with one), and the whole issue answer with and without the masked
phone.

    .venv/bin/python -m bench.notice_steps
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import timeit
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bench.common import BenchError
from queue_server.announcer import Announcer, notice_key
from queue_server.api import present, routes
from queue_server.api.guard import GUARDS, LIMITS, HallGuard
from queue_server.api.models import IssueRequest
from queue_server.clock import SystemClock
from queue_server.config import HallConfig, hash_token, load_hall
from queue_server.domain.masking import mask_phone
from queue_server.domain.phones import phone_key
from queue_server.domain.ratelimit import FailureWindow, RateLimiter
from queue_server.limits import ServerLimits
from queue_server.link import MqttTarget
from queue_server.live import LiveCache
from queue_server.mqttwire import PUBACK
from queue_server.outlink import Outlink
from queue_server.protocol import Notice, decode, encode
from queue_server.relay import Relay
from queue_server.store.hall_store import TAKEN_FIELDS, Entry, Taken, _entries
from queue_server.views import TicketView

DEMO = Path(__file__).resolve().parent.parent / "config" / "halls" / "demo.toml"
SECRET = b"s" * 32
PHONE = "13812345678"
TURN = 16  # notices in one loop turn under load (64 requests in flight)


def per_call(fn: Callable[[], object], n: int = 20_000) -> float:
    """µs per call, the best of five (a shared machine only ever adds time)."""
    return min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6


class Sink(asyncio.Transport):
    """Where the link's bytes go in this bench: nowhere (the broker's part is not measured)."""

    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def as_dataclass(announcer: Announcer, e: Entry) -> bytes:
    """The notice as it was built before: a Notice dataclass, then encode."""
    f = e.fields
    service = announcer.config.service(f["service"])
    est = announcer.live.estimate(f["service"], int(f["ahead"]))
    return encode(
        Notice(
            kind="ticket_taken",
            phone=f["phone"],
            number=f["number"],
            service=f["service"],
            time=int(f["time"]) / 1000,
            ahead=int(f["ahead"]),
            ticket=f["ticket"],
            id=e.id,
            hall=announcer.config.id,
            service_name=service.name.get("zh") if service else f["service"],
            eta_minutes=est.minutes if est else None,
            eta_range=[est.low, est.high] if est else None,
            lang="zh",
            key=notice_key(f),
        )
    )


async def relay_path(announcer: Announcer, turn: int) -> tuple[float, Entry]:
    """Notices rendered from the issue's typed values (`Announcer.taken`, as `Hall.issue`
    does) through the relay's fast path, `turn` of them in one loop turn (they go as one
    message at its end) and back on its PUBACK: µs per notice."""
    link = Outlink(MqttTarget("127.0.0.1", 1883, None, None), "bench")
    link.connection_made(Sink())
    link._connack.set_result(0)  # as if the broker had accepted us
    relay = Relay(None, {}, "demo", "bench", announcer.render, SystemClock())
    relay.connected(link)
    relay._live = True
    box = relay._outboxes[relay.id]
    fields = announcer_fields(announcer)
    t = typed(fields, "1-0")
    est = announcer.live.estimate(t.service, t.ahead)  # the issue's answer has it anyway
    n = [0]

    def one() -> None:
        for _ in range(turn):
            n[0] += 1
            eid = f"{n[0]}-0"
            payload = announcer.taken(t._replace(eid=eid), est)
            relay.publish_now([Entry("notify", eid, TAKEN_FIELDS, payload)])
        relay._send_notices(box)  # the turn's end (its call_soon then finds nothing left)
        link._flush()
        link.data_received(bytes((PUBACK, 2)) + link._mid.to_bytes(2, "big"))
        box.acked["notify"].clear()  # as the next XDEL batch does

    us = per_call(one, 20_000 // turn) / turn
    if box.busy or link.in_flight:
        raise BenchError("the relay's fast path left a notice unacknowledged")
    return us, Entry("notify", "1-0", fields)


def announcer_fields(announcer: Announcer) -> dict[str, str]:
    """A "ticket taken" notice's fields as issue.lua writes them (common.lua's notice()):
    those at their defaults (window, round, step, steps) left out, as taken_entry does."""
    s = announcer.config.services[0].id
    return {
        "kind": "ticket_taken",
        "ticket": f"20261126:{s}012",
        "number": f"{s}012",
        "ahead": "8",
        "time": "1764115200123",
        "phone": PHONE,
        "service": s,
        "lang": "zh",
    }


def flood(n: int = 50_000) -> float:
    """µs per take of the public rate limit when every request comes from a new address
    (its table full, so each one evicts the least recently seen): the abuse case."""
    addresses = [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(n)]
    best = float("inf")
    for _ in range(3):
        limiter = RateLimiter(600, 100)
        start = timeit.default_timer()
        for i, a in enumerate(addresses):
            limiter.take(a, i * 1e-4)
        best = min(best, (timeit.default_timer() - start) / n * 1e6)
    return best


def typed(f: Mapping[str, str], eid: str) -> Taken:
    """A ticket_taken entry's fields as the issue's typed values."""
    ahead, time_ms = int(f["ahead"]), int(f["time"])
    return Taken(eid, f["ticket"], f["number"], ahead, time_ms, f["phone"], f["service"], "zh", 0)


def taken(raw: list[list[str]]) -> Callable[[], Taken]:
    """The notice of a phone ticket's answer as HallStore.issue takes it: typed, from the
    values the script answers and what the server sent (its JSON is not read back)."""
    f = json.loads(raw[0][3])
    tid, number, ahead, issued = f["ticket"], f["number"], int(f["ahead"]), int(f["time"])
    phone, service, lang = f["phone"], f["service"], f["lang"]

    def one() -> Taken:
        return Taken(raw[0][1], tid, number, ahead, issued, phone, service, lang, 0)

    return one


def answer(fields: Mapping[str, str]) -> list[list[str]]:
    """The outbox part of a phone ticket's script answer, as common.lua's outbox() gives it."""
    return [["notify", "1764115200123-0", "j", json.dumps(fields, separators=(",", ":"))]]


class Peer(asyncio.Transport):
    """A connection's transport as the request reads it: its peer's address only."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("203.0.113.7", 50000) if name == "peername" else default


def guards(config: HallConfig) -> tuple[float, float]:
    """µs per request of the wrapper's check: token-less (the public rate limit, its address
    read from the connection) and with a kiosk's token (its digest and principal)."""
    app = web.Application()
    app[LIMITS] = ServerLimits()
    app[GUARDS] = {config.id: HallGuard(RateLimiter(1e12, 1e12), FailureWindow(10))}
    app[routes.TOKENS] = {config.id: {hash_token("kiosk"): routes.Principal("kiosk", "k1")}}
    app[routes.DEMO_WARNED] = set()

    def request(headers: dict[str, str]) -> web.Request:
        path = f"/api/v1/halls/{config.id}/tickets"
        return make_mocked_request(
            "POST", path, headers, match_info={"hall": config.id}, app=app, transport=Peer()
        )

    public, kiosk = request({}), request({"Authorization": "Bearer kiosk"})
    if routes.authorize(public, "public") is not None or routes.authorize(kiosk, "public") is None:
        raise BenchError("the guard took a token-less request for a kiosk's or the reverse")
    return per_call(lambda: routes.authorize(public, "public")), per_call(
        lambda: routes.authorize(kiosk, "public")
    )


def answers(config: HallConfig) -> tuple[float, float]:
    """µs per issue answer (the view as its model, then its JSON), with and without the
    masked phone."""
    view = TicketView(
        id="20261126:A012", number="A012", service="A", cls="normal", state="waiting", ahead=8,
        eta_minutes=25, issued_at=1764115200.123, eta_range=(20, 30),
    )  # fmt: skip
    masked = dataclasses.replace(view, phone=mask_phone(PHONE))

    def one(t: TicketView) -> bytes:
        return routes.json_body(present.issued(t, "s" * 22, config, "zh"))

    if b"138****5678" not in one(masked):
        raise BenchError("the answer lost the masked phone")
    return per_call(lambda: one(masked)), per_call(lambda: one(view))


def run() -> None:
    config = load_hall(DEMO)
    announcer = Announcer(config, LiveCache(config, SystemClock()), "zh")
    limiter = RateLimiter(600, 100)
    clock = [0.0]

    def take() -> float:
        clock[0] += 0.01
        return limiter.take("203.0.113.7", clock[0])

    with_phone = f'{{"service":"A","phone":"{PHONE}"}}'.encode()
    without = b'{"service":"A"}'
    validate = per_call(lambda: IssueRequest.model_validate_json(with_phone)) - per_call(
        lambda: IssueRequest.model_validate_json(without)
    )
    relay_us, entry = asyncio.run(relay_path(announcer, 1))
    relay_many, _ = asyncio.run(relay_path(announcer, TURN))
    raw = answer(entry.fields)
    if _entries(raw) != [Entry("notify", raw[0][1], entry.fields)] or [
        taken(raw)().entry()
    ] != _entries(raw):
        raise BenchError("the script's answer parsed to another entry")
    public, kiosk = guards(config)
    with_mask, without_mask = answers(config)
    steps = {
        "phone in the request": max(0.0, validate),
        "phone digest (pads)": per_call(lambda: phone_key(SECRET, "demo", PHONE)),
        "phone mask": per_call(lambda: mask_phone(PHONE)),
        "public rate limit": per_call(take),
        "answer's notice": per_call(taken(raw)),
        "relay fast path": relay_us,  # a loop turn's only notice
    }
    t = typed(entry.fields, entry.id)
    est = announcer.live.estimate(t.service, t.ahead)
    render = per_call(lambda: announcer.taken(t, est))
    from_stream = per_call(lambda: announcer.render(entry))
    before = per_call(lambda: as_dataclass(announcer, entry))
    hmac_new = per_call(
        lambda: hmac.new(SECRET, f"demo:{PHONE}".encode(), hashlib.sha256).hexdigest()[:32]
    )
    print("phone ticket: server steps only it takes (µs per ticket, in-process)")
    for name, us in steps.items():
        print(f"  {name:22} {us:6.2f}")
    print(f"  {'total':22} {sum(steps.values()):6.2f}")
    print(f"  (the relay's fast path with {TURN} notices in a loop turn: {relay_many:.2f} each)")
    print(f"  (the answer's notice read back as JSON: {per_call(lambda: _entries(raw)):.2f})")
    print(f"  (the public rate limit in a flood of new addresses: {flood():.2f} each)")
    print(
        f"  (the wrapper's check, token-less: {public:.2f}; with a kiosk's token, as phoneless"
        f" tickets come: {kiosk:.2f}; the issue answer with the masked phone {with_mask:.2f},"
        f" without a phone {without_mask:.2f}: the same within this machine's noise)"
    )
    print(
        f"  of which the notice rendered {render:.2f} (from a stream's entry, as the sweep does:"
        f" {from_stream:.2f}; as a Notice then encoded: {before:.2f});"
        f" the digest by hmac.new: {hmac_new:.2f}"
    )
    as_notice = [
        Notice(**{k: v for k, v in decode(p).items() if k != "v"})
        for p in (
            announcer.taken(t, est),
            announcer.render(entry)[1],
            as_dataclass(announcer, entry),
        )
    ]
    if as_notice[0] != as_notice[1] or as_notice[0] != as_notice[2]:
        raise BenchError("the rendered notice differs from the Notice dataclass's")


if __name__ == "__main__":
    run()
