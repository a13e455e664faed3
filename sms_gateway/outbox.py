"""The gateway's durable outbox: SQLite in WAL mode, one row per notice.

A notice is committed here before the broker gets its acknowledgement, so a crash at any
moment loses nothing. Unique indexes on (hall, notice id) and (hall, dedupe key) make a
redelivered notice a no-op, so nothing is sent twice. Rows move
pending → sending → sent | dropped | dead (and back to pending on a retry). Rows left in
"sending" by a crash go back to pending at start; their retry carries the same idempotency
key, so a provider that honours it does not deliver twice. For providers that do not (Aliyun,
Tencent), `doubt` keeps when an attempt may have been accepted without an answer (a timeout, a
lost connection, a crash while sending): such a row is looked up at the provider before it is
sent again.

WAL with synchronous=NORMAL survives a killed process (what the tests do); a power cut may
lose the last commits, which the broker then redelivers (the ack had not been sent) — except
for commits the OS had not flushed after the ack. `synchronous` = FULL closes that gap.

All calls run on one worker thread that owns the connection, so the event loop never waits
on the disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS notices (
    uid INTEGER PRIMARY KEY AUTOINCREMENT,
    hall TEXT NOT NULL,
    notice_id TEXT NOT NULL,
    dedupe TEXT NOT NULL,
    kind TEXT NOT NULL,
    ticket TEXT NOT NULL,
    phone TEXT,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    due REAL NOT NULL,
    noticed REAL NOT NULL,
    received REAL NOT NULL,
    done REAL,
    receipt TEXT,
    error TEXT,
    doubt REAL NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS notices_by_id ON notices(hall, notice_id) WHERE notice_id != '';
CREATE UNIQUE INDEX IF NOT EXISTS notices_by_key ON notices(hall, dedupe);
CREATE INDEX IF NOT EXISTS notices_due ON notices(state, due);
CREATE INDEX IF NOT EXISTS notices_done ON notices(done) WHERE phone IS NOT NULL;
CREATE TABLE IF NOT EXISTS halls (hall TEXT PRIMARY KEY, message TEXT NOT NULL);
"""

OPEN = ("pending", "sending")


def dedupe_key(notice: Mapping[str, Any]) -> str:
    """Two notices with this key are one notice: the server's key ("{ticket}/{kind}/{round}"),
    else (ticket, kind), else the notice id, else the payload itself."""
    if notice.get("key"):
        return str(notice["key"])
    if notice.get("ticket"):
        return f"{notice['ticket']}/{notice.get('kind', '')}"
    if notice.get("id"):
        return f"id:{notice['id']}"
    raw = json.dumps(notice, sort_keys=True, default=str).encode()
    return "sha:" + hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Row:
    uid: int
    hall: str
    dedupe: str
    kind: str
    ticket: str
    phone: str
    notice: dict[str, Any]  # the notice's fields, phone included
    attempts: int
    state: str = "sending"
    error: str = ""
    doubt: float = 0.0  # when an attempt that may have been accepted was made (0: none)

    @property
    def idempotency_key(self) -> str:
        """Stable across restarts, redeliveries and data loss: the notice's own key."""
        return f"{self.hall}/{self.dedupe}"


