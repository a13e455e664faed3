"""Kiosk tickets on ESC/POS printers (python-escpos), against a real network printer peer the
test runs (a TCP socket that takes the job and answers DLE EOT status queries): the slip's
bytes (GB 18030 in the printer's Chinese mode, the printer's QR command, the cut); a printer
that is down voids the ticket; one that drops the first connection is printed on again. The
answer says the ticket was printed, so the kiosk page does not print it from the browser."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from queue_server.config import HallConfig, Kiosk, Printer, hash_token
from queue_server.printing.device import PrintError, send
from queue_server.printing.slip import CHINESE_ON, QR_COMMAND, Slip, job
from tests.conftest import Api, demo_hall
from tests.services import free_port

ONLINE = b"\x12"  # DLE EOT 1 / 4 answers: online, paper adequate
CUT = b"\x1dV"


class PrinterPeer:
    """A network printer on a free port: keeps what each connection sent."""

    def __init__(self) -> None:
        self.jobs: list[bytes] = []
        self.filed = asyncio.Event()  # a job came in
        self.drops = 0  # connections to close at once, unanswered
        self.port = free_port()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.drops:
            self.drops -= 1
            writer.close()
            return
        got = bytearray()
        while chunk := await reader.read(4096):
            got += chunk
            if got[-3:-1] == b"\x10\x04":  # a real-time status query ends what was sent
                writer.write(ONLINE)
                await writer.drain()
        self.jobs.append(bytes(got))
        self.filed.set()
        writer.close()


@pytest.fixture
async def peer() -> AsyncIterator[PrinterPeer]:
    p = PrinterPeer()
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def hall_cfg(peer: PrinterPeer) -> HallConfig:
    """The demo hall whose kiosk 1 voids a failed print and kiosk 2 prints again first."""
    cfg = demo_hall()
    net = Printer(kind="network", host="127.0.0.1", tcp_port=peer.port, timeout=2)
    kiosks = [
        cfg.kiosks[0].model_copy(update={"printer": net}),
        Kiosk(
            id="2",
            name=cfg.kiosks[0].name,
            token_sha256=hash_token("demo-kiosk-2"),
            printer=net.model_copy(update={"on_fail": "reprint", "reprints": 2}),
        ),
    ]
    return cfg.model_copy(update={"kiosks": kiosks})


def kiosk(n: int) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-kiosk-{n}"}


async def waiting(api: Api) -> dict[str, int]:
    info = await (await api.client.get(api.path())).json()
    return {s["id"]: s["waiting"] for s in info["services"]}


async def until_jobs(peer: PrinterPeer, n: int) -> None:
    async with asyncio.timeout(5):  # the peer files a job when the printer hangs up
        while len(peer.jobs) < n:
            peer.filed.clear()
            await peer.filed.wait()


async def test_a_kiosk_ticket_prints_in_chinese_with_the_printers_qr_code(
    api: Api, peer: PrinterPeer
) -> None:
    resp = await api.client.post(api.path("/tickets"), json={"service": "A"}, headers=kiosk(1))
    assert resp.status == 201, await resp.text()
    t = await resp.json()
    await until_jobs(peer, 1)
    data = peer.jobs[0]
    assert CHINESE_ON in data and "户籍业务".encode("gb18030") in data
    assert "示范区政务服务中心".encode("gb18030") in data and t["number"].encode() in data
    assert QR_COMMAND in data and f"/m/{api.hall}/t/{t['id']}?secret=".encode() in data
    assert "扫码查看排队进度".encode("gb18030") in data and data.count(CUT) == 1
    assert b"\x10\x04\x01" in data  # asked the printer it is online
    # the answer says it was printed: the kiosk page then does not print it from the browser
    assert t["printed"] is True
    slip = f"/kiosk/{api.hall}/t/{t['id']}?secret={t['secret']}"
    page = await (await api.client.get(slip + "&printed=1")).text()
    assert 'id="slip" data-printed="1"' in page
    assert 'data-printed="0"' in await (await api.client.get(slip)).text()
    assert (await api.issue("B", phone="13800001111"))["printed"] is False  # not a kiosk's


async def test_a_repeated_press_is_printed_once_and_says_so(api: Api, peer: PrinterPeer) -> None:
    press = {"Idempotency-Key": "press-1", **kiosk(1)}
    first = await api.client.post(api.path("/tickets"), json={"service": "A"}, headers=press)
    await until_jobs(peer, 1)
    again = await api.client.post(api.path("/tickets"), json={"service": "A"}, headers=press)
    assert again.headers.get("Idempotent-Replayed") == "true"
    one, two = await first.json(), await again.json()
    # the page must not print it from the browser either: it was printed the first time
    assert (two["id"], two["printed"]) == (one["id"], True)


async def test_a_printer_that_is_down_voids_the_ticket(api: Api, peer: PrinterPeer) -> None:
    await peer.stop()  # nothing listens: connection refused
    press = {"Idempotency-Key": "press-1", **kiosk(1)}  # the page retries with the same key
    resp = await api.client.post(api.path("/tickets"), json={"service": "B"}, headers=press)
    body = await resp.json()
    assert resp.status == 503 and body["error"] == "print_failed"
    assert (await waiting(api))["B"] == 0  # no number held by nobody
    await peer.start()
    # the voided ticket let go of its key: the retry issues a new one, not the void one again
    again = await api.client.post(api.path("/tickets"), json={"service": "B"}, headers=press)
    assert again.status == 201 and "Idempotent-Replayed" not in again.headers
    assert (await again.json())["number"].endswith("002")  # the first was issued, then voided
    await until_jobs(peer, 1)


async def test_a_printer_that_drops_the_first_try_is_printed_on_again(
    api: Api, peer: PrinterPeer
) -> None:
    peer.drops = 1
    resp = await api.client.post(api.path("/tickets"), json={"service": "C"}, headers=kiosk(2))
    assert resp.status == 201, await resp.text()
    await until_jobs(peer, 1)
    assert len(peer.jobs) == 1 and peer.jobs[0].count(CUT) == 1  # printed once
    assert (await waiting(api))["C"] == 1
    peer.drops = 3  # more failures than reprints: voided after three tries
    failed = await api.client.post(api.path("/tickets"), json={"service": "C"}, headers=kiosk(2))
    assert failed.status == 503 and (await waiting(api))["C"] == 1


def test_a_file_printer_gets_the_same_job(tmp_path: Path) -> None:
    slip = Slip(
        "大厅", "A001", "户籍业务", "前面还有 0 人", "", "2026-11-26 10:00", "http://h/x", "扫码"
    )
    device = tmp_path / "lp0"
    device.touch()
    send(Printer(kind="file", device=str(device)), job(slip, "58"))
    assert (
        device.read_bytes() == job(slip, "58")
        and "户籍业务".encode("gb18030") in device.read_bytes()
    )
    with pytest.raises(PrintError, match="file printer"):
        send(Printer(kind="file", device=str(tmp_path / "no" / "lp0")), b"x")


def test_the_server_keeps_its_own_log_setup() -> None:
    """python-escpos calls logging.basicConfig() when imported: it must not be imported with
    the server (the server's INFO lines, e.g. "Redis is back", would be lost)."""
    code = "import logging, queue_server.app, queue_server.cli; print(logging.getLogger().handlers)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
