"""好差评: the five rating levels in the national wording, reasons, per-point scores (pure).

The wording of the levels follows the national rules for government service ratings
(国办发〔2019〕51号) and is versioned here, not edited per hall: a rating stores the version,
so it can go on to the provincial 好差评 system as it was shown. A hall chooses only its
list of reasons for a bad rating, whether it asks for per-point scores, and how long after
the service a rating is taken.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

WORDING_VERSION = "gbf2019-51.v1"

LEVELS: dict[int, dict[str, str]] = {
    5: {"zh": "非常满意", "en": "Very satisfied"},
    4: {"zh": "满意", "en": "Satisfied"},
    3: {"zh": "基本满意", "en": "Basically satisfied"},
    2: {"zh": "不满意", "en": "Dissatisfied"},
    1: {"zh": "非常不满意", "en": "Very dissatisfied"},
}
_NUMBER = re.compile(r"[0-9][0-9Xx -]{4,}[0-9Xx]")  # 6+ digits: a phone, an ID
BAD_AT_MOST = 2  # levels at or below this need a reason and go to the follow-up ledger

POINTS: dict[str, dict[str, str]] = {
    "overall": {"zh": "整体满意度", "en": "Overall satisfaction"},
    "efficiency": {"zh": "服务效率", "en": "Efficiency"},
    "competence": {"zh": "服务水平", "en": "Competence"},
    "attitude": {"zh": "服务态度", "en": "Attitude"},
}

DEFAULT_REASONS = ("服务态度", "办事效率", "业务水平", "环境设施", "其他")


class RatingRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Rating:
    level: int
    reasons: tuple[str, ...]
    scores: dict[str, int]
    comment: str


def check(
    level: int,
    reasons: Sequence[str],
    scores: dict[str, int],
    comment: str,
    allowed_reasons: Sequence[str],
    points_required: bool,
) -> Rating:
    """A valid rating, or RatingRefused naming what is wrong."""
    if level not in LEVELS:
        raise RatingRefused("invalid_request", "level is 1 (非常不满意) to 5 (非常满意)")
    unknown = [r for r in reasons if r not in allowed_reasons]
    if unknown:
        raise RatingRefused("invalid_request", f"unknown reason {unknown[0]!r}")
    if level <= BAD_AT_MOST and not reasons:
        raise RatingRefused("reason_needed", "a rating of 不满意 or below needs a reason")
    bad_points = [p for p in scores if p not in POINTS]
    if bad_points:
        raise RatingRefused("invalid_request", f"unknown point {bad_points[0]!r}")
    if any(not 1 <= v <= 5 for v in scores.values()):
        raise RatingRefused("invalid_request", "a point's score is 1 to 5")
    if points_required and set(scores) != set(POINTS):
        raise RatingRefused("invalid_request", f"this hall asks a score for each of {list(POINTS)}")
    return Rating(level, tuple(dict.fromkeys(reasons)), dict(scores), scrub(comment))


def scrub(comment: str) -> str:
    """The rater stays anonymous: a phone or ID number typed into the comment is masked."""
    return _NUMBER.sub(lambda m: "*" * len(m.group()), comment.strip())
