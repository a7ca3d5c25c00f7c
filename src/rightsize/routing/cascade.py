"""Cascades: try the cheap tier first and escalate when it is unsure or its answer fails a check.

Two halves share one escalation rule:

* **Offline** (:func:`simulate_cascade`): every tier has already answered every item (a
  :class:`TierOutcome` each); the simulation replays the cascade under chosen thresholds and
  reports accuracy, cost, latency and where items were answered. :func:`calibrate_threshold`
  picks a tier's threshold on the **dev** split for a target accuracy or escalation rate, and
  :func:`sweep_thresholds` traces the cost-quality curve for :mod:`.evaluation`.
* **Live** (:class:`Cascade`): runs the tiers on a request in order and logs each decision.
  A tier is any callable ``request -> TierOutcome``: :func:`provider_tier` wraps a model with
  its token-logprob confidence, :func:`classifier_tier` a classifier's probability,
  :func:`human_tier` a human-review queue with a cost per item.

The escalation rule: an item leaves a tier when its answer is not ``valid``, or when the tier
has a threshold and the confidence is below it (a missing confidence counts as below: a tier
that cannot say how sure it is does not get the benefit of the doubt). A tier with no
threshold escalates on failed validation only. The last tier always answers. Cost and latency
of an item are the sums over the tiers that ran (tiers run one after another).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import ProviderError, RightsizeError
from ..providers import Provider
from ..stats import percentile
from ._accounting import response_cost
from .decisions import DecisionLog, RouteRequest, as_request

if TYPE_CHECKING:
    import pandas as pd

    from .config import CascadeConfig

__all__ = [
    "Cascade",
    "CascadeRecord",
    "CascadeResult",
    "CascadeRun",
    "CascadeTier",
    "TierOutcome",
    "calibrate_threshold",
    "classifier_tier",
    "human_tier",
    "logprob_confidence",
    "provider_tier",
    "simulate_cascade",
    "sweep_thresholds",
]


@dataclass(frozen=True)
class TierOutcome:
    """What one tier produced for one item."""

    tier: str
    answer: object
    confidence: float | None
    valid: bool
    cost_usd: float
    latency_s: float


def _verdict(outcome: TierOutcome, tier: str, threshold: float | None, last: bool) -> tuple[bool, str]:
    """(accepted, reason) for one tier's outcome under the escalation rule."""
    if last:
        note = "" if outcome.valid else " (its answer failed validation, but the last tier always answers)"
        return True, f"{tier}: last tier answers{note}"
    if not outcome.valid:
        return False, f"{tier}: answer failed validation -> escalate"
    if threshold is None:
        return True, f"{tier}: valid answer (no confidence threshold) -> accept"
    if outcome.confidence is None or math.isnan(outcome.confidence):
        return False, f"{tier}: no confidence to compare with threshold {threshold:.3g} -> escalate"
    if outcome.confidence < threshold:
        return False, f"{tier}: confidence {outcome.confidence:.3f} < {threshold:.3g} -> escalate"
    return True, f"{tier}: confidence {outcome.confidence:.3f} >= {threshold:.3g} -> accept"


# -- offline ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CascadeRecord:
    """One item's trip through the cascade."""

    index: int
    answered_by: str
    answer: object
    correct: bool
    cost_usd: float
    latency_s: float
    path: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def cost(self) -> float:
        """Same as ``cost_usd``: USD summed over the tiers that ran."""
        return self.cost_usd

    @property
    def latency(self) -> float:
        """Same as ``latency_s``: seconds summed over the tiers that ran."""
        return self.latency_s


