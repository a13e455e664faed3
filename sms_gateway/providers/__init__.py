"""SMS providers: what a provider is, and finding one by name.

Providers plug in through the entry point group ``hallcall.sms_providers``: the name maps to a
factory ``create(source: Source, timeout: float) -> Provider``. The built-in ones (console,
http, aliyun, tencent) are registered the same way in pyproject.toml.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

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
    provider's own error code."""

    def __init__(self, code: str, message: str, *, retry: bool, limited: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.retry = retry
        self.limited = limited


class Provider(Protocol):
    name: str
    needs_template: bool  # True: only the hall's pre-approved provider templates can be sent

    async def send(self, message: Outgoing) -> str:
        """Send; return the provider's receipt (message id) or ""; raise ProviderError."""
        ...

    async def close(self) -> None: ...


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
