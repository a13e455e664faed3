"""Senders: claim due rows from the outbox, check them, render them, send them, record it.

A claimer task fills a queue that `concurrency` workers drain; each worker's outcome is
batched into one outbox transaction every few milliseconds. Limits: the provider's QPS (a
token bucket), a per-phone limit (a row over it waits, it is not a failure), and retries with
exponential backoff and jitter up to `max_attempts`, then the dead letters. A row whose
earlier attempt may have been accepted (no answer came) is first looked up at a provider that
can say (Aliyun, Tencent): sent already, or sent now, never twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sms_gateway import metrics
from sms_gateway.checker import Checker, stale
from sms_gateway.limits import PhoneLimit, TokenBucket, mask_phone, retry_delay
from sms_gateway.outbox import Outbox, Outcome, Row
from sms_gateway.providers import Lookup, Outgoing, Provider, ProviderError
from sms_gateway.texts import HallTexts, provider_template, render, status_link

log = logging.getLogger(__name__)

HALL_WAIT = 1.0  # seconds a row waits for its hall's texts (the retained `hall` message)


@dataclass(frozen=True)
class Policy:
    qps: float = 50
    concurrency: int = 32
    phone_limit: int = 5
    phone_window: float = 60
    max_attempts: int = 10
    retry_base: float = 1.0
    retry_cap: float = 60.0
    lang: str = "zh"


class Sender:
    def __init__(
        self,
        outbox: Outbox,
        provider: Provider,
        halls: dict[str, HallTexts],
        policy: Policy,
        checker: Checker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.provider = provider
        self.halls = halls
        self.policy = policy
        self.checker = checker
        self.clock = clock
        self._bucket = TokenBucket(policy.qps)
        self._phones = PhoneLimit(policy.phone_limit, policy.phone_window)
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._queue: asyncio.Queue[Row] = asyncio.Queue()
        self._inflight = 0
        self._room = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._flush = asyncio.Event()

    def wake(self) -> None:
        """Something new is due (a notice arrived, a hall's texts came)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._room.set()

    async def run(self) -> None:
        recovered = await self.outbox.recover()
        if recovered:
            log.info(
                "%d notices were being sent when the gateway stopped; sending them again "
                "with the same idempotency keys",
                recovered,
            )
        workers = [asyncio.create_task(self._work()) for _ in range(self.policy.concurrency)]
        flusher = asyncio.create_task(self._flusher())
        try:
            await self._claim_loop()
        finally:
            for w in workers:
                w.cancel()
            for w in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await w
            while not self._queue.empty():  # claimed, never started: pending again
                row = self._queue.get_nowait()
                self._outcomes.append(Outcome(row.uid, "pending", self.clock()))
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await self.outbox.settle(self._take_outcomes())

    async def _claim_loop(self) -> None:
        limit = self.policy.concurrency * 4
        pruned = self.clock()
        while not self._stopped.is_set():
            self._wake.clear()
            if self.clock() - pruned > 60:
                pruned = self.clock()
                self._phones.prune(pruned)
            room = limit - self._inflight
            if room <= 0:
                self._room.clear()
                await self._room.wait()  # outcomes recorded: room again
                continue
            rows, due = await self.outbox.claim_next(self.clock(), room)
            for row in rows:
                self._inflight += 1
                self._queue.put_nowait(row)
            if len(rows) == room:
                continue  # maybe more due: claim again when there is room
            timeout = 1.0 if due is None else min(1.0, max(0.0, due - self.clock()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _work(self) -> None:
        while True:
            row = await self._queue.get()
            try:
                outcome = await self._handle(row)
            except Exception as exc:  # a bug or a plugin's surprise: retry, keep running
                log.exception("sending notice %d failed unexpectedly", row.uid)
                outcome = self._failed(row, ProviderError("internal", str(exc), retry=True))
            self._outcomes.append(outcome)
            self._flush.set()

    def _take_outcomes(self) -> list[Outcome]:
        out, self._outcomes = self._outcomes, []
        return out

    async def _flusher(self) -> None:
        while True:
            await self._flush.wait()
            await asyncio.sleep(0.002)  # let a burst of outcomes share one transaction
            self._flush.clear()
            batch = self._take_outcomes()
            try:
                await self.outbox.settle(batch)
            except Exception:
                log.exception("cannot record %d outcomes; they will be sent again", len(batch))
            # A row counts as claimed until its outcome is recorded, so a crash sends again
            # at most the rows claimed at once.
            self._inflight -= len(batch)
            self._room.set()
            self._wake.set()  # retries scheduled soon, rows freed

    async def _handle(self, row: Row) -> Outcome:
        now = self.clock()
        hall = self.halls.get(row.hall)
        if hall is None:
            log.info("hall %s: waiting for its texts (the retained hall message)", row.hall)
            return Outcome(row.uid, "pending", now + HALL_WAIT)
        if self.checker is not None and row.ticket:
            reason = stale(row.kind, await self.checker.state(row.hall, row.ticket))
            if reason:
                return self._drop(row, reason)
        lang = hall.lang_of(row.notice, self.policy.lang)
        if row.kind == "finished" and not status_link(
            str(hall.sms.get("link", "")), row.notice, row.hall, lang
        ):  # a rating text without its link (no link, or a server that sends no secret)
            return self._drop(row, "no_rating_link")
        template = provider_template(row.notice, hall, self.provider.name, lang)
        text = render(row.notice, hall, lang)
        if self.provider.needs_template and template is None:
            return self._dead(row, f"no {self.provider.name} template for {row.kind}")
        if not text and template is None:
            return self._drop(row, "no_template")
        message = Outgoing(
            row.idempotency_key, row.phone, text, row.kind, lang, row.hall, row.ticket, template
        )
        if row.doubt and isinstance(self.provider, Lookup):
            settled = await self._look_up(self.provider, row, message, now)
            if settled is not None:
                return settled
        wait = self._phones.wait(row.phone, now)
        if wait > 0:
            return Outcome(row.uid, "pending", now + wait)
        await self._bucket.acquire()
        try:
            receipt = await self.provider.send(message)
        except ProviderError as exc:
            self._phones.release(row.phone, now)
            return self._failed(row, exc, now)
        done = self.clock()
        metrics.SENT.labels(row.kind).inc()
        metrics.LATENCY.observe(max(0.0, done - float(row.notice.get("time") or done)))
        return Outcome(row.uid, "sent", done, receipt=receipt)

    async def _look_up(
        self, provider: Lookup, row: Row, message: Outgoing, now: float
    ) -> Outcome | None:
        """An earlier attempt may have been accepted: ask the provider. An outcome when it has
        the message (sent: not again) or cannot tell (later); None when it has no record."""
        ready = row.doubt + provider.lookup_grace
        if now < ready:  # the provider's records may not list it yet
            return Outcome(row.uid, "pending", ready)
        await self._bucket.acquire()  # a query counts against the provider's QPS too
        try:
            receipt = await provider.lookup(message, row.doubt)
        except ProviderError as exc:
            metrics.LOOKUPS.labels("failed").inc()
            return self._failed(row, exc, now)
        what = f"{row.kind} notice of {row.notice.get('number', '')} in hall {row.hall}"
        if receipt is None:
            metrics.LOOKUPS.labels("absent").inc()
            log.info("%s: the provider has no record of the unanswered attempt; sending", what)
            return None
        metrics.LOOKUPS.labels("found").inc()
        metrics.SENT.labels(row.kind).inc()
        log.info("%s: the provider accepted the unanswered attempt; not sent again", what)
        return Outcome(row.uid, "sent", self.clock(), receipt=receipt)

    def _drop(self, row: Row, reason: str) -> Outcome:
        log.info(
            "dropped %s notice of %s in hall %s for %s: %s",
            row.kind,
            row.notice.get("number", ""),
            row.hall,
            mask_phone(row.phone),
            reason,
        )
        metrics.DROPPED.labels(reason).inc()
        return Outcome(row.uid, "dropped", self.clock(), error=reason)

    def _dead(self, row: Row, error: str, doubt: float = 0.0) -> Outcome:
        log.error(
            "dead letter: %s notice of %s in hall %s for %s after %d attempts: %s",
            row.kind,
            row.notice.get("number", ""),
            row.hall,
            mask_phone(row.phone),
            row.attempts + 1,
            error,
        )
        metrics.DEAD.inc()
        return Outcome(row.uid, "dead", self.clock(), error=error, failed=1, doubt=doubt)

    def _failed(self, row: Row, exc: ProviderError, at: float = 0.0) -> Outcome:
        """`at`: when the attempt began (it is in doubt from then if `exc` is ambiguous)."""
        metrics.FAILED.labels(exc.code).inc()
        if row.phone and row.phone in str(exc):  # a provider that echoes the number
            exc = ProviderError(
                exc.code,
                str(exc).replace(row.phone, mask_phone(row.phone)),
                retry=exc.retry,
                limited=exc.limited,
            )
        failures = row.attempts + 1
        doubt = (at or self.clock()) if exc.ambiguous else 0.0  # a manual retry looks it up
        if not exc.retry or (failures >= self.policy.max_attempts and not exc.limited):
            return self._dead(row, str(exc), doubt)
        delay = retry_delay(failures, self.policy.retry_base, self.policy.retry_cap)
        log.warning(
            "send of %s notice for %s failed (%s); attempt %d, retrying in %.1fs",
            row.kind,
            mask_phone(row.phone),
            exc,
            failures,
            delay,
        )
        metrics.RETRIED.inc()
        return Outcome(
            row.uid,
            "pending",
            self.clock() + delay,
            error=str(exc),
            failed=0 if exc.limited else 1,
            doubt=doubt,
        )
