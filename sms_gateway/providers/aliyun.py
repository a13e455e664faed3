"""Aliyun SMS (Dysmsapi SendSms, API 2017-05-25), signed with the RPC signature v1
(HMAC-SHA1) as its documentation specifies. The official SDK is not used: its HTTP calls
block the event loop.

Settings: HALLCALL_SMS_ALIYUN_KEY_ID, HALLCALL_SMS_ALIYUN_KEY_SECRET (secret),
HALLCALL_SMS_ALIYUN_ENDPOINT (default https://dysmsapi.aliyuncs.com/), HALLCALL_SMS_ALIYUN_REGION.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from urllib.parse import quote

import aiohttp

from sms_gateway.providers import Outgoing, ProviderError
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


def percent(value: str) -> str:
    """RFC 3986 encoding as the signature needs it (space %20, * %2A, ~ kept)."""
    return quote(value, safe="~")


def signature(secret: str, params: Mapping[str, str], method: str = "GET") -> str:
    """Base64 HMAC-SHA1 of the canonical query, keyed with "<secret>&"."""
    query = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent('/')}&{percent(query)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def send_params(
    key_id: str, region: str, message: Outgoing, now: float, nonce: str
) -> dict[str, str]:
    if message.template is None:
        raise ProviderError("no_template", f"no aliyun template for {message.kind}", retry=False)
    params = message.template.params
    return {
        "AccessKeyId": key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "RegionId": region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "Version": "2017-05-25",
        "PhoneNumbers": message.phone,
        "SignName": message.template.sign_name,
        "TemplateCode": message.template.code,
        "TemplateParam": json.dumps(
            params if isinstance(params, dict) else dict(enumerate(params)), ensure_ascii=False
        ),
        "OutId": message.key,
    }


class Aliyun:
    name = "aliyun"
    needs_template = True

    def __init__(self, key_id: str, secret: str, endpoint: str, region: str, timeout: float):
        self.endpoint = endpoint
        self._key_id = key_id
        self._secret = secret
        self._region = region
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, message: Outgoing) -> str:
        params = send_params(self._key_id, self._region, message, time.time(), uuid.uuid4().hex)
        params["Signature"] = signature(self._secret, params, "POST")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.endpoint, data=params) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError("unreachable", str(exc) or type(exc).__name__, retry=True) from None
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {}
        code = str(answer.get("Code", "")) if isinstance(answer, dict) else ""
        if status < 300 and code == "OK":
            return str(answer.get("BizId", ""))
        code = code or f"http_{status}"
        text = str(answer.get("Message", "")) if isinstance(answer, dict) else text[:200]
        retry = code in RETRY or status >= 500
        raise ProviderError(code, text, retry=retry, limited=code in LIMITED)

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
    )
