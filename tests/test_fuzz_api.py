"""Schemathesis fuzzes the running server from its own OpenAPI document: no request, however
odd, gets a server error or an answer that breaks the document."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO
from tests.services import Broker, HttpProcess, RedisServer


@pytest.mark.slow
def test_fuzz_the_openapi_document(
    tmp_path: Path, redis_server: RedisServer, broker: Broker
) -> None:
    (tmp_path / "schemathesis.toml").write_text(
        '[parameters]\n"path.hall" = "demo"\n"path.window" = "3"\n', encoding="utf-8"
    )
    server = HttpProcess.queue_server(DEMO, redis_server.url, broker.url(), tmp_path / "log")
    try:
        server.wait(timeout=90)  # generous: a loaded machine starts it slowly
        out = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{server.url}/api/v1/openapi.json",
                "-H",
                "Authorization: Bearer demo-manager",
                "--checks",
                "not_a_server_error,status_code_conformance,response_schema_conformance",
                "--max-examples",
                "25",
                "--seed",
                "20261126",
                # a loaded machine (2 cores, several suites) slows the server and the data
                # generation alike: generous per-request time, no generation-speed check
                "--request-timeout",
                "60",
                "--suppress-health-check",
                "too_slow",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=480,
            check=False,
        )
    finally:
        server.stop()
    assert out.returncode == 0, out.stdout[-4000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", out.stdout)
    assert counts and counts[1] == counts[2] and int(counts[1]) > 500, out.stdout[-2000:]
    log = server.log_text()
    assert "Traceback" not in log, log[log.find("Traceback") - 200 :][:3000]
