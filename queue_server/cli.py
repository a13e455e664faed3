"""``queue-server``: serve halls, check a config, or make a token."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import secrets
import socket
import sys

import uvloop
from aiohttp.http_exceptions import HttpProcessingError

from queue_server.app import Options, StartupError, create_app, tune_gc
from queue_server.clock import SystemClock
from queue_server.config import ConfigError, hash_token, load_halls
from queue_server.connections import raise_open_files, serve
from queue_server.domain.priority import MINUTE_MS
from queue_server.domain.secrets import hash_secret
from queue_server.settings import Settings, SettingsError, require_secret
from queue_server.simulate.command import add_arguments as simulate_arguments
from queue_server.simulate.command import run as simulate
from queue_server.store.hall_store import policy_from_config

log = logging.getLogger("queue_server")


def _options(p: argparse.ArgumentParser, default: object = None) -> None:
    p.add_argument("--config", default=default, help="hall file or folder (HALLCALL_CONFIG)")
    p.add_argument("--redis-url", default=default, help="HALLCALL_REDIS_URL")
    p.add_argument("--mqtt-url", default=default, help="HALLCALL_MQTT_URL")
    p.add_argument("--http", default=default, help="listen host:port (HALLCALL_HTTP)")
    p.add_argument("--lang", default=default, help="zh or en (HALLCALL_LANG)")
    p.add_argument(
        "--instance",
        default=default,
        help="name on status/{name} (default 'server'; give each process its own)",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="queue-server", description=__doc__)
    _options(p)
    sub = p.add_subparsers(dest="command")
    # the subcommands take the same options after their name, without resetting earlier ones
    for name, text in (
        ("serve", "run the server (the default)"),
        ("check-config", "validate the hall files and print each hall's bound"),
    ):
        _options(sub.add_parser(name, help=text), argparse.SUPPRESS)
    about = "print a hall's MQTT messages decoded (JSON lines)"
    w = sub.add_parser("watch", help=about, description=about)
    _options(w, argparse.SUPPRESS)
    w.add_argument("hall", nargs="?", default="demo")
    about = "run simulated hall days through the real server code and print waits and ETA quality"
    sim = sub.add_parser("simulate", help=about, description=about)
    _options(sim, argparse.SUPPRESS)
    simulate_arguments(sim)
    t = sub.add_parser(
        "hash-token",
        help="print a new random token (or the given one) and the sha256 to put in a hall file",
    )
    t.add_argument("token", nargs="?")
    sub.add_parser(
        "hash-secret",
        help="hash a staff PIN or password (scrypt) for a hall file's [[staff]] secret_hash; "
        "reads it from stdin, or asks twice on a terminal",
    )
    return p


def hash_secret_command() -> int:
    """Never from argv (it would show in `ps` and the shell history)."""
    if sys.stdin.isatty():
        secret = getpass.getpass("PIN or password: ")
        if getpass.getpass("again: ") != secret:
            print("queue-server: the two entries differ", file=sys.stderr)
            return 2
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if len(secret) < 4:
        print("queue-server: a PIN has at least 4 characters", file=sys.stderr)
        return 2
    print(hash_secret(secret))
    return 0


class OneLineBadRequests(logging.Filter):
    """aiohttp logs a malformed request (a NUL in a header, a broken request line) with a
    traceback; it already answered 400, so say what was wrong in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = f"{record.getMessage()}: bad HTTP request: {exc.message!r}"[:300]
            record.args, record.exc_info, record.exc_text = (), None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.getLogger("aiohttp.server").addFilter(OneLineBadRequests())
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "hash-secret":
        return hash_secret_command()
    if args.command == "hash-token":
        token = args.token or secrets.token_urlsafe(24)
        print(f"token:  {token}\nsha256: {hash_token(token)}")
        return 0
    try:
        settings = Settings.from_env(
            config=args.config,
            redis_url=args.redis_url,
            mqtt_url=args.mqtt_url,
            http=args.http,
            lang=args.lang,
        )
        halls = load_halls(settings.config)
    except (SettingsError, ConfigError) as exc:
        print(f"queue-server: {exc}", file=sys.stderr)
        return 2
    if args.command == "simulate":  # a private Redis unless --redis-url is given
        return simulate(args, halls, args.redis_url)
    if args.command == "watch":
        from queue_server.watch import run

        return run(settings.mqtt, args.hall)
    if args.command == "check-config":
        for h in halls.values():
            bound = policy_from_config(h).bound_ms() / MINUTE_MS
            print(
                f"{h.id}: {len(h.services)} services, {len(h.windows)} windows; "
                f"starvation bound {bound:g} min (limit {h.queue.max_overtake_minutes:g})"
            )
        return 0
    try:
        secret = require_secret(settings)
    except SettingsError as exc:
        print(f"queue-server: {exc}", file=sys.stderr)
        return 2
    options = Options(
        redis_url=settings.redis_url,
        mqtt=settings.mqtt,
        secret=secret,
        limits=raise_open_files(settings.limits),
        lang=settings.lang,
        instance=args.instance or "server",
    )
    app = create_app(halls, options, SystemClock())
    tune_gc()
    log.info(
        "serving halls %s on http://%s:%s (Redis %s, MQTT %s:%s)",
        ", ".join(halls),
        settings.http_host,
        settings.http_port,
        settings.redis_url,
        settings.mqtt.host,
        settings.mqtt.port,
    )
    try:
        # uvloop: a flood of slow clients costs the loop 2-3x less than asyncio's own loop
        # (bench/slowloris.py: the honest client's p99 during the flood fell from ~420 to ~180 ms)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(
                serve(
                    app,
                    settings.http_host,
                    settings.http_port,
                    options.limits,
                    reuse_port=hasattr(socket, "SO_REUSEPORT"),
                )
            )
    except StartupError as exc:
        print(f"queue-server: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"queue-server: cannot listen on {settings.http_host}:{settings.http_port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
