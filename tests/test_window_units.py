"""Pure parts of the window client: key bindings, settings, the panel state's ordering."""

from __future__ import annotations

from pathlib import Path

import pygame
import pytest

from window_client import draw, keys
from window_client import settings as st
from window_client.api import Outcome, Reply, classify
from window_client.state import PanelState


def test_default_bindings_fit_a_caller_keypad() -> None:
    draw.init_video(headless=True)
    bound = keys.load(None)
    assert bound[pygame.K_KP_ENTER] == "next" and bound[pygame.K_KP_PLUS] == "recall"
    assert set(bound.values()) == set(keys.PANEL_ACTIONS)
    shipped = keys.load(str(Path(__file__).parent.parent / "config" / "window" / "keys.toml"))
    assert shipped == bound


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ('[keys]\nF1 = "dance"', "'dance' is not one of"),
        ('[keys]\n"Nokey" = "next"', "'Nokey' is not an SDL key name"),
        ("F1 = 1", "needs a [keys] table"),
        ("[keys", "keys.toml: "),
    ],
)
def test_bad_bindings_are_one_line(tmp_path: Path, text: str, fault: str) -> None:
    draw.init_video(headless=True)
    path = tmp_path / "keys.toml"
    path.write_text(text)
    with pytest.raises(st.SettingsError, match=r"keys\.toml") as err:
        keys.load(str(path))
    assert fault in str(err.value) and "\n" not in str(err.value)


def test_settings_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(st.SettingsError, match="not http"):
        st.server_url("ftp://x")
    with pytest.raises(st.SettingsError, match="not zh or en"):
        st.language("fr")
    with pytest.raises(st.SettingsError, match="HALLCALL_MQTT_URL"):
        st.mqtt_target("http://x")
    with pytest.raises(st.SettingsError, match="is empty"):
        (tmp_path / "t").write_text("\n")
        st.read_token("HALLCALL_WINDOW_TOKEN", str(tmp_path / "t"))
    monkeypatch.setenv("HALLCALL_WINDOW_TOKEN", " tok ")
    assert st.read_token("HALLCALL_WINDOW_TOKEN", None) == "tok"


def test_outcomes() -> None:
    assert classify(200, {"ticket": None}, "next") is Outcome.EMPTY
    assert classify(200, {"ticket": None}, "finish") is Outcome.DONE
    assert classify(401, {}) is Outcome.AUTH and classify(403, {}) is Outcome.AUTH
    assert classify(409, {"error": "window_paused"}) is Outcome.REFUSED
    assert classify(503, {}) is Outcome.UNREACHABLE


def test_an_older_snapshot_never_undoes_a_newer_one() -> None:
    s = PanelState("demo", "3")
    assert s.apply_panel({"seq": 5, "current": {"number": "B002", "recalls": 1}})
    assert not s.apply_panel({"seq": 4, "current": {"number": "B001"}})
    assert s.current == {"number": "B002", "recalls": 1}
    s.apply_reply("finish", Reply(Outcome.DONE, 200, {"ticket": {"number": "B002"}}))
    assert s.current is None and s.message == "办结 B002 · 完成"
