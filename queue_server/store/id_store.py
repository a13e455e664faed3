"""The hall's ID lists in Redis: blacklisted IDs and registered agents (代办), each a hash of
ID digest -> JSON entry. Only digests (HMAC with the server secret) name an ID here.

Each change is one Redis command on one key, atomic by itself; an entry past its `until` is
ignored by every reader.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from queue_server.store import keys

Kind = Literal["blacklist", "agents"]
Entry = dict[str, Any]


def _key(hall: str, kind: Kind) -> str:
    return keys.id_blacklist(hall) if kind == "blacklist" else keys.id_agents(hall)


def live(entry: Entry | None, now_ms: int) -> bool:
    """An entry that has not expired (`until` in ms, or None: until removed)."""
    return entry is not None and (entry.get("until") is None or int(entry["until"]) > now_ms)


def _decode(raw: Any) -> Entry | None:
    if not raw:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


class IdStore:
    def __init__(self, redis: Any, hall: str) -> None:
        self.redis = redis
        self.hall = hall

    async def lookup(self, digest: str) -> tuple[Entry | None, Entry | None]:
        """The blacklist and agent entries of one ID digest (expired ones too), in one trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(_key(self.hall, "blacklist"), digest)
        pipe.hget(_key(self.hall, "agents"), digest)
        black, agent = await pipe.execute()
        return _decode(black), _decode(agent)

    async def put(self, kind: Kind, digest: str, entry: Entry) -> None:
        await self.redis.hset(_key(self.hall, kind), digest, json.dumps(entry, ensure_ascii=False))

    async def remove(self, kind: Kind, digest: str) -> Entry | None:
        """Remove an entry; the removed one, or None if there was none."""
        key = _key(self.hall, kind)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hget(key, digest)
        pipe.hdel(key, digest)
        raw, _ = await pipe.execute()
        return _decode(raw)

    async def entries(self, kind: Kind, now_ms: int) -> dict[str, Entry]:
        """The live entries (expired ones stay until removed or replaced: a manager sees
        nothing of them, and dropping them here could race with a new entry)."""
        raw = await self.redis.hgetall(_key(self.hall, kind))
        found = {d: _decode(v) for d, v in raw.items()}
        return {d: e for d, e in found.items() if e is not None and live(e, now_ms)}

    async def day_tickets(self, day: str) -> list[Entry]:
        """Every ticket record of a day (for the manager's list of who took several)."""
        raw = await self.redis.hgetall(keys.tickets(self.hall, day))
        return [r for r in (_decode(v) for v in raw.values()) if r is not None]
