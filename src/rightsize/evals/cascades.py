"""Cascades built from real evaluation runs: each tier's per-item records become its outcomes.

The cascade itself is :mod:`rightsize.routing.cascade` (``simulate_cascade``,
``calibrate_threshold``); this module feeds it. For every tier we have an :class:`EvalRun` on the
**dev** split (to choose its threshold) and one on the **test** split (to report). An item leaves
a tier when the tier gave no valid answer or its confidence is below the tier's threshold;
cost and latency of an item add up over the tiers it went through (tiers run one after the other).

The last tier is usually a **human-review queue**: it always answers, correctly, at a cost per
item and a turnaround that are *assumptions* you set (defaults: $0.50 per ticket and one hour),
not measurements. Everything else comes from the runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import RightsizeError
from ..stats import ProportionInterval, wilson_interval
from .records import EvalRun

__all__ = [
    "DEFAULT_REVIEW_COST",
    "DEFAULT_REVIEW_SECONDS",
    "CascadeEval",
    "HumanReview",
    "build_cascade",
    "tier_outcomes",
]

DEFAULT_REVIEW_COST = 0.50  # USD per reviewed ticket: an assumption (a few minutes of an agent's time)
DEFAULT_REVIEW_SECONDS = 3600.0  # one hour from queue to answer: an assumption, not a measurement


@dataclass(frozen=True)
class HumanReview:
    """A human-review queue as a cascade tier: always right, at an assumed cost and turnaround."""

    cost_per_item: float = DEFAULT_REVIEW_COST
    latency_s: float = DEFAULT_REVIEW_SECONDS
    name: str = "human review"

    def describe(self) -> str:
        from .compare import format_latency

        return (f"{self.name}: ${self.cost_per_item:.2f} per item and {format_latency(self.latency_s)} "
                "turnaround (assumptions, not measurements)")


def tier_outcomes(run: EvalRun, ids: Sequence[str], tier: str | None = None) -> list[Any]:
    """The :class:`~rightsize.routing.cascade.TierOutcome` of each item of ``ids`` in a run.

    ``valid`` is whether the tier gave an answer (abstentions and unreadable answers escalate);
    ``confidence`` is the run's own score (None escalates whenever the tier has a threshold).
    """
    from ..routing.cascade import TierOutcome

    by_id = {r.id: r for r in run.records}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise RightsizeError(f"{run.name} has no records for {len(missing)} item(s), e.g. {missing[:3]}: "
                             "evaluate every tier on the same items")
    name = tier or run.name
    return [TierOutcome(name, by_id[i].predicted, by_id[i].confidence, by_id[i].predicted is not None,
                        float(by_id[i].cost_usd), float(by_id[i].e2e or 0.0)) for i in ids]


def _human_outcomes(review: HumanReview, gold: Sequence[Any]) -> list[Any]:
    from ..routing.cascade import TierOutcome

    return [TierOutcome(review.name, g, 1.0, True, review.cost_per_item, review.latency_s) for g in gold]


@dataclass
class CascadeEval:
    """A cascade replayed over the test items, with thresholds chosen on the dev items.

    ``item_ids`` name the test items in the order the cascade saw them (``run.records[i].index``
    points into it), so the cascade can be paired with a run on the same items.
    """

    name: str
    run: Any  # rightsize.routing.cascade.CascadeRun
    tiers: list[str]
    thresholds: dict[str, float]
    notes: list[str] = field(default_factory=list)
    price_read_on: str | None = None
    item_ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.run.n)

    @property
    def accuracy(self) -> float:
        return float(self.run.accuracy)

    @property
    def n_correct(self) -> int:
        return sum(bool(r.correct) for r in self.run.records)

    @property
    def accuracy_interval(self) -> ProportionInterval:
        """The accuracy with its Wilson 95% interval over the test items."""
        return wilson_interval(self.n_correct, len(self))

    def correct_by_item(self) -> dict[str, bool]:
        """``{item id: final answer correct}``, for pairing with a run on the same items."""
        if not self.item_ids:
            raise RightsizeError(f"{self.name} does not know its item ids: build it with build_cascade()")
        return {self.item_ids[r.index]: bool(r.correct) for r in self.run.records}

    @property
    def latency_p50(self) -> float:
        return float(self.run.latency_p50)

    @property
    def latency_p95(self) -> float:
        return float(self.run.latency_p95)

    @property
    def cost_per_request(self) -> float:
        return float(self.run.cost_per_request)

    @property
    def cost_per_10k(self) -> float:
        return self.cost_per_request * 10_000

    @property
    def share_by_tier(self) -> dict[str, float]:
        return dict(self.run.share_by_tier)

    def summary(self) -> dict[str, Any]:
        ci = self.accuracy_interval
        return {"name": self.name, "model": " -> ".join(self.tiers), "mode": "cascade", "prompt": None,
                "items": len(self), "n_correct": self.n_correct, "accuracy": self.accuracy,
                "accuracy_low": ci.low, "accuracy_high": ci.high, "coverage": 1.0,
                "parse_ok": math.nan, "schema_ok": math.nan,
                "p50_latency_s": self.latency_p50, "p95_latency_s": self.latency_p95,
                "cost_per_request": self.cost_per_request, "cost_per_10k": self.cost_per_10k,
                "price_read_on": self.price_read_on, "source": "simulated from the tiers' runs",
                **{f"share {t}": s for t, s in self.share_by_tier.items()}}

    def describe(self) -> str:
        shares = ", ".join(f"{t} {s:.0%}" for t, s in self.share_by_tier.items())
        limits = ", ".join(f"{t} >= {v:.3g}" for t, v in self.thresholds.items()) or "none"
        return f"{self.name}: answered by {shares}; thresholds (chosen on dev) {limits}"


def build_cascade(
    tiers: Sequence[tuple[EvalRun, EvalRun]],
    *,
    review: HumanReview | None = HumanReview(),
    target_accuracy: float = 0.9,
    name: str | None = None,
    names: Sequence[str] | None = None,
) -> CascadeEval:
    """A cascade of ``tiers`` (each a ``(dev_run, test_run)`` pair, cheapest first), then ``review``.

    Each tier but the last gets the lowest confidence threshold at which the **dev** items that
    reach it are answered at least ``target_accuracy`` right (``calibrate_threshold``). When no
    threshold reaches the target, the tier accepts nothing (threshold infinity) and a note says
    so: it still costs its latency for every item that reaches it. The result is the cascade
    replayed over the **test** items.
    """
    from ..routing.cascade import calibrate_threshold, simulate_cascade

    if not tiers:
        raise RightsizeError("a cascade needs at least one tier")
    tier_names = list(names or [test.name for _, test in tiers])
    dev_ids = [r.id for r in tiers[0][0].records]
    test_ids = [r.id for r in tiers[0][1].records]
    dev_gold = [r.gold for r in tiers[0][0].records]
    test_gold = [r.gold for r in tiers[0][1].records]
    dev_out = {n: tier_outcomes(dev, dev_ids, n) for n, (dev, _) in zip(tier_names, tiers)}
    test_out = {n: tier_outcomes(test, test_ids, n) for n, (_, test) in zip(tier_names, tiers)}
    order = list(tier_names)
    if review is not None:
        order.append(review.name)
        dev_out[review.name] = _human_outcomes(review, dev_gold)
        test_out[review.name] = _human_outcomes(review, test_gold)
    thresholds: dict[str, float] = {}
    notes: list[str] = []
    reaching = list(range(len(dev_ids)))  # dev items that reach the current tier
    for tier in order[:-1]:
        outcomes = [dev_out[tier][i] for i in reaching]
        usable = [(o.confidence, o.answer == dev_gold[i]) for o, i in zip(outcomes, reaching)
                  if o.valid and o.confidence is not None and not math.isnan(o.confidence)]
        if not usable:
            thresholds[tier] = math.inf
            notes.append(f"{tier}: no valid answer with a confidence on the dev items it sees; it accepts nothing")
        else:
            try:
                thresholds[tier] = calibrate_threshold([c for c, _ in usable], [ok for _, ok in usable],
                                                       target_accuracy=target_accuracy)
            except ValueError as exc:
                thresholds[tier] = math.inf
                notes.append(f"{tier}: {exc} It accepts nothing in this cascade.")
        limit = thresholds[tier]
        reaching = [i for i in reaching
                    if not (dev_out[tier][i].valid and dev_out[tier][i].confidence is not None
                            and dev_out[tier][i].confidence >= limit)]
    run = simulate_cascade(test_out, order, thresholds, lambda i, answer: answer == test_gold[i])
    dates = sorted({t.price_read_on for _, t in tiers if t.price_read_on})
    label = name or "cascade: " + " -> ".join(order)
    return CascadeEval(label, run, order, thresholds, notes, ", ".join(dates) or None, list(test_ids))


def outcomes_by_tier(runs: Mapping[str, EvalRun], ids: Sequence[str]) -> dict[str, list[Any]]:
    """``{tier name: outcomes}`` for several runs over the same items (for ``simulate_cascade``)."""
    return {name: tier_outcomes(run, ids, name) for name, run in runs.items()}
