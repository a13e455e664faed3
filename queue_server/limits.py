"""What one server process allows its HTTP clients: timeouts, connection caps, proxies.

(Per-hall request rates are in the hall file's ``[limits]``; these are per process.)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ServerLimits:
    # A connection must deliver a whole request head within this many seconds of connecting
    # or of its previous response (aiohttp's keep-alive timer does exactly that).
    header_timeout: float = 10.0
    body_timeout: float = 10.0  # a request body must arrive within this
    max_connections: int = 8_000  # open HTTP connections; lowered to fit the open-file limit
    max_connections_per_ip: int = 128
    # X-Forwarded-For is believed only from these peers (a reverse proxy in front)
    trusted_proxies: tuple[Network, ...] = field(default_factory=tuple)


def parse_networks(value: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR blocks; ValueError names the bad one."""
    out: list[Network] = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or network") from None
    return tuple(out)
