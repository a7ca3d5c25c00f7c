"""Router evaluation: quality against cost and against the share of calls sent to the strong model.

The definitions are those of the course's METRICS.md:

* A router with a score per request ("how much does this need the strong model?") becomes a
  **curve** by sweeping its threshold: send every request scoring at or above ``t`` to the
  strong model. Each threshold is an operating point (share of strong calls, quality, cost).
  Between points the curve is a straight line: the expected result of breaking ties at random.
  Curves are anchored at share 0 (all weak) and share 1 (all strong).
* **CPT(x%)** (call-performance threshold): the smallest share of strong calls at which the
  curve recovers x% of the gap between the weak and the strong model's quality.
* **APGR** (average performance gap recovered): the area under the router's quality curve above
  the weak model's quality, over the share axis 0..1, divided by the area of the strong model
  above the weak one, ``(strong - weak) * 1``. Computed exactly on the piecewise-linear curve
  (RouteLLM approximates the same integral with 10 bins).
* The **cost-quality frontier** is the upper convex hull of operating points (cost, quality):
  the best quality reachable at each cost, mixing neighbouring points at random. Its **area**,
  integrated from cost 0 to ``max_cost`` and divided by ``max_cost`` (RouterBench's idea), ranks
  routers on one number: the hull counts as 0 below its cheapest point and stays flat beyond its
  dearest (more budget never hurts). Compare routers with the same ``max_cost``.

What the numbers mean, on hand-checkable cases: a router that picks at random has APGR 0.5 and
CPT(x%) = x%. A perfect oracle (sends exactly the items the strong model gets right and the weak
one gets wrong, a fraction ``p`` of all items) has CPT(50%) = p/2 and APGR = 1 - p/2; APGR can
exceed 1 only when the weak model beats the strong one on some items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from .cascade import CascadeRun

__all__ = [
    "RouterCurve",
    "apgr",
    "cascade_curve",
    "compare_routers",
    "cost_quality_frontier",
    "cpt",
    "decision_curve",
    "frontier_area",
    "frontier_plot",
    "oracle_scores",
    "random_curve",
    "random_scores",
    "threshold_curve",
]

ArrayLike = Sequence[float] | np.ndarray
CostLike = float | Sequence[float] | np.ndarray


@dataclass(frozen=True)
class RouterCurve:
    """A router's operating points, sorted by share of strong calls, and the two models' means.

    ``share_strong``, ``quality`` and ``cost`` are aligned arrays (cost in USD per request);
    ``weak_quality``/``strong_quality`` and ``weak_cost``/``strong_cost`` describe sending
    everything to one model, the anchors of CPT and APGR.
    """

    name: str
    share_strong: np.ndarray
    quality: np.ndarray
    cost: np.ndarray
    weak_quality: float
    strong_quality: float
    weak_cost: float
    strong_cost: float
    thresholds: np.ndarray | None = None

    @property
    def gap(self) -> float:
        """Strong minus weak quality: what a router can recover."""
        return self.strong_quality - self.weak_quality

    def anchored(self) -> tuple[np.ndarray, np.ndarray]:
        """(share, quality) with the all-weak and all-strong anchors added where missing.

        A router's point (s, q) can be mixed at random with all-weak or all-strong routing, so
        the straight lines to the anchors are reachable operating points.
        """
        share, quality = self.share_strong, self.quality
        if share.size == 0 or share[0] > 0:
            share, quality = np.r_[0.0, share], np.r_[self.weak_quality, quality]
        if share[-1] < 1:
            share, quality = np.r_[share, 1.0], np.r_[quality, self.strong_quality]
        return share, quality

    def quality_at(self, share: float) -> float:
        """Quality at a share of strong calls (linear between operating points)."""
        s, q = self.anchored()
        return float(np.interp(share, s, q))

    def points(self) -> pd.DataFrame:
        """The operating points as a DataFrame."""
        import pandas as pd

        frame = pd.DataFrame({"share_strong": self.share_strong, "quality": self.quality, "cost": self.cost})
        if self.thresholds is not None:
            frame.insert(0, "threshold", self.thresholds)
        return frame


def _array(values: ArrayLike, name: str) -> np.ndarray:
    out = np.asarray(values, dtype=float)
    if out.ndim != 1 or out.size == 0:
        raise ValueError(f"{name} must be a non-empty list of per-item numbers")
    if np.isnan(out).any():
        raise ValueError(f"{name} holds NaN: grade every item (count an error as quality 0)")
    return out


def _costs(cost: CostLike, n: int, name: str) -> np.ndarray:
    out = np.broadcast_to(np.asarray(cost, dtype=float), (n,)) if np.ndim(cost) == 0 else _array(cost, name)  # type: ignore[arg-type]
    if out.shape != (n,):
        raise ValueError(f"{name} has {out.size} values for {n} items: give one per item or one for all")
    return np.asarray(out, dtype=float)


def _dedupe(share: np.ndarray, quality: np.ndarray, cost: np.ndarray,
            thresholds: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Sort by share; where several points share a share, keep the best quality (then lowest cost)."""
    order = np.lexsort((cost, -quality, share))
    share, quality, cost = share[order], quality[order], cost[order]
    thresholds = thresholds[order] if thresholds is not None else None
    keep = np.r_[True, np.diff(share) > 1e-12]
    return share[keep], quality[keep], cost[keep], (thresholds[keep] if thresholds is not None else None)


