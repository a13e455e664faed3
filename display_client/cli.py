"""`display-client`: the hall TV (tv), a window's LED strip (led) and the voice clip pack
(voice-pack build|check). Settings from the environment (HALLCALL_MQTT_URL) or flags; a bad
setting stops the program with one line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

import display_client  # noqa: F401 - sets pygame's quiet import before anything imports it
from display_client.app import App, Fatal, Options
from display_client.fonts import FontMissing
from display_client.hallinfo import NoHall
from display_client.voice.pack import Pack, VoiceUnavailable
from queue_server.link import LinkError

DEFAULT_MQTT = "mqtt://127.0.0.1:1884"
DEFAULT_PACK = "var/voice-pack"


def size_arg(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or not (8 <= int(w) <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 1920x1080)")
    if not 8 <= int(h) <= 8192:
        raise argparse.ArgumentTypeError(f"{text!r}: height out of range")
    return int(w), int(h)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hall", required=True, help="hall id, as in its hall file")
    p.add_argument(
        "--mqtt-url",
        default=os.environ.get("HALLCALL_MQTT_URL", DEFAULT_MQTT),
        help="mqtt://hallcall-display:PASSWORD@host:port (default: $HALLCALL_MQTT_URL)",
    )
    p.add_argument("--headless", action="store_true", help="SDL dummy video driver, no window")
    p.add_argument("--snapshot", type=Path, metavar="DIR", help="write each new frame as a PNG")
    p.add_argument("--name", default="", help="this screen's name in status/ (default tv, led-N)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="display-client", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tv", help="the hall screen (综合屏) with the call voice")
    _common(t)
    t.add_argument("--size", type=size_arg, default=(1920, 1080))
    t.add_argument("--no-voice", action="store_true", help="never speak (screen only)")
    t.add_argument("--audio-dir", type=Path, metavar="DIR", help="write announcements as WAVs")
    _voice_dirs(t)
    led = sub.add_parser("led", help="a window's LED strip (窗口屏)")
    _common(led)
    led.add_argument("--window", required=True)
    led.add_argument("--size", type=size_arg, default=(256, 64))
    vp = sub.add_parser("voice-pack", help="make or check the clip pack")
    vp.add_argument("action", choices=["build", "check"])
    vp.add_argument(
        "--hall", help="also the words and window names of this hall (read from the broker)"
    )
    vp.add_argument("--mqtt-url", default=os.environ.get("HALLCALL_MQTT_URL", DEFAULT_MQTT))
    _voice_dirs(vp)
    return ap


def _voice_dirs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--voice-pack",
        type=Path,
        default=Path(os.environ.get("HALLCALL_VOICE_PACK", DEFAULT_PACK)),
        help="where synthetic clips are kept (default: $HALLCALL_VOICE_PACK or var/voice-pack)",
    )
    p.add_argument(
        "--voice-overrides", type=Path, help="recorded clips that replace synthetic ones"
    )


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.cmd == "voice-pack":
            sys.exit(voice_pack(args))
        opts = Options(
            mode=args.cmd,
            hall=args.hall,
            mqtt_url=args.mqtt_url,
            size=args.size,
            window=getattr(args, "window", None),
            headless=args.headless,
            snapshot=args.snapshot,
            voice=args.cmd == "tv" and not args.no_voice,
            audio_dir=getattr(args, "audio_dir", None),
            pack=getattr(args, "voice_pack", Path(DEFAULT_PACK)),
            overrides=getattr(args, "voice_overrides", None),
            name=args.name,
        )
        asyncio.run(App(opts).run())
    except (FontMissing, VoiceUnavailable, LinkError, NoHall, Fatal) as exc:
        print(f"display-client: {exc}", file=sys.stderr)
        sys.exit(2)


def voice_pack(args: argparse.Namespace) -> int:
    from display_client.hallinfo import fetch_hall
    from display_client.state import Hall, Text
    from display_client.voice.policy import hall_tokens

    hall = asyncio.run(fetch_hall(args.mqtt_url, args.hall)) if args.hall else None
    if hall is None:  # the default template's words, for any hall
        hall = Hall("any", Text("any"), windows={})
    pack = Pack(args.voice_pack, args.voice_overrides)
    tokens = hall_tokens(hall)
    if args.action == "build":
        made = pack.build(tokens)
        print(f"voice pack {args.voice_pack}: {made} clips made")
        return 0
    problems = pack.check(tokens)
    for line in problems:
        print(line)
    print(f"voice pack {args.voice_pack}: {'ok' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0
