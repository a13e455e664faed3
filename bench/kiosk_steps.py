"""The server's own steps that only the kiosk route takes, in µs per ticket, in-process (no
network, no Redis: those are in `bench.issue`'s end-to-end ratio): the Idempotency-Key's
claim (key check, keyed request fingerprint, the key's Redis slot), the kiosk's daily cap and
the printer lookup. Beside them, in the same run, the fingerprint as `hmac.new` makes it (the
floor this module's pads beat) and a whole ticket's server CPU for scale (~200 µs).

    .venv/bin/python -m bench.kiosk_steps
"""

from __future__ import annotations

import hashlib
import hmac
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.common import BenchError
from queue_server import identity
from queue_server.api import idempotency
from queue_server.config import load_hall

DEMO = Path(__file__).resolve().parent.parent / "config" / "halls" / "demo.toml"
SECRET = b"s" * 32
PATH = "/api/v1/halls/demo/tickets"
BODY = b'{"service":"A","class":"normal","lang":"zh"}'


def per_call(fn: Callable[[], object], n: int = 50_000) -> float:
    """µs per call, the best of five (a shared machine only ever adds time)."""
    return min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6


def run() -> None:
    config = load_hall(DEMO)
    kiosk = config.kiosks[0]
    key = str(uuid.uuid4())
    raw = b"\0".join((b"POST", PATH.encode(), BODY))

    steps = {
        "key check": lambda: idempotency.check_key(key),
        "fingerprint (pads)": lambda: idempotency.fingerprint("POST", PATH, BODY, SECRET),
        "key slot": lambda: idempotency.slot("demo", f"issue:kiosk:{kiosk.id}", key),
        "kiosk's daily cap": lambda: identity.quotas(config, None, kiosk.id),
        "printer lookup": lambda: config.kiosk(kiosk.id),
    }
    floor = per_call(lambda: hmac.new(SECRET, raw, hashlib.sha256).hexdigest())
    print("kiosk route: server steps only it takes (µs per ticket, in-process)")
    total = 0.0
    for name, fn in steps.items():
        us = per_call(fn)
        total += us
        print(f"  {name:22} {us:6.2f}")
    print(f"  {'total':22} {total:6.2f}   (fingerprint with hmac.new: {floor:.2f})")
    if (
        idempotency.fingerprint("POST", PATH, BODY, SECRET)
        != hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
    ):
        raise BenchError("the fingerprint is not HMAC-SHA256 of the request")


if __name__ == "__main__":
    run()
