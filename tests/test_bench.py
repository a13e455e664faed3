"""The benchmarks' load generators fail on errors instead of reporting their speed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.services import ROOT, HttpProcess, free_port


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpProcess]:
    """bench/bare.py without Redis or a broker: only its plain issue route."""
    port = free_port()
    log = tmp_path_factory.mktemp("bare") / "bare.log"
    p = HttpProcess.spawn([sys.executable, "-m", "bench.bare", str(port)], {}, log, port)
    p.wait()
    yield p
    p.stop()


def bench(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_loadgen_counts_good_answers_and_phones(bare: HttpProcess) -> None:
    url = f"{bare.url}/api/v1/halls/x/tickets"
    out = bench("loadgen", url, "--requests=40", "--concurrency=4", "--warmup=0", "--phone-every=4")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert (result["requests"], result["phones"]) == (40, 10)


def test_loadgen_alternates_slots_without_and_with_phones(bare: HttpProcess) -> None:
    url = f"{bare.url}/api/v1/halls/x/tickets"
    out = bench("loadgen", url, "--alternate=2", "--slot=0.1", "--concurrency=2", "--warmup=0")
    assert out.returncode == 0, out.stderr
    slots = json.loads(out.stdout.splitlines()[-1])["slots"]
    assert [s[0] for s in slots] == [0, 1, 1, 0]  # ABBA
    assert all(s[1] > 0 and s[2] >= 0.1 for s in slots)  # answers, over at least the slot
    assert [s[4] for s in slots] == [0, slots[1][1], slots[2][1], 0]  # a phone each, or none


def test_loadgen_fails_on_the_first_error_and_names_it(bare: HttpProcess) -> None:
    out = bench("loadgen", f"{bare.url}/api/v1/halls/x/nothing", "--requests=40", "--warmup=0")
    assert out.returncode == 1
    assert "answered 404" in out.stderr
    assert out.stdout == ""  # no figures


def test_windows_fails_on_an_error_and_names_it(bare: HttpProcess) -> None:
    # the bare app without Redis has no window routes: every press is a 404
    out = bench("windows", f"{bare.url}/bare/x", "--windows=2", "--seconds=5")
    assert out.returncode == 1
    assert re.search(r"windows/\d/next answered 404", out.stderr), out.stderr
    assert out.stdout == ""


def test_loadgen_fails_when_the_server_is_gone() -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1/halls/x/tickets"
    out = bench("loadgen", url, "--requests=10", "--warmup=0")
    assert out.returncode == 1
    assert "ClientConnectorError" in out.stderr


def test_phone_ratio_pools_alternating_slots_of_both_kinds() -> None:
    """A real server and stack: both kinds issue (a phone ticket refused would stop it)."""
    out = bench("phone_ratio", "--pairs=2", "--slot=0.2", "--concurrency=4", "--warmup=10")
    assert out.returncode == 0, out.stderr
    found = re.search(
        r"no phone (\d+)/s, phone (\d+)/s pooled .*: phone / no phone ([\d.]+)%", out.stdout
    )
    assert found, out.stdout
    nophone, phone, ratio = int(found[1]), int(found[2]), float(found[3])
    assert nophone > 0 and phone > 0
    assert abs(ratio - 100 * phone / nophone) < 2  # the pooled rates' ratio, as printed
