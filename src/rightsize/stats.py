"""The statistics behind the course's decisions: how sure a measured accuracy is, whether one tier
really beats another on the same items, and how often a canary stop rule gets it wrong.

A golden set of 118 items measures an accuracy near 80% to within about seven points either way
(the interval narrows toward 0% and 100%), so a point estimate alone cannot say that 0.80 beats 0.76. Every function here wraps
:mod:`scipy.stats`; nothing is re-derived by hand.

    from rightsize.stats import wilson_interval, paired_test, stop_rule_risk

    wilson_interval(95, 118)                  # 0.805 [0.72, 0.87]
    paired_test(tfidf_correct, llm_correct)   # difference, its interval, exact McNemar p-value
    stop_rule_risk(2_000, 0.01, baseline_requests=38_000, max_ratio=1.5, min_requests=500)

- :func:`wilson_interval`: the Wilson score interval of a proportion (an accuracy, an error rate);
- :func:`paired_test`: two predictors graded on the same items: the exact McNemar test and a
  paired-bootstrap interval for the difference in accuracy;
- :func:`stop_probability`, :func:`stop_rule_risk`, :func:`requests_for_false_stop`: the
  operating characteristics of the canary / A/B stop rule of lesson 09, computed exactly from
  binomial distributions;
- :func:`percentile`: the latency percentile every table of the course uses.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from scipy import stats as _scipy_stats

__all__ = [
    "PairedTest",
    "ProportionInterval",
    "StopRuleRisk",
    "format_p_value",
    "paired_test",
    "percentile",
    "requests_for_false_stop",
    "stop_probability",
    "stop_rule_risk",
    "wilson_interval",
]

BOOTSTRAP_RESAMPLES = 9_999
BOOTSTRAP_SEED = 0  # fixed, so a table prints the same interval on every run
BCA_MAX_ITEMS = 2_000  # above this many items the bootstrap interval is the plain percentile one
_TAIL = 1e-13  # error counts less likely than this (per tail) are left out of the exact sums


def _count(value: Any, what: str) -> int:
    """``value`` as a non-negative whole number, or an error naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be a whole number of items, not {value!r}")
    if value < 0:
        raise ValueError(f"{what} cannot be negative ({value})")
    return int(value)