@dataclass(frozen=True)
class CascadeRun:
    """The result of replaying a cascade over a set of items."""

    order: tuple[str, ...]
    thresholds: Mapping[str, float]
    records: tuple[CascadeRecord, ...]

    @property
    def n(self) -> int:
        return len(self.records)

    @property
    def accuracy(self) -> float:
        """Share of items whose final answer is correct."""
        return float(np.mean([r.correct for r in self.records])) if self.records else math.nan

    @property
    def total_cost_usd(self) -> float:
        return float(sum(r.cost_usd for r in self.records))

    @property
    def cost_per_request(self) -> float:
        """Mean USD per item, counting every tier that ran."""
        return self.total_cost_usd / self.n if self.records else math.nan

    @property
    def latency_p50(self) -> float:
        return percentile([r.latency_s for r in self.records], 50)

    @property
    def latency_p95(self) -> float:
        return percentile([r.latency_s for r in self.records], 95)

    @property
    def latency_mean(self) -> float:
        return float(np.mean([r.latency_s for r in self.records])) if self.records else math.nan

    @property
    def share_by_tier(self) -> dict[str, float]:
        """Fraction of items answered at each tier (sums to 1)."""
        return {t: (sum(r.answered_by == t for r in self.records) / self.n if self.n else math.nan)
                for t in self.order}

    @property
    def escalation_rate(self) -> float:
        """Fraction of items the first tier did not answer."""
        return 1.0 - self.share_by_tier[self.order[0]] if self.records else math.nan

    def summary(self) -> dict[str, Any]:
        """The headline numbers as one dict (a DataFrame row)."""
        return {"accuracy": self.accuracy, "cost_per_request": self.cost_per_request,
                "latency_p50": self.latency_p50, "latency_p95": self.latency_p95,
                "escalation_rate": self.escalation_rate,
                **{f"share_{t}": s for t, s in self.share_by_tier.items()},
                **{f"threshold_{t}": v for t, v in self.thresholds.items()}}

    def to_frame(self) -> pd.DataFrame:
        """One row per item."""
        import pandas as pd

        return pd.DataFrame([{**r.__dict__, "path": " > ".join(r.path), "reasons": "; ".join(r.reasons)}
                             for r in self.records])


def _check_inputs(outcomes: Mapping[str, Sequence[TierOutcome]], order: Sequence[str],
                  thresholds: Mapping[str, float]) -> int:
    if not order:
        raise ValueError("order needs at least one tier name")
    missing = [t for t in order if t not in outcomes]
    if missing:
        raise ValueError(f"no outcomes for tier(s) {missing}; outcomes has {sorted(outcomes)}")
    if len(set(order)) != len(order):
        raise ValueError(f"a tier appears twice in order {list(order)}")
    lengths = {t: len(outcomes[t]) for t in order}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every tier needs an outcome for every item (aligned by index); got {lengths}")
    strays = sorted(set(thresholds) - set(order))
    if strays:
        raise ValueError(f"thresholds for tier(s) {strays} not in order {list(order)}: check the names")
    return next(iter(lengths.values()))


def simulate_cascade(
    outcomes: Mapping[str, Sequence[TierOutcome]],
    order: Sequence[str],
    thresholds: Mapping[str, float],
    correct: Callable[[int, object], bool],
) -> CascadeRun:
    """Replay a cascade over items every tier has already answered.

    ``outcomes[tier][i]`` is what ``tier`` produced for item ``i``; ``order`` lists tiers
    cheapest first; ``thresholds`` maps a tier to its confidence threshold (a tier without one
    escalates on failed validation only; the last tier's is ignored); ``correct(i, answer)``
    grades the answer that item ``i`` ended with.
    """
    n = _check_inputs(outcomes, order, thresholds)
    records = []
    for i in range(n):
        cost = latency = 0.0
        path: list[str] = []
        reasons: list[str] = []
        for position, tier in enumerate(order):
            outcome = outcomes[tier][i]
            cost += outcome.cost_usd
            latency += outcome.latency_s
            path.append(tier)
            accepted, reason = _verdict(outcome, tier, thresholds.get(tier), position == len(order) - 1)
            reasons.append(reason)
            if accepted:
                records.append(CascadeRecord(i, tier, outcome.answer, bool(correct(i, outcome.answer)),
                                             cost, latency, tuple(path), tuple(reasons)))
                break
    return CascadeRun(tuple(order), dict(thresholds), tuple(records))


