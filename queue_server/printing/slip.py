"""A ticket slip as ESC/POS bytes (pure: built on python-escpos's Dummy printer, no device).

Chinese is printed in the printer's Chinese mode (FS &) as GB 18030; the QR code is the
printer's own (GS ( k), so it stays sharp on any head and costs a few bytes.

python-escpos is imported only when a job is made or sent: importing it calls
logging.basicConfig(), which would take over the server's own log setup (INFO lines lost)."""

from __future__ import annotations

from dataclasses import dataclass

CHINESE_ON = b"\x1c\x26"  # FS &: two-byte characters (GB 18030 on Chinese firmware)
CHINESE_OFF = b"\x1c\x2e"  # FS .
QR_COMMAND = b"\x1d\x28\x6b"  # GS ( k: the printer draws the QR code


@dataclass(frozen=True)
class Slip:
    hall: str
    number: str
    service: str
    ahead: str  # "前面还有 3 人"
    wait: str  # "预计等候 12 分钟"
    taken_at: str
    link: str  # the ticket's status page (its QR code)
    scan: str  # "扫码查看排队进度"


def job(slip: Slip, paper: str = "80") -> bytes:
    """The whole print job: text, number in large type, QR code, feed and cut."""
    from escpos.constants import QR_ECLEVEL_M  # late: see the module doc
    from escpos.printer import Dummy

    p = Dummy()
    p.hw("INIT")
    p._raw(CHINESE_ON)

    def line(text: str) -> None:
        p._raw(text.encode("gb18030", errors="replace") + b"\n")

    p.set(align="center", bold=True)
    line(slip.hall)
    p.set(align="center", bold=True, double_width=True, double_height=True)
    line(slip.number)
    p.set(align="center", normal_textsize=True, bold=False)
    line(slip.service)
    for text in (slip.ahead, slip.wait, slip.taken_at):
        if text:
            line(text)
    p.qr(slip.link, ec=QR_ECLEVEL_M, size=6 if paper == "80" else 4, native=True, center=False)
    line(slip.scan)
    p._raw(CHINESE_OFF)
    p.cut()
    return bytes(p.output)