def _level(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (0.95 for 95%), not {confidence!r}")
    return float(confidence)


def _rate(value: float, what: str) -> float:
    if not 0 <= value <= 1:
        raise ValueError(f"{what} is a share between 0 and 1 (0.01 for 1%), not {value!r}")
    return float(value)


# -- a proportion and its interval ----------------------------------------------------------------


@dataclass(frozen=True)
class ProportionInterval:
    """A measured proportion (``successes`` of ``n``) with its confidence interval.

    ``str()`` gives ``0.805 [0.72, 0.87]``: the estimate, then the interval's ends.
    """

    estimate: float
    low: float
    high: float
    n: int
    confidence: float
    successes: int

    @property
    def half_width(self) -> float:
        """Half the interval's width: the "plus or minus" a reader can quote."""
        return (self.high - self.low) / 2

    def format(self, digits: int = 3, interval_digits: int = 2, *, percent: bool = False) -> str:
        """``0.805 [0.72, 0.87]``, or ``81% [72%, 87%]`` with ``percent=True``."""
        if percent:
            return f"{self.estimate:.0%} [{self.low:.0%}, {self.high:.0%}]"
        return f"{self.estimate:.{digits}f} [{self.low:.{interval_digits}f}, {self.high:.{interval_digits}f}]"

    def __str__(self) -> str:
        return self.format()


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> ProportionInterval:
    """The Wilson score interval for ``successes`` out of ``n`` (e.g. items answered correctly).

    Unlike the textbook "p +/- 1.96 standard errors", it stays inside [0, 1] and keeps a sensible
    width at 0 or ``n`` successes, which is where small golden sets often land. Computed by
    ``scipy.stats.binomtest(successes, n).proportion_ci(method="wilson")``.
    """
    k = _count(successes, "successes")
    total = _count(n, "n")
    level = _level(confidence)
    if total == 0:
        raise ValueError("an interval needs at least one item (n = 0): evaluate on a non-empty set")
    if k > total:
        raise ValueError(f"{k} successes out of {total} items: successes cannot exceed n")
    ci = _scipy_stats.binomtest(k, total).proportion_ci(confidence_level=level, method="wilson")
    return ProportionInterval(k / total, float(ci.low), float(ci.high), total, level, k)


# -- two predictors on the same items ---------------------------------------------------------------


@dataclass(frozen=True)
class PairedTest:
    """Predictor A against predictor B, graded on the same ``n`` items.

    ``only_a`` counts the items A got right and B wrong, ``only_b`` the reverse: only these
    discordant items carry evidence of a difference. ``p_value`` is the exact McNemar test's
    (two-sided); ``difference`` is A's accuracy minus B's, with ``low`` and ``high`` its
    interval at ``confidence`` (a paired bootstrap, see :func:`paired_test`).
    """

    n: int
    a_correct: int
    b_correct: int
    only_a: int
    only_b: int
    p_value: float
    difference: float
    low: float
    high: float
    confidence: float

    @property
    def discordant(self) -> int:
        """Items exactly one of the two got right."""
        return self.only_a + self.only_b

    @property
    def a_accuracy(self) -> float:
        return self.a_correct / self.n

    @property
    def b_accuracy(self) -> float:
        return self.b_correct / self.n

    def format(self) -> str:
        """``-0.110 [-0.19, -0.03], p = 0.0072 (4 vs 17 discordant of 118)``."""
        p = format_p_value(self.p_value)
        return (f"{self.difference:+.3f} [{self.low:+.2f}, {self.high:+.2f}], p {p if p.startswith('<') else '= ' + p} "
                f"({self.only_a} vs {self.only_b} discordant of {self.n})")

    def __str__(self) -> str:
        return self.format()


def format_p_value(p: float) -> str:
    """A p-value as a reader takes it in: ``0.039``, ``0.0021``, ``< 0.0001``, ``1``."""
    if math.isnan(p):
        return "-"
    if p < 0.0001:
        return "< 0.0001"
    if p < 0.01:
        return f"{p:.2g}"
    return f"{p:.3f}".rstrip("0").rstrip(".")


def _flags(values: Sequence[Any], which: str) -> np.ndarray:
    array = np.asarray(list(values))
    if array.ndim != 1:
        raise ValueError(f"{which} must be a flat list of right/wrong flags, one per item")
    if array.size and not np.isin(array, (0, 1)).all():
        raise ValueError(f"{which} must hold only True/False (or 1/0) per item, e.g. [r.correct for r in run.records]")
    return array.astype(float)


def _difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.mean(a, axis=axis) - np.mean(b, axis=axis))


