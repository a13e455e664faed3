"""The rating pad (评价器) facing the citizen: idle until this window finishes a ticket, then
the five levels as large touch targets, a reason for a bad rating, thanks, and idle again.

It holds the window's pad token, which can rate tickets finished at this window and do
nothing else. After `pad_seconds` with no choice it goes back to idle and records nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pygame

from queue_server.link import Message, MqttTarget
from window_client import draw
from window_client import settings as st
from window_client.api import ServerApi
from window_client.draw import Button
from window_client.pad_state import PadState
from window_client.screen import ScreenApp, run_screen

SIZE = (800, 480)
LEVEL_COLOURS = {
    5: (46, 160, 90),
    4: (92, 170, 80),
    3: (190, 160, 50),
    2: (214, 110, 50),
    1: (200, 60, 60),
}
WORDS = {
    "welcome": {"zh": "欢迎办理业务", "en": "Welcome"},
    "ask": {"zh": "请您对 {number} 号的服务进行评价", "en": "Please rate the service for {number}"},
    "why": {"zh": "请选择不满意的原因（可多选）", "en": "What went wrong? (choose any)"},
    "submit": {"zh": "提交评价", "en": "Submit"},
    "sending": {"zh": "正在提交…", "en": "Sending…"},
    "points": {"zh": "请为以下各项打分（1 至 5 分）", "en": "Please score each point (1 to 5)"},
    "thanks": {"zh": "感谢您的评价！", "en": "Thank you for your rating!"},
    "already_rated": {"zh": "此号已评价过，谢谢", "en": "This ticket was rated already"},
    "rating_closed": {"zh": "评价时间已过，谢谢", "en": "The time to rate has passed"},
    "not_sent": {"zh": "暂时无法提交评价，请稍后再试", "en": "The rating could not be sent"},
    "offline": {"zh": "评价器未连接", "en": "Pad offline"},
}


def word(key: str, lang: str, **values: str) -> str:
    text = WORDS[key].get(lang) or WORDS[key]["zh"]
    return text.format(**values) if values else text


def refusal(code: str, lang: str) -> str:
    """What the citizen reads when a rating is not taken: no server jargon."""
    return word(code if code in ("already_rated", "rating_closed") else "not_sent", lang)


class PadApp(ScreenApp[PadState]):
    kind = "pad"
    size = SIZE

    def __init__(
        self,
        api: ServerApi,
        window: str,
        mqtt: MqttTarget | None,
        lang: str = "zh",
        snapshot: Path | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(api, window, mqtt, PadState(window, lang), snapshot)
        self._fixed_timeout = timeout
        if timeout is not None:
            self.state.timeout = timeout

    # -- feeds ----------------------------------------------------------------------------

    async def on_message(self, msg: Message) -> None:
        if msg.kind == "hall":
            self.state.apply_hall(msg.body)
            if self._fixed_timeout is not None:
                self.state.timeout = self._fixed_timeout
        elif msg.kind == f"windows/{self.window}":
            done = msg.body.get("finished") or {}
            # a live snapshot is news; a retained one only while the citizen may still be there
            recent = not msg.retained or time.time() - float(done.get("at", 0)) < 60
            if recent:
                self.state.apply_panel(msg.body, time.time(), float(done.get("at", 0)))

    def on_link(self, up: bool) -> None:
        self.state.online = up
        self.state.version += 1

    def clock(self, now: float) -> int:
        self.state.tick(now)
        return int(now) if self.state.screen in ("rate", "reason") else 0

    # -- input ----------------------------------------------------------------------------

    def handle(self, ev: pygame.event.Event) -> None:
        if ev.type == pygame.QUIT:
            self.stop()
            return
        if ev.type == pygame.MOUSEBUTTONDOWN and ev.button == 1:
            pos = ev.pos
        elif ev.type == pygame.FINGERDOWN:  # a touch screen: x, y in 0..1
            pos = (int(ev.x * SIZE[0]), int(ev.y * SIZE[1]))
        else:
            return
        b = draw.hit(self.buttons, pos)
        if b is not None:
            self.tap(b.action, b.arg)

    def tap(self, action: str, arg: str = "") -> None:
        now = time.time()
        if action == "level" and self.state.choose(int(arg), now):
            self.spawn(self._send())
        elif action == "reason":
            self.state.toggle(arg, now)
        elif action == "submit" and self.state.submit(now):
            self.spawn(self._send())
        elif action == "score":
            point, _, value = arg.partition(":")
            self.state.score(point, int(value), now)
        elif action == "submit_points" and self.state.submit_points(now):
            self.spawn(self._send())

    async def _send(self) -> None:
        s = self.state
        reply = await self.api.rate(s.ticket, s.body())
        s.sent(reply.ok, "" if reply.ok else refusal(reply.error, s.lang), time.time())

    # -- drawing --------------------------------------------------------------------------

    def render(self, surface: pygame.Surface, now: float) -> None:
        s, f, lang = self.state, self.fonts, self.state.lang
        w, h = SIZE
        surface.fill(draw.BG)
        self.buttons = []
        if not s.online:
            f.text(surface, (w - 160, 12), word("offline", lang), 16, draw.BAD)
        if s.screen == "idle":
            f.text(surface, (w // 2, 120), s.hall_name, 30, draw.DIM, center=True)
            f.text(surface, (w // 2, 220), s.window_name or s.window, 64, center=True)
            f.text(surface, (w // 2, 330), word("welcome", lang), 40, draw.ACCENT, center=True)
        elif s.screen == "rate":
            f.text(surface, (w // 2, 50), word("ask", lang, number=s.number), 34, center=True)
            bw, gap = (w - 20 - 4 * 10) // 5, 10
            for i, lv in enumerate(s.levels):
                level = int(lv["level"])
                rect = pygame.Rect(10 + i * (bw + gap), 110, bw, 300)
                label = str(lv.get(lang) or lv["zh"])
                self.buttons.append(Button(rect, "level", label, arg=str(level)))
                pygame.draw.rect(surface, LEVEL_COLOURS.get(level, draw.BUTTON), rect, 0, 14)
                size = 30 if len(label) <= 4 else 24 if len(label) <= 5 else 18
                f.text(surface, rect.center, label, size, center=True)
            self._countdown(surface, now)
        elif s.screen == "reason":
            f.text(surface, (w // 2, 44), word("why", lang), 30, center=True)
            bw, bh, gap = (w - 20 - 2 * 10) // 3, 90, 10
            for i, reason in enumerate(s.reason_choices[:9]):
                rect = pygame.Rect(10 + (i % 3) * (bw + gap), 90 + (i // 3) * (bh + gap), bw, bh)
                chosen = reason in s.reasons
                pygame.draw.rect(surface, draw.ACCENT if chosen else draw.BUTTON, rect, 0, 12)
                f.text(surface, rect.center, reason, 28, draw.BG if chosen else draw.TEXT, True)
                self.buttons.append(Button(rect, "reason", reason, arg=reason))
            submit = pygame.Rect(w // 2 - 150, h - 90, 300, 70)
            ready = bool(s.reasons)
            pygame.draw.rect(surface, draw.GOOD if ready else draw.PANEL, submit, 0, 14)
            f.text(surface, submit.center, word("submit", lang), 30, center=True)
            self.buttons.append(Button(submit, "submit", word("submit", lang)))
            self._countdown(surface, now)
        elif s.screen == "points":
            self._points(surface, now)
        elif s.screen == "sending":
            f.text(surface, (w // 2, h // 2), word("sending", lang), 40, center=True)
        else:
            text = s.note or word("thanks", lang)
            colour = draw.ACCENT if s.note else draw.GOOD
            f.text(surface, (w // 2, h // 2), text, 48 if not s.note else 34, colour, center=True)

    def _points(self, surface: pygame.Surface, now: float) -> None:
        s, f, lang = self.state, self.fonts, self.state.lang
        w, h = SIZE
        f.text(surface, (w // 2, 30), word("points", lang), 28, center=True)
        for row, p in enumerate(s.points[:4]):
            y = 70 + row * 78
            f.text(surface, (16, y + 22), str(p.get(lang) or p["zh"]), 26)
            for v in range(1, 6):
                rect = pygame.Rect(250 + (v - 1) * 104, y, 94, 66)
                chosen = s.scores.get(str(p["id"])) == v
                pygame.draw.rect(surface, draw.ACCENT if chosen else draw.BUTTON, rect, 0, 12)
                f.text(surface, rect.center, str(v), 30, draw.BG if chosen else draw.TEXT, True)
                self.buttons.append(Button(rect, "score", str(v), arg=f"{p['id']}:{v}"))
        submit = pygame.Rect(w // 2 - 150, h - 84, 300, 66)
        ready = len(s.scores) == len(s.points)
        pygame.draw.rect(surface, draw.GOOD if ready else draw.PANEL, submit, 0, 14)
        f.text(surface, submit.center, word("submit", lang), 30, center=True)
        self.buttons.append(Button(submit, "submit_points", word("submit", lang)))
        self._countdown(surface, now)

    def _countdown(self, surface: pygame.Surface, now: float) -> None:
        left = max(0, int(self.state.timeout - (now - self.state.since)))
        self.fonts.text(surface, (SIZE[0] - 60, SIZE[1] - 40), f"{left}s", 20, draw.DIM)


def run_pad(args: argparse.Namespace) -> int:
    lang = st.language(args.lang)
    token = st.read_token("HALLCALL_PAD_TOKEN", args.token_file)
    server = st.server_url(args.server)
    mqtt = st.mqtt_target(args.mqtt_url)
    snapshot = Path(args.snapshot) if args.snapshot else None
    draw.init_video(headless=snapshot is not None)
    api = ServerApi(server, args.hall, token, args.timeout)
    run_screen(PadApp(api, args.window, mqtt, lang, snapshot, args.idle_after))
    return 0
