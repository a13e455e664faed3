"""What a simulation runs: arrival rates, handling times, staff behaviour (pure parsing).

Rates are tickets per hour, per service: one number for every hour ("A=40") or per hour of
the day ("A=9:60,10:80,14:30"; hours not named get none). Handling is "exp", "lognormal:CV"
or "recorded" (from the arrivals file), with the service's mean from the hall file unless
given ("--mean A=6").
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


class SpecError(ValueError):
    """A bad simulation option; the message is one line."""


Rates = dict[str, dict[int, float]]
"""service -> hour of day (0..23) -> tickets per hour"""

ALL_HOURS = tuple(range(24))


def parse_rate(text: str) -> tuple[str, dict[int, float]]:
    """'A=40' or 'A=9:60,10:80' -> ('A', {hour: per hour})."""
    service, sep, value = text.partition("=")
    service = service.strip()
    if not sep or not service:
        raise SpecError(f"rate {text!r}: expected SERVICE=PER_HOUR or SERVICE=H:PER_HOUR,...")
    try:
        if ":" not in value:
            return service, dict.fromkeys(ALL_HOURS, _rate(float(value), text))
        hours: dict[int, float] = {}
        for part in value.split(","):
            h, _, r = part.partition(":")
            hour = int(h)
            if not 0 <= hour <= 23:
                raise SpecError(f"rate {text!r}: hour {hour} is not 0..23")
            hours[hour] = _rate(float(r), text)
        return service, hours
    except ValueError as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError(f"rate {text!r}: not a number") from None


def _rate(value: float, text: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise SpecError(f"rate {text!r}: must be a number ≥ 0")
    return value


def rates_from_table(table: dict[str, float | dict[str, float]]) -> Rates:
    """The hall file's [simulate.rates]: A = 40, or B = { "9" = 60, "10" = 80 }."""
    out: Rates = {}
    for service, value in table.items():
        if isinstance(value, dict):
            text = ",".join(f"{h}:{r}" for h, r in value.items())
        else:
            text = str(value)
        out[service] = parse_rate(f"{service}={text}")[1]
    return out


def parse_pairs(items: list[str], what: str) -> dict[str, float]:
    """'A=6' style options -> {'A': 6.0}."""
    out: dict[str, float] = {}
    for text in items:
        key, sep, value = text.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not key.strip() or not math.isfinite(number) or number < 0:
            raise SpecError(f"{what} {text!r}: expected NAME=NUMBER (≥ 0)")
        out[key.strip()] = number
    return out


@dataclass(frozen=True, slots=True)
class HandlingModel:
    """How long a service takes at the window."""

    kind: str  # "exp" | "lognormal" | "recorded"
    cv: float = 1.0

    @classmethod
    def parse(cls, text: str) -> HandlingModel:
        if text == "exp":
            return cls("exp", 1.0)
        if text == "recorded":
            return cls("recorded", math.nan)
        name, _, cv = text.partition(":")
        if name == "lognormal":
            try:
                value = float(cv)
            except ValueError:
                value = math.nan
            if not 0 < value <= 5:
                raise SpecError(f"handling {text!r}: lognormal needs a CV in (0, 5]: lognormal:0.5")
            return cls("lognormal", value)
        raise SpecError(f"handling {text!r}: expected exp, lognormal:CV or recorded")

    def sample(self, rng: random.Random, mean_min: float) -> float:
        """One handling time in minutes."""
        if self.kind == "exp":
            return rng.expovariate(1.0 / mean_min)
        if self.kind == "lognormal":
            sigma2 = math.log(1 + self.cv**2)
            return rng.lognormvariate(math.log(mean_min) - sigma2 / 2, math.sqrt(sigma2))
        raise SpecError("recorded handling times come with the arrivals file (--arrivals)")


@dataclass(frozen=True, slots=True)
class Staff:
    """What window staff and citizens do besides serving.

    no_show: share of called citizens who never come (recalled up to the hall's limit, then
    marked missed); late: share who come only after one recall; recall_after: seconds before
    a window recalls; pauses: per window per open hour, each pause_minutes long on average;
    react: mean seconds before an idle window calls a newly arrived citizen; slower: per
    window, a factor on its handling times (1.5: its staff take half as long again)."""

    no_show: float = 0.0
    late: float = 0.0
    recall_after: float = 60.0
    pauses_per_hour: float = 0.0
    pause_minutes: float = 10.0
    react: float = 0.0
    slower: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if any(not 0.1 <= f <= 10 for f in self.slower.values()):
            raise SpecError("--slower: a window's factor must be within 0.1..10")
        if not 0 <= self.no_show + self.late <= 1:
            raise SpecError("--no-show and --late are shares: together at most 1")
        if self.recall_after <= 0 or self.pause_minutes <= 0 or self.react < 0:
            raise SpecError("--recall-after and pause minutes must be > 0, --react ≥ 0")


@dataclass(frozen=True, slots=True)
class Spec:
    rates: Rates
    handling: HandlingModel
    means: dict[str, float]  # service -> true mean handling minutes
    staff: Staff = Staff()
    classes: dict[str, float] = field(default_factory=dict)  # class -> share of tickets
    seed: int = 1
    days: int = 1
    steady: bool = False
    minutes: float = 0.0
    warmup: float = 0.0
    target_minutes: float = 20.0
    start: str = "2026-11-30"  # first simulated day (a Monday)
    pace: bool = True  # the server weighs windows by their pace (off: to compare)

    def __post_init__(self) -> None:
        if sum(self.classes.values()) > 1:
            raise SpecError("--share: class shares add up to more than 1")
        if self.steady:
            if self.minutes <= 0:
                raise SpecError("--steady needs --minutes N")
            if self.minutes + self.warmup > 1439:
                raise SpecError(
                    "--steady: --minutes plus --warmup must fit in one service day (1439); "
                    "--days N runs N such stretches"
                )
            for service, hours in self.rates.items():
                if len(set(hours.values())) > 1 or len(hours) < 24:
                    raise SpecError(f"--steady needs one rate for every hour (service {service})")
        if self.days < 1:
            raise SpecError("--days must be ≥ 1")
