"""Process settings from the environment (12-factor), validated once into a frozen object."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from queue_server.limits import ServerLimits, parse_networks
from queue_server.link import LinkError, MqttTarget
from queue_server.link import parse_mqtt_url as link_parse
from queue_server.store.connect import SCHEMES


class SettingsError(ValueError):
    """A bad setting; the message is one line naming the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    config: Path
    redis_url: str
    mqtt: MqttTarget
    http_host: str
    http_port: int
    lang: str
    secret: bytes | None = None  # keys the per-phone digests; never stored in Redis
    limits: ServerLimits = field(default_factory=ServerLimits)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: str | None) -> Settings:
        """Read HALLCALL_* variables; keyword overrides (from flags) win when not None."""
        env = os.environ if env is None else env

        def get(name: str, default: str) -> str:
            value = overrides.get(name.lower())
            return value if value is not None else env.get(f"HALLCALL_{name}", default)

        config = Path(get("CONFIG", "config/halls/"))
        if not config.exists():
            raise SettingsError(f"HALLCALL_CONFIG: {config} does not exist")
        redis_url = get("REDIS_URL", "redis://127.0.0.1:6390/0")
        if not redis_url.startswith(SCHEMES):
            raise SettingsError(
                f"HALLCALL_REDIS_URL: {redis_url!r} is not a redis://, rediss://, unix:// or "
                "redis+cluster:// URL"
            )
        host, port = parse_listen(get("HTTP", "127.0.0.1:8080"), "HALLCALL_HTTP")
        lang = get("LANG", "zh")
        if lang not in ("zh", "en"):
            raise SettingsError(f"HALLCALL_LANG: {lang!r} is not 'zh' or 'en'")
        return cls(
            secret=read_secret(get("SECRET", ""), get("SECRET_FILE", "")),
            limits=read_limits(get),
            config=config,
            redis_url=redis_url,
            mqtt=parse_mqtt_url(get("MQTT_URL", "mqtt://127.0.0.1:1884")),
            http_host=host,
            http_port=port,
            lang=lang,
        )


MIN_SECRET = 16


def read_limits(get: Callable[[str, str], str]) -> ServerLimits:
    """HALLCALL_HEADER_TIMEOUT, _BODY_TIMEOUT (seconds), _MAX_CONNECTIONS,
    _MAX_CONNECTIONS_PER_IP, _TRUSTED_PROXIES (addresses or CIDR blocks, comma-separated)."""
    d = ServerLimits()

    def number(name: str, default: float, low: float, high: float) -> float:
        raw = get(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise SettingsError(f"HALLCALL_{name}: {raw!r} is not a number in {low:g}..{high:g}")
        return value

    try:
        proxies = parse_networks(get("TRUSTED_PROXIES", ""))
    except ValueError as exc:
        raise SettingsError(f"HALLCALL_TRUSTED_PROXIES: {exc}") from None
    return ServerLimits(
        header_timeout=number("HEADER_TIMEOUT", d.header_timeout, 0.1, 3600),
        body_timeout=number("BODY_TIMEOUT", d.body_timeout, 0.1, 3600),
        max_connections=int(number("MAX_CONNECTIONS", d.max_connections, 1, 10_000_000)),
        max_connections_per_ip=int(
            number("MAX_CONNECTIONS_PER_IP", d.max_connections_per_ip, 1, 10_000_000)
        ),
        trusted_proxies=proxies,
    )


def read_secret(value: str, file: str) -> bytes | None:
    """HALLCALL_SECRET, or the content of the file HALLCALL_SECRET_FILE names (one wins)."""
    if value and file:
        raise SettingsError("HALLCALL_SECRET and HALLCALL_SECRET_FILE: set only one")
    name = "HALLCALL_SECRET"
    if file:
        name = "HALLCALL_SECRET_FILE"
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{name}: cannot read {file}: {exc}") from None
    if not value:
        return None
    raw = value.encode()
    if len(raw) < MIN_SECRET:
        raise SettingsError(f"{name}: the secret is shorter than {MIN_SECRET} bytes")
    return raw


def require_secret(settings: Settings) -> bytes:
    if settings.secret is None:
        raise SettingsError(
            "HALLCALL_SECRET: not set; the server needs a secret of at least "
            f"{MIN_SECRET} bytes (or HALLCALL_SECRET_FILE naming a file that holds one)"
        )
    return settings.secret


def parse_listen(value: str, name: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise SettingsError(f"{name}: {value!r} is not host:port")
    return host.strip("[]"), int(port)


def parse_mqtt_url(url: str) -> MqttTarget:
    try:
        return link_parse(url)
    except LinkError as exc:
        raise SettingsError(str(exc)) from None
