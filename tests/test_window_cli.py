"""`window-client` actions from a shell: every command, its output and its exit code, against
a real server (the `api` fixture listens on a loopback port)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api
from tests.services import VENV_BIN, free_port
from tests.window_helpers import server_url
from window_client import cli

EXE = str(VENV_BIN / "window-client")


async def run(
    api: Api, capsys: pytest.CaptureFixture[str], *argv: str, window: str = "3"
) -> tuple[int, dict[str, Any]]:
    """One command in a thread (it runs its own event loop), with --json; code and answer."""
    args = [*argv[:1], "--hall", api.hall, "--window", window, "--server", server_url(api)]
    code = await asyncio.to_thread(cli.main, [*args, "--json", *argv[1:]])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else {}


@pytest.fixture(autouse=True)
def window_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLCALL_WINDOW_TOKEN", "demo-window-3")


async def test_every_action_and_its_exit_code(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert (await run(api, capsys, "next"))[0] == 3  # nobody waiting
    first = await api.issue("B")
    second = await api.issue("B")
    code, out = await run(api, capsys, "next")
    assert (code, out["outcome"], out["ticket"]["number"]) == (0, "done", first["number"])
    code, out = await run(api, capsys, "recall")
    assert (code, out["ticket"]["recalls"]) == (0, 1)
    assert (await run(api, capsys, "start"))[0] == 0
    assert (await run(api, capsys, "park"))[0] == 0
    code, out = await run(api, capsys, "status")
    assert (code, out["parked"], out["current"]) == (0, [first["number"]], None)
    assert (out["upcoming"], out["staff"]) == ([second["number"]], "")
    code, out = await run(api, capsys, "call", second["number"].lower())
    assert (code, out["ticket"]["number"]) == (0, second["number"])
    code, out = await run(api, capsys, "transfer", "--service", "A")
    assert (code, out["ticket"]["service"]) == (0, "A")
    code, out = await run(api, capsys, "unpark", first["number"])
    assert (code, out["ticket"]["number"]) == (0, first["number"])
    assert (await run(api, capsys, "finish"))[0] == 0
    code, out = await run(api, capsys, "skip")  # nothing at the window now
    assert (code, out["error"]) == (4, "no_current")
    code, out = await run(api, capsys, "pause", "--reason", "午休")
    assert code == 0
    code, out = await run(api, capsys, "status")
    assert (out["paused"], out["reason"]) == (True, "午休")
    assert out["today"] == {"served": 1, "no_shows": 0, "avg_minutes": 0.0}  # a ManualClock
    await api.issue("B")
    code, out = await run(api, capsys, "next")
    assert (code, out["error"]) == (4, "window_paused")
    assert (await run(api, capsys, "resume"))[0] == 0


async def test_text_output_for_people(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    ticket = await api.issue("B")
    argv = ["next", "--hall", api.hall, "--window", "3", "--server", server_url(api)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert capsys.readouterr().out.strip() == f"叫号 {ticket['number']} · 完成"
    assert await asyncio.to_thread(cli.main, [*argv, "--lang", "en"]) == 3
    assert capsys.readouterr().out.strip() == "Nobody waiting"


async def test_wrong_token_and_other_window(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLCALL_WINDOW_TOKEN", "not-a-token")
    code, out = await run(api, capsys, "next")
    assert (code, out["error"]) == (5, "unauthorized")
    monkeypatch.setenv("HALLCALL_WINDOW_TOKEN", "demo-window-4")
    code, out = await run(api, capsys, "status")
    assert (code, out["error"]) == (5, "forbidden")


async def test_token_from_a_file(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HALLCALL_WINDOW_TOKEN")
    (tmp_path / "token").write_text("demo-window-3\n")
    code, out = await run(api, capsys, "status", "--token-file", str(tmp_path / "token"))
    assert (code, out["window"]) == (0, "3")
    code = await asyncio.to_thread(cli.main, ["status", "--hall", api.hall, "--window", "3"])
    assert code == 2
    assert "HALLCALL_WINDOW_TOKEN" in capsys.readouterr().err


def test_unreachable_server_as_a_program() -> None:
    """The installed console script: exit 6 and one line, with no token on the command line."""
    env = {**os.environ, "HALLCALL_WINDOW_TOKEN": "demo-window-3"}
    argv = [EXE, "next", "--hall", "demo", "--window", "3", "--timeout", "0.5"]
    done = subprocess.run(
        [*argv, "--server", f"http://127.0.0.1:{free_port()}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 6, done.stderr
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1
    assert "unreachable" in done.stderr
    done = subprocess.run(
        [EXE, "next", "--hall", "demo", "--window", "3", "--token", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2  # there is no --token flag: a token never goes on argv
