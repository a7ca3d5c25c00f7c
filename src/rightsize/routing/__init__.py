"""Routing: send each request to the right-sized model, and measure whether that paid off.

* :mod:`.config` reads a router config (YAML) and names the line of every mistake.
* :mod:`.router` / :mod:`.rules`: ``Router.route(request) -> Decision(model, reason)`` by rules,
  by a complexity classifier (:mod:`.complexity`) or under a spend budget (:mod:`.budget`).
* :mod:`.cascade`: try the cheap tier first, escalate on low confidence or a failed check;
  simulate offline, calibrate thresholds on the dev split, or run live.
* :mod:`.fallback`: a fallback chain over providers with retries (retry-after, full jitter),
  cooldowns, a response cache and a budget; every request leaves a record.
* :mod:`.evaluation`: quality against cost and against the share of strong calls, CPT, APGR,
  the cost-quality frontier and a plot comparing routers.

Every decision goes to a :class:`DecisionLog` (``.to_frame()`` for a DataFrame).
"""

from __future__ import annotations

from .budget import (
    BudgetExceededError,
    BudgetVerdict,
    SpendBudget,
    estimate_cost,
    estimate_tokens,
)
from .cache import ResponseCache
from .cascade import (
    Cascade,
    CascadeRecord,
    CascadeResult,
    CascadeRun,
    CascadeTier,
    TierOutcome,
    calibrate_threshold,
    classifier_tier,
    human_tier,
    logprob_confidence,
    provider_tier,
    simulate_cascade,
    sweep_thresholds,
)
from .complexity import (
    COMPLEXITY_CLASSES,
    ClassifierReport,
    ComplexityClassifier,
    ComplexityPrediction,
    default_classifier,
    load_routing_requests,
)
from .config import (
    ConfigProblem,
    RouterConfig,
    RouterConfigError,
    example_config,
    load_router_config,
    parse_router_config,
)
from .decisions import Decision, DecisionEntry, DecisionLog, RouteRequest
from .evaluation import (
    RouterCurve,
    apgr,
    cascade_curve,
    compare_routers,
    cost_quality_frontier,
    cpt,
    decision_curve,
    frontier_area,
    frontier_plot,
    oracle_scores,
    random_curve,
    random_scores,
    threshold_curve,
)
from .fallback import (
    AllProvidersFailedError,
    Attempt,
    FallbackChain,
    FallbackReport,
    FallbackResult,
    RequestRecord,
    RetryPolicy,
)
from .router import (
    BudgetRouter,
    ComplexityRouter,
    FixedRouter,
    Router,
    RuleRouter,
    build_router,
    load_router,
)
from .rules import Rule, RuleSet

__all__ = [
    "COMPLEXITY_CLASSES",
    "AllProvidersFailedError",
    "Attempt",
    "BudgetExceededError",
    "BudgetRouter",
    "BudgetVerdict",
    "Cascade",
    "CascadeRecord",
    "CascadeResult",
    "CascadeRun",
    "CascadeTier",
    "ClassifierReport",
    "ComplexityClassifier",
    "ComplexityPrediction",
    "ComplexityRouter",
    "ConfigProblem",
    "Decision",
    "DecisionEntry",
    "DecisionLog",
    "FallbackChain",
    "FallbackReport",
    "FallbackResult",
    "FixedRouter",
    "RequestRecord",
    "ResponseCache",
    "RetryPolicy",
    "RouteRequest",
    "Router",
    "RouterConfig",
    "RouterConfigError",
    "RouterCurve",
    "Rule",
    "RuleRouter",
    "RuleSet",
    "SpendBudget",
    "TierOutcome",
    "apgr",
    "build_router",
    "calibrate_threshold",
    "cascade_curve",
    "classifier_tier",
    "compare_routers",
    "cost_quality_frontier",
    "cpt",
    "decision_curve",
    "default_classifier",
    "estimate_cost",
    "estimate_tokens",
    "example_config",
    "frontier_area",
    "frontier_plot",
    "human_tier",
    "load_router",
    "load_router_config",
    "load_routing_requests",
    "logprob_confidence",
    "oracle_scores",
    "parse_router_config",
    "provider_tier",
    "random_curve",
    "random_scores",
    "simulate_cascade",
    "sweep_thresholds",
    "threshold_curve",
]
