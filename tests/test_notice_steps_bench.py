"""bench.notice_steps measures the phone ticket's steps on the forms the server uses now: its
sample ticket_taken entry is the one the issue script's answer gives, and it renders to the
same notice as the Notice dataclass did (an entry form changed under it stopped the bench)."""

from __future__ import annotations

from bench.notice_steps import DEMO, announcer_fields, answer, as_dataclass, taken, typed
from queue_server.announcer import Announcer
from queue_server.clock import SystemClock
from queue_server.config import load_hall
from queue_server.live import LiveCache
from queue_server.protocol import Notice, decode
from queue_server.store.hall_store import Entry, _entries


def test_the_bench_sample_is_the_servers_own_ticket_taken_entry() -> None:
    config = load_hall(DEMO)
    announcer = Announcer(config, LiveCache(config, SystemClock()), "zh")
    entry = Entry("notify", "1764115200123-0", announcer_fields(announcer))
    raw = answer(entry.fields)
    assert [taken(raw)().entry()] == _entries(raw) == [entry]
    assert typed(entry.fields, entry.id) == taken(raw)()
    read = [
        Notice(**{k: v for k, v in decode(p).items() if k != "v"})
        for p in (announcer.render(entry)[1], as_dataclass(announcer, entry))
    ]
    assert read[0] == read[1]
