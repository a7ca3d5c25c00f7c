"""rightsize.stats against published values, values derived by hand, and a simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rightsize.stats import (
    format_p_value,
    paired_test,
    percentile,
    requests_for_false_stop,
    stop_probability,
    stop_rule_risk,
    wilson_interval,
)

Z95 = 1.959963984540054  # the two-sided 95% normal quantile


# -- Wilson intervals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("successes", "n", "low", "high"), [
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table II, Wilson score
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (8, 10, 0.4902, 0.9433),
])
def test_wilson_interval_matches_published_values(successes: int, n: int, low: float, high: float) -> None:
    ci = wilson_interval(successes, n)
    assert (round(ci.low, 4), round(ci.high, 4)) == (low, high)
    assert ci.estimate == successes / n and ci.n == n and ci.successes == successes and ci.confidence == 0.95


def test_wilson_interval_at_all_right_and_all_wrong_has_a_closed_form() -> None:
    # at k = n the score interval's low end is n / (n + z^2); at k = 0 its high end is z^2 / (n + z^2)
    n = 10
    full, none = wilson_interval(n, n), wilson_interval(0, n)
    assert full.high == pytest.approx(1.0) and full.low == pytest.approx(n / (n + Z95**2), abs=1e-9)
    assert none.low == pytest.approx(0.0, abs=1e-12) and none.high == pytest.approx(Z95**2 / (n + Z95**2), abs=1e-9)
    assert wilson_interval(95, 118).format() == "0.805 [0.72, 0.87]" == str(wilson_interval(95, 118))
    assert wilson_interval(95, 118).format(percent=True) == "81% [72%, 87%]"


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    ninety, ninety_nine = wilson_interval(95, 118, 0.90), wilson_interval(95, 118, 0.99)
    assert ninety_nine.low < wilson_interval(95, 118).low < ninety.low
    assert ninety.high < wilson_interval(95, 118).high < ninety_nine.high


def test_wilson_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="at least one item"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="cannot exceed n"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="cannot be negative"):
        wilson_interval(-1, 10)
    with pytest.raises(TypeError, match="whole number"):
        wilson_interval(0.5, 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="between 0 and 1"):
        wilson_interval(5, 10, confidence=95)


# -- paired test ----------------------------------------------------------------------------------------


def _pairs(both: int, only_a: int, only_b: int, neither: int) -> tuple[list[bool], list[bool]]:
    a = [True] * both + [True] * only_a + [False] * only_b + [False] * neither
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    return a, b


def test_exact_mcnemar_p_value_for_10_against_2_discordant_pairs() -> None:
    # 2 * P(X <= 2) for X ~ Binomial(12, 1/2) = 2 * (1 + 12 + 66) / 4096
    a, b = _pairs(both=30, only_a=10, only_b=2, neither=8)
    test = paired_test(a, b)
    assert test.p_value == pytest.approx(2 * 79 / 4096) and round(test.p_value, 4) == 0.0386
    assert (test.only_a, test.only_b, test.discordant, test.n) == (10, 2, 12, 50)
    assert test.difference == pytest.approx(8 / 50) and test.a_accuracy == 40 / 50 and test.b_accuracy == 32 / 50
    assert paired_test(b, a).p_value == pytest.approx(test.p_value)  # two-sided: symmetric
    assert paired_test(b, a).difference == pytest.approx(-test.difference)


def test_paired_bootstrap_interval_is_close_to_the_normal_theory_one_on_many_items() -> None:
    # the paired difference of n items with b and c discordant has variance ((b + c) - (b - c)^2 / n) / n^2
    n, b, c = 1000, 60, 30
    a_flags, b_flags = _pairs(both=700, only_a=b, only_b=c, neither=n - 700 - b - c)
    test = paired_test(a_flags, b_flags)
    diff = (b - c) / n
    half = Z95 * math.sqrt((b + c) - (b - c) ** 2 / n) / n
    assert test.low == pytest.approx(diff - half, abs=0.006) and test.high == pytest.approx(diff + half, abs=0.006)
    assert test.low < diff < test.high
    assert paired_test(a_flags, b_flags) == test  # a fixed seed: the same interval every time


def test_paired_test_with_no_discordant_items() -> None:
    for flags in ([True] * 20, [False] * 20, [True, False] * 10):
        test = paired_test(flags, flags)
        assert test.p_value == 1.0 and test.difference == 0.0 and (test.low, test.high) == (0.0, 0.0)
    one = paired_test([1], [0])
    assert one.p_value == 1.0 and one.difference == 1.0 and math.isnan(one.low)  # one item gives no interval


def test_paired_test_refuses_mismatched_or_empty_input() -> None:
    with pytest.raises(ValueError, match="3 results for A but 2 for B"):
        paired_test([True, False, True], [True, False])
    with pytest.raises(ValueError, match="no items"):
        paired_test([], [])
    with pytest.raises(ValueError, match="only True/False"):
        paired_test(["billing", "refund"], ["billing", "billing"])


def test_p_values_print_as_a_reader_takes_them_in() -> None:
    assert format_p_value(0.0385742) == "0.039" and format_p_value(0.0021) == "0.0021"
    assert format_p_value(3e-7) == "< 0.0001" and format_p_value(1.0) == "1" and format_p_value(0.5) == "0.5"


# -- canary stop rules ------------------------------------------------------------------------------------


def test_a_rule_that_needs_more_requests_than_the_canary_served_never_stops() -> None:
    risk = stop_rule_risk(400, 0.01, baseline_requests=8000, min_requests=500)
    assert risk.false_stop == 0.0 and risk.miss == 1.0
    assert stop_probability(400, 0.5, 0.01, min_requests=500) == 0.0


def test_with_a_threshold_of_zero_errors_any_canary_error_stops() -> None:
    # a known 1% baseline, at most 1.5 x 1% x 60 = 0.9 errors allowed: the first error stops the canary
    n, p = 60, 0.01
    risk = stop_rule_risk(n, p, max_ratio=1.5, min_requests=0)
    assert risk.false_stop == pytest.approx(1 - (1 - p) ** n)
    assert risk.miss == pytest.approx((1 - 2 * p) ** n)


def test_one_request_on_each_side_by_hand() -> None:
    # canary 1 request, baseline 1 request: only "canary erred, baseline did not" stops (1 > 1.5 x 0);
    # when both erred, 1 is not more than 1.5 x 1
    p = 0.1
    risk = stop_rule_risk(1, p, baseline_requests=1, min_requests=1)
    assert risk.false_stop == pytest.approx(p * (1 - p))
    assert risk.miss == pytest.approx(1 - 2 * p * (1 - p))


def test_a_canary_at_exactly_max_ratio_times_the_baseline_does_not_stop() -> None:
    # 1.5 x 1% x 1000 = 15 errors allowed, so the rule stops at 16 or more: P(X > 15), X ~ Binomial(1000, 1%)
    n, p = 1000, 0.01
    at_most_15 = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(16))
    assert stop_probability(n, p, p, max_ratio=1.5) == pytest.approx(1 - at_most_15, rel=1e-9)


def test_certain_outcomes() -> None:
    assert stop_probability(600, 1.0, 0.0, baseline_requests=10_000) == pytest.approx(1.0)
    assert stop_probability(600, 0.0, 0.0, baseline_requests=10_000) == 0.0
    assert stop_rule_risk(600, 0.0, baseline_requests=10_000).miss == 1.0  # twice zero is still zero


@pytest.mark.parametrize(("canary", "baseline", "rate"), [(1000, 10_000, 0.01), (300, 30, 0.05), (700, 700, 0.03)])
def test_exact_stop_rates_agree_with_a_simulation(canary: int, baseline: int, rate: float) -> None:
    rng = np.random.default_rng(20260101)
    draws = 200_000
    baseline_errors = rng.binomial(baseline, rate, draws)
    for canary_rate in (rate, 2 * rate):
        canary_errors = rng.binomial(canary, canary_rate, draws)
        simulated = float(np.mean(canary_errors * baseline > 1.5 * baseline_errors * canary))
        exact = stop_probability(canary, canary_rate, rate, baseline_requests=baseline, min_requests=0)
        assert abs(exact - simulated) < 4 * math.sqrt(exact * (1 - exact) / draws) + 1e-4


def test_more_canary_traffic_lowers_both_error_rates() -> None:
    small = stop_rule_risk(1000, 0.01, baseline_requests=19_000)
    large = stop_rule_risk(8000, 0.01, baseline_requests=152_000)
    assert large.false_stop < small.false_stop and large.miss < small.miss
    assert "stops an equally good canary" in str(large)


@pytest.mark.parametrize("baseline_per_canary", [None, 19])
def test_requests_for_false_stop_is_where_the_rate_stays_under_the_target(baseline_per_canary: float | None) -> None:
    target, p = 0.05, 0.01
    n = requests_for_false_stop(target, p, baseline_per_canary=baseline_per_canary)

    def rate(size: int) -> float:
        base = None if baseline_per_canary is None else round(size * baseline_per_canary)
        return stop_probability(size, p, p, baseline_requests=base, min_requests=0)

    assert rate(n - 1) > target
    assert all(rate(size) <= target for size in range(n, 2 * n, 7))
    # a one-request canary rarely errs, so the rate starts under the target before climbing far above it:
    # the first size under the target is not the answer
    assert rate(1) < target and max(rate(size) for size in range(60, 80)) > 5 * target


def test_requests_for_false_stop_says_when_no_size_is_enough() -> None:
    # with max_ratio 1 a canary as good as a known baseline exceeds it about half the time, at any size
    with pytest.raises(ValueError, match="does not stay at or below"):
        requests_for_false_stop(0.05, 0.01, max_ratio=1.0, max_requests=5000)
    with pytest.raises(ValueError, match="share between 0 and 1"):
        requests_for_false_stop(5, 0.01)


def test_stop_rule_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        stop_probability(0, 0.01, 0.01)
    with pytest.raises(ValueError, match="baseline_requests must be at least 1"):
        stop_probability(10, 0.01, 0.01, baseline_requests=0)
    with pytest.raises(ValueError, match="at most 1"):
        stop_rule_risk(1000, 0.6, worse_by=2.0)
    with pytest.raises(ValueError, match="max_ratio must be above 0"):
        stop_probability(10, 0.01, 0.01, max_ratio=0)


# -- percentile -------------------------------------------------------------------------------------------


def test_percentile_has_one_home() -> None:
    from rightsize.evals.metrics import percentile as metrics_percentile

    assert metrics_percentile is percentile
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5) and math.isnan(percentile([None], 50))
