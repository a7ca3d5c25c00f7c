"""Router configuration: one YAML file describes routes, budgets, cascades and fallback chains.

Configuration is data, so a lesson swaps a routing policy by editing YAML, not code. Loading
checks everything before any request is sent, and every problem names the file, the line, the
key and what to do, for example::

    router.yaml line 7: routes[1].modle: unknown key (did you mean 'model'?)
    router.yaml line 9: routes[2].model: unknown model 'gtp-4o' (did you mean 'gpt-4o'?) ...

A complete file (every section is optional except ``router``; see ``example_config()``)::

    version: 1
    router: rules              # what build_router() builds: rules | complexity | fixed
    default: tiny              # rules: the model when no route matches; fixed: the only model
    routes:                    # rules: tried in order, the first match wins
      - name: code
        pattern: '```|def |print\\('     # a Python regex, searched case-insensitively
        model: frontier
      - name: short-and-simple
        max_chars: 120                   # every condition given must hold
        keywords: [capital, translate]   # any of these words
        model: tiny
      - name: paying-customers
        metadata: {plan: [pro, team]}    # request metadata field equals one of these
        model: small
    complexity:                # complexity: a classifier's class -> model
      models: {simple: tiny, medium: small, complex: frontier}
    budget:                    # wraps the router above
      limit_usd: 5.0
      period: day              # hour | day | month | a number of seconds
      on_exceed: downgrade     # block | downgrade
      downgrade_to: tiny
    cascade:
      tiers:
        - {model: tiny, confidence: logprob, threshold: 0.6}
        - {model: frontier}
    fallback:
      models: [small, haiku, {model: lab, name: lab-backup}]
      retry: {max_attempts: 3, base_delay: 0.5, max_delay: 8, max_wait: 10, jitter: full}
      cooldown: {after_failures: 3, seconds: 30}
      cache: true
"""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
)

from ..errors import UnknownModelError
from ..registry import Registry, RetiredModelError, load_registry
from ..yamlconfig import ConfigError, ConfigProblem, Path, load_file, load_model

__all__ = [
    "BudgetConfig",
    "CascadeConfig",
    "CascadeTierConfig",
    "ComplexityConfig",
    "ComplexityModels",
    "ConfigProblem",
    "CooldownConfig",
    "FallbackConfig",
    "FallbackModel",
    "RetryConfig",
    "RouteRule",
    "RouterConfig",
    "RouterConfigError",
    "example_config",
    "load_router_config",
    "parse_router_config",
]


# -- errors ------------------------------------------------------------------------------------
class RouterConfigError(ConfigError):
    """A router config that cannot be used. ``problems`` lists each one with its line."""


# -- model aliases, checked against the registry ------------------------------------------------
@functools.cache
def _shipped_registry() -> Registry:
    return load_registry()


def _registry(info: ValidationInfo) -> Registry:
    context = info.context or {}
    registry = context.get("registry")
    return registry if isinstance(registry, Registry) else _shipped_registry()


def _known_alias(value: str, info: ValidationInfo) -> str:
    registry = _registry(info)
    try:
        registry.get(value)
    except UnknownModelError:
        close = difflib.get_close_matches(value, registry.names(), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown model {value!r}{hint}; use a registry id or alias (list them with: rightsize models)"
        ) from None
    except RetiredModelError as exc:
        raise ValueError(str(exc)) from None
    return value


#: a model id or alias that the registry knows (checked when the config loads)
ModelAlias = Annotated[str, AfterValidator(_known_alias)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- the rule router ----------------------------------------------------------------------------
class RouteRule(_Strict):
    """One route: when every condition given holds, send the request to ``model``."""

    name: str | None = Field(None, description="a label for the decision log")
    pattern: str | None = Field(None, description="a Python regex searched in the prompt (ignoring case)")
    keywords: list[str] | None = Field(None, description="match when any of these words is in the prompt")
    max_chars: int | None = Field(None, ge=0, description="match prompts of at most this many characters")
    min_chars: int | None = Field(None, ge=0, description="match prompts of at least this many characters")
    metadata: dict[str, Any] | None = Field(
        None, description="match when each request metadata field equals the value (or one of a list)"
    )
    model: ModelAlias = Field(description="the model alias to use when the route matches")

    def conditions(self) -> list[str]:
        return [k for k in ("pattern", "keywords", "max_chars", "min_chars", "metadata")
                if getattr(self, k) is not None]


# -- the complexity router ------------------------------------------------------------------------
class ComplexityModels(_Strict):
    """The model for each complexity class the classifier predicts."""

    simple: ModelAlias
    medium: ModelAlias
    complex: ModelAlias


class ComplexityConfig(_Strict):
    """Route by a request-complexity classifier trained on the routing set's dev split."""

    models: ComplexityModels
    min_confidence: float | None = Field(
        None, ge=0, le=1, description="below this classifier probability, use low_confidence_model"
    )
    low_confidence_model: ModelAlias | None = Field(
        None, description="the model for requests the classifier is unsure about (usually the strongest)"
    )


# -- the budget ---------------------------------------------------------------------------------
PERIOD_NAMES = ("hour", "day", "month")


def _period(value: Any) -> str | float:
    if isinstance(value, str) and value in PERIOD_NAMES:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"a period in seconds must be positive (got {value!r})")
        return float(value)
    raise ValueError(f"use hour, day, month or a number of seconds (got {value!r})")


