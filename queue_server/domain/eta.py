"""Estimated waits: how long until a ticket is called, as a number and a calibrated range.

The model. A ticket with `ahead` tickets before it is called at the (ahead + 1 − free)-th
moment a window of its service frees up (`free`: open windows serving it that stand idle now;
none needed means it is called at once). Windows of the service free up every mean / capacity
on average, so the wait is the sum of that many gaps. For exponential handling the gaps are
exponential and the sum is Gamma-distributed; for other handling times the gaps of a few
windows are more regular (or less), which the learned coefficient of variation (CV) captures:
over many gaps the sum's variance is CV² per gap, over fewer gaps than windows it is close to
Poisson. The error of the learned mean adds to the spread. The number shown is a quantile of
that distribution a little above its middle (being told too little hurts more than too much);
the range is a central interval holding about 90% of waits (the simulator checks both,
`queue-server simulate`).

Handling times are learned from every finished ticket: a running mean and mean square that
weigh each new time by max(1 / n, ALPHA_MIN), starting from the hall file's average as a prior.
Long services count in full up to CAP × the mean (so exponential handling is not learned low);
only a time beyond DROP × the mean, a ticket left open, is ignored. The same rule runs in Lua
(store/lua/common.lua) when a ticket is finished.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

SECONDARY_SHARE = 0.25
"""Share of a window's time a secondary service gets; its offset lets it in only at times."""

ALPHA_MIN = 0.005
"""Smallest weight of a new handling time: the learned mean follows about the last 400 (its
error, which grows with the queue, hurts more than slow following: bench/eta.py)."""
PRIOR_WEIGHT = 5
"""The hall file's average counts as this many observed tickets."""
CAP = 8.0
"""A handling time counts up to CAP × the mean (an exponential time exceeds it 0.03% of the
time, so the mean is not biased low)."""
DROP = 25.0
"""A handling time beyond DROP × the mean is a ticket left open, not a service: ignored."""
PRIOR_CV = 1.0
"""Spread assumed until learned: exponential handling."""
CV_BOUNDS = (0.2, 2.0)

POINT_QUANTILE = 0.5
"""The number shown is the median of the predicted wait (the least error on average) ..."""
LATE = (0.93, 5.0)
"""... raised where needed so that few (7% at most per ticket, in the model) wait more than 5
minutes past it: long waits are skewed, and being told too little hurts more."""
RANGE = (0.11, 0.89)
"""The range shown: this central interval of the predicted wait of a ticket that must wait.
With the citizens called at once (told 0–0, always right) about 90% of all are called inside
their range; the simulator measured 89–95% in the four halls of bench/eta.py."""

PACE_PRIOR = 5
"""A window's pace starts as the hall's, worth this many tickets: a few long services at one
window do not make it look slow."""
PACE_BOUNDS = (0.25, 4.0)

_Z = NormalDist()


def capacity(
    service: str,
    offsets: Mapping[str, Mapping[str, int]],
    open_windows: set[str],
    pace: Mapping[str, float] | None = None,
) -> float:
    """Windows' worth of service time `service` gets: a window's primaries (its lowest offset)
    share it equally; a secondary service gets a small share. A window's `pace` (tickets per
    hour relative to the hall's, `window_pace`) scales its share: a slow window is worth less."""
    total = 0.0
    for window, offs in offsets.items():
        if window not in open_windows or service not in offs:
            continue
        low = min(offs.values())
        primaries = sum(1 for v in offs.values() if v == low)
        share = 1.0 / primaries if offs[service] == low else SECONDARY_SHARE
        total += share * (pace.get(window, 1.0) if pace else 1.0)
    return total


def window_pace(today: Mapping[str, tuple[int, float]]) -> dict[str, float]:
    """Each window's pace today relative to the hall's: the hall's mean handling time over the
    window's own, from each window's (tickets served, summed handling ms) today, its own mean
    drawn toward the hall's by PACE_PRIOR tickets. Relative to the hall's ticket-weighted
    mean, so with every window open the paces add up to about the number of windows and the
    estimate is as without them; they matter when the mix of open windows changes (a slow
    window paused, a fast one closed) and for the windows of one service."""
    served = sum(n for n, _ in today.values())
    total = sum(ms for _, ms in today.values())
    if served <= 0 or total <= 0:
        return {}
    hall = total / served
    low, high = PACE_BOUNDS
    return {
        w: min(max(hall * (n + PACE_PRIOR) / (ms + PACE_PRIOR * hall), low), high)
        for w, (n, ms) in today.items()
    }


def free_windows(
    service: str, offsets: Mapping[str, Mapping[str, int]], idle_windows: set[str]
) -> int:
    """Open windows serving `service` with no ticket at them now (they call at once)."""
    return sum(1 for w in idle_windows if service in offsets.get(w, {}))


def wait_minutes(ahead: int, handle_ms: float, cap: float) -> int | None:
    """The old plain formula, ahead × mean ÷ windows; None if no window is open for its
    service. The simulator compares it with `estimate`."""
    if cap <= 0:
        return None
    return math.ceil(ahead * handle_ms / cap / 60_000)


