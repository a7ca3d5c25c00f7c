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

Every decision goes to a :class:`DecisionLog` (``.to_frame()`` for a DataFrame). This package holds
the names a notebook uses; the rest lives in its module.
"""

from __future__ import annotations

from .budget import BudgetExceededError, SpendBudget
from .cache import ResponseCache
from .cascade import (
    Cascade,
    CascadeTier,
    calibrate_threshold,
    simulate_cascade,
    sweep_thresholds,
)
from .complexity import ComplexityClassifier
from .config import (
    RouterConfigError,
    example_config,
    load_router_config,
    parse_router_config,
)
from .decisions import Decision, DecisionLog, RouteRequest
from .evaluation import apgr, compare_routers, cpt, frontier_plot
from .fallback import AllProvidersFailedError, FallbackChain, RetryPolicy
from .router import (
    BudgetRouter,
    ComplexityRouter,
    FixedRouter,
    Router,
    RuleRouter,
    build_router,
    load_router,
)

__all__ = [
    "AllProvidersFailedError",
    "BudgetExceededError",
    "BudgetRouter",
    "Cascade",
    "CascadeTier",
    "ComplexityClassifier",
    "ComplexityRouter",
    "Decision",
    "DecisionLog",
    "FallbackChain",
    "FixedRouter",
    "ResponseCache",
    "RetryPolicy",
    "RouteRequest",
    "Router",
    "RouterConfigError",
    "RuleRouter",
    "SpendBudget",
    "apgr",
    "build_router",
    "calibrate_threshold",
    "compare_routers",
    "cpt",
    "example_config",
    "frontier_plot",
    "load_router",
    "load_router_config",
    "parse_router_config",
    "simulate_cascade",
    "sweep_thresholds",
]
