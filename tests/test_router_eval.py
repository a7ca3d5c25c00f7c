"""Router evaluation math, checked by hand on tiny examples: curves, CPT, APGR, frontier, plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest

from rightsize.routing import (
    apgr,
    compare_routers,
    cpt,
    frontier_plot,
    sweep_thresholds,
)
from rightsize.routing.cascade import TierOutcome
from rightsize.routing.evaluation import (
    cascade_curve,
    cost_quality_frontier,
    decision_curve,
    frontier_area,
    oracle_scores,
    random_curve,
    random_scores,
    threshold_curve,
)

matplotlib.use("Agg")

# four items: the weak model gets 0 and 3 right, the strong one all four (p = 1/2 need the strong one)
WEAK = [1, 0, 0, 1]
STRONG = [1, 1, 1, 1]


def test_threshold_curve_points_by_hand() -> None:
    curve = threshold_curve("r", [0.1, 0.9, 0.5, 0.5], WEAK, STRONG, weak_cost=0.0, strong_cost=1.0)
    # thresholds inf, 0.9, 0.5, 0.1 -> strong share 0, 1/4, 3/4 (a tie moves together), 1
    assert curve.share_strong.tolist() == [0, 0.25, 0.75, 1]
    assert curve.quality.tolist() == [0.5, 0.75, 1.0, 1.0]
    assert curve.cost.tolist() == [0, 0.25, 0.75, 1]  # cost per request = share when strong costs 1
    assert curve.thresholds is not None and curve.thresholds.tolist() == [np.inf, 0.9, 0.5, 0.1]
    assert curve.quality_at(0.5) == pytest.approx(0.875)  # halfway along the tie: random tie-breaking
    with_overhead = threshold_curve("r", [0.1, 0.9, 0.5, 0.5], WEAK, STRONG, weak_cost=0.0, strong_cost=1.0,
                                    overhead_cost=0.01)
    assert with_overhead.cost.tolist() == pytest.approx([0.01, 0.26, 0.76, 1.01])


def test_oracle_router_by_hand() -> None:
    oracle = threshold_curve("oracle", oracle_scores(WEAK, STRONG), WEAK, STRONG, weak_cost=0, strong_cost=1)
    assert oracle.share_strong.tolist() == [0, 0.5, 1] and oracle.quality.tolist() == [0.5, 1.0, 1.0]
    p = 0.5  # share of items where the strong model beats the weak one
    assert cpt(oracle, 50) == pytest.approx(p / 2)
    assert cpt(oracle, 20) == pytest.approx(0.2 * p) and cpt(oracle, 80) == pytest.approx(0.8 * p)
    # area above the weak model: a triangle 0.5 x 0.5 / 2 plus a rectangle 0.5 x 0.5 = 0.375; gap 0.5
    assert apgr(oracle) == pytest.approx(0.75) == pytest.approx(1 - p / 2)


def test_oracle_on_a_larger_set_matches_the_formulas() -> None:
    rng = np.random.default_rng(3)
    weak = (rng.random(400) < 0.5).astype(float)
    strong = np.maximum(weak, rng.random(400) < 0.6).astype(float)  # never worse than weak
    p = float(np.mean(strong > weak))
    oracle = threshold_curve("oracle", oracle_scores(weak, strong), weak, strong, weak_cost=0, strong_cost=1)
    assert cpt(oracle, 50) == pytest.approx(p / 2)
    assert apgr(oracle) == pytest.approx(1 - p / 2)


def test_apgr_can_pass_one_when_the_weak_model_wins_some_items() -> None:
    weak, strong = [1, 0, 0], [0, 1, 1]
    oracle = threshold_curve("oracle", oracle_scores(weak, strong), weak, strong, weak_cost=0, strong_cost=1)
    # points (0, 1/3), (2/3, 1), (1, 2/3): area above 1/3 = 2/9 + 1/6 = 7/18; gap 1/3
    assert apgr(oracle) == pytest.approx(7 / 6)


def test_random_routing_recovers_the_gap_linearly() -> None:
    baseline = random_curve(WEAK, STRONG, weak_cost=0.0, strong_cost=2.0)
    assert apgr(baseline) == pytest.approx(0.5)
    for percent in (20, 50, 80):
        assert cpt(baseline, percent) == pytest.approx(percent / 100)
    assert baseline.cost.tolist() == pytest.approx(np.linspace(0, 2, 11).tolist())
    # a simulated random router wobbles around it
    rng = np.random.default_rng(0)
    weak = (rng.random(3000) < 0.5).astype(float)
    strong = np.maximum(weak, rng.random(3000) < 0.7).astype(float)
    simulated = threshold_curve("random", random_scores(3000, seed=1), weak, strong, weak_cost=0, strong_cost=1)
    assert apgr(simulated) == pytest.approx(0.5, abs=0.03)
    assert cpt(simulated, 50) == pytest.approx(0.5, abs=0.05)


def test_a_backwards_router_is_worse_than_random() -> None:
    backwards = threshold_curve("backwards", -oracle_scores(WEAK, STRONG), WEAK, STRONG, weak_cost=0, strong_cost=1)
    assert apgr(backwards) == pytest.approx(0.25)  # 1 - 0.75: the oracle's curve mirrored
    assert cpt(backwards, 50) == pytest.approx(0.75)


def test_cpt_interpolates_between_operating_points() -> None:
    curve = decision_curve("yes/no", [False, True, False, True], WEAK, STRONG, weak_cost=0.0, strong_cost=1.0)
    # one point (0.5, 0.75) plus the anchors (0, 0.5) and (1, 1)
    assert curve.share_strong.tolist() == [0.5] and curve.quality.tolist() == [0.75]
    assert cpt(curve, 50) == pytest.approx(0.5)
    assert cpt(curve, 25) == pytest.approx(0.25)
    assert cpt(curve, 80) == pytest.approx(0.5 + 0.5 * (0.15 / 0.25))  # target 0.9 on the last segment
    assert apgr(curve) == pytest.approx(0.5)


def test_no_gap_is_a_clear_error() -> None:
    curve = threshold_curve("r", [0.1, 0.2], [1, 1], [1, 0], weak_cost=0, strong_cost=1)
    with pytest.raises(ValueError, match="does not beat the weak one"):
        apgr(curve)
    with pytest.raises(ValueError, match="does not beat"):
        cpt(curve, 50)
    with pytest.raises(ValueError, match=r"percent is in \(0, 100\]"):
        cpt(random_curve(WEAK, STRONG, weak_cost=0, strong_cost=1), 0)
    with pytest.raises(ValueError, match="aligned"):
        threshold_curve("r", [0.1], WEAK, STRONG, weak_cost=0, strong_cost=1)


def test_frontier_is_the_upper_convex_hull() -> None:
    costs = [0.0, 1.0, 2.0, 3.0, 2.5, 4.0]
    quality = [0.5, 0.6, 0.9, 0.95, 0.7, 0.95]
    hx, hy = cost_quality_frontier(costs, quality)
    # (1, .6) lies under the chord from (0, .5) to (2, .9); (2.5, .7) and (4, .95) are dominated
    assert hx.tolist() == [0.0, 2.0, 3.0] and hy.tolist() == [0.5, 0.9, 0.95]


def test_frontier_area_by_hand() -> None:
    points = ([0.0, 1.0, 2.0, 3.0, 2.5], [0.5, 0.6, 0.9, 0.95, 0.7])
    # trapezoids: 2 x (0.5 + 0.9) / 2 = 1.4, then 1 x (0.9 + 0.95) / 2 = 0.925; / 3
    assert frontier_area(points) == pytest.approx(2.325 / 3)
    assert frontier_area(points, max_cost=4.0) == pytest.approx((2.325 + 0.95) / 4)  # flat beyond
    assert frontier_area(points, max_cost=1.0) == pytest.approx((0.5 + 0.7) / 2)  # cut at 1: hull is 0.7 there
    # nothing cheaper than cost 1 exists: quality 0 below it
    assert frontier_area(([1.0, 2.0], [0.5, 1.0]), max_cost=2.0) == pytest.approx(0.75 / 2)
    assert frontier_area(([0.0, 0.0], [0.3, 0.6])) == pytest.approx(0.6)  # all free: the best free quality


def test_cascade_curve_and_comparison_table() -> None:
    # each answer is True when it is right; the small model's confidence ranks its two mistakes lowest
    small = [TierOutcome("small", ok, c, True, 0.0, 0.1)
             for ok, c in zip([True, False, False, True], [0.9, 0.2, 0.4, 0.8])]
    big = [TierOutcome("big", ok, None, True, 1.0, 1.0) for ok in [True, True, True, True]]
    runs = sweep_thresholds({"small": small, "big": big}, ["small", "big"], lambda i, a: bool(a))
    cascade = cascade_curve("cascade", runs, weak_quality=0.5, strong_quality=1.0, weak_cost=0.0, strong_cost=1.0)
    # a confidence that ranks the small model's mistakes lowest: escalating 2 items recovers everything
    assert cascade.share_strong.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert cascade.quality.tolist() == [0.5, 0.75, 1.0, 1.0, 1.0]
    assert cascade.cost.tolist() == [0, 0.25, 0.5, 0.75, 1.0]  # the small tier is free here
    assert apgr(cascade) == pytest.approx(0.75)
    routers = {"cascade": cascade, "random": random_curve(WEAK, STRONG, weak_cost=0, strong_cost=1)}
    table = compare_routers(routers)
    assert list(table.columns) == ["CPT(20%)", "CPT(50%)", "CPT(80%)", "APGR", "frontier_area", "best_quality"]
    assert table.loc["cascade", "APGR"] > table.loc["random", "APGR"] == pytest.approx(0.5)
    assert table.loc["cascade", "CPT(50%)"] == pytest.approx(0.25)
    assert table.loc["cascade", "frontier_area"] > table.loc["random", "frontier_area"]


def test_frontier_plot_labels_axes_with_units(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    routers = {
        "oracle": threshold_curve("oracle", oracle_scores(WEAK, STRONG), WEAK, STRONG, weak_cost=0.001,
                                  strong_cost=0.01),
        "random": random_curve(WEAK, STRONG, weak_cost=0.001, strong_cost=0.01),
    }
    ax = frontier_plot(routers)
    assert ax.get_xlabel() == "cost per request (USD)"
    assert ax.get_ylabel() == "quality (share of items correct, 0-1)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "oracle (frontier)" in labels and "weak model alone" in labels
    ax.figure.savefig(tmp_path / "frontier.png")
    assert (tmp_path / "frontier.png").stat().st_size > 1000
    share_ax = frontier_plot(routers, x="share")
    assert share_ax.get_xlabel() == "requests sent to the strong model (%)"
    plt.close("all")
    with pytest.raises(ValueError, match="no routers"):
        frontier_plot({})
