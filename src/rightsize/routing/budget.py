"""A spend budget in USD per period, priced from the registry, that blocks or downgrades.

Before a request is sent its cost is *estimated* at list price (prompt tokens from its length,
output tokens at ``max_tokens``, an upper bound); after it returns, its *actual* cost (from the
usage the provider reported) is charged. When the estimate would take the period's spend over
the limit the budget either refuses (:class:`BudgetExceededError`) or names a cheaper model to
use instead. A request that costs nothing (a local model) is always admitted.

Periods are UTC calendar hours, days or months, or fixed windows of N seconds counted from the
Unix epoch; the spend resets when a new period starts.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..errors import RightsizeError
from ..registry import ModelInfo, get_model

__all__ = ["BudgetExceededError", "BudgetVerdict", "SpendBudget", "estimate_cost", "estimate_tokens"]

#: the rough rule of thumb for English text with the common tokenizers
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """A rough token count for budgeting: one token per four characters (at least one)."""
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def estimate_cost(model: str | ModelInfo, prompt: str, max_tokens: int) -> float:
    """An upper-bound list-price cost of one request: its prompt plus ``max_tokens`` of output."""
    info = model if isinstance(model, ModelInfo) else get_model(model)
    return info.cost(estimate_tokens(prompt), max_tokens)


class BudgetExceededError(RightsizeError):
    """The spend budget for this period does not allow the request."""

    def __init__(self, message: str, *, limit_usd: float, spent_usd: float, model: str,
                 period_ends: float) -> None:
        self.limit_usd, self.spent_usd, self.model, self.period_ends = limit_usd, spent_usd, model, period_ends
        super().__init__(message)


@dataclass(frozen=True)
class BudgetVerdict:
    """What the budget allows: the model to use, and whether it was downgraded."""

    model: str
    downgraded: bool
    reason: str


def _name(model: str | ModelInfo) -> str:
    return model.id if isinstance(model, ModelInfo) else model


class SpendBudget:
    """USD allowed per period; ``admit`` before a request, ``charge`` after it.

    ``on_exceed="block"`` raises :class:`BudgetExceededError`; ``"downgrade"`` answers with
    ``downgrade_to`` (a cheaper alias) while that still fits, and blocks once even it would not.
    """

    def __init__(
        self,
        limit_usd: float,
        *,
        period: Literal["hour", "day", "month"] | float = "day",
        on_exceed: Literal["block", "downgrade"] = "block",
        downgrade_to: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit_usd <= 0:
            raise ValueError(f"a budget needs a positive limit in USD, not {limit_usd!r}")
        if on_exceed not in ("block", "downgrade"):
            raise ValueError(f"on_exceed must be 'block' or 'downgrade', not {on_exceed!r}")
        if on_exceed == "downgrade" and not downgrade_to:
            raise ValueError("on_exceed='downgrade' needs downgrade_to=, a cheaper model alias (e.g. 'tiny')")
        if isinstance(period, str) and period not in ("hour", "day", "month"):
            raise ValueError(f"period must be hour, day, month or a number of seconds, not {period!r}")
        if not isinstance(period, str) and period <= 0:
            raise ValueError("a period in seconds must be positive")
        self.limit_usd = float(limit_usd)
        self.period = period
        self.on_exceed = on_exceed
        self.downgrade_to = downgrade_to
        self._clock = clock
        self._lock = threading.Lock()
        self._period_start = self.period_bounds()[0]
        self._spent = 0.0
        self.charges = 0
        self.blocked = 0
        self.downgraded = 0

    @classmethod
    def from_config(cls, config: object, *, clock: Callable[[], float] = time.time) -> SpendBudget:
        """Build from a :class:`~.config.BudgetConfig`."""
        from .config import BudgetConfig

        if not isinstance(config, BudgetConfig):
            raise TypeError("from_config takes a BudgetConfig (the `budget:` section of a router config)")
        return cls(config.limit_usd, period=config.period,  # type: ignore[arg-type]
                   on_exceed=config.on_exceed, downgrade_to=config.downgrade_to, clock=clock)

    # -- periods ----------------------------------------------------------------------------------
    def period_bounds(self, now: float | None = None) -> tuple[float, float]:
        """Start and end (Unix seconds) of the period holding ``now``."""
        now = self._clock() if now is None else now
        if not isinstance(self.period, str):
            start = math.floor(now / self.period) * self.period
            return start, start + self.period
        at = dt.datetime.fromtimestamp(now, tz=dt.UTC)
        if self.period == "hour":
            begin = at.replace(minute=0, second=0, microsecond=0)
            end = begin + dt.timedelta(hours=1)
        elif self.period == "day":
            begin = at.replace(hour=0, minute=0, second=0, microsecond=0)
            end = begin + dt.timedelta(days=1)
        else:
            begin = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            end = (begin + dt.timedelta(days=32)).replace(day=1)
        return begin.timestamp(), end.timestamp()

    def _roll(self) -> None:
        start = self.period_bounds()[0]
        if start != self._period_start:
            self._period_start, self._spent = start, 0.0

    # -- spending ---------------------------------------------------------------------------------
    def spent(self) -> float:
        """USD charged in the current period."""
        with self._lock:
            self._roll()
            return self._spent

    def remaining(self) -> float:
        """USD left in the current period (never negative)."""
        return max(0.0, self.limit_usd - self.spent())

    def charge(self, cost_usd: float) -> None:
        """Add the actual cost of a finished request."""
        if cost_usd < 0:
            raise ValueError("a cost cannot be negative")
        with self._lock:
            self._roll()
            self._spent += cost_usd
            self.charges += 1

    def _fits(self, cost: float) -> bool:
        return cost == 0 or self._spent + cost <= self.limit_usd

    def admit(self, model: str | ModelInfo, *, prompt: str = "", max_tokens: int = 256,
              estimated_cost_usd: float | None = None,
              estimate: Callable[[str | ModelInfo], float] | None = None) -> BudgetVerdict:
        """Check a request before sending it: returns the model to use, or raises.

        The cost is ``estimated_cost_usd`` when given, else the list-price upper bound of
        ``prompt`` plus ``max_tokens`` output tokens. ``estimate`` prices the downgrade model
        (by default the same way). Raises :class:`BudgetExceededError` when blocking.
        """
        def price(m: str | ModelInfo) -> float:
            if estimate is not None:
                return estimate(m)
            return estimate_cost(m, prompt, max_tokens)

        cost = estimated_cost_usd if estimated_cost_usd is not None else price(model)
        with self._lock:
            self._roll()
            spent, end = self._spent, self.period_bounds()[1]
            if self._fits(cost):
                return BudgetVerdict(_name(model), False,
                                     f"budget ok: ${spent:.4f} + ~${cost:.4f} of ${self.limit_usd:.2f}")
            over = (f"${spent:.4f} spent + ~${cost:.4f} for {_name(model)} would pass the "
                    f"${self.limit_usd:.2f} budget for this {self._period_label()}")
            if self.on_exceed == "downgrade" and self.downgrade_to is not None:
                cheaper = price(self.downgrade_to)
                if self._fits(cheaper):
                    self.downgraded += 1
                    return BudgetVerdict(self.downgrade_to, True, f"{over}; downgraded to {self.downgrade_to}")
                over += f", and even {self.downgrade_to} (~${cheaper:.4f}) would"
            self.blocked += 1
        resets = dt.datetime.fromtimestamp(end, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise BudgetExceededError(
            f"budget exceeded: {over}. It resets at {resets}; raise limit_usd or route to a cheaper model.",
            limit_usd=self.limit_usd, spent_usd=spent, model=_name(model), period_ends=end,
        )

    def _period_label(self) -> str:
        return self.period if isinstance(self.period, str) else f"{self.period:g}s period"

    def __repr__(self) -> str:
        return (f"SpendBudget(limit_usd={self.limit_usd}, period={self.period!r}, "
                f"on_exceed={self.on_exceed!r}, spent={self.spent():.4f})")
