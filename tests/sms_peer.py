"""A real local HTTP server that plays the SMS provider for the gateway's tests and bench.

It speaks the three wire formats the gateway sends (the signed JSON webhook, Aliyun's
Dysmsapi and Tencent's SendSms), checks each request's signature, records every request, and
on demand fails, times out, or rate-limits with each provider's own error codes, or accepts a
message and never answers (the connection drops, or the answer never comes). It records each
request under its key (Idempotency-Key, Aliyun OutId, Tencent SessionContext): `delivered`
holds one entry per key, `accepted` counts how often each key was accepted (Aliyun and Tencent
do not dedupe: an entry above 1 is a citizen who got the text twice), `requests` counts every
attempt. It answers the clouds' record queries (Aliyun QuerySendDetails, Tencent
PullSmsSendStatusByPhoneNumber) from what it accepted, counted in `lookups`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import aiomqtt
from aiohttp import web

from queue_server.config import load_hall
from queue_server.protocol import Notice, encode, topic_hall, topic_notify
from queue_server.snapshots import hall_message
from sms_gateway.providers.aliyun import signature as aliyun_signature
from sms_gateway.providers.tencent import sign as tencent_sign
from tests.services import ROOT, Broker, free_port

DEMO_FILE = ROOT / "config" / "halls" / "demo.toml"

# timeout: no answer, nothing accepted; drop / hang: accepted, then the connection drops / the
# answer never comes
Mode = Literal["ok", "fail", "timeout", "limited", "reject", "drop", "hang"]
CHINA = 8 * 3600
SECRET = "peer-secret"  # the webhook's HMAC key and both clouds' secret keys
KEY_ID = "peer-key-id"


@dataclass
class Delivery:
    key: str
    phone: str
    text: str
    kind: str
    template: str
    params: Any
    at: float  # epoch seconds when the peer accepted it
    receipt: str = ""  # the id the peer answered (BizId, SerialNo)


@dataclass
class Peer:
    port: int = field(default_factory=free_port)
    mode: Mode = "ok"
    fail_next: int = 0  # this many requests fail in `mode`, then "ok" again (0: mode holds)
    delivered: dict[str, Delivery] = field(default_factory=dict)
    requests: int = 0  # every well-signed request, whatever the answer
    accepted: dict[str, int] = field(default_factory=dict)  # key -> times answered "sent"
    bad_signatures: int = 0
    lookups: int = 0
    lookup_fail: int = 0  # this many record queries fail with the provider's own error
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, provider: str) -> dict[str, str]:
        """The gateway's environment for `provider` against this peer."""
        return {
            "http": {
                "HALLCALL_SMS_HTTP_URL": f"{self.url}/hook",
                "HALLCALL_SMS_HTTP_SECRET": SECRET,
            },
            "aliyun": {
                "HALLCALL_SMS_ALIYUN_ENDPOINT": f"{self.url}/aliyun",
                "HALLCALL_SMS_ALIYUN_KEY_ID": KEY_ID,
                "HALLCALL_SMS_ALIYUN_KEY_SECRET": SECRET,
            },
            "tencent": {
                "HALLCALL_SMS_TENCENT_ENDPOINT": f"{self.url}/",
                "HALLCALL_SMS_TENCENT_SECRET_ID": KEY_ID,
                "HALLCALL_SMS_TENCENT_SECRET_KEY": SECRET,
                "HALLCALL_SMS_TENCENT_APP_ID": "1400000000",
            },
            "console": {},
        }[provider]

    async def start(self) -> Peer:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_post("/aliyun", self._aliyun)
        app.router.add_post("/", self._tencent)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        return self

    async def stop(self) -> None:
        """Stop listening (connections are refused until start() again)."""
        if self._runner is not None:
            self._closing.set()
            await self._runner.cleanup()
            self._closing.clear()
            self._runner = None

    async def wait_for(self, count: int, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.delivered) < count:
                self.arrived.clear()
                await self.arrived.wait()

    def texts(self) -> list[str]:
        return [d.text for d in self.delivered.values()]

    def duplicates(self) -> dict[str, int]:
        """Keys accepted more than once (the peer, like a provider honouring the key, still
        delivered each once)."""
        return {k: n for k, n in self.accepted.items() if n > 1}

    async def _outcome(self) -> Mode:
        self.requests += 1
        mode = self.mode
        if self.fail_next > 0:
            self.fail_next -= 1
            if self.fail_next == 0:
                self.mode = "ok"
        if mode == "timeout":  # answer only when the peer stops (the client gave up long ago)
            await self._closing.wait()
        return mode

    def _record(self, d: Delivery) -> Delivery:
        self.accepted[d.key] = self.accepted.get(d.key, 0) + 1
        self.delivered.setdefault(d.key, d)
        self.arrived.set()
        return d

    async def _vanish(self, request: web.Request, mode: Mode) -> web.Response | None:
        """After accepting: in "drop" the connection goes, in "hang" the answer never comes
        (until the peer stops). None in other modes: answer as usual."""
        if mode == "drop" and request.transport is not None:
            request.transport.close()
            return web.Response(status=204)  # written nowhere
        if mode == "hang":
            await self._closing.wait()
            return web.Response(status=204)
        return None

    def _lookup_fails(self) -> bool:
        self.lookups += 1
        if self.lookup_fail > 0:
            self.lookup_fail -= 1
            return True
        return False

    def _sent_to(self, phone: str) -> list[Delivery]:
        return sorted((d for d in self.delivered.values() if d.phone == phone), key=lambda d: d.at)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers.get("X-Hallcall-Timestamp", "")
        want = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, request.headers.get("X-Hallcall-Signature", "")):
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        msg = json.loads(body)
        mode = await self._outcome()
        key = request.headers.get("Idempotency-Key", "")
        if mode == "fail":
            return web.json_response({"error": "down"}, status=503)
        if mode == "limited":
            return web.json_response({"error": "slow down"}, status=429)
        if mode == "reject":
            return web.json_response({"error": "bad number"}, status=400)
        self._record(
            Delivery(
                key,
                msg["phone"],
                msg["text"],
                msg["kind"],
                msg.get("template", ""),
                msg.get("params"),
                time.time(),
            )
        )
        return await self._vanish(request, mode) or web.json_response(
            {"id": f"hook-{len(self.delivered)}"}
        )

    async def _aliyun(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        params = {k: str(v) for k, v in form.items()}
        given = params.pop("Signature", "")
        if given != aliyun_signature(SECRET, params, "POST") or params["AccessKeyId"] != KEY_ID:
            self.bad_signatures += 1
            return web.json_response(
                {"Code": "SignatureDoesNotMatch", "Message": "bad signature"}, status=400
            )
        if params.get("Action") == "QuerySendDetails":
            if self._lookup_fails():
                return web.json_response(
                    {"Code": "ServiceUnavailable", "Message": "down"}, status=503
                )
            return self._aliyun_details(params)
        mode = await self._outcome()
        if mode == "fail":
            return web.json_response({"Code": "ServiceUnavailable", "Message": "down"}, status=503)
        if mode == "limited":
            return web.json_response(
                {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}
            )
        if mode == "reject":
            return web.json_response({"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"})
        d = self._record(
            Delivery(
                params["OutId"],
                params["PhoneNumbers"],
                "",
                "",
                params["TemplateCode"],
                json.loads(params["TemplateParam"]),
                time.time(),
                f"biz-{sum(self.accepted.values())}",
            )
        )
        return await self._vanish(request, mode) or web.json_response(
            {"Code": "OK", "Message": "OK", "BizId": d.receipt, "RequestId": "r"}
        )

    def _aliyun_details(self, params: dict[str, str]) -> web.Response:
        """QuerySendDetails: the records of one phone on one SendDate (China time), paged."""
        day = params["SendDate"]
        size, page = int(params["PageSize"]), int(params.get("CurrentPage") or 1)
        found = [
            d
            for d in self._sent_to(params["PhoneNumber"])
            if time.strftime("%Y%m%d", time.gmtime(d.at + CHINA)) == day
        ]
        dtos = [
            {
                "PhoneNum": d.phone,
                "SendStatus": 3,
                "ErrCode": "DELIVERED",
                "TemplateCode": d.template,
                "Content": "",
                "SendDate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(d.at + CHINA)),
                "ReceiveDate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(d.at + CHINA)),
                "OutId": d.key,
            }
            for d in found[(page - 1) * size : page * size]
        ]
        return web.json_response(
            {
                "Code": "OK",
                "Message": "OK",
                "RequestId": "r",
                "TotalCount": len(found),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos},
            }
        )

    async def _tencent(self, request: web.Request) -> web.Response:
        body = await request.read()
        stamp = int(request.headers.get("X-TC-Timestamp", "0"))
        want = tencent_sign(KEY_ID, SECRET, "sms", request.host, body, stamp).authorization
        action = request.headers.get("X-TC-Action")
        if (
            request.headers.get("Authorization") != want
            or action not in ("SendSms", "PullSmsSendStatusByPhoneNumber")
            or request.headers.get("X-TC-Version") != "2021-01-11"
        ):
            self.bad_signatures += 1
            return web.json_response(
                {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}}}
            )
        msg = json.loads(body)
        if action == "PullSmsSendStatusByPhoneNumber":
            if self._lookup_fails():
                return web.json_response(
                    {"Response": {"Error": {"Code": "InternalError.Timeout", "Message": "down"}}}
                )
            return self._tencent_status(msg)
        mode = await self._outcome()
        if mode == "fail":
            return web.json_response(
                {"Response": {"Error": {"Code": "InternalError.Timeout", "Message": "down"}}}
            )
        if mode == "limited":
            return web.json_response(
                {"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}}}
            )
        if mode == "reject":
            status = {"Code": "InvalidParameterValue.IncorrectPhoneNumber", "Message": "bad"}
            return web.json_response({"Response": {"SendStatusSet": [status], "RequestId": "r"}})
        d = self._record(
            Delivery(
                msg["SessionContext"],
                msg["PhoneNumberSet"][0],
                "",
                "",
                msg["TemplateId"],
                msg["TemplateParamSet"],
                time.time(),
                f"serial-{sum(self.accepted.values())}",
            )
        )
        vanished = await self._vanish(request, mode)
        if vanished is not None:
            return vanished
        status = {
            "SerialNo": d.receipt,
            "PhoneNumber": msg["PhoneNumberSet"][0],
            "Code": "Ok",
            "Message": "send success",
            "SessionContext": msg["SessionContext"],
        }
        return web.json_response({"Response": {"SendStatusSet": [status], "RequestId": "r"}})

    def _tencent_status(self, msg: dict[str, Any]) -> web.Response:
        """PullSmsSendStatusByPhoneNumber: the reports of one phone between BeginTime and
        EndTime (seconds), at most Limit."""
        begin, end = msg["BeginTime"], msg.get("EndTime", time.time() + 1)
        found = [d for d in self._sent_to(msg["PhoneNumber"]) if begin <= d.at <= end]
        reports = [
            {
                "UserReceiveTime": int(d.at),
                "CountryCode": "86",
                "SubscriberNumber": d.phone.removeprefix("+86"),
                "PhoneNumber": d.phone,
                "SerialNo": d.receipt,
                "ReportStatus": "SUCCESS",
                "Description": "DELIVRD",
                "SessionContext": d.key,
            }
            for d in found[: msg["Limit"]]
        ]
        return web.json_response({"Response": {"PullSmsSendStatusSet": reports, "RequestId": "r"}})


def notice(hall: str, n: int, kind: str = "called", **extra: Any) -> Notice:
    """The n-th test notice of a hall: its own ticket, a phone of its own."""
    base: dict[str, Any] = {
        "kind": kind,
        "phone": f"138{n:08d}",
        "number": f"A{n % 1000:03d}",
        "service": "A",
        "time": time.time(),
        "window": "3",
        "ticket": f"t{n}",
        "id": f"{n}-0",
        "hall": hall,
        "key": f"t{n}/{kind}/0",
    }
    base.update(extra)
    return Notice(**base)


class Publisher:
    """Plays the queue server's relay: publishes notices with QoS 1 and, when the broker goes
    away, reconnects and publishes again everything not yet acknowledged."""

    def __init__(self, broker: Broker, hall: str) -> None:
        self.broker = broker
        self.hall = hall

    def _client(self) -> aiomqtt.Client:
        user = "hallcall-server"
        return aiomqtt.Client(
            "127.0.0.1",
            self.broker.port,
            username=user,
            password=self.broker.passwords[user],
            identifier=f"relay-{uuid.uuid4().hex[:8]}",
        )

    async def hall_message(self) -> None:
        cfg = load_hall(DEMO_FILE)
        cfg = cfg.model_copy(update={"hall": cfg.hall.model_copy(update={"id": self.hall})})
        async with self._client() as c:
            await c.publish(
                topic_hall(self.hall),
                encode(hall_message(cfg, "zh", time.time())),
                qos=1,
                retain=True,
            )

    async def send(self, notices: list[Notice], timeout: float = 60.0) -> None:
        left = list(notices)
        async with asyncio.timeout(timeout):
            while left:
                try:
                    async with self._client() as c:
                        while left:
                            await c.publish(topic_notify(self.hall), encode(left[0]), qos=1)
                            left.pop(0)
                except aiomqtt.MqttError:
                    await asyncio.sleep(0.1)
