"""Aliyun SMS (Dysmsapi SendSms, API 2017-05-25), signed with the RPC signature v1
(HMAC-SHA1) as its documentation specifies. The official SDK is not used: its HTTP calls
block the event loop.

Aliyun echoes OutId (the notice's key) but does not dedupe on it, so after an ambiguous
failure `lookup` asks QuerySendDetails (PhoneNumber, SendDate yyyyMMdd in China time, pages
of up to 50; https://help.aliyun.com/document_detail/419277.html) for a record with that OutId.
A message shows there once accepted (SendStatus 1 while its receipt is awaited).

Settings: HALLCALL_SMS_ALIYUN_KEY_ID, HALLCALL_SMS_ALIYUN_KEY_SECRET (secret),
HALLCALL_SMS_ALIYUN_ENDPOINT (default https://dysmsapi.aliyuncs.com/), HALLCALL_SMS_ALIYUN_REGION,
HALLCALL_SMS_LOOKUP_GRACE (seconds after an unclear attempt before a lookup, default 30).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from sms_gateway.providers import Outgoing, ProviderError, unreachable
from sms_gateway.settings import Source

ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# Codes worth retrying later: flow control, the platform's own faults, an empty balance.
RETRY = {
    "isv.BUSINESS_LIMIT_CONTROL",
    "Throttling",
    "Throttling.User",
    "Throttling.Api",
    "ServiceUnavailable",
    "InternalError",
    "isv.AMOUNT_NOT_ENOUGH",
    "isv.OUT_OF_SERVICE",
}
LIMITED = {"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "Throttling.Api"}
PAGE = 50  # QuerySendDetails' largest page
PAGES = 20  # a phone with more records than this on one day is not searched further
CHINA = 8 * 3600  # SendDate is the date in China (UTC+8)
QUERY_DAYS = 29  # QuerySendDetails reaches the last 30 days


def percent(value: str) -> str:
    """RFC 3986 encoding as the signature needs it (space %20, * %2A, ~ kept)."""
    return quote(value, safe="~")


def signature(secret: str, params: Mapping[str, str], method: str = "GET") -> str:
    """Base64 HMAC-SHA1 of the canonical query, keyed with "<secret>&"."""
    query = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent('/')}&{percent(query)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def common_params(key_id: str, region: str, action: str, now: float, nonce: str) -> dict[str, str]:
    return {
        "AccessKeyId": key_id,
        "Action": action,
        "Format": "JSON",
        "RegionId": region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "Version": "2017-05-25",
    }


def send_params(
    key_id: str, region: str, message: Outgoing, now: float, nonce: str
) -> dict[str, str]:
    if message.template is None:
        raise ProviderError("no_template", f"no aliyun template for {message.kind}", retry=False)
    params = message.template.params
    return {
        **common_params(key_id, region, "SendSms", now, nonce),
        "PhoneNumbers": message.phone,
        "SignName": message.template.sign_name,
        "TemplateCode": message.template.code,
        "TemplateParam": json.dumps(
            params if isinstance(params, dict) else dict(enumerate(params)), ensure_ascii=False
        ),
        "OutId": message.key,
    }


def send_dates(since: float, now: float) -> list[str]:
    """The SendDate values (yyyyMMdd, China time) from `since` to `now`, newest first."""
    days: list[str] = []
    t = now
    while True:
        day = time.strftime("%Y%m%d", time.gmtime(t + CHINA))
        if day not in days:
            days.append(day)
        if t <= since:
            return days
        t = max(since, t - 86_400)


def details(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The records in a QuerySendDetails answer: {"SmsSendDetailDTOs": {"SmsSendDetailDTO": […]}},
    each with OutId, PhoneNum, SendStatus (1 awaiting the receipt, 2 failed, 3 delivered)."""
    box = answer.get("SmsSendDetailDTOs")
    found = box.get("SmsSendDetailDTO") if isinstance(box, dict) else None
    return [d for d in found if isinstance(d, dict)] if isinstance(found, list) else []


class Aliyun:
    name = "aliyun"
    needs_template = True

    def __init__(
        self,
        key_id: str,
        secret: str,
        endpoint: str,
        region: str,
        timeout: float,
        lookup_grace: float = 30.0,
    ) -> None:
        self.endpoint = endpoint
        self.lookup_grace = lookup_grace
        self._key_id = key_id
        self._secret = secret
        self._region = region
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def _call(self, params: dict[str, str]) -> dict[str, Any]:
        """A signed RPC call; its answer when the Code is OK, else ProviderError."""
        params["Signature"] = signature(self._secret, params, "POST")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.endpoint, data=params) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(exc) from None
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        code = str(answer.get("Code", ""))
        if status < 300 and code == "OK":
            return answer
        code = code or f"http_{status}"
        text = str(answer.get("Message", "")) if answer else text[:200]
        retry = code in RETRY or status >= 500
        raise ProviderError(code, text, retry=retry, limited=code in LIMITED)

    async def send(self, message: Outgoing) -> str:
        params = send_params(self._key_id, self._region, message, time.time(), uuid.uuid4().hex)
        return str((await self._call(params)).get("BizId", ""))

    async def lookup(self, message: Outgoing, since: float) -> str | None:
        now = time.time()
        since = max(since - 60, now - QUERY_DAYS * 86_400)  # a minute for the clocks' skew
        for day in send_dates(since, now):
            for page in range(1, PAGES + 1):
                params = {
                    **common_params(
                        self._key_id, self._region, "QuerySendDetails", now, uuid.uuid4().hex
                    ),
                    "PhoneNumber": message.phone,
                    "SendDate": day,
                    "PageSize": str(PAGE),
                    "CurrentPage": str(page),
                }
                found = details(await self._call(params))
                for record in found:
                    if record.get("OutId") == message.key:
                        return str(record.get("BizId") or "")
                if len(found) < PAGE:
                    break
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def create(source: Source, timeout: float) -> Aliyun:
    return Aliyun(
        source.require("ALIYUN_KEY_ID"),
        source.require("ALIYUN_KEY_SECRET", secret=True),
        source.get("ALIYUN_ENDPOINT", ENDPOINT),
        source.get("ALIYUN_REGION", "cn-hangzhou"),
        timeout,
        source.number("LOOKUP_GRACE", 30, 0, 86_400),
    )