def threshold_curve(
    name: str,
    scores: ArrayLike,
    weak_quality: ArrayLike,
    strong_quality: ArrayLike,
    *,
    weak_cost: CostLike,
    strong_cost: CostLike,
    overhead_cost: float = 0.0,
) -> RouterCurve:
    """The curve of a scoring router: higher score = send to the strong model.

    ``weak_quality[i]`` / ``strong_quality[i]`` grade each model's answer to item ``i`` (0/1 or
    a score); costs are USD per item (one number or one per item); ``overhead_cost`` is what
    the router itself costs per request (a classifier call), added to every point but the anchors.
    """
    s = _array(scores, "scores")
    weak, strong = _array(weak_quality, "weak_quality"), _array(strong_quality, "strong_quality")
    if not s.size == weak.size == strong.size:
        raise ValueError(f"scores ({s.size}), weak_quality ({weak.size}) and strong_quality ({strong.size}) "
                         "must be aligned item by item")
    wc, sc = _costs(weak_cost, s.size, "weak_cost"), _costs(strong_cost, s.size, "strong_cost")
    thresholds = np.r_[np.inf, np.unique(s)[::-1]]
    shares, qualities, costs = [], [], []
    for t in thresholds:
        to_strong = s >= t
        shares.append(to_strong.mean())
        qualities.append(np.where(to_strong, strong, weak).mean())
        costs.append(np.where(to_strong, sc, wc).mean() + overhead_cost)
    share, quality, cost, th = _dedupe(np.array(shares), np.array(qualities), np.array(costs), thresholds)
    return RouterCurve(name, share, quality, cost, float(weak.mean()), float(strong.mean()),
                       float(wc.mean()), float(sc.mean()), th)


def decision_curve(
    name: str,
    to_strong: Sequence[bool],
    weak_quality: ArrayLike,
    strong_quality: ArrayLike,
    *,
    weak_cost: CostLike,
    strong_cost: CostLike,
    overhead_cost: float = 0.0,
) -> RouterCurve:
    """A router that only says yes/no per item (no score): one operating point plus the anchors."""
    flags = np.asarray(to_strong, dtype=bool)
    scores = flags.astype(float)
    curve = threshold_curve(name, scores, weak_quality, strong_quality, weak_cost=weak_cost,
                            strong_cost=strong_cost, overhead_cost=overhead_cost)
    keep = np.isclose(curve.share_strong, flags.mean())
    return RouterCurve(name, curve.share_strong[keep], curve.quality[keep], curve.cost[keep], curve.weak_quality,
                       curve.strong_quality, curve.weak_cost, curve.strong_cost,
                       curve.thresholds[keep] if curve.thresholds is not None else None)


def cascade_curve(
    name: str,
    runs: Sequence[CascadeRun],
    *,
    weak_quality: float,
    strong_quality: float,
    weak_cost: float,
    strong_cost: float,
) -> RouterCurve:
    """A cascade's curve from :func:`~.cascade.sweep_thresholds` runs.

    The share axis is the share answered by the last (strongest) tier; cost includes every tier
    that ran, so an escalated item pays for both models. The anchors are the weak and strong
    models answering everything alone (pass their mean quality and cost).
    """
    if not runs:
        raise ValueError("no cascade runs: sweep_thresholds() gives one per threshold")
    last = runs[0].order[-1]
    share = np.array([r.share_by_tier[last] for r in runs])
    quality = np.array([r.accuracy for r in runs])
    cost = np.array([r.cost_per_request for r in runs])
    first = runs[0].order[0]
    thresholds = np.array([r.thresholds.get(first, math.nan) for r in runs])
    share, quality, cost, th = _dedupe(share, quality, cost, thresholds)
    return RouterCurve(name, share, quality, cost, weak_quality, strong_quality, weak_cost, strong_cost, th)


