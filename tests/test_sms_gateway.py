"""The SMS gateway against a real broker, a real queue server and a local provider peer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest

from queue_server.protocol import encode, pack_notices, topic_notify
from sms_gateway import cli, metrics
from sms_gateway.gateway import Gateway
from sms_gateway.providers import load
from sms_gateway.settings import Settings, Source
from tests.conftest import Api
from tests.services import Broker, free_port
from tests.sms_peer import Peer, Publisher, notice


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    p = await Peer().start()
    yield p
    await p.stop()


def gateway_env(
    broker: Broker, hall: str, data: Path, provider: str, peer: Peer, **extra: str
) -> dict[str, str]:
    return {
        "HALLCALL_MQTT_URL": broker.url("hallcall-sms"),
        "HALLCALL_SMS_HALLS": hall,
        "HALLCALL_SMS_DATA": str(data),
        "HALLCALL_SMS_PROVIDER": provider,
        "HALLCALL_SMS_LISTEN": f"127.0.0.1:{free_port()}",
        "HALLCALL_SMS_NAME": f"test-{uuid.uuid4().hex[:6]}",
        "HALLCALL_SMS_QPS": "5000",
        "HALLCALL_SMS_RETRY_BASE": "0.05",
        "HALLCALL_SMS_RETRY_CAP": "0.2",
        # long enough that a loaded machine's slow answer is not taken for a lost one (the
        # retry would carry the same key: delivered once, but accepted twice by the peer)
        "HALLCALL_SMS_TIMEOUT": "10",
        **peer.env(provider),
        **extra,
    }


def api_gateway_env(api: Api, broker: Broker, peer: Peer, data: Path) -> dict[str, str]:
    """A gateway for the `api` hall sending to the peer, reading ticket states from that
    server with the demo's gateway token."""
    server = str(api.client.make_url("")).rstrip("/")
    return gateway_env(
        broker,
        api.hall,
        data,
        "http",
        peer,
        HALLCALL_SMS_TOKEN="demo-sms",
        HALLCALL_SERVER_URL=server,
    )


async def until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait for a condition the gateway's state reaches (polled: it has no event for it)."""
    async with asyncio.timeout(timeout):
        while True:
            if check():
                return
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(env: dict[str, str]) -> AsyncIterator[Gateway]:
    settings = Settings.load(Source.load(env))
    gw = Gateway(settings, load(settings.provider, settings.source, settings.timeout))
    task = asyncio.create_task(gw.run())
    try:
        await until(lambda: all(link.online for link in gw.links) or task.done())
        if task.done():
            task.result()
        yield gw
    finally:
        gw.stop()
        await task


def states(gw: Gateway) -> dict[str, int]:
    return gw.outbox.counts_sync()


async def test_called_text_reaches_the_provider_end_to_end(
    api: Api, broker: Broker, peer: Peer, tmp_path: Path
) -> None:
    env = api_gateway_env(api, broker, peer, tmp_path)
    async with running(env) as gw:
        await until(lambda: api.hall in gw.halls)  # the retained hall message came
        await api.issue("A", phone="13800001111")
        await api.act(1, "next")
        await peer.wait_for(2)
    texts = {d.kind: d.text for d in peer.delivered.values()}
    assert texts["ticket_taken"].startswith("【示范区政务服务中心】您已取号A001，前面还有0人")
    assert texts["called"] == "【示范区政务服务中心】请A001号到1号窗口办理"
    assert {d.phone for d in peer.delivered.values()} == {"13800001111"}
    assert peer.bad_signatures == 0


async def test_the_sms_token_reads_tickets_and_nothing_else(api: Api) -> None:
    sms = {"Authorization": "Bearer demo-sms"}
    t = await api.issue("A", phone="13800001111")
    resp = await api.client.get(api.path(f"/tickets/{t['id']}"), headers=sms)
    body = await resp.json()
    assert resp.status == 200 and body["state"] == "waiting" and body["phone"] == "138****1111"
    resp = await api.client.get(api.path("/tickets/nope"), headers=sms)
    assert resp.status == 404
    resp = await api.client.post(api.path("/windows/1/next"), headers=sms)
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    resp = await api.client.post(
        api.path("/tickets"), headers=sms, json={"service": "A", "class": "green"}
    )
    assert resp.status == 403
    resp = await api.client.get(api.path("/rules"), headers=sms)
    assert resp.status == 403
    resp = await api.client.get(api.path(f"/tickets/{t['id']}"))  # no token, no secret
    assert resp.status in (400, 401, 403)


