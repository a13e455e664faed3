"""Read a hall's retained ``hall`` message once (for `voice-pack build --hall`)."""

from __future__ import annotations

import asyncio
import contextlib

from display_client.state import Hall, parse_hall
from queue_server.link import Link, Message, parse_mqtt_url


class NoHall(RuntimeError):
    """No retained hall message came; the message is one line."""


async def fetch_hall(url: str, hall: str, timeout: float = 5.0) -> Hall:
    got: asyncio.Future[Hall] = asyncio.get_running_loop().create_future()

    async def on_message(msg: Message) -> None:
        if msg.kind == "hall" and not got.done():
            got.set_result(parse_hall(msg.body))

    link = Link(parse_mqtt_url(url), hall, ["hall"], on_message)
    task = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(timeout):
            return await got
    except TimeoutError:
        raise NoHall(
            f"no retained hall message for hall {hall!r} within {timeout:.0f}s "
            "(is the queue server running, and the URL's user allowed to read it?)"
        ) from None
    finally:
        link.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
