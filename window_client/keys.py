"""Key bindings of the caller panel: SDL key names to actions, from a TOML file.

The defaults (config/window/keys.toml holds the same, to copy and edit) fit a USB caller
keypad: keypad Enter calls the next citizen, + recalls, - marks a no-show, and so on.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pygame

from window_client.api import ACTIONS
from window_client.settings import SettingsError

# The panel's buttons, F1… in this order: every window action, pause toggling to resume.
PANEL_ACTIONS = tuple(a for a in ACTIONS if a != "resume")

DEFAULT_KEYS: dict[str, str] = {
    "Keypad Enter": "next",
    "Keypad +": "recall",
    "Keypad -": "skip",
    "Keypad .": "start",
    "Keypad *": "finish",
    "Keypad /": "transfer",
    "Keypad 0": "park",
    "Keypad 7": "unpark",
    "Keypad 8": "call",
    "Keypad 9": "pause",
    **{f"F{i + 1}": a for i, a in enumerate(PANEL_ACTIONS)},
}


def bindings(names: dict[str, str], where: str = "key bindings") -> dict[int, str]:
    """Key code -> action; an unknown key name or action is a one-line SettingsError."""
    out: dict[int, str] = {}
    for name, action in names.items():
        if action not in PANEL_ACTIONS:
            raise SettingsError(f"{where}: {name!r} = {action!r} is not one of {PANEL_ACTIONS}")
        try:
            out[pygame.key.key_code(name)] = action
        except ValueError:
            raise SettingsError(f"{where}: {name!r} is not an SDL key name") from None
    return out


def load(path: str | None) -> dict[int, str]:
    if path is None:
        return bindings(DEFAULT_KEYS)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    keys = data.get("keys")
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise SettingsError(f"{path}: needs a [keys] table of key name = action")
    return bindings(keys, path)


def label(code: int) -> str:
    """A short label for a button's key hint: "F1", "KP Enter"."""
    return pygame.key.name(code, use_compat=False).replace("Keypad ", "KP ")
