"""The one place the current screen state lives: replaced whole, and a change wakes the
render loop at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Concatenate, ParamSpec

from display_client.state import ScreenState

P = ParamSpec("P")


class Store:
    def __init__(self, initial: ScreenState) -> None:
        self.state = initial
        self.version = 0
        self.changed = asyncio.Event()

    def update(
        self,
        fn: Callable[Concatenate[ScreenState, P], ScreenState],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        new = fn(self.state, *args, **kwargs)
        if new is not self.state:
            self.state = new
            self.version += 1
            self.changed.set()
