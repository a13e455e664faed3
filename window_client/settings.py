"""Where the window client finds the server, the broker and its token (environment, flags).

Tokens never come from the command line (they would show in `ps`): from the environment
(`HALLCALL_WINDOW_TOKEN`, `HALLCALL_PAD_TOKEN`) or a file named by a flag.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from queue_server.link import LinkError, MqttTarget, parse_mqtt_url

DEFAULT_SERVER = "http://127.0.0.1:8080"
DEFAULT_MQTT = "mqtt://127.0.0.1:1884"


class SettingsError(ValueError):
    """A bad setting; the message is one line naming it."""


@dataclass(frozen=True, slots=True)
class Settings:
    server: str
    hall: str
    window: str
    token: str
    lang: str = "zh"
    mqtt: MqttTarget | None = None


def server_url(value: str | None) -> str:
    url = value or os.environ.get("HALLCALL_SERVER_URL") or DEFAULT_SERVER
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"HALLCALL_SERVER_URL: {url!r} is not http(s)://host:port")
    return url.rstrip("/")


def mqtt_target(value: str | None) -> MqttTarget:
    url = value or os.environ.get("HALLCALL_MQTT_URL") or DEFAULT_MQTT
    try:
        return parse_mqtt_url(url)
    except LinkError as exc:
        raise SettingsError(str(exc)) from None


def language(value: str | None) -> str:
    lang = value or os.environ.get("HALLCALL_LANG") or "zh"
    if lang not in ("zh", "en"):
        raise SettingsError(f"HALLCALL_LANG: {lang!r} is not zh or en")
    return lang


def read_token(env: str, file: str | None) -> str:
    """The token from `file` if given, else from the environment variable `env`."""
    if file:
        try:
            token = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"token file {file}: {exc.strerror}") from None
        if not token:
            raise SettingsError(f"token file {file} is empty")
        return token
    token = os.environ.get(env, "").strip()
    if not token:
        raise SettingsError(f"no token: set {env} or pass --token-file FILE")
    return token
