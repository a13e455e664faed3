"""Real Redis and Mosquitto on free loopback ports, for tests and benchmarks."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACL = ROOT / "config" / "mosquitto" / "acl"
USERS = ("hallcall-server", "hallcall-display", "hallcall-window", "hallcall-sms")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


def need(binary: str) -> str:
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if path is None:
        raise RuntimeError(f"{binary} is not installed; run `make test` (it installs it)")
    return path


@dataclass
class RedisServer:
    dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                need("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, self.proc, "redis-server")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@dataclass
class Broker:
    """Mosquitto with the project's ACL and a password per program user."""

    dir: Path
    port: int = field(default_factory=free_port)
    passwords: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def url(self, user: str = "hallcall-server") -> str:
        return f"mqtt://{user}:{self.passwords[user]}@127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.dir.mkdir(parents=True, exist_ok=True)
        passwd = self.dir / "passwd"
        if not self.passwords:
            self.passwords = {u: secrets.token_urlsafe(12) for u in USERS}
            passwd.write_text("")
            for user, pw in self.passwords.items():
                subprocess.run(
                    [need("mosquitto_passwd"), "-b", str(passwd), user, pw],
                    check=True,
                    capture_output=True,
                )
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {passwd}\nacl_file {ACL}\npersistence false\n"
            "max_queued_messages 0\n"  # a slow test subscriber must not lose calls
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        self.proc = subprocess.Popen(
            [need("mosquitto"), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, self.proc, "mosquitto")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
