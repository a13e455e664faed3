"""Process settings from the environment (12-factor), validated once into a frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from queue_server.link import LinkError, MqttTarget
from queue_server.link import parse_mqtt_url as link_parse


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
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"HALLCALL_REDIS_URL: {redis_url!r} is not a redis:// URL")
        host, port = parse_listen(get("HTTP", "127.0.0.1:8080"), "HALLCALL_HTTP")
        lang = get("LANG", "zh")
        if lang not in ("zh", "en"):
            raise SettingsError(f"HALLCALL_LANG: {lang!r} is not 'zh' or 'en'")
        return cls(
            config=config,
            redis_url=redis_url,
            mqtt=parse_mqtt_url(get("MQTT_URL", "mqtt://127.0.0.1:1884")),
            http_host=host,
            http_port=port,
            lang=lang,
        )


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
