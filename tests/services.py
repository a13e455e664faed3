"""Real Redis and Mosquitto on free loopback ports, for tests and benchmarks."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from queue_server.config import hash_token

ROOT = Path(__file__).resolve().parent.parent
ACL = ROOT / "config" / "mosquitto" / "acl"
VENV_BIN = Path(sys.executable).parent
MANAGER_TOKEN = "test-manager"
KIOSK_TOKEN = "test-kiosk"  # the kiosk of every hall_toml hall: issues tickets without a phone
SECRET = "test-secret-" + "0" * 16  # HALLCALL_SECRET of test and benchmark servers
USERS = ("hallcall-server", "hallcall-display", "hallcall-window", "hallcall-sms")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def poll_child(
    proc: subprocess.Popen[bytes],
    check: Callable[[], Any],
    timeout: float,
    what: str,
    log: Path | None = None,
) -> Any:
    """Until `check` returns something truthy (returned): a child program's port, answer or
    output. Raises when the child exits first (with its log's tail) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not (got := check()):
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"{what}: the program exited with {proc.returncode}\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout}s")
        time.sleep(0.03)
    return got


def stop_child(proc: subprocess.Popen[bytes]) -> None:
    """Ask a child program to stop and reap it; killed if it is not gone in 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    poll_child(proc, listening, timeout, f"{what} listening on {port}")


def start_listening(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    """A quiet child program (Redis, Mosquitto), once it listens on `port`."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc, Path(argv[0]).name)
    return proc


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
    durable: bool = False  # append-only file, fsync always (as make run's Redis)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = start_listening(
            [
                need("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.durable else "no",
                "--appendfsync",
                "always",
                "--dir",
                str(self.dir),
            ],
            self.port,
        )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
            self.proc = None