def sweep_thresholds(
    outcomes: Mapping[str, Sequence[TierOutcome]],
    order: Sequence[str],
    correct: Callable[[int, object], bool],
    *,
    tier: str | None = None,
    grid: Sequence[float] | None = None,
    fixed: Mapping[str, float] | None = None,
) -> list[CascadeRun]:
    """Runs of the cascade over a grid of thresholds for one tier (default: the first).

    The default grid is every distinct confidence that tier produced plus infinity (escalate
    everything), so the runs trace every operating point the tier's threshold can reach, from
    "accept every valid answer" to "always escalate". ``fixed`` holds other tiers' thresholds.
    """
    tier = tier or order[0]
    if grid is None:
        seen = {o.confidence for o in outcomes[tier] if o.confidence is not None and not math.isnan(o.confidence)}
        grid = [*sorted(seen), math.inf]
    return [simulate_cascade(outcomes, order, {**(fixed or {}), tier: t}, correct) for t in grid]


def calibrate_threshold(
    confidences: Sequence[float],
    correct: Sequence[bool],
    *,
    target_accuracy: float | None = None,
    target_escalation: float | None = None,
) -> float:
    """Pick a tier's threshold on the DEV split (items with confidence >= threshold are accepted).

    Give exactly one target:

    * ``target_accuracy``: the lowest threshold whose accepted items are at least this accurate
      (the lowest, so the fewest items escalate);
    * ``target_escalation``: the threshold whose escalation rate is closest to the target
      without going over it.

    The threshold returned is one of the observed confidences (or ``inf``, escalate everything,
    for ``target_escalation=1``). Check it on the test split: a threshold fit on 30 items is noisy.
    """
    if (target_accuracy is None) == (target_escalation is None):
        raise ValueError("give exactly one of target_accuracy= or target_escalation= "
                         f"(got {'both' if target_accuracy is not None else 'neither'})")
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences but {len(correct)} correctness flags: "
                         "they must be aligned item by item")
    if not confidences:
        raise ValueError("calibrating needs at least one dev item")
    conf = np.asarray(confidences, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    if np.isnan(conf).any():
        raise ValueError("a confidence is NaN: drop or fix those items (a missing confidence escalates anyway)")
    candidates = sorted(set(conf.tolist()))
    if target_accuracy is not None:
        if not 0 < target_accuracy <= 1:
            raise ValueError(f"target_accuracy is a share in (0, 1], not {target_accuracy!r}")
        best: tuple[float, float, int] | None = None  # (accuracy, threshold, accepted)
        for threshold in candidates:
            accepted = conf >= threshold
            accuracy = float(ok[accepted].mean())
            if accuracy >= target_accuracy - 1e-12:
                return float(threshold)
            if best is None or accuracy > best[0]:
                best = (accuracy, threshold, int(accepted.sum()))
        assert best is not None
        raise ValueError(
            f"no threshold reaches accuracy {target_accuracy:.2f} on these {len(conf)} dev items: the best is "
            f"{best[0]:.2f} at threshold {best[1]:.3g} (accepting {best[2]}). Lower the target, or give the "
            "tier a better confidence signal (or a stronger model)."
        )
    assert target_escalation is not None
    if not 0 <= target_escalation <= 1:
        raise ValueError(f"target_escalation is a share in [0, 1], not {target_escalation!r}")
    chosen = candidates[0]  # accepts everything: escalation 0, always allowed
    for threshold in [*candidates, math.inf]:
        if float((conf < threshold).mean()) <= target_escalation + 1e-12:
            chosen = threshold
        else:
            break
    return float(chosen)


# -- live -------------------------------------------------------------------------------------------
TierFn = Callable[[RouteRequest], TierOutcome]


@dataclass(frozen=True)
class CascadeTier:
    """A live tier: a name, the callable that answers, and its escalation threshold."""

    name: str
    run: TierFn
    threshold: float | None = None


@dataclass(frozen=True)
class CascadeResult:
    """What a live cascade did with one request."""

    request_id: str
    answer: object
    answered_by: str
    outcomes: tuple[TierOutcome, ...]
    reasons: tuple[str, ...]
    cost_usd: float
    latency_s: float

    @property
    def escalated(self) -> bool:
        return len(self.outcomes) > 1


class Cascade:
    """Runs tiers in order on each request until one is accepted; logs the decision and its reason.

    ``tiers`` are :class:`CascadeTier` objects or ``(name, callable[, threshold])`` tuples;
    ``thresholds`` (e.g. from :func:`calibrate_threshold`) override per tier name. A tier that
    raises a provider error escalates (the reason says so), except the last, whose error is raised.
    """

    def __init__(self, tiers: Sequence[CascadeTier | tuple[Any, ...]], *,
                 thresholds: Mapping[str, float] | None = None, log: DecisionLog | None = None,
                 name: str = "cascade") -> None:
        built = [t if isinstance(t, CascadeTier) else CascadeTier(*t) for t in tiers]
        if not built:
            raise ValueError("a cascade needs at least one tier")
        names = [t.name for t in built]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique, got {names}")
        strays = sorted(set(thresholds or {}) - set(names))
        if strays:
            raise ValueError(f"thresholds for unknown tier(s) {strays}; tiers are {names}")
        self.tiers = [CascadeTier(t.name, t.run, (thresholds or {}).get(t.name, t.threshold)) for t in built]
        self.log = log if log is not None else DecisionLog()
        self.name = name

    @classmethod
    def from_config(cls, config: CascadeConfig, *, validate: Callable[[str], bool] | None = None,
                    providers: Mapping[str, Provider] | None = None, log: DecisionLog | None = None,
                    **options: Any) -> Cascade:
        """Build from the ``cascade:`` section of a router config: one model tier per entry.

        ``validate(text)`` checks every tier's answer; ``providers`` maps a model alias to a
        ready provider (else it is connected); ``options`` go with every call (e.g. max_tokens).
        """
        from ..providers import connect

        tiers = []
        for position, tier in enumerate(config.tiers):
            provider = (providers or {}).get(tier.model) or connect(tier.model)
            tier_options = {**options, **({"max_tokens": tier.max_tokens} if tier.max_tokens else {})}
            last = position == len(config.tiers) - 1  # the last tier always answers: no confidence needed
            built = provider_tier(provider, name=tier.label, validate=validate,
                                  confidence="none" if last else tier.confidence, **tier_options)
            tiers.append(CascadeTier(built.name, built.run, tier.threshold))
        return cls(tiers, log=log)

    def run(self, request: str | RouteRequest | Mapping[str, Any]) -> CascadeResult:
        """Answer one request, escalating as needed."""
        req = as_request(request)
        outcomes: list[TierOutcome] = []
        reasons: list[str] = []
        for position, tier in enumerate(self.tiers):
            last = position == len(self.tiers) - 1
            started = time.perf_counter()
            try:
                outcome = tier.run(req)
            except ProviderError as exc:
                if last:
                    self.log.record(request_id=req.id, router=self.name, model=tier.name,
                                    reason="; ".join([*reasons, f"{tier.name}: {exc.kind} error"]),
                                    cost_usd=sum(o.cost_usd for o in outcomes),
                                    latency_s=sum(o.latency_s for o in outcomes), ok=False)
                    raise
                outcome = TierOutcome(tier.name, None, None, False, 0.0, time.perf_counter() - started)
                reasons.append(f"{tier.name}: {exc.kind} error ({exc}) -> escalate")
                outcomes.append(outcome)
                continue
            outcomes.append(outcome)
            accepted, reason = _verdict(outcome, tier.name, tier.threshold, last)
            reasons.append(reason)
            if accepted:
                cost = sum(o.cost_usd for o in outcomes)
                latency = sum(o.latency_s for o in outcomes)
                self.log.record(request_id=req.id, router=self.name, model=tier.name, reason="; ".join(reasons),
                                cost_usd=cost, latency_s=latency, ok=True, escalations=len(outcomes) - 1)
                return CascadeResult(req.id, outcome.answer, tier.name, tuple(outcomes), tuple(reasons),
                                     cost, latency)
        raise AssertionError("unreachable: the last tier always answers")


# -- tiers ------------------------------------------------------------------------------------------
def logprob_confidence(logprobs: Sequence[float], method: Literal["mean", "min"] = "mean") -> float | None:
    """A 0..1 confidence from token log-probabilities; None when there are none.

    ``mean``: the geometric-mean token probability, exp(mean logprob), so long answers are not
    punished for their length. ``min``: the probability of the least likely token (stricter).
    """
    if not logprobs:
        return None
    values = np.asarray(logprobs, dtype=float)
    return float(np.exp(values.mean() if method == "mean" else values.min()))


def provider_tier(provider: Provider, *, name: str | None = None,
                  validate: Callable[[str], bool] | None = None,
                  confidence: Literal["logprob", "none"] = "logprob",
                  method: Literal["mean", "min"] = "mean", **options: Any) -> CascadeTier:
    """A tier that asks a model; confidence from its token logprobs, validity from ``validate``.

    An empty answer, a provider error or a failed ``validate(text)`` makes the answer invalid.
    """
    if confidence == "logprob" and not provider.model.capabilities.logprobs:
        raise RightsizeError(f"{provider.model.id} does not return token logprobs: use confidence='none' "
                             "(escalate on failed validation) or a model with logprobs")

    def run(request: RouteRequest) -> TierOutcome:
        tier_name = name or provider.model.id
        response = provider.complete(request.prompt, system=request.system, stream=False,
                                     raise_errors=False, logprobs=confidence == "logprob", **options)
        cost = response_cost(provider.model, response) or 0.0
        latency = response.end_to_end or 0.0
        if response.error is not None:
            return TierOutcome(tier_name, None, None, False, cost, latency)
        text = response.text
        valid = bool(text.strip()) and (validate is None or bool(validate(text)))
        score = logprob_confidence(response.token_logprobs, method) if confidence == "logprob" else None
        return TierOutcome(tier_name, text, score, valid, cost, latency)

    return CascadeTier(name or provider.model.id, run)


def classifier_tier(predict_proba: Callable[[str], Mapping[str, float]], *, name: str = "classifier",
                    cost_usd: float = 0.0, threshold: float | None = None) -> CascadeTier:
    """A tier whose answer is a classifier's likeliest label and whose confidence is its probability."""

    def run(request: RouteRequest) -> TierOutcome:
        started = time.perf_counter()
        probs = predict_proba(request.prompt)
        if not probs:
            return TierOutcome(name, None, None, False, cost_usd, time.perf_counter() - started)
        label, p = max(probs.items(), key=lambda kv: kv[1])
        return TierOutcome(name, label, float(p), True, cost_usd, time.perf_counter() - started)

    return CascadeTier(name, run, threshold)


def human_tier(review: Callable[[str], object], *, name: str = "human", cost_per_item: float,
               latency_s: float | None = None) -> CascadeTier:
    """A human-review queue as the last tier: ``review(prompt)`` answers, at a cost per item.

    ``latency_s`` states the queue's typical turnaround (a person takes minutes, not the
    milliseconds the callable takes in a notebook); by default the measured time is used.
    """

    def run(request: RouteRequest) -> TierOutcome:
        started = time.perf_counter()
        answer = review(request.prompt)
        took = time.perf_counter() - started if latency_s is None else latency_s
        return TierOutcome(name, answer, 1.0, True, cost_per_item, took)

    return CascadeTier(name, run)