class BudgetConfig(_Strict):
    """A spend limit per period; what to do once a request would go over it."""

    limit_usd: float = Field(gt=0, description="USD allowed per period")
    period: Annotated[str | float, BeforeValidator(_period)] = Field(
        "day", description="hour, day or month (UTC calendar periods), or a number of seconds"
    )
    on_exceed: Literal["block", "downgrade"] = Field("block", description="refuse, or use downgrade_to")
    downgrade_to: ModelAlias | None = Field(None, description="the cheaper model used once over budget")


# -- the cascade ----------------------------------------------------------------------------------
class CascadeTierConfig(_Strict):
    """One cascade tier: a model and the confidence below which its answer escalates."""

    name: str | None = Field(None, description="the tier's label (default: the model alias)")
    model: ModelAlias
    confidence: Literal["logprob", "none"] = Field(
        "logprob", description="logprob: mean token probability; none: escalate only on failed validation"
    )
    threshold: float | None = Field(None, ge=0, le=1, description="escalate when confidence is below this")
    max_tokens: int | None = Field(None, ge=1)

    @property
    def label(self) -> str:
        return self.name or self.model


class CascadeConfig(_Strict):
    """Ordered tiers, cheapest first; the last tier always answers."""

    tiers: list[CascadeTierConfig] = Field(min_length=2)


# -- the fallback chain -------------------------------------------------------------------------
class RetryConfig(_Strict):
    """Retries on one provider before falling to the next (see :class:`~.fallback.RetryPolicy`)."""

    max_attempts: int = Field(3, ge=1, description="tries per provider, the first one included")
    base_delay: float = Field(0.5, ge=0, description="seconds; the backoff cap doubles from here")
    max_delay: float = Field(8.0, ge=0, description="the largest backoff cap, seconds")
    max_wait: float = Field(10.0, ge=0, description="a retry-after longer than this falls back instead")
    jitter: Literal["full", "none"] = "full"


class CooldownConfig(_Strict):
    """When to rest a failing provider."""

    after_failures: int = Field(3, ge=1, description="failures in a row that start a cooldown")
    seconds: float = Field(30.0, ge=0, description="how long a cooling provider is skipped")


def _model_entry(value: Any) -> Any:
    return {"model": value} if isinstance(value, str) else value


class FallbackModel(_Strict):
    """One provider of a fallback chain: a model alias, a name for reports, extra headers."""

    model: ModelAlias
    name: str | None = None
    headers: dict[str, str] | None = Field(None, description="e.g. X-Rightsize-Faults for the lab server")

    @property
    def label(self) -> str:
        return self.name or self.model


class FallbackConfig(_Strict):
    """Models in priority order, with the retry policy, cooldown and cache."""

    models: list[Annotated[FallbackModel, BeforeValidator(_model_entry)]] = Field(min_length=1)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    cooldown: CooldownConfig = Field(default_factory=CooldownConfig)
    cache: bool = Field(True, description="cache answers to deterministic (temperature 0) requests")
    cache_size: int = Field(1024, ge=1)


# -- the whole file -------------------------------------------------------------------------------
class RouterConfig(_Strict):
    """A whole router config file."""

    version: Literal[1] = 1
    router: Literal["rules", "complexity", "fixed"] = Field(
        description="what build_router() builds: rules, complexity, or fixed (always `default`)"
    )
    default: ModelAlias | None = Field(None, description="the model when no route matches")
    routes: list[RouteRule] = Field(default_factory=list)
    complexity: ComplexityConfig | None = None
    budget: BudgetConfig | None = None
    cascade: CascadeConfig | None = None
    fallback: FallbackConfig | None = None


