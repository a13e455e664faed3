"""Resident ID numbers: the GB 11643 check character, birth date, age and the keyed digest."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queue_server.domain.idnumber import (
    IdNumberError,
    age_on,
    canonical_id,
    check_character,
    id_key,
    masked_id,
)

TODAY = date(2026, 11, 26)


def test_the_standards_example_is_valid_and_written_one_way() -> None:
    # GB 11643-1999's own example number.
    assert canonical_id("11010519491231002x", TODAY) == "11010519491231002X"
    assert canonical_id("110105 19491231 002X", TODAY) == "11010519491231002X"
    assert age_on("11010519491231002X", TODAY) == 76


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("11010519491231002", "17 digits"),
        ("1101051949123100211", "17 digits"),
        ("110105194912310021", "check digit"),
        ("11010519490231002X", "birth date does not exist"),
        ("110105" + "20300101" + "0010", "impossible"),
        ("1" * 41, "too long"),
    ],
)
def test_bad_numbers_say_what_is_wrong(raw: str, why: str) -> None:
    with pytest.raises(IdNumberError, match=why):
        canonical_id(raw, TODAY)


FIRST17 = r"[1-6][0-9]{5}(19[0-9]{2}|20[01][0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}"


@given(st.from_regex(FIRST17, fullmatch=True))
def test_one_mistyped_digit_is_always_caught(first17: str) -> None:
    good = first17 + check_character(first17)
    assert canonical_id(good, TODAY) == good
    for i in range(14, 17):  # sequence digits: the date stays valid, the check must catch it
        wrong = good[:i] + str((int(good[i]) + 1) % 10) + good[i + 1 :]
        with pytest.raises(IdNumberError, match="check digit"):
            canonical_id(wrong, TODAY)


def test_age_turns_on_the_birthday() -> None:
    first17 = "11010519600101001"
    n = first17 + check_character(first17)
    assert age_on(n, date(2020, 12, 31)) == 60
    assert age_on(n, date(2020, 1, 1)) == 60
    assert age_on(n, date(2019, 12, 31)) == 59


def test_the_digest_depends_on_the_secret_and_hall_and_the_mask_hides_it() -> None:
    n = "11010519491231002X"
    assert id_key(b"s" * 32, "demo", n) != id_key(b"t" * 32, "demo", n)
    assert id_key(b"s" * 32, "demo", n) != id_key(b"s" * 32, "other", n)
    assert n not in id_key(b"s" * 32, "demo", n)
    assert masked_id(n) == "1" + "*" * 16 + "X"
