"""Staff PINs and passwords, hashed with scrypt (pure, stdlib).

PINs are short, so a fast hash (sha256) would fall to a brute force of every PIN in
seconds; scrypt with a salt makes each guess cost ~16 MB and tens of milliseconds, and the
server's lockout after five wrong PINs does the rest. Format:
``scrypt$<log2 n>$<r>$<p>$<salt, base64>$<hash, base64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

LOG2_N, R, P = 14, 8, 1
_MAXMEM = 64 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_secret(secret: str, salt: bytes | None = None, log2_n: int = LOG2_N) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=2**log2_n, r=R, p=P, maxmem=_MAXMEM, dklen=32
    )
    return f"scrypt${log2_n}${R}${P}${_b64(salt)}${_b64(digest)}"


def valid_hash(stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        base64.b64decode(parts[4], validate=True)
        base64.b64decode(parts[5], validate=True)
    except ValueError:
        return False
    return 10 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4


def verify_secret(secret: str, stored: str) -> bool:
    """True when `secret` matches; a malformed hash matches nothing."""
    if not valid_hash(stored):
        return False
    _, log2_n, r, p, salt, want = stored.split("$")
    got = hashlib.scrypt(
        secret.encode("utf-8", "surrogateescape"),
        salt=base64.b64decode(salt),
        n=2 ** int(log2_n),
        r=int(r),
        p=int(p),
        maxmem=_MAXMEM,
        dklen=len(base64.b64decode(want)),
    )
    return hmac.compare_digest(got, base64.b64decode(want))
