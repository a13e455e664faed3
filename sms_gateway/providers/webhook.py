"""The http provider: a JSON webhook for a province's unified SMS platform or a hall's own
gateway. HALLCALL_SMS_HTTP_URL names it; the body is signed with HALLCALL_SMS_HTTP_SECRET:

    X-Hallcall-Timestamp: <unix seconds>
    X-Hallcall-Signature: hex(HMAC-SHA256(secret, "<timestamp>.<body>"))
    Idempotency-Key: <hall>/<notice key>   (the same on every retry of one notice)

2xx is accepted (a JSON "id" in the answer is kept as the receipt); 429, 5xx and timeouts are
retried; other 4xx are permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import aiohttp
from yarl import URL

from sms_gateway.providers import Outgoing, ProviderError, unreachable
from sms_gateway.settings import SettingsError, Source


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def payload(message: Outgoing) -> bytes:
    body: dict[str, object] = {
        "id": message.key,
        "phone": message.phone,
        "text": message.text,
        "kind": message.kind,
        "lang": message.lang,
        "hall": message.hall,
        "ticket": message.ticket,
    }
    if message.template is not None:
        body["template"] = message.template.code
        body["params"] = message.template.params
        body["sign_name"] = message.template.sign_name
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class Webhook:
    name = "http"
    needs_template = False

    def __init__(self, url: str, secret: str, timeout: float) -> None:
        self.url = url
        self._url = URL(url)  # parsed once, not per request
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=256),
                cookie_jar=aiohttp.DummyCookieJar(),  # a webhook sets no cookies: skip the jar
            )
        return self._session

    async def send(self, message: Outgoing) -> str:
        body = payload(message)
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Hallcall-Timestamp": stamp,
            "X-Hallcall-Signature": signature(self._secret, stamp, body),
            "Idempotency-Key": message.key,
        }
        try:
            async with self._client().post(self._url, data=body, headers=headers) as resp:
                raw = await resp.read()  # bytes: JSON needs no charset guessing
                if resp.status < 300:
                    try:
                        answer = json.loads(raw) if raw else {}
                    except ValueError:
                        answer = {}
                    return str(answer.get("id", "")) if isinstance(answer, dict) else ""
                code = f"http_{resp.status}"
                if resp.status == 429:
                    raise ProviderError(code, "rate limited", retry=True, limited=True)
                text = raw[:200].decode("utf-8", "replace")
                raise ProviderError(code, text, retry=resp.status >= 500)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(exc) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def create(source: Source, timeout: float) -> Webhook:
    url = source.require("HTTP_URL")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"HALLCALL_SMS_HTTP_URL: {url!r} is not an http(s) URL")
    return Webhook(url, source.require("HTTP_SECRET", secret=True), timeout)
