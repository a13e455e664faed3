"""Staff sign-in at a window: the PIN checked against its scrypt hash, wrong PINs counted, a
lockout after the hall's limit (logged), then one atomic change that binds or frees the
window's staff, which every later event of that window carries."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from typing import TYPE_CHECKING

from queue_server.domain.masking import mask_name
from queue_server.domain.secrets import hash_secret, verify_secret
from queue_server.errors import Refused
from queue_server.store import keys
from queue_server.views import StaffOutcome

if TYPE_CHECKING:
    from queue_server.hall import Hall

log = logging.getLogger(__name__)


@functools.cache
def _nobody() -> str:
    """An unknown staff id is checked against this, so a wrong id costs as long as a wrong PIN
    and tells nothing about which ids exist."""
    return hash_secret("-", salt=b"hallcall-nobody!")


async def signin(hall: Hall, window: str, staff_id: str, pin: str) -> StaffOutcome:
    rules, redis, h = hall.config.staff_rules, hall.store.redis, hall.id
    fails_key = keys.staff_fails(h, staff_id)
    fails = int(await redis.get(fails_key) or 0)
    if fails >= rules.max_wrong_pins:
        left = max(1, math.ceil(max(await redis.ttl(fails_key), 0) / 60))
        raise Refused("staff_locked", f"staff {staff_id} is locked for {left} more minutes")
    member = hall.config.staff_member(staff_id)
    stored = member.secret_hash if member else _nobody()
    good = await asyncio.to_thread(verify_secret, pin, stored) and member is not None
    if not good:
        fails = int(await redis.incr(fails_key))
        await redis.expire(fails_key, round(rules.lockout_minutes * 60))
        if fails >= rules.max_wrong_pins:
            log.warning(
                "hall %s: staff id %s locked for %g min after %d wrong PINs (at window %s)",
                h,
                staff_id,
                rules.lockout_minutes,
                fails,
                window,
            )
        raise Refused("bad_pin", "the staff id or PIN is not right")
    await redis.delete(fails_key)
    seq, before, entries = await hall.do(hall.store.staff(window, "signin", staff_id))
    hall.after(entries, {window})
    if before and before != staff_id:
        log.info("hall %s: staff %s replaces %s at window %s", h, staff_id, before, window)
    return StaffOutcome("signin", window, staff_id, mask_name(member.name if member else ""), seq)


async def signout(hall: Hall, window: str) -> StaffOutcome:
    seq, before, entries = await hall.do(hall.store.staff(window, "signout"))
    hall.after(entries, {window})
    member = hall.config.staff_member(before)
    return StaffOutcome("signout", window, before, mask_name(member.name if member else ""), seq)