async def test_stale_notices_are_dropped(
    api: Api, broker: Broker, peer: Peer, tmp_path: Path
) -> None:
    called = await api.issue("A", phone="13800000001")
    cancelled = await api.issue("A", phone="13800000002")
    waiting = await api.issue("A", phone="13800000003")
    await api.act(1, "next")
    resp = await api.client.post(
        api.path(f"/tickets/{cancelled['id']}/cancel"),
        headers={"X-Ticket-Secret": cancelled["secret"]},
    )
    assert resp.status == 200
    env = api_gateway_env(api, broker, peer, tmp_path)
    async with running(env) as gw:
        await until(lambda: api.hall in gw.halls)
        pub = Publisher(broker, api.hall)
        await pub.send(
            [
                notice(api.hall, 1, "near", ticket=called["id"], key=f"{called['id']}/near/0"),
                notice(
                    api.hall, 2, "near", ticket=cancelled["id"], key=f"{cancelled['id']}/near/0"
                ),
                notice(api.hall, 3, "near", ticket=waiting["id"], key=f"{waiting['id']}/near/0"),
            ]
        )
        await until(lambda: states(gw).get("dropped") == 2 and states(gw).get("sent") == 1)
    assert [d.phone for d in peer.delivered.values()] == ["13800000003"]


async def test_redelivered_and_repeated_notices_are_sent_once(
    broker: Broker, peer: Peer, tmp_path: Path
) -> None:
    hall = f"s{uuid.uuid4().hex[:8]}"
    async with running(gateway_env(broker, hall, tmp_path, "http", peer)) as gw:
        pub = Publisher(broker, hall)
        await pub.hall_message()
        first = notice(hall, 1)
        await pub.send([first, first, notice(hall, 1, id="99-0"), notice(hall, 2)])
        await peer.wait_for(2)
        await until(lambda: states(gw) == {"sent": 2})
    assert peer.requests == 2 and peer.duplicates() == {}


async def test_provider_down_then_back_delivers_everything_once(
    broker: Broker, peer: Peer, tmp_path: Path
) -> None:
    hall = f"s{uuid.uuid4().hex[:8]}"
    # the outage is scaled down with the retry delays (0.05-0.2 s instead of 1-60 s)
    env = gateway_env(broker, hall, tmp_path, "http", peer, HALLCALL_SMS_MAX_ATTEMPTS="100")
    async with running(env) as gw:
        pub = Publisher(broker, hall)
        await pub.hall_message()
        await peer.stop()  # connections refused
        notices = [notice(hall, n) for n in range(50)]
        await pub.send(notices)

        def retried() -> bool:
            rows = gw.outbox.db.execute("SELECT MIN(attempts) FROM notices").fetchone()
            return bool(rows and rows[0] and rows[0] >= 2)

        await until(retried)  # every notice failed at least twice while the peer was away
        await peer.start()
        await peer.wait_for(50)
        await until(lambda: states(gw) == {"sent": 50})
    assert set(peer.delivered) == {f"{hall}/{n.key}" for n in notices}
    assert peer.duplicates() == {}


