"""A phone ticket's extra work in the server, made cheaper without changing what it says: the
notice payload packed straight from its fields, the PUBACK fast path, the phone's digest and
canonical form. Each is checked against the slower form it replaced."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from queue_server import mqttwire as wire
from queue_server.announcer import Announcer, notice_key
from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.domain.phones import PhoneError, canonical_phone, phone_key
from queue_server.live import LiveCache
from queue_server.protocol import NOTICE_OPTIONAL, Notice, decode, encode, topic_notify
from queue_server.store.hall_store import Entry


def reference(announcer: Announcer, e: Entry) -> bytes:
    """The notice as the announcer built it before (a Notice dataclass, then encode)."""
    f, cfg, lang = e.fields, announcer.config, e.fields.get("lang") or announcer.lang
    service = cfg.service(f["service"])
    ahead = int(f.get("ahead", 0))
    est = announcer.live.estimate(f["service"], ahead) if f["kind"] == "ticket_taken" else None
    window = next((w for w in cfg.windows if w.id == f.get("window")), None)
    return encode(
        Notice(
            kind=f["kind"],  # type: ignore[arg-type]
            phone=f["phone"],
            number=f["number"],
            service=f["service"],
            time=int(f["time"]) / 1000,
            window=f.get("window", ""),
            ahead=ahead,
            ticket=f["ticket"],
            id=e.id,
            hall=cfg.id,
            service_name=service.name.get(lang) if service else f["service"],
            window_name=(window.name.get(lang) if window else f["window"])
            if f.get("window")
            else "",
            eta_minutes=est.minutes if est else None,
            eta_range=[est.low, est.high] if est else None,
            rejoin_minutes=announcer.live.rejoin_minutes if f["kind"] == "missed" else 0,
            lang=lang,
            key=notice_key(f),
            step=int(f.get("step") or 0),
            steps=int(f.get("steps") or 0),
            secret=f.get("secret", "") if f["kind"] == "finished" else "",
        )
    )


def entries(cfg: HallConfig) -> list[Entry]:
    s, w = cfg.services[0].id, cfg.windows[0].id
    base = {"phone": "13812345678", "number": f"{s}012", "service": s, "time": "1764115200123"}
    base |= {"ticket": f"20261126:{s}012", "class": "normal"}
    return [
        Entry("notify", "1-0", base | {"kind": "ticket_taken", "ahead": "8"}),
        Entry("notify", "2-0", base | {"kind": "ticket_taken", "ahead": "0", "lang": "en"}),
        Entry("notify", "3-0", base | {"kind": "near", "ahead": "3", "round": "1"}),
        Entry("notify", "4-0", base | {"kind": "called", "window": w, "step": "2", "steps": "3"}),
        Entry("notify", "5-0", base | {"kind": "missed", "window": w}),
        Entry("notify", "6-0", base | {"kind": "finished", "window": "gone", "secret": "s3"}),
        Entry("notify", "7-0", base | {"kind": "called", "service": "nope", "secret": "x"}),
        # as issue.lua writes a ticket's: step and steps "0", or a ticket of several steps
        Entry("notify", "8-0", base | {"kind": "ticket_taken", "step": "0", "steps": "0"}),
        Entry("notify", "9-0", base | {"kind": "ticket_taken", "step": "1", "steps": "2"}),
        Entry("notify", "10-0", base | {"kind": "near", "ahead": "2", "step": "3", "steps": "3"}),
    ]


def on_the_wire(full: dict[str, Any]) -> dict[str, Any]:
    """A notice's map as the protocol sends it: the optional fields only where they apply."""
    fields = Notice.__dataclass_fields__
    return {k: v for k, v in full.items() if k not in NOTICE_OPTIONAL or v != fields[k].default}


def test_notices_say_what_the_dataclass_said_without_the_fields_that_do_not_apply(
    hall_cfg: HallConfig, clock: ManualClock
) -> None:
    announcer = Announcer(hall_cfg, LiveCache(hall_cfg, clock), "zh")
    for e in entries(hall_cfg) * 2:  # twice: a notice leaves its kind's map as it found it
        topic, payload = announcer.render(e)
        assert topic == topic_notify(hall_cfg.id)
        got, full = decode(payload), decode(reference(announcer, e))
        assert got == on_the_wire(full), e.fields
        assert Notice(**{k: v for k, v in got.items() if k != "v"}) == Notice(
            **{k: v for k, v in full.items() if k != "v"}
        )  # what a reader takes: the defaults for what is left out
        assert got["id"] == e.id and got["phone"] == "13812345678"
    taken = decode(announcer.render(entries(hall_cfg)[0])[1])
    assert taken["eta_minutes"] is not None and len(taken["eta_range"]) == 2
    assert len(taken) == 15  # 12 of the 22 fields and v, the estimate and its range
    called = decode(announcer.render(entries(hall_cfg)[3])[1])
    assert (called["window_name"], called["step"], called["steps"]) == (
        hall_cfg.windows[0].name.get("zh"),
        2,
        3,
    )


def test_pubacks_are_read_in_one_pass_or_left_to_the_reader() -> None:
    acks = b"".join(bytes((wire.PUBACK, 2)) + mid.to_bytes(2, "big") for mid in (1, 300, 65535))
    assert wire.pubacks(acks) == [1, 300, 65535]
    assert wire.pubacks(b"") is None
    assert wire.pubacks(acks[:-1]) is None  # a partial packet: the Reader keeps it
    assert wire.pubacks(acks[:4] + wire.PINGREQ_PACKET * 2) is None  # not only PUBACKs
    assert wire.pubacks(bytes((wire.PUBACK, 3, 0, 1))) is None  # a length a PUBACK never has
    reader = wire.Reader()
    assert reader.feed(acks[:6]) == [wire.Packet(wire.PUBACK, b"\x00\x01")]
    assert not reader.empty  # half of the next one waits
    assert [wire.packet_id(p.body) for p in reader.feed(acks[6:])] == [300, 65535]
    assert reader.empty


def test_phone_digest_and_canonical_form_are_unchanged() -> None:
    for secret in (b"k" * 32, b"", b"long" * 40):  # short, empty, longer than a block
        want = hmac.new(secret, b"demo:13812345678", hashlib.sha256).hexdigest()[:32]
        assert phone_key(secret, "demo", "13812345678") == want
        assert phone_key(secret, "demo", "13812345678") == want  # the cached pads again
    assert canonical_phone("13812345678") == "13812345678"
    assert canonical_phone("13812345678\n") == "13812345678"  # a separator, as before
    for bad in ("12812345678", "1381234567", "138123456789", "1381234567x"):
        with pytest.raises(PhoneError):
            canonical_phone(bad)
