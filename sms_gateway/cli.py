"""``sms-gateway``: send hallcall notices by SMS; list and retry dead letters.

sms-gateway [--provider console|http|aliyun|tencent] [--data var/sms] [--halls demo]
sms-gateway dead list            # notices that failed for good (phones masked)
sms-gateway dead retry [UID ...] # send them again (all when none is named)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time

import uvloop

from sms_gateway.gateway import Gateway
from sms_gateway.limits import mask_phone
from sms_gateway.outbox import Outbox
from sms_gateway.providers import load
from sms_gateway.settings import Settings, SettingsError, Source

log = logging.getLogger("sms_gateway")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sms-gateway",
        description="Send hallcall notices by SMS, each exactly once.",
        epilog="Settings: HALLCALL_SMS_* variables (see README), a settings file, or these "
        "flags. Secrets come only from the environment or a file.",
    )
    p.add_argument(
        "--provider", help="console, http, aliyun, tencent or a plug-in (HALLCALL_SMS_PROVIDER)"
    )
    p.add_argument("--data", help="outbox folder (HALLCALL_SMS_DATA, default var/sms)")
    p.add_argument("--halls", help="comma-separated hall ids (HALLCALL_SMS_HALLS, default demo)")
    p.add_argument("--settings", help="a TOML settings file (HALLCALL_SMS_SETTINGS)")
    p.add_argument(
        "--listen", help="metrics host:port (HALLCALL_SMS_LISTEN, default 127.0.0.1:8091)"
    )
    p.add_argument(
        "--name", help="this gateway's name: MQTT client id and status (default gateway)"
    )
    p.add_argument("--mqtt-url", help="HALLCALL_MQTT_URL (user hallcall-sms)")
    p.add_argument("--server-url", help="HALLCALL_SERVER_URL, to check ticket states")
    p.add_argument("--lang", help="zh or en, for notices that do not say (HALLCALL_LANG)")
    sub = p.add_subparsers(dest="command")
    dead = sub.add_parser("dead", help="list or retry notices that failed for good")
    dead_sub = dead.add_subparsers(dest="action", required=True)
    dead_sub.add_parser("list", help="print them, one JSON line each (phones masked)")
    retry = dead_sub.add_parser("retry", help="send them again (all when no UID is given)")
    retry.add_argument("uids", nargs="*", type=int, metavar="UID")
    return p


def source_of(args: argparse.Namespace) -> Source:
    flags = {
        k: getattr(args, k) for k in ("provider", "data", "halls", "listen", "name", "settings")
    }
    flags["mqtt_url"] = args.mqtt_url
    flags["server_url"] = args.server_url
    flags["lang"] = args.lang
    return Source.load(**flags)


def dead(settings: Settings, args: argparse.Namespace) -> int:
    outbox = Outbox(settings.data)
    if not outbox.path.exists():
        print(f"sms-gateway: no outbox at {outbox.path}", file=sys.stderr)
        return 1
    outbox.open_sync()
    try:
        if args.action == "list":
            for row in outbox.dead_sync():
                row["phone"] = mask_phone(row["phone"]) if row["phone"] else "(forgotten)"
                print(json.dumps(row, ensure_ascii=False))
            return 0
        n = outbox.retry_dead_sync(args.uids or None, time.time())
        print(f"{n} dead notices queued again; a running gateway sends them within a second")
        return 0
    finally:
        assert outbox._db is not None  # noqa: S101
        outbox._db.close()


async def serve(settings: Settings) -> None:
    provider = load(settings.provider, settings.source, settings.timeout)
    gateway = Gateway(settings, provider)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, gateway.stop)
    await gateway.run()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings.load(source_of(args))
        if args.command == "dead":
            return dead(settings, args)
        # uvloop: the loop's own work per notice (MQTT reads, HTTP requests, thread hops)
        # costs about a third less than with asyncio's loop
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(settings))
    except SettingsError as exc:
        print(f"sms-gateway: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the metrics port is taken, the data folder cannot be made
        print(f"sms-gateway: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