@dataclass
class RedisCluster:
    """A Redis Cluster of three masters (no replicas) on free ports, for the cluster run of
    the suite (HALLCALL_TEST_REDIS=cluster): halls land on different masters by their tag."""

    dir: Path
    ports: list[int] = field(default_factory=lambda: [cluster_port() for _ in range(3)])
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self) -> RedisCluster:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> RedisCluster:
        for port in self.ports:
            node = self.dir / str(port)
            node.mkdir(parents=True, exist_ok=True)
            proc = subprocess.Popen(
                [
                    need("redis-server"),
                    "--port", str(port),
                    "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", str(node / "nodes.conf"),
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(node),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            self.procs.append(proc)
            wait_port(port, proc, "redis-server (cluster node)")
        subprocess.run(
            [
                need("redis-cli"),
                "--cluster", "create",
                *[f"127.0.0.1:{p}" for p in self.ports],
                "--cluster-replicas", "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = subprocess.run(
                [need("redis-cli"), "-p", str(self.ports[0]), "cluster", "info"],
                capture_output=True,
                text=True,
            ).stdout
            if "cluster_state:ok" in info:
                return self
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not come up")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(10)
        self.procs = []


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free and valid too."""
    rng = random.Random()
    while True:
        port = rng.randrange(20_000, 30_000)
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port


@dataclass
class Broker:
    """Mosquitto with the project's ACL and a password per program user."""

    dir: Path
    port: int = field(default_factory=free_port)
    passwords: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    persistent: bool = False  # keep sessions and queued messages across a restart (like make run)

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
            f"password_file {passwd}\nacl_file {ACL}\n"
            + (
                f"persistence true\npersistence_location {self.dir}/\n"
                if self.persistent
                else "persistence false\n"
            )
            + "max_queued_messages 0\n"  # a slow test subscriber must not lose calls
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        self.proc = start_listening([need("mosquitto"), "-c", str(conf)], self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
            self.proc = None


@dataclass
class HttpProcess:
    """A child HTTP process (the queue server, or the bare app of a benchmark)."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    @classmethod
    def spawn(cls, argv: list[str], env: dict[str, str], log: Path, port: int) -> HttpProcess:
        with log.open("wb") as out:  # the child keeps its own handle
            proc = subprocess.Popen(
                argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        return cls(proc, f"http://127.0.0.1:{port}", log)

    @classmethod
    def queue_server(
        cls,
        config: Path,
        redis_url: str,
        mqtt_url: str,
        log: Path,
        *flags: str,
        env: dict[str, str] | None = None,
    ) -> HttpProcess:
        """The queue server as a child process; `env` adds or overrides HALLCALL_* settings."""
        port = free_port()
        settings = {
            "HALLCALL_CONFIG": str(config),
            "HALLCALL_REDIS_URL": redis_url,
            "HALLCALL_MQTT_URL": mqtt_url,
            "HALLCALL_HTTP": f"127.0.0.1:{port}",
            "HALLCALL_SECRET": SECRET,
        }
        return cls.spawn(
            [str(VENV_BIN / "queue-server"), *flags], settings | (env or {}), log, port
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def status(self, path: str = "/healthz") -> str:
        """The "status" field `path` answers ("ok", "degraded", "down"), or "" if none."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=1) as resp:  # noqa: S310
                return str(json.load(resp).get("status"))
        except (OSError, ValueError):  # not listening yet, or 503 while Redis is away
            return ""

    def wait(self, want: str = "ok", path: str = "/healthz", timeout: float = 20.0) -> None:
        """Until `path` says {"status": want}; for the server "ok" means Redis and every
        hall's MQTT link are up, so no early call waits in a backlog."""

        def says() -> bool:
            return self.status(path) == want

        poll_child(self.proc, says, timeout, f"{self.url}{path} {want!r}", self.log)

    def stop(self) -> None:
        stop_child(self.proc)


def hall_toml(
    hall: str,
    windows: dict[str, dict[str, int]],
    token: Callable[[str], str],
    timezone: str = "Asia/Shanghai",
) -> str:
    """A hall file like the demo's (services A, B, C; the demo's classes), always open, with
    the given windows (id -> service -> offset minutes) and window tokens."""
    lines = [
        f'[hall]\nid = "{hall}"\nname = {{ zh = "测试大厅{hall}" }}\naddress = {{ zh = "本机" }}\n'
        f'timezone = "{timezone}"',
        "[queue]\nissue_outside_hours = true",
        # tests and benchmarks send thousands of token-less requests a second from one address
        "[limits]\npublic_per_minute = 1000000\npublic_burst = 100000",
    ]
    lines += [
        # six digits: benchmarks issue tens of thousands of tickets a day
        f'[[services]]\nid = "{s}"\nname = {{ zh = "业务{s}" }}\navg_minutes = {m}\nwidth = 6'
        for s, m in (("A", 6), ("B", 8), ("C", 15))
    ]
    lines += [
        '[[classes]]\nid = "normal"\nname = { zh = "普通" }',
        '[[classes]]\nid = "green"\nname = { zh = "绿色通道" }\nboost_minutes = 30\ngreen = true',
        '[[classes]]\nid = "appointment"\nname = { zh = "预约" }\nboost_minutes = 15\n'
        "staff_only = true",
    ]
    for wid, services in windows.items():
        offsets = ", ".join(f"{s} = {o}" for s, o in services.items())
        lines.append(
            f'[[windows]]\nid = "{wid}"\nname = {{ zh = "{wid}号窗口" }}\n'
            f'services = {{ {offsets} }}\ntoken_sha256 = "{hash_token(token(wid))}"'
        )
    lines.append(
        f'[[kiosks]]\nid = "k1"\nname = {{ zh = "取号机" }}\n'
        f'token_sha256 = "{hash_token(KIOSK_TOKEN)}"'
    )
    lines.append(f'[managers]\ntoken_sha256 = ["{hash_token(MANAGER_TOKEN)}"]')
    return "\n\n".join(lines) + "\n"
