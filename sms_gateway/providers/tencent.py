"""Tencent Cloud SMS (SendSms, API 2021-01-11), signed with TC3-HMAC-SHA256 as its
documentation specifies. The official SDK is not used: its HTTP calls block the event loop.

Settings: HALLCALL_SMS_TENCENT_SECRET_ID, HALLCALL_SMS_TENCENT_SECRET_KEY (secret),
HALLCALL_SMS_TENCENT_APP_ID (SmsSdkAppId), HALLCALL_SMS_TENCENT_REGION (default ap-guangzhou),
HALLCALL_SMS_TENCENT_ENDPOINT (default https://sms.tencentcloudapi.com/).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from sms_gateway.providers import Outgoing, ProviderError
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
    ) -> None:
        self.endpoint = endpoint
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
        signed = sign(self._id, self._key, "sms", self.host, body, now)
        headers = {
            "Authorization": signed.authorization,
            "Content-Type": CONTENT_TYPE,
            "Host": self.host,
            "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(now),
            "X-TC-Version": "2021-01-11",
            "X-TC-Region": self._region,
        }
        return body, headers

    async def send(self, message: Outgoing) -> str:
        body, headers = self.request(message, int(time.time()))
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.endpoint, data=body, headers=headers) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError("unreachable", str(exc) or type(exc).__name__, retry=True) from None
        try:
            answer = json.loads(text).get("Response", {})
        except (ValueError, AttributeError):
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
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
        retry = code.startswith(RETRY_PREFIXES) or status >= 500
        raise ProviderError(code, text, retry=retry, limited=code.startswith(LIMITED_PREFIXES))

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
    )
