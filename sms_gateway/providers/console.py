"""The console provider: prints each message with the phone and any ticket secret masked (what
`make run` uses: the output goes to its log)."""

from __future__ import annotations

import re
import sys

from sms_gateway.limits import mask_phone
from sms_gateway.providers import Outgoing
from sms_gateway.settings import Source

SECRET = re.compile(r"([?&]secret=)[^&#\s]+")


class Console:
    name = "console"
    needs_template = False

    async def send(self, message: Outgoing) -> str:
        text = SECRET.sub(r"\1***", message.text)  # the rating link's ticket secret
        print(f"SMS {mask_phone(message.phone)} [{message.kind}] {text}", flush=True)
        sys.stdout.flush()
        return ""

    async def close(self) -> None:
        return None


def create(source: Source, timeout: float) -> Console:
    return Console()