def paired_test(a_correct: Sequence[Any], b_correct: Sequence[Any], *, confidence: float = 0.95,
                n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> PairedTest:
    """Compare two predictors graded on the same items (``a_correct[i]`` and ``b_correct[i]`` are
    whether A and B got item ``i`` right).

    The p-value is the exact McNemar test: under "no difference" each discordant item is equally
    likely to favour A or B, so ``scipy.stats.binomtest(only_a, only_a + only_b, 0.5)``. The
    interval for the difference in accuracy is a paired bootstrap
    (``scipy.stats.bootstrap(..., paired=True, method="BCa")``, ``n_resamples`` resamples, fixed
    ``seed``), so the same data always give the same interval; above ``BCA_MAX_ITEMS`` items it
    uses the percentile method, as BCa's extra cost grows with the square of the items.

    Pairing is what makes this sharper than two separate intervals: items both get right or both
    get wrong say nothing about which is better. With no discordant item at all the p-value is 1
    and the interval is [0, 0] (every resample shows no difference; a difference of less than
    about 3/n can still hide there). With one item there is no interval (NaN).
    """
    a = _flags(a_correct, "a_correct")
    b = _flags(b_correct, "b_correct")
    if a.size != b.size:
        raise ValueError(f"{a.size} results for A but {b.size} for B: grade both on the same items, in the same order")
    if a.size == 0:
        raise ValueError("no items to compare: pass one right/wrong flag per item for each predictor")
    level = _level(confidence)
    only_a = int(((a == 1) & (b == 0)).sum())
    only_b = int(((a == 0) & (b == 1)).sum())
    discordant = only_a + only_b
    p_value = float(_scipy_stats.binomtest(only_a, discordant, 0.5).pvalue) if discordant else 1.0
    difference = float(a.mean() - b.mean())
    if discordant == 0:
        low = high = 0.0
    elif a.size < 2:
        low = high = math.nan
    else:
        low, high = _bootstrap_difference(a, b, level, n_resamples, seed)
    return PairedTest(int(a.size), int(a.sum()), int(b.sum()), only_a, only_b, p_value, difference,
                      low, high, level)


def _bootstrap_difference(a: np.ndarray, b: np.ndarray, level: float, n_resamples: int,
                          seed: int) -> tuple[float, float]:
    def run(method: str) -> tuple[float, float]:
        with warnings.catch_warnings():
            # a BCa failure shows as NaN, handled below; the warning would only repeat it
            warnings.simplefilter("ignore")
            # batches bound the memory of the resamples and of BCa's jackknife (n x n) on large sets
            result = _scipy_stats.bootstrap((a, b), _difference, paired=True, vectorized=True, batch=1000,
                                            n_resamples=n_resamples, confidence_level=level, method=method,
                                            rng=np.random.default_rng(seed))
        return float(result.confidence_interval.low), float(result.confidence_interval.high)

    if a.size > BCA_MAX_ITEMS:  # BCa's jackknife costs n^2; on this many items its correction is small
        return run("percentile")
    low, high = run("BCa")
    if math.isnan(low) or math.isnan(high):  # too few distinct resamples for BCa's corrections
        low, high = run("percentile")
    return low, high


# -- canary and A/B stop rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class StopRuleRisk:
    """How often the stop rule "stop when the canary's error rate exceeds ``max_ratio`` times the
    baseline's, once it has served ``min_requests``" decides wrongly, checked once at
    ``canary_requests``.

    ``false_stop`` is the chance it stops a canary exactly as good as the baseline;
    ``miss`` the chance it lets through a canary ``worse_by`` times as error-prone.
    ``baseline_requests`` None means the baseline's error rate is known exactly.
    """

    canary_requests: int
    baseline_requests: int | None
    baseline_error_rate: float
    max_ratio: float
    min_requests: int
    worse_by: float
    false_stop: float
    miss: float

    def __str__(self) -> str:
        base = ("a known" if self.baseline_requests is None
                else f"{self.baseline_requests:,} baseline requests at a")
        return (f"checked at {self.canary_requests:,} canary requests against {base} {self.baseline_error_rate:.2%} "
                f"error rate (stop above {self.max_ratio:g}x, from {self.min_requests:,} requests): stops an equally "
                f"good canary {_share(self.false_stop)} of the time, misses one {self.worse_by:g}x as bad "
                f"{_share(self.miss)} of the time")


def _share(value: float) -> str:
    return "< 0.1%" if 0 < value < 0.001 else f"{value:.1%}"


def _fraction(value: float) -> Fraction:
    # the decimal as written (1.5, 0.01), so a canary at exactly 1.5x does not stop, as in the rule
    return Fraction(str(value))


def _floor_div(numerator: int, x: np.ndarray, denominator: int, y: np.ndarray, *,
               minus_one: bool = False) -> np.ndarray:
    """``floor((numerator * x - minus_one) / (denominator * y))`` element-wise and exact; Python
    integers take over where int64 could overflow."""
    shift = int(minus_one)
    if (abs(numerator) * int(np.max(x, initial=1)) < 2**62
            and denominator * int(np.max(y, initial=1)) < 2**62):
        return np.asarray((numerator * x - shift) // (denominator * y), dtype=np.int64)
    exact = (np.asarray(x, dtype=object) * numerator - shift) // (np.asarray(y, dtype=object) * denominator)
    return np.asarray(exact, dtype=np.int64)


def _stop_chance(canary: np.ndarray, baseline: np.ndarray | None, baseline_rate: float, canary_rate: float,
                 max_ratio: float) -> np.ndarray:
    """P(stop) at each canary size in ``canary`` (min_requests already passed).

    With ``r = max_ratio`` the rule stops when ``canary_errors * baseline > r * baseline_errors * canary``.
    With a known baseline rate that is one threshold on the canary's errors per size. With a
    measured baseline the chance is summed over the error count of whichever side varies less
    (the canary, usually), weighted by its binomial probability; counts beyond 1e-13 in either
    tail are left out.
    """
    ratio = _fraction(max_ratio)
    if baseline is None:
        rate = _fraction(baseline_rate)
        most = _floor_div(ratio.numerator * rate.numerator, canary, ratio.denominator * rate.denominator,
                          np.ones_like(canary))  # the most canary errors that do not stop it
        return np.asarray(_scipy_stats.binom.sf(most, canary, canary_rate), dtype=float)
    canary_spread = np.max(canary) * canary_rate * (1 - canary_rate)  # variances of the two error counts
    if canary_spread <= np.max(baseline) * baseline_rate * (1 - baseline_rate):
        def given_canary(errors: np.ndarray, sizes: np.ndarray, bases: np.ndarray) -> np.ndarray:
            # stops when the baseline's errors are at most floor((errors * bases * den - 1) / (num * sizes))
            most = _floor_div(ratio.denominator, errors * bases, ratio.numerator, sizes, minus_one=True)
            return np.asarray(_scipy_stats.binom.cdf(most, bases, baseline_rate), dtype=float)

        return _sum_over_errors(canary, canary_rate, canary, baseline, given_canary)

    def given_baseline(errors: np.ndarray, sizes: np.ndarray, bases: np.ndarray) -> np.ndarray:
        most = _floor_div(ratio.numerator, errors * sizes, ratio.denominator, bases)
        return np.asarray(_scipy_stats.binom.sf(most, sizes, canary_rate), dtype=float)

    return _sum_over_errors(baseline, baseline_rate, canary, baseline, given_baseline)


_Given = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _sum_over_errors(totals: np.ndarray, rate: float, canary: np.ndarray, baseline: np.ndarray,
                     given: _Given) -> np.ndarray:
    """For each row, the sum over k of P(Binomial(totals, rate) = k) * given(k, canary, baseline)."""
    low = np.asarray(_scipy_stats.binom.ppf(_TAIL, totals, rate), dtype=np.int64)
    high = np.asarray(_scipy_stats.binom.isf(_TAIL, totals, rate), dtype=np.int64)
    width = int(np.max(high - low)) + 1
    rows = max(1, 2_000_000 // width)  # bound the memory of one block of (size x error count)
    out = np.empty(canary.size, dtype=float)
    for start in range(0, canary.size, rows):
        block = slice(start, start + rows)
        errors = low[block, None] + np.arange(width)[None, :]
        shape = errors.shape
        weight = np.where(errors <= high[block, None], _scipy_stats.binom.pmf(errors, totals[block, None], rate), 0.0)
        sizes = np.broadcast_to(canary[block, None], shape)
        bases = np.broadcast_to(baseline[block, None], shape)
        out[block] = (weight * given(errors, sizes, bases)).sum(axis=1)
    return out


def _check_rule(max_ratio: float, min_requests: int) -> None:
    if not max_ratio > 0:
        raise ValueError(f"max_ratio must be above 0 (1.5 stops at 1.5x the baseline's error rate), not {max_ratio!r}")
    _count(min_requests, "min_requests")


def stop_probability(canary_requests: int, canary_error_rate: float, baseline_error_rate: float, *,
                     baseline_requests: int | None = None, max_ratio: float = 1.5, min_requests: int = 500) -> float:
    """The chance that the stop rule stops a canary, checked once when it has served ``canary_requests``.

    The rule is lesson 09's ``stop_canary``: stop when the canary has served at least
    ``min_requests`` and its error rate is more than ``max_ratio`` times the baseline's (a
    baseline with no errors: any canary error). The canary's errors are
    Binomial(``canary_requests``, ``canary_error_rate``); the baseline's are
    Binomial(``baseline_requests``, ``baseline_error_rate``), or its rate is known exactly when
    ``baseline_requests`` is None. The sum over both is exact (``scipy.stats.binom``).

    Checked at every request instead of once, a rule stops more often: each look is one more
    chance of a false stop.
    """
    n = _count(canary_requests, "canary_requests")
    if n == 0:
        raise ValueError("canary_requests must be at least 1: the rule looks at requests the canary served")
    _check_rule(max_ratio, min_requests)
    q = _rate(canary_error_rate, "canary_error_rate")
    p = _rate(baseline_error_rate, "baseline_error_rate")
    m = None if baseline_requests is None else _count(baseline_requests, "baseline_requests")
    if m == 0:
        raise ValueError("baseline_requests must be at least 1, or None when the baseline's error rate is known")
    if n < min_requests:
        return 0.0
    sizes = np.array([n], dtype=np.int64)
    bases = None if m is None else np.array([m], dtype=np.int64)
    return float(min(1.0, max(0.0, _stop_chance(sizes, bases, p, q, max_ratio)[0])))


def stop_rule_risk(canary_requests: int, baseline_error_rate: float, *, baseline_requests: int | None = None,
                   max_ratio: float = 1.5, min_requests: int = 500, worse_by: float = 2.0) -> StopRuleRisk:
    """The false-stop and miss rates of the stop rule at one canary size (see :func:`stop_probability`).

    ``false_stop``: the canary errs exactly as often as the baseline, and the rule stops it.
    ``miss``: the canary errs ``worse_by`` times as often, and the rule does not stop it.
    For an A/B split, pass the B arm as the canary and the A arm's requests as ``baseline_requests``.
    """
    p = _rate(baseline_error_rate, "baseline_error_rate")
    if not worse_by > 0 or worse_by * p > 1:
        raise ValueError(f"worse_by must be above 0 and keep the bad canary's error rate ({worse_by!r} x {p:g}) "
                         "at most 1")
    false_stop = stop_probability(canary_requests, p, p, baseline_requests=baseline_requests, max_ratio=max_ratio,
                                  min_requests=min_requests)
    caught = stop_probability(canary_requests, worse_by * p, p, baseline_requests=baseline_requests,
                              max_ratio=max_ratio, min_requests=min_requests)
    return StopRuleRisk(int(canary_requests), None if baseline_requests is None else int(baseline_requests), p,
                        float(max_ratio), int(min_requests), float(worse_by), false_stop, 1.0 - caught)


def requests_for_false_stop(false_stop: float, baseline_error_rate: float, *, baseline_per_canary: float | None = None,
                            max_ratio: float = 1.5, max_requests: int = 1_000_000) -> int:
    """The smallest canary size from which the rule's false-stop rate stays at or below ``false_stop``:
    the ``min_requests`` to write into the rule.

    The baseline serves ``baseline_per_canary`` requests for each canary request (19 for a 5%
    canary, 1 for a 50/50 A/B split; rounded to whole requests), or its rate is known exactly
    when None. The false-stop rate falls as the canary grows, with a saw-tooth from whole error
    counts (just below a size where the allowed count goes up by one, it rises again), so the
    first size under the target is not enough: the search doubles the size until the rate has
    stayed at or below the target over a whole doubling, and returns the size after the last one
    above it. Exact at every size (:func:`stop_probability` with the baseline's share of
    traffic); a few seconds when errors are rare or the split is even.
    """
    target = _rate(false_stop, "false_stop")
    p = _rate(baseline_error_rate, "baseline_error_rate")
    _check_rule(max_ratio, 0)
    limit = _count(max_requests, "max_requests")
    if limit == 0:
        raise ValueError("max_requests must be at least 1")
    if baseline_per_canary is not None and not baseline_per_canary > 0:
        raise ValueError(f"baseline_per_canary must be above 0 (19 for a 5% canary), not {baseline_per_canary!r}")
    rates = np.empty(0, dtype=float)
    top = min(1024, limit)
    while True:
        sizes = np.arange(rates.size + 1, top + 1, dtype=np.int64)
        bases = (None if baseline_per_canary is None
                 else np.maximum(1, np.rint(sizes * baseline_per_canary)).astype(np.int64))
        rates = np.concatenate([rates, _stop_chance(sizes, bases, p, p, max_ratio)])
        above = np.nonzero(rates > target)[0]
        last_above = int(above[-1]) + 1 if above.size else 0  # a canary size (1-based)
        if last_above <= top // 2:
            return last_above + 1
        if top >= limit:
            raise ValueError(f"up to {limit:,} canary requests the false-stop rate does not stay at or below "
                             f"{target:g} (max_ratio {max_ratio:g}, baseline error rate {p:g}): raise max_ratio, "
                             "accept a higher false-stop rate, or raise max_requests")
        top = min(2 * top, limit)


# -- percentiles ------------------------------------------------------------------------------------


def percentile(values: Sequence[float | None], q: float) -> float:
    """The q-th percentile of ``values`` with linear interpolation between order statistics
    (numpy's default); None and NaN values are skipped; NaN when nothing is left."""
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return float(np.percentile(clean, q)) if clean else math.nan
