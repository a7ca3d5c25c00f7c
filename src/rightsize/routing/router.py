"""Routers: pick one model per request by rules, by a complexity classifier, or under a budget.

Every router has ``route(request) -> Decision`` (which model and why, logged) and
``complete(request, ...)``, which routes, calls the chosen model, and accounts its cost and
latency in the same log entry::

    router = load_router("router.yaml")          # or RuleRouter(...), ComplexityRouter(...)
    decision = router.route("What is 7 + 5?")   # Decision(model='tiny', reason='rule 1 ...')
    answer = router.complete("What is 7 + 5?", max_tokens=32)
    router.log.to_frame()                        # one row per request: model, reason, cost, latency

``build_router(config)`` builds the router a :class:`~.config.RouterConfig` describes, wrapped in
a :class:`BudgetRouter` when the config has a ``budget:`` section.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..providers import Provider, Response, connect
from ._accounting import response_cost
from .budget import BudgetExceededError, SpendBudget
from .complexity import ComplexityClassifier, default_classifier
from .config import RouterConfig, load_router_config
from .decisions import Decision, DecisionEntry, DecisionLog, RouteRequest, as_request
from .rules import Rule, RuleSet

__all__ = [
    "BudgetRouter",
    "ComplexityRouter",
    "FixedRouter",
    "Router",
    "RuleRouter",
    "build_router",
    "load_router",
]

RequestLike = str | RouteRequest | Mapping[str, Any]


class Router(ABC):
    """Base class: subclasses implement :meth:`decide`; this class logs and runs the calls.

    ``providers`` maps a model alias to a ready :class:`Provider` (tests pass fakes; by default a
    model is connected on first use with :func:`~rightsize.connect`).
    """

    name: str = "router"

    def __init__(self, *, log: DecisionLog | None = None,
                 providers: Mapping[str, Provider] | None = None,
                 connector: Callable[[str], Provider] = connect) -> None:
        self.log = log if log is not None else DecisionLog()
        self._providers: dict[str, Provider] = dict(providers or {})
        self._connect = connector

    @abstractmethod
    def decide(self, request: RouteRequest, *, max_tokens: int = 256) -> Decision:
        """The model for ``request`` and the reason (no logging, no call)."""

    def route(self, request: RequestLike, *, max_tokens: int = 256) -> Decision:
        """Choose a model for ``request`` and log the decision with its reason."""
        return self._route(as_request(request), max_tokens)[0]

    def _route(self, request: RouteRequest, max_tokens: int) -> tuple[Decision, DecisionEntry]:
        try:
            decision = self.decide(request, max_tokens=max_tokens)
        except BudgetExceededError as exc:
            self.log.record(request_id=request.id, router=self.name, model=None, reason=str(exc), ok=False,
                            cost_usd=0.0, latency_s=0.0)
            raise
        entry = self.log.record(request_id=request.id, router=self.name, model=decision.model,
                                reason=decision.reason, **dict(decision.details))
        return decision, entry

    def provider(self, model: str) -> Provider:
        """The provider for a model alias (connected once, then reused)."""
        if model not in self._providers:
            self._providers[model] = self._connect(model)
        return self._providers[model]

    def _account(self, entry: DecisionEntry, provider: Provider, response: Response, started: float) -> None:
        cost = response_cost(provider.model, response)
        latency = response.end_to_end if response.end_to_end is not None else time.perf_counter() - started
        self.log.account(entry, cost_usd=cost, latency_s=latency, ok=response.ok)
        self._charged(cost or 0.0)

    def _charged(self, cost_usd: float) -> None:
        """Hook for routers that keep a budget."""

    def complete(self, request: RequestLike, *, stream: bool = False, **options: Any) -> Response:
        """Route ``request``, send it to the chosen model, and log its cost and latency."""
        req = as_request(request)
        decision, entry = self._route(req, int(options.get("max_tokens", 256)))
        provider = self.provider(decision.model)
        started = time.perf_counter()
        try:
            response = provider.complete(req.prompt, system=req.system, stream=stream, **options)
        except Exception:
            self.log.account(entry, cost_usd=0.0, latency_s=time.perf_counter() - started, ok=False)
            raise
        self._account(entry, provider, response, started)
        return response

    async def acomplete(self, request: RequestLike, *, stream: bool = False, **options: Any) -> Response:
        """The async version of :meth:`complete`."""
        req = as_request(request)
        decision, entry = self._route(req, int(options.get("max_tokens", 256)))
        provider = self.provider(decision.model)
        started = time.perf_counter()
        try:
            response = await provider.acomplete(req.prompt, system=req.system, stream=stream, **options)
        except Exception:
            self.log.account(entry, cost_usd=0.0, latency_s=time.perf_counter() - started, ok=False)
            raise
        self._account(entry, provider, response, started)
        return response


class FixedRouter(Router):
    """Always the same model: the baseline every router is compared with."""

    name = "fixed"

    def __init__(self, model: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model

    def decide(self, request: RouteRequest, *, max_tokens: int = 256) -> Decision:
        return Decision(self.model, f"fixed: always {self.model}", request.id, self.name)


class RuleRouter(Router):
    """Ordered rules (first match wins), else the default model."""

    name = "rules"

    def __init__(self, rules: Sequence[Rule], default: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rules = RuleSet(list(rules), default)

    def decide(self, request: RouteRequest, *, max_tokens: int = 256) -> Decision:
        rule, reason = self.rules.first_match(request)
        model = rule.model if rule else self.rules.default
        return Decision(model, reason, request.id, self.name, {"rule": rule.label if rule else None})


class ComplexityRouter(Router):
    """Routes by predicted complexity: ``models`` maps simple/medium/complex to an alias.

    With ``min_confidence``, a prediction less sure than that goes to ``low_confidence_model``
    (usually the strongest), since a wrong "simple" costs quality.
    """

    name = "complexity"

    def __init__(self, models: Mapping[str, str], *, classifier: ComplexityClassifier | None = None,
                 min_confidence: float | None = None, low_confidence_model: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        missing = {"simple", "medium", "complex"} - set(models)
        if missing:
            raise ValueError(f"models needs an alias for each class; missing {sorted(missing)}")
        if (min_confidence is None) != (low_confidence_model is None):
            raise ValueError("give both min_confidence and low_confidence_model, or neither")
        self.models = dict(models)
        self.classifier = classifier
        self.min_confidence = min_confidence
        self.low_confidence_model = low_confidence_model

    def decide(self, request: RouteRequest, *, max_tokens: int = 256) -> Decision:
        classifier = self.classifier or default_classifier()
        prediction = classifier.classify(request.prompt)
        details = {"predicted": prediction.label, "probability": round(prediction.probability, 4)}
        reason = f"classifier: {prediction.label} (p={prediction.probability:.2f})"
        if self.min_confidence is not None and prediction.probability < self.min_confidence:
            assert self.low_confidence_model is not None
            return Decision(self.low_confidence_model,
                            f"{reason} < min_confidence {self.min_confidence:.2f} -> {self.low_confidence_model}",
                            request.id, self.name, details)
        model = self.models[prediction.label]
        return Decision(model, f"{reason} -> {model}", request.id, self.name, details)


class BudgetRouter(Router):
    """Wraps another router: its choice goes ahead only while the spend budget allows.

    Over budget, the budget either blocks (:class:`~.budget.BudgetExceededError`, logged) or
    downgrades to its cheaper model; the actual cost of each completed call is charged.
    """

    def __init__(self, inner: Router, budget: SpendBudget, **kwargs: Any) -> None:
        kwargs.setdefault("log", inner.log)
        super().__init__(**kwargs)
        self.inner = inner
        self.budget = budget
        self.name = f"budget({inner.name})"

    def decide(self, request: RouteRequest, *, max_tokens: int = 256) -> Decision:
        chosen = self.inner.decide(request, max_tokens=max_tokens)
        verdict = self.budget.admit(chosen.model, prompt=request.prompt, max_tokens=max_tokens)
        if not verdict.downgraded:
            return chosen
        return Decision(verdict.model, f"{chosen.reason}; {verdict.reason}", request.id, self.name,
                        {**chosen.details, "downgraded_from": chosen.model})

    def provider(self, model: str) -> Provider:
        return self.inner.provider(model)  # one set of connections, shared with the wrapped router

    def _charged(self, cost_usd: float) -> None:
        self.budget.charge(cost_usd)


def build_router(config: RouterConfig, *, log: DecisionLog | None = None,
                 providers: Mapping[str, Provider] | None = None,
                 classifier: ComplexityClassifier | None = None,
                 clock: Callable[[], float] = time.time) -> Router:
    """The router a config describes (wrapped in a :class:`BudgetRouter` if it has ``budget:``)."""
    common: dict[str, Any] = {"log": log if log is not None else DecisionLog(), "providers": providers}
    router: Router
    if config.router == "rules":
        rules = [Rule(model=r.model, name=r.name, pattern=r.pattern, keywords=r.keywords, max_chars=r.max_chars,
                      min_chars=r.min_chars, metadata=r.metadata) for r in config.routes]
        assert config.default is not None  # the config check guarantees it
        router = RuleRouter(rules, config.default, **common)
    elif config.router == "complexity":
        assert config.complexity is not None
        c = config.complexity
        router = ComplexityRouter(c.models.model_dump(), classifier=classifier, min_confidence=c.min_confidence,
                                  low_confidence_model=c.low_confidence_model, **common)
    else:
        assert config.default is not None
        router = FixedRouter(config.default, **common)
    if config.budget is not None:
        router = BudgetRouter(router, SpendBudget.from_config(config.budget, clock=clock), **common)
    return router


def load_router(path: str | Path, **kwargs: Any) -> Router:
    """Read a router config file and build its router (see :func:`build_router`)."""
    return build_router(load_router_config(path), **kwargs)
