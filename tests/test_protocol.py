"""The notify payload's two forms: one notice, or a burst's notices in one message."""

from __future__ import annotations

import msgpack
import pytest

from queue_server.protocol import (
    SCHEMA_VERSION,
    Notice,
    Pairs,
    ProtocolError,
    decode,
    encode,
    notices_in,
    pack,
    pack_map,
    pack_notices,
)


@pytest.mark.parametrize("n", [1, 2, 15, 16, 200])
def test_several_notices_travel_as_one_payload(n: int) -> None:
    sent = [
        Notice("called", f"138{k:08d}", f"A{k:03d}", "A", 1.5, window="3", id=f"{k}-0")
        for k in range(n)
    ]
    body = decode(pack_notices([encode(x) for x in sent]))
    got = notices_in(body)
    assert [g["number"] for g in got] == [x.number for x in sent]
    assert all(g["v"] == SCHEMA_VERSION and g["window"] == "3" for g in got)
    assert ("notices" in body) == (n > 1)


@pytest.mark.parametrize(("fixed", "more"), [(0, 0), (6, 7), (6, 9), (1, 15), (6, 10), (15, 20)])
def test_a_map_packed_from_fixed_pairs_and_a_flat_list_is_the_whole_maps(
    fixed: int, more: int
) -> None:
    """Across the one-byte headers' limits (15 pairs, 15 items) and with values of every kind."""
    shared = {f"f{k}": ["x", k, None, 1.5, [k], True][k % 6] for k in range(fixed)}
    own = {f"o{k}": [f"{k}" * k, -k, 2.25, None, [1, "a"], False][k % 6] for k in range(more)}
    flat = [x for kv in own.items() for x in kv]
    packed = pack_map(Pairs.of(shared), flat)
    assert msgpack.unpackb(packed) == shared | own
    assert packed == pack(shared | own)  # the same bytes as the map packed whole


def test_a_bad_burst_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="201 notices"):
        pack_notices([encode(Notice("called", "1", "A001", "A", 1.0))] * 201)
    with pytest.raises(ProtocolError, match="notices is a int"):
        notices_in({"v": SCHEMA_VERSION, "notices": 3})


@pytest.mark.parametrize("payload", [b"\xc1garbage", b"", b"\x92\x01"])
def test_an_unreadable_payload_says_why_in_its_one_line(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as err:
        decode(payload)
    why = str(err.value)
    assert "\n" not in why and not why.endswith(": ") and len(why) > len("not a msgpack payload: ")
