"""The caller panel: a small pygame window for the staff at one window.

The MQTT link and HTTP answers feed a `PanelState` (see screen.py for the loop). Every action
has a button and a key (keys.py); the actions that need more (transfer, call, call back, pause
reason, sign-in) open a prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygame

from queue_server.link import Message, MqttTarget
from window_client import draw, keys
from window_client import settings as st
from window_client.api import Outcome, ServerApi
from window_client.draw import Button
from window_client.screen import ScreenApp, run_screen
from window_client.state import PanelState
from window_client.texts import t

log = logging.getLogger(__name__)

SIZE = (560, 440)
OFFLINE_POLL = 5.0  # seconds between HTTP reads of the window while the broker is away
PROMPTED = ("transfer", "call", "unpark", "pause", "signin")


@dataclass
class Prompt:
    action: str
    text: str = ""
    staff: str = ""  # sign-in: the id typed in the first step

    @property
    def secret(self) -> bool:
        return self.action == "signin" and bool(self.staff)


class PanelApp(ScreenApp[PanelState]):
    kind = "panel"
    size = SIZE

    def __init__(
        self,
        api: ServerApi,
        window: str,
        mqtt: MqttTarget | None,
        bindings: dict[int, str],
        lang: str = "zh",
        snapshot: Path | None = None,
        offline_poll: float = OFFLINE_POLL,
    ) -> None:
        super().__init__(api, window, mqtt, PanelState(api.hall, window, lang), snapshot)
        self.offline_poll = offline_poll
        self.bindings = bindings
        self.prompt: Prompt | None = None
        self._hints = {a: keys.label(code) for code, a in reversed(bindings.items())}
        self._window_services: list[str] = []

    # -- input ----------------------------------------------------------------------------

    def handle(self, ev: pygame.event.Event) -> None:
        if ev.type == pygame.QUIT:
            self.stop()
        elif ev.type == pygame.KEYDOWN:
            if self.prompt is not None:
                self._type(ev)
            elif ev.key in self.bindings:
                self.trigger(self.bindings[ev.key])
        elif ev.type == pygame.MOUSEBUTTONDOWN and ev.button == 1:
            b = draw.hit(self.buttons, ev.pos)
            if b is not None:
                self.trigger(b.action, b.arg)

    def trigger(self, action: str, arg: str = "") -> None:
        """A key or button: act at once, or ask for what the action needs first."""
        if action == "cancel":
            self.prompt = None
            self.state.changed()
            return
        if action == "pause" and self.state.paused:
            action = "resume"
        if action in PROMPTED and not arg:
            self.prompt = Prompt(action)
            self.state.changed()
            return
        self.prompt = None
        body: dict[str, Any] = {}
        if action == "transfer":
            body = self._transfer_target(arg)
        elif action in ("call", "unpark"):
            body = {"number": self._number(arg)}
        elif action == "pause":
            body = {"reason": arg.strip()} if arg.strip() else {}
        elif action == "signin":
            staff, _, pin = arg.partition("\n")
            body = {"staff": staff, "pin": pin}
        self.spawn(self.perform(action, body))

    def _transfer_target(self, arg: str) -> dict[str, Any]:
        """A button's "w:5" or "s:A", or what was typed: a service letter, else a window
        (a keypad has digits: "5" is window 5)."""
        kind, _, value = arg.strip().partition(":")
        if value and kind in ("w", "s"):
            return {"window": value} if kind == "w" else {"service": value.upper()}
        typed = arg.strip()
        if typed.upper() in self.state.service_names or typed not in self.state.window_names:
            return {"service": typed.upper()}
        return {"window": typed}

    def _number(self, typed: str) -> str:
        """A keypad has digits only: "5" at a window serving B means B005."""
        typed = typed.strip().upper()
        if typed.isdigit() and self._window_services:
            return f"{self._window_services[0]}{int(typed):03d}"
        return typed

    def _type(self, ev: pygame.event.Event) -> None:
        p = self.prompt
        if p is None:
            return
        if ev.key == pygame.K_ESCAPE:
            self.prompt = None
        elif ev.key == pygame.K_BACKSPACE:
            p.text = p.text[:-1]
        elif ev.key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            if p.action == "signin" and not p.staff:
                p.staff, p.text = p.text.strip(), ""
            elif p.action == "signin":
                self.trigger("signin", f"{p.staff}\n{p.text}")
            elif p.text.strip() or p.action == "pause":
                self.trigger(p.action, p.text or " ")
        elif ev.unicode and ev.unicode.isprintable() and len(p.text) < 40:
            p.text += ev.unicode
        self.state.changed()

    async def perform(self, action: str, body: dict[str, Any]) -> None:
        s = self.state
        if s.busy:  # one action at a time: a bouncing key never calls twice
            s.say(f"{t(s.busy, s.lang)}: {t('working', s.lang)}", bad=True)
            return
        s.busy = action
        s.say(t("working", s.lang))
        reply = await self.api.act(s.window, action, body)
        s.apply_reply(action, reply)

    # -- feeds ----------------------------------------------------------------------------

    async def on_message(self, msg: Message) -> None:
        if msg.kind == f"windows/{self.state.window}":
            self.state.apply_panel(msg.body, live=not msg.retained)
        elif msg.kind == "hall":
            self.state.apply_hall(msg.body)
            for w in msg.body.get("windows") or []:
                if str(w.get("id")) == self.state.window:
                    self._window_services = [str(x) for x in w.get("services") or []]

    async def _poll_while_offline(self) -> None:
        """Without the broker the panel reads its window over HTTP, so it is never blank."""
        while not self.stopped.is_set():
            if not self.state.online:
                reply = await self.api.window(self.state.window)
                reachable = reply.outcome is not Outcome.UNREACHABLE
                if reply.ok:
                    self.state.apply_window_state(reply.body)
                    self.wake()
                if reachable != self.state.reachable:
                    self.state.reachable = reachable
                    self.state.changed()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.offline_poll):
                    await self.stopped.wait()

    # -- drawing --------------------------------------------------------------------------

    def render(self, surface: pygame.Surface, now: float) -> None:
        s, f, lang = self.state, self.fonts, self.state.lang
        surface.fill(draw.BG)
        w, _ = surface.get_size()
        # top bar: window, staff, connection
        f.text(surface, (12, 10), s.name or s.window, 20)
        staff = s.staff or t("nobody", lang)
        f.text(surface, (200, 13), f"{t('staff', lang)}: {staff}", 15, draw.DIM)
        up = s.online and s.reachable
        link = t("online", lang) if up else t("offline" if s.reachable else "unreachable", lang)
        colour = draw.GOOD if up else draw.BAD
        pygame.draw.circle(surface, colour, (w - 16, 20), 6)
        r = f.get(14).get_rect(link)
        f.text(surface, (w - 28 - r.width, 13), link, 14, colour)
        # the ticket at the window
        pygame.draw.rect(surface, draw.PANEL, (8, 40, w - 16, 120), border_radius=10)
        if s.paused:
            f.text(surface, (24, 60), t("paused", lang), 40, draw.BAD)
            if s.reason:
                f.text(surface, (24, 112), s.reason, 22, draw.TEXT)
        elif s.current:
            cur = s.current
            f.text(surface, (24, 52), str(cur.get("number", "")), 64, draw.ACCENT)
            if int(cur.get("steps") or 0) > 1:  # 一票到底: "2/2 缴费"
                sid = str(cur.get("service", ""))
                step = f"{cur.get('step')}/{cur.get('steps')} {s.service_names.get(sid, sid)}"
                f.text(surface, (24, 124), step, 16, draw.DIM)
            state = t(str(cur.get("state", "called")), lang)
            f.text(surface, (260, 58), state, 22)
            called_at = cur.get("called_at")
            if called_at:
                secs = max(0, int(now + s.clock_offset - float(called_at)))
                f.text(surface, (260, 90), f"{secs // 60:02d}:{secs % 60:02d}", 22, draw.DIM)
            if s.recalls_left is not None:
                f.text(surface, (260, 124), t("recalls_left", lang, n=s.recalls_left), 16, draw.DIM)
        else:
            f.text(surface, (24, 78), t("idle", lang), 36, draw.DIM)
        # queues, parked, today
        y = 168
        waiting = "  ".join(f"{self._svc(k)} {v}" for k, v in s.waiting.items())
        f.text(surface, (12, y), f"{t('waiting', lang)}: {waiting or '-'}", 16)
        if s.upcoming:
            f.text(surface, (300, y), " ".join(s.upcoming[:5]), 16, draw.DIM)
        y += 24
        parked = f"{t('parked', lang)}: {' '.join(s.parked) or '-'}"
        if s.queued:  # transferred here: called first
            parked += f"   {t('queued', lang)}: {' '.join(s.queued)}"
        f.text(surface, (12, y), parked, 16)
        if s.rated:
            f.text(surface, (300, y), t("rated", lang, number=s.rated), 16, draw.GOOD)
        y += 24
        if s.today:
            d = s.today
            today = (
                f"{t('today', lang)}: {t('finish', lang)} {d.get('served', 0)}  "
                f"{t('skip', lang)} {d.get('no_shows', 0)}  "
                + t("average", lang, m=f"{d.get('avg_minutes', 0):.1f}")
            )
            f.text(surface, (12, y), today, 16, draw.DIM)
        y += 26
        if s.message:
            f.text(surface, (12, y), s.message[:60], 16, draw.BAD if s.message_bad else draw.GOOD)
        self.buttons = self._layout(w, 268)
        if self.prompt is not None:
            self._draw_prompt(surface, w)
        hot = s.busy
        for b in self.buttons:
            b.draw(surface, f, 15, hot=b.action == hot)

    def _svc(self, sid: str) -> str:
        return sid

    def _layout(self, width: int, top: int) -> list[Button]:
        lang, p, s = self.state.lang, self.prompt, self.state
        if p is not None and p.action == "transfer":
            choices = [(sid, f"{sid} {name}") for sid, name in s.service_names.items()]
            choices += [
                (f"w:{wid}", t("to_window", lang, name=name))
                for wid, name in s.window_names.items()
            ]
            return self._grid(width, top, "transfer", choices, cols=4)
        if p is not None and p.action == "unpark":
            return self._grid(width, top, "unpark", [(n, n) for n in self.state.parked])
        if p is not None:
            return [Button(pygame.Rect(width - 120, top + 120, 110, 44), "cancel", "Esc")]
        out: list[Button] = []
        bw, bh, gap = (width - 16 - 3 * 6) // 4, 52, 6
        for i, action in enumerate(keys.PANEL_ACTIONS):
            label = t("resume" if action == "pause" and self.state.paused else action, lang)
            x, y = 8 + (i % 4) * (bw + gap), top + (i // 4) * (bh + gap)
            hint = self._hints.get(action, "")
            out.append(Button(pygame.Rect(x, y, bw, bh), action, label, hint))
        return out

    def _grid(
        self, width: int, top: int, action: str, choices: list[tuple[str, str]], cols: int = 3
    ) -> list[Button]:
        """Up to two rows of choices and Esc (three rows of four, Esc in the title row)."""
        rows = 2 if cols == 3 else 3
        bw, bh, gap = (width - 16 - (cols - 1) * 6) // cols, 44 if rows == 2 else 40, 6
        out = [
            Button(
                pygame.Rect(
                    8 + (i % cols) * (bw + gap), top + 28 + (i // cols) * (bh + gap), bw, bh
                ),
                action,
                label,
                arg=arg,
            )
            for i, (arg, label) in enumerate(choices[: cols * rows])
        ]
        esc = (width - 120, top + 128, 110, 36) if rows == 2 else (width - 90, top + 2, 80, 24)
        out.append(Button(pygame.Rect(*esc), "cancel", "Esc"))
        return out

    def _draw_prompt(self, surface: pygame.Surface, width: int) -> None:
        p, lang = self.prompt, self.state.lang
        if p is None:
            return
        pygame.draw.rect(surface, draw.PANEL, (4, 262, width - 8, 174), border_radius=8)
        ask = {
            "transfer": "type_service",
            "call": "type_number",
            "unpark": "type_number",
            "pause": "type_reason",
            "signin": "type_staff",
        }[p.action]
        self.fonts.text(surface, (12, 268), f"{t(p.action, lang)} · {t(ask, lang)}", 16)
        shown = "*" * len(p.text) if p.secret else p.text
        prefix = f"{p.staff} / " if p.staff else ""
        self.fonts.text(surface, (12, 398), f"> {prefix}{shown}_", 22, draw.ACCENT)

    # -- the screen's hooks ----------------------------------------------------------------

    def on_link(self, up: bool) -> None:
        self.state.set_online(up)

    def clock(self, now: float) -> int:
        return int(now) if self.state.current else 0  # the time at the window, by the second

    def side_tasks(self) -> list[Coroutine[Any, Any, None]]:
        return [self._poll_while_offline()]


def run_panel(args: argparse.Namespace) -> int:
    lang = st.language(args.lang)
    token = st.read_token("HALLCALL_WINDOW_TOKEN", args.token_file)
    server = st.server_url(args.server)
    mqtt = st.mqtt_target(args.mqtt_url)
    snapshot = Path(args.snapshot) if args.snapshot else None
    draw.init_video(headless=snapshot is not None)
    bindings = keys.load(args.keys)

    app = PanelApp(
        ServerApi(server, args.hall, token, args.timeout),
        args.window,
        mqtt,
        bindings,
        lang,
        snapshot,
    )
    run_screen(app, on_top=args.on_top)
    return 0