def random_curve(weak_quality: ArrayLike, strong_quality: ArrayLike, *, weak_cost: CostLike,
                 strong_cost: CostLike, name: str = "random") -> RouterCurve:
    """The expected curve of routing a random share of requests to the strong model (a baseline)."""
    weak, strong = _array(weak_quality, "weak_quality"), _array(strong_quality, "strong_quality")
    wc, sc = _costs(weak_cost, weak.size, "weak_cost").mean(), _costs(strong_cost, strong.size, "strong_cost").mean()
    share = np.linspace(0, 1, 11)
    return RouterCurve(name, share, weak.mean() + share * (strong.mean() - weak.mean()), wc + share * (sc - wc),
                       float(weak.mean()), float(strong.mean()), float(wc), float(sc))


def random_scores(n: int, seed: int | None = 0) -> np.ndarray:
    """Random routing scores: a simulated random router whose curve wobbles around the baseline."""
    return np.random.default_rng(seed).random(n)


def oracle_scores(weak_quality: ArrayLike, strong_quality: ArrayLike) -> np.ndarray:
    """The scores of a perfect router: how much better the strong model did on each item."""
    return np.asarray(_array(strong_quality, "strong_quality") - _array(weak_quality, "weak_quality"))


def _check_gap(curve: RouterCurve) -> None:
    if curve.gap <= 0:
        raise ValueError(
            f"the strong model ({curve.strong_quality:.3f}) does not beat the weak one ({curve.weak_quality:.3f}) "
            "on these items, so there is no gap to recover and CPT/APGR are undefined: check the two "
            "models are the right way round, or use more items"
        )


def cpt(curve: RouterCurve, percent: float) -> float:
    """CPT(percent%): the smallest share of strong calls recovering ``percent``% of the quality gap."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent is in (0, 100], e.g. cpt(curve, 50) for CPT(50%); got {percent!r}")
    _check_gap(curve)
    target = curve.weak_quality + percent / 100 * curve.gap - 1e-12  # tolerance for float sums
    share, quality = curve.anchored()
    if quality[0] >= target:
        return float(share[0])
    for i in range(len(share) - 1):
        (s0, s1), (q0, q1) = share[i:i + 2], quality[i:i + 2]
        if q1 >= target:  # q0 < target here, so the curve crosses the target on this segment
            return float(s0 + (s1 - s0) * (target - q0) / (q1 - q0))
    return 1.0  # unreachable: the all-strong anchor recovers the whole gap


def apgr(curve: RouterCurve) -> float:
    """APGR: area of the router's quality above the weak model over share 0..1, over the strong's."""
    _check_gap(curve)
    share, quality = curve.anchored()
    area = float(np.sum((share[1:] - share[:-1]) * ((quality[1:] + quality[:-1]) / 2 - curve.weak_quality)))
    return area / curve.gap


def cost_quality_frontier(costs: ArrayLike, qualities: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The upper convex hull of operating points: (cost, quality) arrays, cheapest first.

    Dominated points (dearer and not better) are dropped, then points under the line between
    their neighbours, so the frontier is non-decreasing and concave.
    """
    c, q = _array(costs, "costs"), _array(qualities, "qualities")
    if c.size != q.size:
        raise ValueError("costs and qualities must be aligned point by point")
    order = np.lexsort((-q, c))
    pareto: list[tuple[float, float]] = []
    for i in order:
        if not pareto or q[i] > pareto[-1][1] + 1e-12:
            if pareto and abs(c[i] - pareto[-1][0]) < 1e-15:
                pareto[-1] = (float(c[i]), float(q[i]))
            else:
                pareto.append((float(c[i]), float(q[i])))
    hull: list[tuple[float, float]] = []
    for point in pareto:
        while len(hull) >= 2:
            (x0, y0), (x1, y1) = hull[-2], hull[-1]
            # drop the middle point when it is on or under the chord from x0 to the new point
            if (x1 - x0) * (point[1] - y0) - (y1 - y0) * (point[0] - x0) >= 0:
                hull.pop()
            else:
                break
        hull.append(point)
    return np.array([p[0] for p in hull]), np.array([p[1] for p in hull])