# -- learning handling times -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Handling:
    """What is known about a service's handling time: mean and mean square (ms, ms²), and how
    many tickets they come from (the prior counts as PRIOR_WEIGHT)."""

    mean_ms: float
    square_ms2: float = 0.0  # 0: unknown, assume PRIOR_CV
    n: float = PRIOR_WEIGHT

    @classmethod
    def prior(cls, mean_ms: float) -> Handling:
        return cls(mean_ms, mean_ms * mean_ms * (1 + PRIOR_CV**2), PRIOR_WEIGHT)

    @classmethod
    def exact(cls, mean_ms: float, cv: float) -> Handling:
        """Known for certain (the simulator's oracle)."""
        return cls(mean_ms, mean_ms * mean_ms * (1 + cv * cv), math.inf)

    @property
    def cv(self) -> float:
        if self.square_ms2 <= 0 or self.mean_ms <= 0:
            return PRIOR_CV
        var = max(self.square_ms2 - self.mean_ms**2, 0.0)
        return min(max(math.sqrt(var) / self.mean_ms, CV_BOUNDS[0]), CV_BOUNDS[1])

    @property
    def weight(self) -> float:
        """Weight the next observation gets."""
        return max(1.0 / (self.n + 1), ALPHA_MIN)

    @property
    def mean_error(self) -> float:
        """Relative standard error of the learned mean."""
        return self._mean_error(self.cv)

    def _mean_error(self, cv: float) -> float:
        if math.isinf(self.n):
            return 0.0
        w = self.weight
        return cv * math.sqrt(w / (2 - w))


def learn_stats(h: Handling, observed_ms: float) -> Handling:
    """Fold one finished ticket's handling time into the learned statistics (mirrored in Lua)."""
    if h.mean_ms <= 0:
        return Handling.prior(observed_ms)
    if observed_ms > DROP * h.mean_ms or observed_ms < 0:
        return h
    x = min(observed_ms, CAP * h.mean_ms)
    square = h.square_ms2 if h.square_ms2 > 0 else h.mean_ms**2 * (1 + PRIOR_CV**2)
    w = h.weight
    return Handling(h.mean_ms + w * (x - h.mean_ms), square + w * (x * x - square), h.n + 1)


# -- the estimate ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Estimate:
    """Whole minutes until the ticket is called: the number shown and a range holding about
    90% of waits. `after_close`: it would be called after the hall closes today."""

    minutes: int
    low: int
    high: int
    after_close: bool = False


# the normal quantiles of the fixed levels, worked out once (a wait is estimated per ticket)
_ZS = {p: _Z.inv_cdf(p) for p in (POINT_QUANTILE, LATE[0], *RANGE)}


def _gamma_quantile(p: float, mean: float, var: float) -> float:
    """Quantile of a Gamma distribution with this mean and variance (Wilson–Hilferty)."""
    if var <= 0:
        return mean
    shape, scale = mean * mean / var, var / mean
    c = 1.0 / (9.0 * shape)
    z = _ZS[p] if p in _ZS else _Z.inv_cdf(p)
    return max(shape * scale * (1 - c + z * math.sqrt(c)) ** 3, 0.0)


def wait_distribution(ahead: int, h: Handling, cap: float, free: int = 0) -> tuple[float, float]:
    """Mean and variance (minutes, minutes²) of the wait if the mean handling time were exactly
    as learned; (0, 0) if called at once."""
    return _wait_distribution(ahead, h, cap, free, h.cv)


def _wait_distribution(
    ahead: int, h: Handling, cap: float, free: int, cv: float
) -> tuple[float, float]:
    gaps = ahead + 1 - free
    if gaps <= 0:
        return 0.0, 0.0
    theta = h.mean_ms / 60_000 / cap  # minutes between windows freeing up
    cv2 = cv**2
    # The first gap is a leftover of services under way: shorter than a whole one when handling
    # is regular, longer when it is irregular; the more windows, the less it matters.
    mean = theta * max(gaps - (1 - cv2) / (cap + 1), 0.5 * gaps)
    # Exponential handling: Poisson gaps (variance θ² each). Regular handling: the first gaps
    # are order statistics of the windows' leftovers (about j(1 − j/(c+1)) θ²), and after that
    # the windows free up almost like clockwork. Learned CV² mixes the two.
    j = min(gaps, (cap + 1) / 2)
    var = theta**2 * (cv2 * gaps + (1 - cv2) * j * (1 - j / (cap + 1)))
    return mean, var


def estimate(
    ahead: int,
    h: Handling,
    cap: float,
    free: int = 0,
    close_in_minutes: float | None = None,
) -> Estimate | None:
    """The wait of a ticket with `ahead` tickets before it; None if no open window serves its
    service. Nothing reaches past closing time; a ticket due after it is `after_close`."""
    if cap <= 0 or h.mean_ms <= 0:
        return None
    cv = h.cv  # worked out once for both uses
    mean, var = _wait_distribution(ahead, h, cap, free, cv)
    if mean <= 0:
        point, low, high = 0, 0, 0
    else:
        point = round(
            max(
                _gamma_quantile(POINT_QUANTILE, mean, var),
                _gamma_quantile(LATE[0], mean, var) - LATE[1],
            )
        )
        # the range also holds the error of the learned mean
        spread = var + (mean * h._mean_error(cv)) ** 2
        low = math.floor(_gamma_quantile(RANGE[0], mean, spread))
        high = max(math.ceil(_gamma_quantile(RANGE[1], mean, spread)), point)
        low = min(low, point)
    if close_in_minutes is None:
        return Estimate(point, low, high)
    # never beyond closing time: a ticket that would be called later is told "not today"
    close = math.ceil(close_in_minutes)
    return Estimate(min(point, close), min(low, close), min(high, close), point > close_in_minutes)