# -- checks pydantic cannot express on its own -----------------------------------------------
def _semantic_problems(config: RouterConfig, registry: Registry) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []
    if config.router == "rules":
        if not config.routes:
            problems.append((("router",), "router: rules needs a `routes:` list"))
        if config.default is None:
            problems.append((("router",), "router: rules needs `default:`, the model used when no route matches"))
    if config.router == "fixed" and config.default is None:
        problems.append((("router",), "router: fixed needs `default:`, the model every request goes to"))
    if config.router == "complexity" and config.complexity is None:
        problems.append((("router",), "router: complexity needs a `complexity:` section with `models:`"))
    for index, rule in enumerate(config.routes):
        where: Path = ("routes", index)
        if not rule.conditions():
            problems.append((where, ("a route needs a condition (pattern, keywords, max_chars, min_chars or "
                                     "metadata); for a catch-all set `default:` instead")))
        if rule.pattern is not None:
            try:
                re.compile(rule.pattern)
            except re.error as exc:
                problems.append(((*where, "pattern"), f"not a valid regex: {exc}"))
        if rule.keywords is not None and not rule.keywords:
            problems.append(((*where, "keywords"), "an empty keyword list never matches; remove it or add words"))
    if config.complexity is not None:
        c = config.complexity
        if (c.min_confidence is None) != (c.low_confidence_model is None):
            problems.append((("complexity",), "set both min_confidence and low_confidence_model, or neither"))
    if config.budget is not None and config.budget.on_exceed == "downgrade" and config.budget.downgrade_to is None:
        problems.append((("budget", "on_exceed"), "on_exceed: downgrade needs `downgrade_to:`, a cheaper model alias"))
    if config.cascade is not None:
        tiers = config.cascade.tiers
        labels = [t.label for t in tiers]
        for index, tier in enumerate(tiers):
            where = ("cascade", "tiers", index)
            if labels.count(tier.label) > 1:
                problems.append(((*where, "name"), f"two tiers are called {tier.label!r}; give each a unique `name:`"))
            last = index == len(tiers) - 1
            if last and tier.threshold is not None:
                problems.append(((*where, "threshold"),
                                 "the last tier always answers, so it takes no threshold; remove it"))
            if not last and tier.confidence == "logprob":
                if tier.threshold is None:
                    problems.append((where, ("a tier with confidence: logprob needs `threshold:` (0..1); "
                                             "calibrate one on the dev split with calibrate_threshold()")))
                if not registry.get(tier.model).capabilities.logprobs:
                    problems.append(((*where, "model"), (f"{tier.model!r} does not return token logprobs; use "
                                                         "confidence: none (escalate on failed validation only) "
                                                         "or a model whose registry entry has logprobs")))
    if config.fallback is not None:
        labels = [m.label for m in config.fallback.models]
        for index, entry in enumerate(config.fallback.models):
            if labels.count(entry.label) > 1:
                problems.append((("fallback", "models", index),
                                 f"{entry.label!r} is listed twice; give repeats a unique `name:`"))
        retry = config.fallback.retry
        if retry.max_delay < retry.base_delay:
            problems.append((("fallback", "retry", "max_delay"), "max_delay must be at least base_delay"))
    return problems


# -- loading ----------------------------------------------------------------------------------------
def parse_router_config(text: str, *, source: str = "<router config>",
                        registry: Registry | None = None) -> RouterConfig:
    """Parse and check a router config from YAML text; raises :class:`RouterConfigError`."""
    reg = registry or _shipped_registry()
    return load_model(text, RouterConfig, source=source, context={"registry": reg}, error=RouterConfigError,
                      top_hint="a router config is a mapping with at least `router:`; see "
                               "rightsize.routing.example_config()",
                      check=lambda config, doc: _semantic_problems(config, reg))


def load_router_config(path: str | FilePath, *, registry: Registry | None = None) -> RouterConfig:
    """Read and check a router config file (YAML); raises :class:`RouterConfigError`."""
    reg = registry or _shipped_registry()
    return load_file(path, RouterConfig, context={"registry": reg}, error=RouterConfigError,
                     top_hint="a router config is a mapping with at least `router:`",
                     check=lambda config, doc: _semantic_problems(config, reg))


_EXAMPLE = __doc__.split("A complete file", 1)[1].split("::\n", 1)[1] if __doc__ else ""


def example_config() -> str:
    """A complete, valid router config to copy from (the one in this module's docstring)."""
    lines = _EXAMPLE.splitlines()
    return "\n".join(line[4:] for line in lines if line.strip() or line == "").strip("\n") + "\n"
