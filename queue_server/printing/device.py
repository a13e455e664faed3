"""A kiosk's printer as the hall file sets it, through python-escpos's drivers (blocking:
call from a worker thread). A printer that answers status queries (network, USB, serial)
is asked before and after the job whether it is online with paper, so a printer that is
off, jammed or out of paper fails the print instead of swallowing it."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from queue_server.config import Printer


class PrintError(Exception):
    """The ticket was not printed; the message is one line (no ticket data)."""


def open_printer(cfg: Printer) -> Any:
    from escpos.printer import File, Network, Serial, Usb  # late: see slip.py

    if cfg.kind == "network":
        return Network(cfg.host, port=cfg.tcp_port, timeout=cfg.timeout)
    if cfg.kind == "usb":
        return Usb(cfg.vendor, cfg.product, timeout=round(cfg.timeout * 1000))
    if cfg.kind == "serial":
        return Serial(cfg.device, baudrate=cfg.baudrate, timeout=cfg.timeout)
    return File(cfg.device)


def send(cfg: Printer, data: bytes) -> None:
    """Print `data` or raise PrintError."""
    from escpos.exceptions import Error as EscposError  # late: see slip.py

    printer = open_printer(cfg)
    try:
        if cfg.kind == "network":  # connected here: python-escpos leaks a refused socket
            printer.device = socket.create_connection((cfg.host, cfg.tcp_port), cfg.timeout)
        else:
            printer.open()
        if cfg.check_status and cfg.kind != "file":
            _ready(printer, "before printing")
        printer._raw(data)
        if cfg.check_status and cfg.kind != "file":
            _ready(printer, "after printing")
    except PrintError:
        raise
    except (EscposError, OSError, ValueError) as exc:  # refused, timed out, gone, no device
        message = f"{cfg.kind} printer: {type(exc).__name__}: {exc}".splitlines()[0]
        raise PrintError(message) from None
    finally:
        with contextlib.suppress(EscposError, OSError):
            printer.close()


def _ready(printer: Any, when: str) -> None:
    """DLE EOT 1 (online?) and DLE EOT 4 (paper?), answered by the printer itself."""
    if not printer.is_online():
        raise PrintError(f"the printer did not answer online {when}")
    if printer.paper_status() == 0:
        raise PrintError(f"the printer is out of paper {when}")
