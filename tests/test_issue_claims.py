"""The kiosk's Idempotency-Key claimed inside the issue script (real Redis and Mosquitto): a
repeated press answers the same ticket as it is now, another body with the key is refused, a
refused issue claims nothing, and a repeat refused before the store (the hall closed since)
still gets its ticket. Two server processes at once: tests/test_concurrency.py."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from redis.asyncio import Redis

from queue_server.api import idempotency
from queue_server.config import HallConfig
from queue_server.store import keys
from tests.conftest import KIOSK, Api, W, demo_hall

PHONE = "13800001111"


@pytest.fixture
def hall_cfg() -> HallConfig:
    return demo_hall(issue_outside_hours=False, max_per_phone=1)


async def press(
    api: Api, key: str, body: dict[str, Any], headers: dict[str, str] = KIOSK
) -> tuple[int, dict[str, Any], bool]:
    resp = await api.client.post(
        api.path("/tickets"), json=body, headers={"Idempotency-Key": key, **headers}
    )
    out: dict[str, Any] = await resp.json()
    return resp.status, out, resp.headers.get("Idempotent-Replayed") == "true"


async def claims(api: Api, redis: Redis) -> dict[str, str]:
    found = {}
    async for k in redis.scan_iter(match=keys.idempotency(api.hall, "*", "*")):
        found[str(k)] = str(await redis.get(k))
    return found


async def test_a_repeated_press_answers_the_same_ticket_as_it_is_now(
    api: Api, redis: Redis
) -> None:
    status, first, replayed = await press(api, "press-1", {"service": "A", "phone": PHONE})
    assert (status, replayed, first["state"]) == (201, False, "waiting")
    called = await api.act(1, "next")
    assert called["ticket"]["id"] == first["id"]
    status, again, replayed = await press(api, "press-1", {"service": "A", "phone": PHONE})
    assert (status, replayed) == (201, True)
    assert (again["id"], again["number"], again["secret"]) == (
        first["id"],
        first["number"],
        first["secret"],
    )
    assert again["state"] == "called"  # as it is now, not as it was
    # one claim, kept 10 minutes, holding the ticket id and a keyed print: no phone in it
    held = await claims(api, redis)
    assert len(held) == 1
    ((slot, value),) = held.items()
    assert value.endswith(" " + first["id"]) and PHONE not in value and "1111" not in value
    assert 590 <= await redis.ttl(slot) <= 600
    # the repeat counted nothing: the next ticket of A is the second
    assert (await api.issue("A"))["number"] == "A002"


async def test_the_key_with_another_body_is_refused_and_another_device_has_its_own(
    api: Api,
) -> None:
    status, first, _ = await press(api, "k", {"service": "A"})
    assert status == 201
    status, other, _ = await press(api, "k", {"service": "B"})
    assert (status, other["error"]) == (422, "idempotency_mismatch")
    # a window's token is another scope: the same key there is a new ticket
    status, staff, replayed = await press(api, "k", {"service": "A"}, W[1])
    assert (status, replayed) == (201, False) and staff["id"] != first["id"]
    info = await (await api.client.get(api.path())).json()
    assert {s["id"]: s["waiting"] for s in info["services"]}["B"] == 0


async def test_a_refused_issue_claims_nothing_and_its_repeat_runs_again(
    api: Api, redis: Redis
) -> None:
    assert (await press(api, "a", {"service": "A", "phone": PHONE}))[0] == 201
    for _ in range(2):  # the phone's cap (1 a day): refused, and refused again, not replayed
        status, body, replayed = await press(api, "b", {"service": "A", "phone": PHONE})
        assert (status, body["error"], replayed) == (429, "phone_limit", False)
    assert len(await claims(api, redis)) == 1  # only the first press's


async def test_a_repeat_after_closing_still_gets_its_ticket(api: Api) -> None:
    status, first, _ = await press(api, "evening", {"service": "A"})
    assert status == 201
    api.clock.advance(11 * 3600)  # 21:00: the hall is closed
    status, closed, _ = await press(api, "late", {"service": "A"})
    assert status != 201 and "next_open" in closed
    status, again, replayed = await press(api, "evening", {"service": "A"})
    assert (status, replayed, again["id"]) == (201, True, first["id"])
    status, other, _ = await press(api, "evening", {"service": "B"})
    assert (status, other["error"]) == (422, "idempotency_mismatch")


@pytest.mark.parametrize("secret", [b"", b"k" * 32, bytes(range(64)), b"long" * 40])
def test_the_request_print_is_hmac_sha256_under_the_secret(secret: bytes) -> None:
    # the pads made once per secret give what hmac.new gives: prints stored by an older
    # server (a claim still in its 10 minutes) keep matching
    body = b'{"service":"A","phone":"13800001111"}'
    raw = b"\0".join((b"POST", b"/api/v1/halls/demo/tickets", body))
    made = idempotency.fingerprint("POST", "/api/v1/halls/demo/tickets", body, secret)
    assert made == hmac.new(secret, raw, hashlib.sha256).hexdigest()
    again = idempotency.fingerprint("POST", "/api/v1/halls/demo/tickets", body, secret)
    assert again == made  # the pads are copied, never updated in place
    other = idempotency.fingerprint("POST", "/api/v1/halls/demo/tickets", body, secret + b"x")
    assert other != made
    # the states kept per method and path: another path or method is another print
    elsewhere = idempotency.fingerprint("POST", "/api/v1/halls/other/tickets", body, secret)
    raw = b"\0".join((b"POST", b"/api/v1/halls/other/tickets", body))
    assert elsewhere == hmac.new(secret, raw, hashlib.sha256).hexdigest() != made
    assert idempotency.fingerprint("PUT", "/api/v1/halls/demo/tickets", body, secret) != made
