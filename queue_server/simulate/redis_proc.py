"""A private redis-server for one simulation, on a Unix socket in a temporary folder."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class RedisProcError(RuntimeError):
    """redis-server could not start; the message is one line."""


class PrivateRedis:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="hallcall-sim-")
        self.socket = Path(self._dir.name) / "redis.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def __enter__(self) -> PrivateRedis:
        binary = shutil.which("redis-server") or shutil.which(
            "redis-server", path="/usr/sbin:/usr/bin"
        )
        if binary is None:
            raise RedisProcError("redis-server is not installed (or pass --redis-url)")
        self._proc = subprocess.Popen(  # noqa: S603 - a fixed binary and fixed arguments
            [
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self._accepts():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RedisProcError("redis-server did not start")
            time.sleep(0.01)
        return self

    def _accepts(self) -> bool:
        with socket.socket(socket.AF_UNIX) as s:
            return s.connect_ex(str(self.socket)) == 0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None
        self._dir.cleanup()
