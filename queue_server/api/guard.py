"""Who may send how much: per-address rate limits on token-less routes, and wrong tokens
throttled per address and logged once a minute (masked), never the token itself."""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache

from aiohttp import web

from queue_server import metrics
from queue_server.config import Limits
from queue_server.domain.ratelimit import FailureWindow, RateLimiter
from queue_server.errors import Refused
from queue_server.limits import Network, ServerLimits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HallGuard:
    public: RateLimiter
    failures: FailureWindow

    @classmethod
    def of(cls, limits: Limits) -> HallGuard:
        return cls(
            RateLimiter(limits.public_per_minute, limits.public_burst),
            FailureWindow(limits.failed_tokens_per_minute),
        )


LIMITS = web.AppKey("limits", ServerLimits)
GUARDS: web.AppKey[dict[str, HallGuard]] = web.AppKey("guards")


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(ip: str, proxies: tuple[Network, ...]) -> bool:
    addr = _ip(ip)
    return addr is not None and any(addr in net for net in proxies)


trusted = _trusted  # for the pages: links behind a trusted proxy


def client_ip(request: web.Request) -> str:
    ip = request.remote or ""  # the peer, as aiohttp read it once per connection
    proxies = request.app[LIMITS].trusted_proxies
    if not proxies:  # the usual hall: no proxy, no header to read
        return ip
    return forwarded_ip(ip, request.headers.getall("X-Forwarded-For", []), proxies)


def forwarded_ip(peer: str, forwarded: list[str], proxies: tuple[Network, ...]) -> str:
    """The peer's address; behind a trusted proxy, the last X-Forwarded-For hop that is not
    itself a trusted proxy (hops to the left of it could be written by the client)."""
    ip = peer
    if not proxies or not _trusted(ip, proxies):
        return ip
    hops = [h.strip() for v in forwarded for h in v.split(",")]
    for hop in reversed(hops):
        if _ip(hop) is None:
            break
        ip = hop
        if not _trusted(hop, proxies):
            break
    return ip


@lru_cache(maxsize=4096)  # every token-less request: parse each address once
def client_key(ip: str) -> str:
    """What one client is: an IPv4 address, or an IPv6 /64 (one home or phone holds a /64)."""
    addr = _ip(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr.ipv4_mapped) if isinstance(addr, ipaddress.IPv6Address) else ip


def mask_ip(ip: str) -> str:
    """203.0.113.x, 2001:db8:1:2::x: enough to see a pattern, not to name a citizen."""
    addr = _ip(ip)
    if isinstance(addr, ipaddress.IPv4Address):
        return ".".join(ip.split(".")[:3]) + ".x"
    if isinstance(addr, ipaddress.IPv6Address):
        return ":".join(addr.exploded.split(":")[:4]) + "::x"
    return "?"


def _now(_: web.Request) -> float:
    return time.monotonic()


def _limited(hall: str, kind: str, wait: float) -> Refused:
    metrics.RATE_LIMITED.labels(hall, kind).inc()
    seconds = max(1, math.ceil(wait))
    return Refused(
        "rate_limited",
        f"too many requests from your address; try again in {seconds} s",
        retry_after=seconds,
    )


def check_public(request: web.Request, hall: str) -> None:
    """A request without a token spends from its address's allowance."""
    guard = request.app[GUARDS][hall]
    wait = guard.public.take(client_key(client_ip(request)), _now(request))
    if wait > 0:
        raise _limited(hall, "public", wait)


def check_failures(request: web.Request, hall: str) -> None:
    """Before a token is looked at: an address past its wrong tokens waits out the minute."""
    failures = request.app[GUARDS][hall].failures
    if not failures:  # no wrong token lately: the address need not be worked out
        return
    wait = failures.blocked(client_key(client_ip(request)), _now(request))
    if wait > 0:
        raise _limited(hall, "tokens", wait)


def token_failed(request: web.Request, hall: str) -> None:
    ip = client_ip(request)
    n = request.app[GUARDS][hall].failures.fail(client_key(ip), _now(request))
    metrics.AUTH_FAILURES.labels(hall).inc()
    if n == 1:  # one line per address per minute; the metric counts them all
        resource = request.match_info.route.resource
        route = resource.canonical if resource else request.path
        log.warning(
            "hall %s: wrong token from %s on %s %s (more from there this minute are counted, "
            "not logged)",
            hall,
            mask_ip(ip),
            request.method,
            route,
        )
