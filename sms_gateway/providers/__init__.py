"""SMS providers: what a provider is, and finding one by name.

Providers plug in through the entry point group ``hallcall.sms_providers``: the name maps to a
factory ``create(source: Source, timeout: float) -> Provider``. The built-in ones (console,
http, aliyun, tencent) are registered the same way in pyproject.toml.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import aiohttp

from sms_gateway.settings import SettingsError, Source
from sms_gateway.texts import ProviderTemplate

GROUP = "hallcall.sms_providers"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send. `key` is stable for the notice (retries, restarts), for
    providers that deduplicate; `template` is set when the hall maps this kind to a
    provider template (Aliyun, Tencent)."""

    key: str
    phone: str
    text: str
    kind: str
    lang: str
    hall: str
    ticket: str
    template: ProviderTemplate | None = None


class ProviderError(Exception):
    """A failed send. `retry`: worth trying again later (down, timeout, rate-limited);
    otherwise the message is dead at once (bad number, unapproved template). `code` is the
    provider's own error code. `ambiguous`: the request may have reached the provider and been
    accepted (a timeout, a connection lost after sending); a provider that cannot dedupe is
    asked before the message goes again."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry: bool,
        limited: bool = False,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.retry = retry
        self.limited = limited
        self.ambiguous = ambiguous


def unreachable(exc: BaseException) -> ProviderError:
    """A request that failed on the way. Refused or unresolved, it was never sent; anything
    else (a timeout, a connection dropped while waiting for the answer) may have been accepted."""
    sent = not isinstance(exc, aiohttp.ClientConnectorError)
    return ProviderError("unreachable", str(exc) or type(exc).__name__, retry=True, ambiguous=sent)


class Provider(Protocol):
    name: str
    needs_template: bool  # True: only the hall's pre-approved provider templates can be sent

    async def send(self, message: Outgoing) -> str:
        """Send; return the provider's receipt (message id) or ""; raise ProviderError."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Lookup(Protocol):
    """A provider that can say whether it already accepted a message (Aliyun, Tencent: they
    echo OutId / SessionContext but do not dedupe on it). After an ambiguous failure the
    sender asks this before sending again."""

    # seconds after the unclear attempt before the provider's records can be trusted to list it
    lookup_grace: float

    async def lookup(self, message: Outgoing, since: float) -> str | None:
        """The receipt of `message` if the provider has a record of it ("" when the record has
        no id), None when it has none since `since` (epoch seconds); raise ProviderError when
        it cannot tell."""
        ...


def names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load(name: str, source: Source, timeout: float) -> Provider:
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise SettingsError(
            f"HALLCALL_SMS_PROVIDER: no provider {name!r} (installed: {', '.join(names())})"
        )
    factory: Any = found[0].load()
    provider: Provider = factory(source, timeout)
    return provider
