"""`window-client`: the caller panel, the rating pad, and every window action from a shell.

    window-client next --hall demo --window 3 [--json]
    window-client panel --hall demo --window 3 [--snapshot DIR]
    window-client pad --hall demo --window 3 [--snapshot DIR]

The window token comes from HALLCALL_WINDOW_TOKEN or --token-file (the pad's from
HALLCALL_PAD_TOKEN), never from the command line. Exit codes: 0 done, 2 usage or settings,
3 queue empty, 4 refused, 5 token or PIN not accepted, 6 server unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from typing import Any

from window_client import settings as st
from window_client.api import ACTIONS, EXIT_CODES, Outcome, Reply, ServerApi
from window_client.texts import t

USAGE = 2
COMMANDS = (*ACTIONS, "status")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hall", required=True, help="hall id, e.g. demo")
    p.add_argument("--window", required=True, help="window id, e.g. 3")
    p.add_argument("--server", help="queue server URL (HALLCALL_SERVER_URL)")
    p.add_argument("--lang", choices=("zh", "en"), help="language (HALLCALL_LANG)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per try (default 3)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="window-client",
        description="Caller panel, rating pad and window actions for a hallcall window.",
        epilog="Exit codes: 0 done, 2 usage, 3 queue empty, 4 refused, 5 token or PIN "
        "not accepted, 6 server unreachable.",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in ("panel", "pad"):
        env = "HALLCALL_WINDOW_TOKEN" if name == "panel" else "HALLCALL_PAD_TOKEN"
        p = sub.add_parser(
            name,
            help="the caller panel (pygame)" if name == "panel" else "the rating pad (pygame)",
        )
        _common(p)
        p.add_argument("--token-file", help=f"file holding the token (else {env})")
        p.add_argument("--mqtt-url", help="broker (HALLCALL_MQTT_URL), user hallcall-window")
        p.add_argument("--snapshot", metavar="DIR", help="headless: write PNG frames to DIR")
        if name == "panel":
            p.add_argument("--keys", help="key bindings file (TOML); default: USB caller keypad")
            p.add_argument("--on-top", action="store_true", help="keep the window on top")
        else:
            p.add_argument(
                "--idle-after",
                type=float,
                help="seconds with no choice before idle (default: the hall's pad_seconds)",
            )
    for name in COMMANDS:
        p = sub.add_parser(name, help=t(name, "en"))
        _common(p)
        p.add_argument("--token-file", help="file holding the token (else HALLCALL_WINDOW_TOKEN)")
        p.add_argument("--json", action="store_true", help="print the answer as JSON")
        if name in ("call", "unpark"):
            p.add_argument("number", help="ticket number as printed, e.g. A005")
        elif name == "transfer":
            to = p.add_mutually_exclusive_group(required=True)
            to.add_argument("--service", help="the service to move the ticket to")
            to.add_argument(
                "--to-window",
                metavar="WINDOW",
                help="the window to move the ticket to (the front of its own queue)",
            )
        elif name == "pause":
            p.add_argument("--reason", default="", help="shown on screens, e.g. 午休")
        elif name == "finish":
            p.add_argument("--case", help="case number (办件编号) for the rating")
        elif name == "signin":
            p.add_argument("--staff", required=True, help="staff id")
            p.add_argument(
                "--pin-file", help="file holding the PIN (else HALLCALL_STAFF_PIN or a prompt)"
            )
    return top


def _pin(args: argparse.Namespace) -> str:
    if args.pin_file:
        return st.read_token("HALLCALL_STAFF_PIN", args.pin_file)
    pin = os.environ.get("HALLCALL_STAFF_PIN", "")
    if pin:
        return pin
    if sys.stdin.isatty():
        return getpass.getpass("PIN: ")
    raise st.SettingsError("no PIN: set HALLCALL_STAFF_PIN, pass --pin-file, or type it")


def action_body(args: argparse.Namespace) -> dict[str, Any]:
    if args.command in ("call", "unpark"):
        return {"number": args.number.upper()}
    if args.command == "transfer" and args.to_window:
        return {"window": args.to_window}
    if args.command == "transfer":
        return {"service": args.service.upper()}
    if args.command == "pause":
        return {"reason": args.reason} if args.reason else {}
    if args.command == "finish" and args.case:
        return {"case": args.case}
    if args.command == "signin":
        return {"staff": args.staff, "pin": _pin(args)}
    return {}


def describe(command: str, reply: Reply, window: str, lang: str) -> str:
    """One line for a person."""
    if reply.outcome is Outcome.EMPTY:
        return t("empty", lang)
    if not reply.ok:
        return f"{reply.error or reply.outcome.value}: {reply.message}"
    if command == "status":
        b = reply.body
        cur = b.get("current") or {}
        waiting = ", ".join(f"{s} {n}" for s, n in (b.get("waiting") or {}).items())
        state = t("paused", lang) if b.get("paused") else ""
        parts = [str(b.get("name", window)), state, str(cur.get("number", "-")), waiting]
        if b.get("parked"):
            parts.append(f"{t('parked', lang)} {' '.join(b['parked'])}")
        parts.append(f"{t('staff', lang)} {b.get('staff') or t('nobody', lang)}")
        d = b.get("today") or {}
        parts.append(
            f"{t('today', lang)} {t('finish', lang)} {int(d.get('served', 0))}"
            f" {t('skip', lang)} {int(d.get('no_shows', 0))}"
        )
        return "  ".join(p for p in parts if p)
    if command in ("signin", "signout"):
        who = f"{reply.body.get('staff', '')} {reply.body.get('name', '')}".strip()
        return f"{t(command, lang)} {who} · {t('done', lang)}"
    number = reply.number
    line = t(command, lang) + (f" {number}" if number else "") + f" · {t('done', lang)}"
    if reply.body.get("finished"):
        line += f" ({t('finish', lang)} {reply.body['finished']})"
    return line


async def run_action(args: argparse.Namespace, lang: str, token: str, server: str) -> int:
    body = action_body(args)
    async with ServerApi(server, args.hall, token, args.timeout) as api:
        if args.command == "status":
            reply = await api.window(args.window)
        else:
            reply = await api.act(args.window, args.command, body)
    if args.json:
        print(json.dumps({"outcome": reply.outcome.value, "status": reply.status, **reply.body}))
    else:
        out = sys.stdout if reply.ok else sys.stderr
        print(describe(args.command, reply, args.window, lang), file=out)
    return EXIT_CODES[reply.outcome]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        if args.command == "panel":
            from window_client.panel import run_panel

            return run_panel(args)
        lang = st.language(args.lang)  # bad settings stop before anything is sent
        token = st.read_token("HALLCALL_WINDOW_TOKEN", args.token_file)
        if args.command == "pad":
            from window_client.pad import run_pad

            return run_pad(args)
        return asyncio.run(run_action(args, lang, token, st.server_url(args.server)))
    except st.SettingsError as exc:
        print(f"window-client: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        return 130