@pytest.mark.parametrize("provider", ["http", "aliyun", "tencent"])
async def test_provider_errors_retry_dead_letters_and_manual_retry(
    broker: Broker, peer: Peer, tmp_path: Path, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hall = f"s{uuid.uuid4().hex[:8]}"
    env = gateway_env(broker, hall, tmp_path, provider, peer, HALLCALL_SMS_TIMEOUT="1")
    async with running(env) as gw:
        pub = Publisher(broker, hall)
        await pub.hall_message()
        await until(lambda: hall in gw.halls)
        peer.mode, peer.fail_next = "limited", 3  # the provider's own rate-limit code
        await pub.send([notice(hall, 1)])
        await peer.wait_for(1)
        peer.mode, peer.fail_next = "fail", 2  # the provider's own fault
        await pub.send([notice(hall, 2)])
        await peer.wait_for(2)
        if provider == "http":
            peer.mode, peer.fail_next = "timeout", 1
            await pub.send([notice(hall, 3, kind="near", ahead=3)])
            await peer.wait_for(3)
        peer.mode = "reject"  # a permanent error: dead at once
        await pub.send([notice(hall, 4, kind="missed", rejoin_minutes=30)])
        await until(lambda: states(gw).get("dead") == 1)
        assert cli.main(["--data", str(tmp_path), "dead", "list"]) == 0
        dead = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(d["kind"], d["phone"]) for d in dead] == [("missed", "138****0004")]
        peer.mode = "ok"
        assert cli.main(["--data", str(tmp_path), "dead", "retry"]) == 0
        await peer.wait_for(4 if provider == "http" else 3)
        await until(lambda: "dead" not in states(gw))
    assert peer.bad_signatures == 0 and peer.duplicates() == {}
    got = {d.key.split("/")[1]: d for d in peer.delivered.values()}
    assert got["t1"].phone.endswith("13800000001")
    if provider == "http":
        assert got["t1"].text == "【示范区政务服务中心】请A001号到3号窗口办理"
    elif provider == "aliyun":
        assert (got["t1"].template, got["t1"].params) == (
            "SMS_000000003",
            {"number": "A001", "window": "3号窗口"},
        )
        assert got["t4"].params == {"number": "A004", "minutes": "30"}
    else:
        assert (got["t1"].template, got["t1"].params) == ("1000003", ["A001", "3号窗口"])
        assert got["t1"].phone == "+8613800000001"


async def test_bad_payloads_are_ignored_and_the_gateway_keeps_running(
    broker: Broker, peer: Peer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hall = f"s{uuid.uuid4().hex[:8]}"
    async with running(gateway_env(broker, hall, tmp_path, "http", peer)) as gw:
        pub = Publisher(broker, hall)
        await pub.hall_message()
        async with pub._client() as c:
            await c.publish(topic_notify(hall), b"\xc1junk", qos=1)
            await c.publish(topic_notify(hall), encode(notice(hall, 1, kind="called", phone="")))
        await pub.send([notice(hall, 2)])
        await peer.wait_for(1)
        await until(lambda: states(gw) == {"sent": 1})
    assert "no phone" in caplog.text and "13800000002" not in caplog.text


async def test_a_burst_in_one_message_is_stored_at_once_and_sent_once_each(
    broker: Broker, peer: Peer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server sends a burst's notices as one notify message: each is stored and sent
    once, a bad one among them is skipped with a reason, and a redelivery adds nothing."""
    hall = f"s{uuid.uuid4().hex[:8]}"
    burst = [encode(notice(hall, n)) for n in range(1, 21)]
    burst.insert(5, msgpack.packb("not a notice"))
    burst.insert(9, msgpack.packb({"v": 99, "kind": "called"}))
    payload = pack_notices(burst)
    async with running(gateway_env(broker, hall, tmp_path, "http", peer)) as gw:
        pub = Publisher(broker, hall)
        await pub.hall_message()
        async with pub._client() as c:
            await c.publish(topic_notify(hall), payload, qos=1)
            await peer.wait_for(20)
            await until(lambda: states(gw) == {"sent": 20})
            dups = metrics.DUPLICATES._value.get()
            await c.publish(topic_notify(hall), payload, qos=1)  # as after a reconnect
            await c.publish(topic_notify(hall), msgpack.packb({"v": 1, "notices": "x"}), qos=1)
            await until(lambda: metrics.DUPLICATES._value.get() == dups + 20)
            await until(lambda: "notices is a str" in caplog.text)
        assert states(gw) == {"sent": 20}
    assert len(peer.delivered) == 20 and not peer.duplicates()
    assert "a str, not a map" in caplog.text and "unsupported schema version 99" in caplog.text
