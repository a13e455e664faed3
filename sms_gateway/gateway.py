"""The gateway process: MQTT links per hall into the outbox, senders out of it, and the
/metrics and /healthz endpoints."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiomqtt
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from queue_server.link import Link, Message
from queue_server.protocol import NOTICE_KINDS, SCHEMA_VERSION, ProtocolError, notices_in
from sms_gateway import metrics
from sms_gateway.checker import Checker
from sms_gateway.outbox import Outbox
from sms_gateway.providers import Provider
from sms_gateway.sender import Policy, Sender
from sms_gateway.settings import Settings
from sms_gateway.texts import HallTexts

log = logging.getLogger(__name__)

IN_FLIGHT = 256  # notices stored together in one commit (the broker sends ≤ 20 unacked anyway)
RETENTION_EVERY = 600.0  # seconds between sweeps that forget old phone numbers


def bad_notice(body: Any) -> str:
    """Why one notice of a notify payload cannot be a notice, or ""."""
    if not isinstance(body, dict):
        return f"a {type(body).__name__}, not a map"
    if body.get("v", SCHEMA_VERSION) != SCHEMA_VERSION:  # each of a burst's carries its own
        return f"unsupported schema version {body.get('v')!r}"
    if body.get("kind") not in NOTICE_KINDS:
        return f"unknown kind {body.get('kind')!r}"
    if not isinstance(body.get("phone"), str) or not body["phone"]:
        return "no phone"
    if not isinstance(body.get("number"), str):
        return "no ticket number"
    return ""


class Gateway:
    def __init__(self, settings: Settings, provider: Provider) -> None:
        self.settings = settings
        self.provider = provider
        self.outbox = Outbox(settings.data)
        self.halls: dict[str, HallTexts] = {}
        checker = Checker(settings.server_url, settings.token) if settings.token else None
        policy = Policy(
            qps=settings.qps,
            concurrency=settings.concurrency,
            phone_limit=settings.phone_limit,
            phone_window=settings.phone_window,
            max_attempts=settings.max_attempts,
            retry_base=settings.retry_base,
            retry_cap=settings.retry_cap,
            lang=settings.lang,
        )
        self.checker = checker
        self.sender = Sender(self.outbox, provider, self.halls, policy, checker)
        self.links = [
            Link(
                settings.mqtt,
                hall,
                ["hall", "notify"],
                self.on_message,
                on_state=metrics.MQTT_CONNECTED.labels(hall).set,
                program=f"hallcall-sms/{settings.name}",
                client_id=f"hallcall-sms-{settings.name}-{hall}",
                persistent=True,
                manual_ack=True,
                in_flight=IN_FLIGHT,
            )
            for hall in settings.halls
        ]
        self._stopped = asyncio.Event()

    def stop(self) -> None:
        self._stopped.set()

    async def on_message(self, msg: Message) -> None:
        """Called by the link; the broker gets the acknowledgement when this returns."""
        if msg.kind == "hall":
            texts = HallTexts.from_message(msg.body)
            await self.outbox.save_hall(msg.hall, texts.to_message())
            self.halls[msg.hall] = texts
            self.sender.wake()
            return
        if msg.kind != "notify":
            return
        try:
            items = notices_in(msg.body)  # one notice, or a burst's in one message
        except ProtocolError as exc:
            log.warning("hall %s: ignored a notify message: %s", msg.hall, exc)
            return
        notices = []
        for body in items:
            reason = bad_notice(body)
            if reason:
                log.warning("hall %s: ignored a notice: %s", msg.hall, reason)
            else:
                notices.append(body)
        if not notices:
            return
        try:  # all of them in one commit, before the broker gets the acknowledgement
            added = await self.outbox.add_many(msg.hall, notices, time.time())
        except Exception as exc:  # not stored: drop the link so the broker sends it again
            log.error(
                "hall %s: cannot store %d notices (%s); reconnecting", msg.hall, len(notices), exc
            )
            raise aiomqtt.MqttError(f"outbox write failed: {exc}") from exc
        if any(added):
            self.sender.wake()
        if not all(added):
            metrics.DUPLICATES.inc(added.count(False))

    def health(self) -> dict[str, Any]:
        links = {link.hall: link.online for link in self.links}
        return {
            "status": "ok" if all(links.values()) else "degraded",
            "mqtt": links,
            "provider": self.provider.name,
        }

    def web_app(self) -> web.Application:
        app = web.Application()

        async def healthz(_: web.Request) -> web.Response:
            body = self.health()
            body["outbox"] = await self.outbox.depth()
            return web.json_response(body, status=200 if body["status"] == "ok" else 503)

        async def metrics_page(_: web.Request) -> web.Response:
            metrics.DEPTH.set(await self.outbox.depth())
            return web.Response(
                body=generate_latest(metrics.REGISTRY),
                headers={"Content-Type": CONTENT_TYPE_LATEST},
            )

        app.router.add_get("/healthz", healthz)
        app.router.add_get("/metrics", metrics_page)
        return app

    async def retention_sweep(self) -> int:
        """Forget the phone numbers of notices settled longer ago than the retention."""
        keep = self.settings.retention_days * 86_400
        forgotten = await self.outbox.forget_phones(time.time() - keep)
        if forgotten:
            log.info("forgot the phone numbers of %d settled notices", forgotten)
        metrics.DEPTH.set(await self.outbox.depth())
        return forgotten

    async def _retention(self) -> None:
        while True:
            await self.retention_sweep()
            await asyncio.sleep(RETENTION_EVERY)

    async def run(self) -> None:
        await self.outbox.open()
        for hall, message in (await self.outbox.halls()).items():
            self.halls[hall] = HallTexts.from_message(message)
        runner = web.AppRunner(self.web_app(), access_log=None)
        await runner.setup()
        host, port = self.settings.listen
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
            log.info(
                "sms-gateway (%s) for halls %s; data in %s; metrics on http://%s:%d/metrics",
                self.provider.name,
                ", ".join(self.settings.halls),
                self.settings.data,
                host,
                port,
            )
            if self.checker is None:
                log.warning("no HALLCALL_SMS_TOKEN: notices are sent without checking tickets")
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(link.run()) for link in self.links]
                tasks.append(tg.create_task(self.sender.run()))
                tasks.append(tg.create_task(self._retention()))
                await self._stopped.wait()
                for link in self.links:
                    link.stop()
                self.sender.stop()
                tasks[-1].cancel()
        finally:
            await runner.cleanup()
            await self.provider.close()
            if self.checker is not None:
                await self.checker.close()
            await self.outbox.close()
