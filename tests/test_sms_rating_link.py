"""The "finished" text links the ticket's status page (where citizens rate) with the ticket's
secret; the secret travels only on `notify` to the gateway and the provider: never on the
screens' topics, in the logs, or in the console provider's output."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from yarl import URL

from sms_gateway.providers import Outgoing
from sms_gateway.providers.console import Console
from tests.conftest import Api, subscribe
from tests.services import Broker
from tests.sms_peer import Peer
from tests.test_sms_gateway import api_gateway_env, peer, running, until

__all__ = ["peer"]  # the fixture, shared with the gateway tests


async def test_the_finished_text_opens_the_status_page(
    api: Api, broker: Broker, peer: Peer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every record the server and the gateway write
    env = api_gateway_env(api, broker, peer, tmp_path)
    screens = [f"hallcall/{api.hall}/#"]
    async with subscribe(broker, screens, user="hallcall-display") as seen, running(env) as gw:
        await until(lambda: api.hall in gw.halls)
        t = await api.issue("A", phone="13800001111")
        await api.act(1, "next")
        await api.act(1, "next")  # nobody left to call: A001 is finished
        await peer.wait_for(3)
    logs = caplog.text  # (before the page below: the test server's access log shows its URL)
    texts = {d.kind: d.text for d in peer.delivered.values()}
    link = f"/m/{api.hall}/t/{t['id']}?secret={t['secret']}&lang=zh"
    assert texts["finished"] == (
        f"【示范区政务服务中心】感谢您的办理，请评价本次服务：http://127.0.0.1:8080{link}"
    )
    page = await api.client.get(URL(link))  # the citizen's tap opens the status page
    assert page.status == 200 and t["number"] in await page.text()
    # the secret went nowhere else
    assert seen.history and t["secret"] not in json.dumps([b for _, b, _ in seen.history])
    assert t["secret"] not in logs and "13800001111" not in logs


async def test_the_console_masks_the_secret(capsys: pytest.CaptureFixture[str]) -> None:
    text = "【厅】请评价：http://h/m/demo/t/1?secret=abc-DEF_123&lang=zh"
    await Console().send(Outgoing("k", "13812345678", text, "finished", "zh", "demo", "1"))
    out = capsys.readouterr().out
    assert (
        out == "SMS 138****5678 [finished] 【厅】请评价：http://h/m/demo/t/1?secret=***&lang=zh\n"
    )
