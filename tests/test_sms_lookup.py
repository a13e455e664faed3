"""Never twice through Aliyun and Tencent, which echo OutId / SessionContext but do not dedupe
on it: after a send that got no answer, the gateway asks the provider's records (Aliyun
QuerySendDetails, Tencent PullSmsSendStatusByPhoneNumber) before it sends again. Against the
real provider peer, which accepts a message and then drops the connection or never answers."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest

from sms_gateway import metrics
from sms_gateway.outbox import Outbox
from sms_gateway.providers.aliyun import send_dates
from tests.services import Broker
from tests.sms_peer import Peer, Publisher, notice
from tests.test_sms_gateway import gateway_env, peer, running, states, until

__all__ = ["peer"]  # the fixture, shared with the gateway tests


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
@pytest.mark.parametrize("mode", ["drop", "hang", "timeout"])
async def test_an_unanswered_send_is_looked_up_before_it_goes_again(
    broker: Broker, peer: Peer, tmp_path: Path, provider: str, mode: str
) -> None:
    """drop / hang: the provider accepted it, so it is not sent again (its receipt is the one
    the provider's records give). timeout: the provider never got it, so it is sent now."""
    hall = f"q{uuid.uuid4().hex[:8]}"
    env = gateway_env(
        broker,
        hall,
        tmp_path,
        provider,
        peer,
        HALLCALL_SMS_TIMEOUT="1",
        HALLCALL_SMS_LOOKUP_GRACE="0.1",
    )
    async with running(env) as gw:
        pub = Publisher(broker, hall)
        await pub.hall_message()
        await until(lambda: hall in gw.halls)
        peer.mode, peer.fail_next = mode, 1  # type: ignore[assignment]
        await pub.send([notice(hall, 1), notice(hall, 2, kind="near")])
        await until(lambda: states(gw) == {"sent": 2}, timeout=20)
        receipts = dict(gw.outbox.db.execute("SELECT ticket, receipt FROM notices").fetchall())
    keys = {f"{hall}/t1/called/0", f"{hall}/t2/near/0"}
    assert peer.accepted == dict.fromkeys(keys, 1)  # each citizen got one text
    assert peer.lookups >= 1 and peer.bad_signatures == 0
    assert peer.requests == (3 if mode == "timeout" else 2)
    given = {d.key.split("/")[1]: d.receipt for d in peer.delivered.values()}
    if provider == "aliyun" and mode != "timeout":
        given["t1"] = ""  # QuerySendDetails' records carry OutId, not the BizId
    assert receipts == given


def test_a_row_left_sending_by_a_crash_is_in_doubt(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    outbox.open_sync()
    outbox.add_many_sync([("h", asdict(notice("h", n)), 100.0) for n in (1, 2)])
    assert [r.doubt for r in outbox.claim_sync(200.0, 1)] == [0.0]  # t1 is being sent
    assert outbox.recover_sync() == 1  # the gateway was killed meanwhile
    rows = {r.ticket: r.doubt for r in outbox.claim_sync(300.0, 10)}
    assert rows == {"t1": 100.0, "t2": 0.0}  # in doubt since it became due


def test_an_outbox_from_before_lookups_gains_the_doubt_column(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    db.execute(
        "CREATE TABLE notices (uid INTEGER PRIMARY KEY AUTOINCREMENT, hall TEXT NOT NULL,"
        " notice_id TEXT NOT NULL, dedupe TEXT NOT NULL, kind TEXT NOT NULL, ticket TEXT NOT"
        " NULL, phone TEXT, body TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',"
        " attempts INTEGER NOT NULL DEFAULT 0, due REAL NOT NULL, noticed REAL NOT NULL,"
        " received REAL NOT NULL, done REAL, receipt TEXT, error TEXT)"
    )
    db.execute(
        "INSERT INTO notices (hall, notice_id, dedupe, kind, ticket, phone, body, due, noticed,"
        " received) VALUES ('h', '1-0', 't1/called/0', 'called', 't1', '13800000001', '{}',"
        " 1, 1, 1)"
    )
    db.commit()
    db.close()
    outbox = Outbox(tmp_path)
    outbox.open_sync()
    (row,) = outbox.claim_sync(2.0, 10)
    assert (row.ticket, row.doubt) == ("t1", 0.0)


def test_send_dates_are_china_dates_back_to_the_attempt() -> None:
    # 2026-11-26 15:59:00 UTC is 23:59 in China; a minute later it is the 27th there
    at = 1795708740.0
    assert send_dates(at, at + 30) == ["20261126"]
    assert send_dates(at, at + 90) == ["20261127", "20261126"]
    assert send_dates(at - 3 * 86_400, at) == ["20261126", "20261125", "20261124", "20261123"]


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
async def test_when_the_provider_cannot_tell_nothing_is_sent_until_it_can(
    broker: Broker, peer: Peer, tmp_path: Path, provider: str
) -> None:
    hall = f"q{uuid.uuid4().hex[:8]}"
    env = gateway_env(broker, hall, tmp_path, provider, peer, HALLCALL_SMS_LOOKUP_GRACE="0.1")

    def lookups(result: str) -> float:
        value = metrics.REGISTRY.get_sample_value("hallcall_sms_lookups_total", {"result": result})
        return value or 0.0

    before = {r: lookups(r) for r in ("found", "failed", "absent")}
    async with running(env) as gw:
        pub = Publisher(broker, hall)
        await pub.hall_message()
        await until(lambda: hall in gw.halls)
        peer.mode, peer.fail_next = "drop", 1  # accepted, no answer
        peer.lookup_fail = 2  # and the provider's records are down twice
        await pub.send([notice(hall, 1)])
        await until(lambda: states(gw) == {"sent": 1}, timeout=20)
        (attempts,) = gw.outbox.db.execute("SELECT attempts FROM notices").fetchone()
    assert peer.requests == 1 and peer.lookups == 3  # asked until it could tell; sent once
    assert peer.accepted == {f"{hall}/t1/called/0": 1}
    assert attempts == 3  # the unanswered send and the two failed questions
    after = {r: lookups(r) for r in before}
    assert {r: after[r] - before[r] for r in before} == {"found": 1, "failed": 2, "absent": 0}
