"""Pure parts of staff sign-in and 好差评: PIN hashes, the rating rules, the pad's screens, the
hall file's staff and rating sections."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from queue_server.config import ConfigError, load_hall
from queue_server.domain import rating
from queue_server.domain.secrets import hash_secret, valid_hash, verify_secret
from tests.conftest import DEMO, demo_file
from tests.services import VENV_BIN
from window_client.pad import refusal
from window_client.pad_state import PadState


def test_pin_hashes_are_salted_scrypt() -> None:
    a, b = hash_secret("1234"), hash_secret("1234")
    assert a != b and a.startswith("scrypt$14$8$1$") and valid_hash(a)
    assert verify_secret("1234", a) and not verify_secret("1235", a)
    assert not verify_secret("1234", "sha256$abc") and not valid_hash("scrypt$99$8$1$AA==$AA==")


def test_hash_secret_command_reads_stdin() -> None:
    exe = str(VENV_BIN / "queue-server")
    done = subprocess.run(
        [exe, "hash-secret"], input="4321\n", capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and verify_secret("4321", done.stdout.strip())
    short = subprocess.run(
        [exe, "hash-secret"], input="12\n", capture_output=True, text=True, timeout=30
    )
    assert short.returncode == 2 and "at least 4" in short.stderr


def test_demo_hall_staff_pads_and_rating() -> None:
    hall = load_hall(DEMO)
    staff = hall.staff_member("1001")
    assert staff is not None and verify_secret("1111", staff.secret_hash)
    assert all(w.pad_token_sha256 for w in hall.windows) and hall.uses_demo_tokens()
    assert hall.rating.reasons == list(rating.DEFAULT_REASONS)
    assert not hall.staff_rules.require_signin and hall.staff_rules.max_wrong_pins == 5


def test_a_bare_sha256_pin_is_refused(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace(
        'secret_hash = "scrypt$', 'secret_hash = "sha256$', 1
    )
    with pytest.raises(ConfigError, match=r"staff\.1001\.secret_hash: not a hash made by"):
        load_hall(demo_file(tmp_path, text))


def test_rating_rules() -> None:
    reasons = rating.DEFAULT_REASONS
    ok = rating.check(5, [], {}, " 好 ", reasons, points_required=False)
    assert (ok.level, ok.comment) == (5, "好")
    with pytest.raises(rating.RatingRefused) as err:
        rating.check(2, [], {}, "", reasons, points_required=False)
    assert err.value.code == "reason_needed"
    assert rating.check(1, ["其他", "其他"], {}, "", reasons, False).reasons == ("其他",)
    for level, why, scores, points in (
        (6, [], {}, False),
        (2, ["天气"], {}, False),
        (4, [], {"speed": 3}, False),
        (4, [], {"overall": 9}, False),
        (4, [], {"overall": 5}, True),
    ):
        with pytest.raises(rating.RatingRefused) as err:
            rating.check(level, why, scores, "", reasons, points)
        assert err.value.code == "invalid_request"
    assert [rating.LEVELS[n]["zh"] for n in (5, 4, 3, 2, 1)] == [
        "非常满意",
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
    ]


def screen(pad: PadState) -> str:
    return pad.screen  # (a call: mypy would narrow the attribute across the steps)


def test_pad_screens() -> None:
    pad = PadState("3", timeout=30)
    pad.apply_hall({"rating": {"reasons": ["服务态度", "其他"], "pad_seconds": 20}})
    assert pad.timeout == 20
    done = {"finished": {"ticket": "t1", "number": "B001", "at": 100.0}}
    assert pad.apply_panel(done, now=1000.0, server_now=105.0)
    assert (pad.screen, pad.number) == ("rate", "B001")
    assert not pad.apply_panel(done, now=1001.0, server_now=106.0)  # offered once
    assert not pad.choose(2, now=1002.0) and screen(pad) == "reason"  # bad: asks why
    assert not pad.submit(now=1003.0)  # no reason yet
    pad.toggle("其他", now=1004.0)
    assert pad.submit(now=1005.0) and pad.body() == {"level": 2, "reasons": ["其他"]}
    pad.sent(True, "", now=1005.1)
    pad.tick(now=1006.0)
    assert pad.version > 0 and screen(pad) == "thanks"
    pad.tick(now=1010.0)
    assert screen(pad) == "idle"
    late = {"finished": {"ticket": "t2", "number": "B002", "at": 100.0}}
    assert not pad.apply_panel(late, now=1011.0, server_now=130.0)  # past the rating time
    fresh = {"finished": {"ticket": "t3", "number": "B003", "at": 200.0}}
    assert pad.apply_panel(fresh, now=1012.0, server_now=201.0)
    pad.tick(now=1012.0 + 20.5)  # no choice: back to idle, nothing to send
    assert screen(pad) == "idle" and pad.level == 0


def test_the_pad_says_why_in_plain_words() -> None:
    assert refusal("already_rated", "zh") == "此号已评价过，谢谢"
    assert refusal("rating_closed", "en") == "The time to rate has passed"
    assert (
        refusal("unreachable", "zh")
        == refusal("wrong_window", "zh")
        == "暂时无法提交评价，请稍后再试"
    )
