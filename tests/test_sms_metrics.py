"""The gateway's /metrics page and its retention sweep, on a running gateway (real broker,
real provider peer)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sms_gateway import cli
from sms_gateway.gateway import Gateway
from tests.services import Broker
from tests.sms_peer import Peer, Publisher, notice
from tests.test_sms_gateway import gateway_env, peer, running, states, until

__all__ = ["peer"]  # the fixture, shared with the gateway tests

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(gw: Gateway) -> tuple[str, Samples]:
    host, port = gw.settings.listen
    async with aiohttp.ClientSession() as http, http.get(f"http://{host}:{port}/metrics") as r:
        assert r.status == 200 and r.content_type == "text/plain"
        text = await r.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_what_happened_and_show_no_phone(
    broker: Broker, peer: Peer, tmp_path: Path
) -> None:
    hall = f"m{uuid.uuid4().hex[:8]}"
    env = gateway_env(broker, hall, tmp_path, "http", peer, HALLCALL_SMS_MAX_ATTEMPTS="2")
    async with running(env) as gw:
        pub = Publisher(broker, hall)
        await pub.hall_message()
        await until(lambda: hall in gw.halls)
        _, before = await scrape(gw)  # the registry is per process: compare with before
        peer.mode, peer.fail_next = "fail", 1  # one failure, retried, then sent
        await pub.send([notice(hall, 1), notice(hall, 1), notice(hall, 2, kind="near")])
        await peer.wait_for(2)
        peer.mode = "reject"  # permanent: dead at once
        await pub.send([notice(hall, 3, kind="missed")])
        await until(lambda: states(gw) == {"sent": 2, "dead": 1})
        text, after = await scrape(gw)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("hallcall_sms_sent_total", kind="called") == 1
    assert delta("hallcall_sms_sent_total", kind="near") == 1
    assert delta("hallcall_sms_failed_total", code="http_503") == 1
    assert delta("hallcall_sms_failed_total", code="http_400") == 1
    assert delta("hallcall_sms_retried_total") == 1
    assert delta("hallcall_sms_dead_total") == 1
    assert delta("hallcall_sms_duplicates_total") == 1
    assert delta("hallcall_sms_latency_seconds_count") == 2
    assert value(after, "hallcall_sms_outbox_depth") == 0
    assert value(after, "hallcall_sms_mqtt_connected", hall=hall) == 1
    for n in (1, 2, 3):
        assert f"138{n:08d}" not in text


async def test_the_retention_sweep_forgets_settled_phones_only(
    broker: Broker, peer: Peer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hall = f"r{uuid.uuid4().hex[:8]}"
    env = gateway_env(broker, hall, tmp_path, "http", peer, HALLCALL_SMS_RETENTION_DAYS="0")
    async with running(env) as gw:
        pub = Publisher(broker, hall)
        await pub.hall_message()
        await until(lambda: hall in gw.halls)
        await pub.send([notice(hall, 1)])
        await peer.wait_for(1)
        peer.mode = "reject"
        await pub.send([notice(hall, 2, kind="missed")])
        await until(lambda: states(gw) == {"sent": 1, "dead": 1})
        peer.mode = "ok"
        # a pending row (not due for an hour) keeps its number: it has not been sent yet
        assert await gw.outbox.add(hall, asdict(notice(hall, 3, kind="near")), time.time() + 3600)

        assert await gw.retention_sweep() == 2
        phones = dict(gw.outbox.db.execute("SELECT ticket, phone FROM notices").fetchall())
        assert phones == {"t1": None, "t2": None, "t3": "13800000003"}
        assert await gw.retention_sweep() == 0  # nothing left to forget

        # a dead letter without its number cannot be sent again, and the list says why
        assert cli.main(["--data", str(tmp_path), "dead", "retry"]) == 0
        assert cli.main(["--data", str(tmp_path), "dead", "list"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("0 dead notices queued again")
        assert json.loads(out[1])["phone"] == "(forgotten)"
        assert "13800000002" not in "".join(out)
        assert states(gw) == {"sent": 1, "dead": 1, "pending": 1}
