"""The MQTT 3.1.1 codec on its own (queue_server.mqttwire), against the spec's byte layouts."""

from __future__ import annotations

import pytest

from queue_server import mqttwire as wire


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (wire.MAX_REMAINING, b"\xff\xff\xff\x7f"),  # the spec's table, 2.2.3
    ],
)
def test_remaining_length_round_trips(n: int, encoded: bytes) -> None:
    assert wire.encode_length(n) == encoded
    assert wire.decode_length(b"\x30" + encoded + b"rest", 1) == (n, 1 + len(encoded))
    # any prefix of it is "not here yet", not an error
    for cut in range(len(encoded)):
        assert wire.decode_length(b"\x30" + encoded[:cut], 1) is None


def test_lengths_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="268435456 is out of"):
        wire.encode_length(wire.MAX_REMAINING + 1)
    with pytest.raises(wire.MalformedPacket, match="longer than four bytes"):
        wire.decode_length(b"\x40\xff\xff\xff\xff\x01", 1)


def test_connect_with_will_user_and_password() -> None:
    will = wire.Will("a/b", b"off", qos=1, retain=True)
    got = wire.connect("cid", username="u", password="pw", keepalive=15, will=will)
    body = (
        b"\x00\x04MQTT\x04"
        + bytes([0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02])  # user, pass, retain, qos 1, will, clean
        + b"\x00\x0f"
        + b"\x00\x03cid"
        + b"\x00\x03a/b\x00\x03off"
        + b"\x00\x01u\x00\x02pw"
    )
    assert got == bytes([0x10, len(body)]) + body
    assert wire.connect("c")[9] == 0x02  # clean session alone


def test_publish_layouts() -> None:
    assert wire.publish("t/é", b"xy", qos=1, retain=True, mid=0x0102) == (
        b"\x33\x0a\x00\x04t/\xc3\xa9\x01\x02xy"
    )
    assert wire.publish("t", b"", qos=0) == b"\x30\x03\x00\x01t"
    big = wire.publish("t", bytes(200), qos=1, mid=7)
    assert big[:3] == b"\x32\xcd\x01" and len(big) == 3 + 205  # 2+1+2+200: two length bytes


def test_reader_splits_partial_and_joined_packets() -> None:
    stream = (
        b"\x20\x02\x00\x00"  # CONNACK accepted
        + b"\x40\x02\x00\x01"  # PUBACK 1
        + b"\x40\x02\xff\xff"  # PUBACK 65535
        + b"\xd0\x00"  # PINGRESP
        + b"\x90\x03\x00\x05\x01"  # SUBACK 5, granted QoS 1
        + wire.publish("x", bytes(300), qos=1, mid=9)  # a long one: two length bytes
    )
    for step in (1, 2, 3, 5, len(stream)):
        reader, got = wire.Reader(), []
        for i in range(0, len(stream), step):
            got += reader.feed(stream[i : i + step])
        assert [p.type for p in got] == [0x20, 0x40, 0x40, 0xD0, 0x90, 0x30]
        assert wire.connack_code(got[0].body) == 0
        assert [wire.packet_id(p.body) for p in got[1:3]] == [1, 0xFFFF]
        assert wire.packet_id(got[4].body) == 5
        assert got[5].body[-300:] == bytes(300) and got[5].kind == 0x32


def test_reader_refuses_what_is_not_mqtt() -> None:
    with pytest.raises(wire.MalformedPacket, match="longer than four bytes"):
        wire.Reader().feed(b"\x40\xff\xff\xff\xff")
    with pytest.raises(wire.MalformedPacket, match="bytes from the broker"):
        wire.Reader(max_length=16).feed(b"\x30\x80\x01")
    with pytest.raises(wire.MalformedPacket, match="CONNACK of 1 bytes"):
        wire.connack_code(b"\x00")
    with pytest.raises(wire.MalformedPacket, match="acknowledgement of 0 bytes"):
        wire.packet_id(b"")