def frontier_area(curve: RouterCurve | tuple[ArrayLike, ArrayLike], *, max_cost: float | None = None) -> float:
    """Area under the cost-quality frontier from cost 0 to ``max_cost``, divided by ``max_cost``.

    Reads as the average quality over budgets 0..max_cost (quality 0 below the cheapest point,
    flat beyond the dearest). ``max_cost`` defaults to the cost of the frontier's best point; pass one shared value
    when comparing routers. With every point free (max_cost 0) it is the best free quality.
    """
    costs, qualities = (curve.cost, curve.quality) if isinstance(curve, RouterCurve) else curve
    hx, hy = cost_quality_frontier(costs, qualities)
    top = float(hx[-1]) if max_cost is None else float(max_cost)
    if top < 0:
        raise ValueError("max_cost cannot be negative")
    if top == 0:
        return float(hy[0]) if hx[0] == 0 else 0.0
    if hx[0] >= top:
        return 0.0
    grid = np.r_[hx[hx < top], top]
    values = np.interp(grid, hx, hy)  # flat beyond the dearest point
    return float(np.sum((grid[1:] - grid[:-1]) * (values[1:] + values[:-1]) / 2)) / top


def compare_routers(curves: Mapping[str, RouterCurve] | Sequence[RouterCurve], *,
                    max_cost: float | None = None, percents: Sequence[float] = (20, 50, 80)) -> pd.DataFrame:
    """One row per router: CPT at each percent, APGR, frontier area (shared ``max_cost``), best quality."""
    import pandas as pd

    items = list(curves.values()) if isinstance(curves, Mapping) else list(curves)
    top = max_cost if max_cost is not None else max(float(c.cost.max()) for c in items)
    rows: list[dict[str, Any]] = []
    for c in items:
        row: dict[str, Any] = {"router": c.name}
        row.update({f"CPT({p:g}%)": cpt(c, p) for p in percents})
        row["APGR"] = apgr(c)
        row["frontier_area"] = frontier_area(c, max_cost=top)
        row["best_quality"] = float(c.quality.max())
        rows.append(row)
    return pd.DataFrame(rows).set_index("router")


def frontier_plot(routers: Mapping[str, RouterCurve], *, x: Literal["cost", "share"] = "cost",
                  ax: Axes | None = None, show_hull: bool = True, title: str | None = None) -> Axes:
    """Plot each router's quality against cost per request (with its frontier) or against share.

    Returns the matplotlib Axes. With ``x="cost"`` each router's operating points are dots and
    its cost-quality frontier a line; with ``x="share"`` its curve over the share of strong calls.
    The weak and strong models alone are marked in both.
    """
    import matplotlib.pyplot as plt

    if not routers:
        raise ValueError("no routers to plot: pass {name: curve}")
    if x not in ("cost", "share"):
        raise ValueError(f"x must be 'cost' or 'share', not {x!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    assert ax is not None
    for name, curve in routers.items():
        if x == "cost":
            dots = ax.plot(curve.cost, curve.quality, "o", alpha=0.35, markersize=4)[0]
            if show_hull:
                hx, hy = cost_quality_frontier(curve.cost, curve.quality)
                ax.plot(hx, hy, "-", color=dots.get_color(), label=f"{name} (frontier)")
            else:
                dots.set_label(name)
        else:
            share, quality = curve.anchored()
            ax.plot(share * 100, quality, "-o", markersize=3, label=name)
    ref = next(iter(routers.values()))
    if x == "cost":
        ax.plot([ref.weak_cost], [ref.weak_quality], "kv", label="weak model alone")
        ax.plot([ref.strong_cost], [ref.strong_quality], "k^", label="strong model alone")
        ax.set_xlabel("cost per request (USD)")
    else:
        ax.axhline(ref.weak_quality, color="grey", linestyle=":", label="weak model alone")
        ax.axhline(ref.strong_quality, color="black", linestyle=":", label="strong model alone")
        ax.set_xlabel("requests sent to the strong model (%)")
    ax.set_ylabel("quality (share of items correct, 0-1)")
    ax.set_title(title or ("Quality against cost" if x == "cost" else "Quality against share of strong calls"))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return ax
