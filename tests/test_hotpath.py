"""What issuing caches to spend less CPU per ticket gives the same answers as working it out
each time: lookups by id (also on a copied hall file), the minutes to closing time across
days, packed arguments, metric children."""

from __future__ import annotations

from queue_server import metrics
from queue_server.clock import ManualClock
from queue_server.domain.hours import minutes_to_close
from queue_server.live import LiveCache
from queue_server.store.pipeline import Packed, command
from tests.conftest import T0, demo_hall


def test_lookups_by_id_follow_a_copied_hall_file() -> None:
    cfg = demo_hall()
    kiosk = cfg.kiosks[0]
    assert cfg.kiosk(kiosk.id) is kiosk
    assert cfg.service(cfg.services[-1].id) is cfg.services[-1]
    assert cfg.window(cfg.windows[0].id) is cfg.windows[0]
    assert cfg.priority_class("normal") is cfg.normal_class
    assert cfg.service("nope") is None and cfg.kiosk("nope") is None
    # a copy with other kiosks answers with its own, the original keeps its own
    changed = cfg.model_copy(
        update={"kiosks": [kiosk.model_copy(update={"max_per_day": 7}), *cfg.kiosks[1:]]}
    )
    found = changed.kiosk(kiosk.id)
    assert found is not None and found.max_per_day == 7
    assert cfg.kiosk(kiosk.id) is kiosk
    assert cfg == demo_hall(cfg.id)  # the index is kept beside the model, not in its equality


def test_minutes_to_close_are_the_same_every_minute_of_three_days() -> None:
    cfg = demo_hall()
    clock = ManualClock(T0)
    live = LiveCache(cfg, clock)
    start = T0 - 11 * 3600 + 0.25  # before midnight, a quarter second past the minute
    for step in range(0, 3 * 24 * 60 + 1, 7):
        now = start + step * 60
        expected = minutes_to_close(cfg.hours, now, cfg.hall.timezone)
        got = live._minutes_to_close(now)
        assert (got is None) == (expected is None), now
        assert got is None or expected is None or abs(got - expected) < 1e-6, now
    # closing time itself, and going back a day (a test clock may)
    assert live._minutes_to_close(T0) == minutes_to_close(cfg.hours, T0, cfg.hall.timezone)


def test_packed_arguments_count_bytes_not_characters() -> None:
    assert Packed.of(["中文", 12, "", "a"]).data == (
        b"$6\r\n\xe4\xb8\xad\xe6\x96\x87\r\n$2\r\n12\r\n$0\r\n\r\n$1\r\na\r\n"
    )
    assert command(Packed.of(["GET"]), Packed.of(["k"])) == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"


def test_a_bound_metric_child_is_the_labelled_one() -> None:
    child = metrics.child(metrics.TICKETS, "hotpath-test", "A")
    assert child is metrics.TICKETS.labels("hotpath-test", "A")
    before = child._value.get()
    metrics.child(metrics.TICKETS, "hotpath-test", "A").inc()
    assert metrics.TICKETS.labels("hotpath-test", "A")._value.get() == before + 1