class Outbox:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "outbox.sqlite3"
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sms-outbox")
        self._db: sqlite3.Connection | None = None
        self._adds: list[tuple[str, Mapping[str, Any], float, asyncio.Future[bool]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    # -- lifecycle --------------------------------------------------------------------------

    def open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(notices)")}
        if "doubt" not in columns:  # an outbox from before lookups
            db.execute("ALTER TABLE notices ADD COLUMN doubt REAL NOT NULL DEFAULT 0")
        self._db = db

    async def open(self) -> Outbox:
        await self._run(self.open_sync)
        return self

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the outbox is not open")
        return self._db

    # -- writes from the MQTT link ------------------------------------------------------------

    def add_sync(self, hall: str, notice: Mapping[str, Any], now: float) -> bool:
        """Store a notice; False when it is already here (a redelivery or a duplicate)."""
        return self.add_many_sync([(hall, notice, now)])[0]

    def add_many_sync(self, items: list[tuple[str, Mapping[str, Any], float]]) -> list[bool]:
        """Store notices in one transaction (one commit for a burst)."""
        db = self.db
        db.execute("BEGIN")
        try:
            added = [self._insert(hall, notice, now) for hall, notice, now in items]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return added

    def _insert(self, hall: str, notice: Mapping[str, Any], now: float) -> bool:
        body = {k: v for k, v in notice.items() if k not in ("phone", "v")}
        cur = self.db.execute(
            "INSERT OR IGNORE INTO notices"
            " (hall, notice_id, dedupe, kind, ticket, phone, body, due, noticed, received)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                hall,
                str(notice.get("id") or ""),
                dedupe_key(notice),
                str(notice.get("kind", "")),
                str(notice.get("ticket", "")),
                str(notice.get("phone", "")),
                json.dumps(body, ensure_ascii=False, default=str),
                now,
                float(notice.get("time") or now),
                now,
            ),
        )
        return cur.rowcount == 1

    async def add(self, hall: str, notice: Mapping[str, Any], now: float) -> bool:
        """Store a notice (committed when this returns); False when it was here already."""
        return (await self.add_many(hall, [notice], now))[0]

    async def add_many(
        self, hall: str, notices: Sequence[Mapping[str, Any]], now: float
    ) -> list[bool]:
        """Store notices (all committed when this returns). Notices added while a commit is
        under way share the next one: a thread hop per notice would cap ingestion (about
        1,600/s on a busy 2-core machine) well below what one commit per burst allows."""
        loop = asyncio.get_running_loop()
        waits: list[asyncio.Future[bool]] = []
        first = not self._adds
        for notice in notices:
            done: asyncio.Future[bool] = loop.create_future()
            self._adds.append((hall, notice, now, done))
            waits.append(done)
        if first and waits:
            self._flushing.add(asyncio.create_task(self._flush_adds()))
        return list(await asyncio.gather(*waits))

    async def _flush_adds(self) -> None:
        try:
            await asyncio.sleep(0)  # let callbacks running together join this batch
            batch, self._adds = self._adds, []
            try:
                added = await self._run(self.add_many_sync, [(h, n, t) for h, n, t, _ in batch])
            except Exception as exc:
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                return
            for (*_, done), ok in zip(batch, added, strict=True):
                if not done.done():
                    done.set_result(ok)
        finally:
            self._flushing.discard(asyncio.current_task())

    def save_hall_sync(self, hall: str, message: Mapping[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO halls (hall, message) VALUES (?, ?)"
            " ON CONFLICT(hall) DO UPDATE SET message = excluded.message",
            (hall, json.dumps(message, ensure_ascii=False)),
        )

    async def save_hall(self, hall: str, message: Mapping[str, Any]) -> None:
        await self._run(self.save_hall_sync, hall, message)

    def halls_sync(self) -> dict[str, dict[str, Any]]:
        rows = self.db.execute("SELECT hall, message FROM halls").fetchall()
        return {h: json.loads(m) for h, m in rows}

    async def halls(self) -> dict[str, dict[str, Any]]:
        return await self._run(self.halls_sync)

    # -- the senders' side ----------------------------------------------------------------------

    def recover_sync(self) -> int:
        """Rows a crash left in "sending" go back to pending (same idempotency key), in doubt
        since they became due: their request may have been accepted."""
        cur = self.db.execute(
            "UPDATE notices SET state = 'pending',"
            " doubt = CASE WHEN doubt > 0 THEN doubt ELSE due END WHERE state = 'sending'"
        )
        return cur.rowcount

    async def recover(self) -> int:
        return await self._run(self.recover_sync)

    def claim_sync(self, now: float, limit: int) -> list[Row]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            found = db.execute(
                "SELECT uid, hall, dedupe, kind, ticket, phone, body, attempts, doubt"
                " FROM notices WHERE state = 'pending' AND due <= ? ORDER BY due, uid LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE notices SET state = 'sending' WHERE uid = ?", [(r[0],) for r in found]
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        rows = []
        for uid, hall, dedupe, kind, ticket, phone, body, attempts, doubt in found:
            notice = json.loads(body)
            notice["phone"] = phone or ""
            rows.append(
                Row(uid, hall, dedupe, kind, ticket, phone or "", notice, attempts, doubt=doubt)
            )
        return rows

    async def claim(self, now: float, limit: int) -> list[Row]:
        return await self._run(self.claim_sync, now, limit)

    def claim_next_sync(self, now: float, limit: int) -> tuple[list[Row], float | None]:
        """Due rows, and when the next pending row is due once they are claimed (None: none)
        if they were fewer than `limit`: one trip to the outbox's thread per round."""
        rows = self.claim_sync(now, limit)
        return rows, None if len(rows) == limit else self.next_due_sync()

    async def claim_next(self, now: float, limit: int) -> tuple[list[Row], float | None]:
        return await self._run(self.claim_next_sync, now, limit)

    def next_due_sync(self) -> float | None:
        found = self.db.execute("SELECT MIN(due) FROM notices WHERE state = 'pending'").fetchone()
        return None if found is None or found[0] is None else float(found[0])

    async def next_due(self) -> float | None:
        return await self._run(self.next_due_sync)

    def settle_sync(self, outcomes: list[Outcome]) -> None:
        """Record what happened to claimed rows, in one transaction."""
        db = self.db
        db.execute("BEGIN")
        try:
            for o in outcomes:
                if o.state == "pending":
                    db.execute(
                        "UPDATE notices SET state = 'pending', due = ?, attempts = attempts + ?,"
                        " error = ?, doubt = CASE WHEN doubt > 0 THEN doubt ELSE ? END"
                        " WHERE uid = ?",
                        (o.at, o.failed, o.error, o.doubt, o.uid),
                    )
                else:
                    db.execute(
                        "UPDATE notices SET state = ?, done = ?, receipt = ?, error = ?,"
                        " attempts = attempts + ?, doubt = CASE WHEN doubt > 0 THEN doubt ELSE ?"
                        " END WHERE uid = ?",
                        (o.state, o.at, o.receipt, o.error, o.failed, o.doubt, o.uid),
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def settle(self, outcomes: list[Outcome]) -> None:
        if outcomes:
            await self._run(self.settle_sync, outcomes)

    def depth_sync(self) -> int:
        found = self.db.execute(
            "SELECT COUNT(*) FROM notices WHERE state IN ('pending', 'sending')"
        ).fetchone()
        return int(found[0])

    async def depth(self) -> int:
        return await self._run(self.depth_sync)

    def counts_sync(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM notices GROUP BY state").fetchall()
        return {state: int(n) for state, n in rows}

    def forget_phones_sync(self, before: float) -> int:
        """Privacy: settled rows lose the phone number once older than the retention."""
        cur = self.db.execute(
            "UPDATE notices SET phone = NULL WHERE phone IS NOT NULL AND done IS NOT NULL"
            " AND done < ? AND state IN ('sent', 'dropped', 'dead')",
            (before,),
        )
        return cur.rowcount

    async def forget_phones(self, before: float) -> int:
        return await self._run(self.forget_phones_sync, before)

    # -- dead letters (the `dead` subcommand works on the file directly) --------------------

    def dead_sync(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT uid, hall, kind, ticket, phone, attempts, done, error, body FROM notices"
            " WHERE state = 'dead' ORDER BY uid"
        ).fetchall()
        out = []
        for uid, hall, kind, ticket, phone, attempts, done, error, body in rows:
            number = json.loads(body).get("number", "")
            out.append(
                {
                    "uid": uid,
                    "hall": hall,
                    "kind": kind,
                    "ticket": ticket,
                    "number": number,
                    "phone": phone or "",
                    "attempts": attempts,
                    "failed_at": done,
                    "error": error or "",
                }
            )
        return out

    def retry_dead_sync(self, uids: list[int] | None, now: float) -> int:
        """Dead rows (all, or those named) go back to pending with a fresh attempt count;
        rows whose phone the retention already removed cannot be sent and stay dead."""
        where = "state = 'dead' AND phone IS NOT NULL AND phone != ''"
        args: list[Any] = [now]
        if uids is not None:
            where += f" AND uid IN ({','.join('?' * len(uids))})"
            args += uids
        cur = self.db.execute(
            f"UPDATE notices SET state = 'pending', attempts = 0, due = ?, done = NULL"  # noqa: S608
            f" WHERE {where}",
            args,
        )
        return cur.rowcount


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a claimed row: `state` "sent", "dropped", "dead", or "pending" again
    at `at`; `failed` 1 when this attempt counts as a failure; `doubt` the time of this
    attempt when it may have been accepted (a row, once in doubt, stays so)."""

    uid: int
    state: str
    at: float  # when it was settled, or when to try again
    receipt: str = ""
    error: str = ""
    failed: int = 0
    doubt: float = 0.0
