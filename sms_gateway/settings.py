"""The gateway's settings: flags, then the environment, then a settings file, then defaults.

Secrets (tokens, keys) come only from the environment (``HALLCALL_SMS_X`` or a file named by
``HALLCALL_SMS_X_FILE``) or the settings file, never from flags, and are never logged.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from queue_server.link import LinkError, MqttTarget, parse_mqtt_url


class SettingsError(ValueError):
    """A bad setting; the message is one line naming it."""


@dataclass(frozen=True)
class Source:
    """Where settings are looked up. `flags` holds non-secret overrides from the command line;
    `file` the settings file's table (keys in lower case, without the HALLCALL_SMS_ prefix)."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    file: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **flags: str | None) -> Source:
        env = dict(os.environ if env is None else env)
        path = flags.pop("settings", None) or env.get("HALLCALL_SMS_SETTINGS")
        table: dict[str, Any] = {}
        if path:
            try:
                table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise SettingsError(f"HALLCALL_SMS_SETTINGS: cannot read {path}: {exc}") from None
        return cls(env, table, flags)

    def get(self, name: str, default: str = "") -> str:
        """A setting by its name after HALLCALL_SMS_ ("PROVIDER", "HTTP_URL")."""
        flag = self.flags.get(name.lower())
        if flag is not None:
            return flag
        value = self.env.get(f"HALLCALL_SMS_{name}")
        if value is not None:
            return value
        return str(self.file.get(name.lower(), default))

    def secret(self, name: str) -> str:
        """A secret: HALLCALL_SMS_<name>, the file HALLCALL_SMS_<name>_FILE names, or the
        settings file; "" when none."""
        value = self.env.get(f"HALLCALL_SMS_{name}")
        if value:
            return value
        path = self.env.get(f"HALLCALL_SMS_{name}_FILE")
        if path:
            try:
                return Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError(
                    f"HALLCALL_SMS_{name}_FILE: cannot read {path}: {exc}"
                ) from None
        return str(self.file.get(name.lower(), ""))

    def require(self, name: str, secret: bool = False) -> str:
        value = self.secret(name) if secret else self.get(name)
        if not value:
            raise SettingsError(f"HALLCALL_SMS_{name} is not set")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.get(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"HALLCALL_SMS_{name}: {raw!r} is not a number") from None
        if not low <= value <= high:
            raise SettingsError(f"HALLCALL_SMS_{name}: {value:g} is not within {low:g}..{high:g}")
        return value


@dataclass(frozen=True)
class Settings:
    source: Source
    provider: str
    halls: tuple[str, ...]
    data: Path
    name: str
    mqtt: MqttTarget
    server_url: str
    token: str
    lang: str
    listen: tuple[str, int]
    qps: float
    concurrency: int
    phone_limit: int
    phone_window: float
    max_attempts: int
    retry_base: float
    retry_cap: float
    timeout: float
    retention_days: float

    @classmethod
    def load(cls, source: Source) -> Settings:
        env = source.env

        def shared(name: str, default: str) -> str:  # HALLCALL_* shared with the other programs
            flag = source.flags.get(name.lower())
            return flag if flag is not None else env.get(f"HALLCALL_{name}", default)

        halls = tuple(h.strip() for h in source.get("HALLS", "demo").split(",") if h.strip())
        if not halls:
            raise SettingsError("HALLCALL_SMS_HALLS: name at least one hall")
        try:
            mqtt = parse_mqtt_url(shared("MQTT_URL", "mqtt://127.0.0.1:1884"))
        except LinkError as exc:
            raise SettingsError(str(exc)) from None
        lang = shared("LANG", "zh")
        if lang not in ("zh", "en"):
            raise SettingsError(f"HALLCALL_LANG: {lang!r} is not 'zh' or 'en'")
        server = shared("SERVER_URL", "http://127.0.0.1:8080").rstrip("/")
        if not server.startswith(("http://", "https://")):
            raise SettingsError(f"HALLCALL_SERVER_URL: {server!r} is not an http(s) URL")
        return cls(
            source=source,
            provider=source.get("PROVIDER", "console"),
            halls=halls,
            data=Path(source.get("DATA", "var/sms")),
            name=source.get("NAME", "gateway"),
            mqtt=mqtt,
            server_url=server,
            token=source.secret("TOKEN"),
            lang=lang,
            listen=parse_listen(source.get("LISTEN", "127.0.0.1:8091")),
            qps=source.number("QPS", 50, 0.1, 100_000),
            concurrency=int(source.number("CONCURRENCY", 32, 1, 1024)),
            phone_limit=int(source.number("PHONE_LIMIT", 5, 1, 1000)),
            phone_window=source.number("PHONE_WINDOW", 60, 0, 86_400),
            max_attempts=int(source.number("MAX_ATTEMPTS", 10, 1, 1000)),
            retry_base=source.number("RETRY_BASE", 1.0, 0.001, 3600),
            retry_cap=source.number("RETRY_CAP", 60.0, 0.001, 86_400),
            timeout=source.number("TIMEOUT", 5.0, 0.1, 120),
            retention_days=source.number("RETENTION_DAYS", 7, 0, 3650),
        )


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise SettingsError(f"HALLCALL_SMS_LISTEN: {value!r} is not host:port")
    return host.strip("[]"), int(port)
