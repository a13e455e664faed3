"""Tencent Cloud SMS (SendSms, API 2021-01-11), signed with TC3-HMAC-SHA256 as its
documentation specifies. The official SDK is not used: its HTTP calls block the event loop.

Tencent echoes SessionContext (the notice's key) but does not dedupe on it, so after an
ambiguous failure `lookup` asks PullSmsSendStatusByPhoneNumber (2021-01-11: BeginTime,
EndTime, Offset 0, Limit ≤ 100, PhoneNumber in E.164, SmsSdkAppId;
https://cloud.tencent.com.cn/document/product/1359/55976,
https://www.tencentcloud.com/document/product/382/40518) for a status with that
SessionContext. It lists a message once the carrier's report came (seconds, usually), hence
HALLCALL_SMS_LOOKUP_GRACE before the question is asked.

Settings: HALLCALL_SMS_TENCENT_SECRET_ID, HALLCALL_SMS_TENCENT_SECRET_KEY (secret),
HALLCALL_SMS_TENCENT_APP_ID (SmsSdkAppId), HALLCALL_SMS_TENCENT_REGION (default ap-guangzhou),
HALLCALL_SMS_TENCENT_ENDPOINT (default https://sms.tencentcloudapi.com/),
HALLCALL_SMS_LOOKUP_GRACE (seconds after an unclear attempt before a lookup, default 30).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from sms_gateway.providers import Outgoing, ProviderError, unreachable
from sms_gateway.settings import Source

ENDPOINT = "https://sms.tencentcloudapi.com/"
CONTENT_TYPE = "application/json; charset=utf-8"
RETRY_PREFIXES = (
    "InternalError",
    "RequestLimitExceeded",
    "LimitExceeded.PhoneNumberThirty",
    "LimitExceeded.PhoneNumberOneHour",
    "FailedOperation.InsufficientBalance",
)
LIMITED_PREFIXES = ("RequestLimitExceeded", "LimitExceeded.PhoneNumber")
VERSION = "2021-01-11"
PULL_LIMIT = 100  # PullSmsSendStatusByPhoneNumber's largest answer
PULL_DAYS = 7  # how far back it reaches


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Signed:
    authorization: str
    canonical_request: str
    string_to_sign: str


def sign(
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    payload: bytes,
    timestamp: int,
    content_type: str = CONTENT_TYPE,
) -> Signed:
    """The Authorization header of a POST / request (signed headers content-type and host)."""
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    canonical = "\n".join(
        (
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        )
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        ("TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={sig}"
    )
    return Signed(auth, canonical, to_sign)


def e164(phone: str) -> str:
    """Tencent wants +country: a mainland mobile number gets +86."""
    if phone.startswith("+"):
        return phone
    return f"+86{phone}" if len(phone) == 11 and phone.startswith("1") else f"+{phone}"


class Tencent:
    name = "tencent"
    needs_template = True

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        app_id: str,
        region: str,
        endpoint: str,
        timeout: float,
        lookup_grace: float = 30.0,
    ) -> None:
        self.endpoint = endpoint
        self.lookup_grace = lookup_grace
        self.host = urlsplit(endpoint).netloc
        self._id = secret_id
        self._key = secret_key
        self._app = app_id
        self._region = region
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def request(self, message: Outgoing, now: int) -> tuple[bytes, dict[str, str]]:
        if message.template is None:
            raise ProviderError(
                "no_template", f"no tencent template for {message.kind}", retry=False
            )
        params = message.template.params
        body = json.dumps(
            {
                "PhoneNumberSet": [e164(message.phone)],
                "SmsSdkAppId": self._app,
                "SignName": message.template.sign_name,
                "TemplateId": message.template.code,
                "TemplateParamSet": list(params.values()) if isinstance(params, dict) else params,
                "SessionContext": message.key,
            },
            ensure_ascii=False,
        ).encode()
        return body, self.headers("SendSms", body, now)

    def headers(self, action: str, body: bytes, now: int) -> dict[str, str]:
        signed = sign(self._id, self._key, "sms", self.host, body, now)
        return {
            "Authorization": signed.authorization,
            "Content-Type": CONTENT_TYPE,
            "Host": self.host,
            "X-TC-Action": action,
            "X-TC-Timestamp": str(now),
            "X-TC-Version": VERSION,
            "X-TC-Region": self._region,
        }

    async def _call(self, body: bytes, headers: dict[str, str]) -> tuple[int, str, dict[str, Any]]:
        """POST a signed request: the HTTP status, the text, and the answer's "Response"."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.endpoint, data=body, headers=headers) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(exc) from None
        try:
            answer = json.loads(text).get("Response", {})
        except (ValueError, AttributeError):
            answer = {}
        return status, text, answer if isinstance(answer, dict) else {}

    @staticmethod
    def _error(status: int, code: str, text: str) -> ProviderError:
        retry = code.startswith(RETRY_PREFIXES) or status >= 500
        return ProviderError(code, text, retry=retry, limited=code.startswith(LIMITED_PREFIXES))

    async def lookup(self, message: Outgoing, since: float) -> str | None:
        now = int(time.time())
        body = json.dumps(
            {
                # a minute for the clocks' difference, within the week it can reach
                "BeginTime": max(int(since) - 60, now - PULL_DAYS * 86_400 + 60),
                "EndTime": now + 60,
                "Offset": 0,
                "Limit": PULL_LIMIT,
                "PhoneNumber": e164(message.phone),
                "SmsSdkAppId": self._app,
            }
        ).encode()
        status, text, answer = await self._call(
            body, self.headers("PullSmsSendStatusByPhoneNumber", body, now)
        )
        error = answer.get("Error")
        found = answer.get("PullSmsSendStatusSet")
        if isinstance(error, dict) or status >= 300 or not isinstance(found, list):
            err = error if isinstance(error, dict) else {}
            code = str(err.get("Code") or f"http_{status}")
            raise self._error(status, code, str(err.get("Message") or text[:200]))
        for record in found:
            if isinstance(record, dict) and record.get("SessionContext") == message.key:
                return str(record.get("SerialNo") or "")
        return None

    async def send(self, message: Outgoing) -> str:
        body, headers = self.request(message, int(time.time()))
        status, text, answer = await self._call(body, headers)
        error = answer.get("Error")
        sent = answer.get("SendStatusSet") or [{}]
        if isinstance(error, dict):
            code, text = str(error.get("Code", "")), str(error.get("Message", ""))
        elif status < 300 and isinstance(sent[0], dict) and sent[0].get("Code") == "Ok":
            return str(sent[0].get("SerialNo", ""))
        elif isinstance(sent[0], dict) and sent[0].get("Code"):
            code, text = str(sent[0]["Code"]), str(sent[0].get("Message", ""))
        else:
            code, text = f"http_{status}", text[:200]
        raise self._error(status, code, text)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def create(source: Source, timeout: float) -> Tencent:
    return Tencent(
        source.require("TENCENT_SECRET_ID"),
        source.require("TENCENT_SECRET_KEY", secret=True),
        source.require("TENCENT_APP_ID"),
        source.get("TENCENT_REGION", "ap-guangzhou"),
        source.get("TENCENT_ENDPOINT", ENDPOINT),
        timeout,
        source.number("LOOKUP_GRACE", 30, 0, 86_400),
    )
