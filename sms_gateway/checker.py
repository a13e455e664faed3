"""Is a notice still worth sending? The ticket's state, read from the queue server's API with
the gateway's token (HALLCALL_SMS_TOKEN), which may read ticket states and nothing else."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

QUEUED = ("waiting", "transferred")


def stale(kind: str, state: str) -> str:
    """Why a notice of `kind` no longer makes sense for a ticket in `state`, or ""."""
    if state == "cancelled":
        return "ticket_cancelled"
    if kind == "near" and state not in QUEUED:
        return "already_called"
    return ""


class Checker:
    """Reads ticket states; when the server cannot say, the notice is sent (a late "called"
    text is better than none)."""

    def __init__(self, server_url: str, token: str, timeout: float = 1.0) -> None:
        self.server_url = server_url
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def state(self, hall: str, ticket: str) -> str:
        """The ticket's state, or "" when unknown (no such ticket, server away)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        url = f"{self.server_url}/api/v1/halls/{hall}/tickets/{ticket}"
        try:
            async with self._session.get(url) as resp:
                if resp.status != 200:
                    if resp.status in (401, 403):
                        log.warning("hall %s: the server refused the gateway token", hall)
                    return ""
                body: Any = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.debug("ticket check failed: %s", exc)
            return ""
        return str(body.get("state", "")) if isinstance(body, Mapping) else ""

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
