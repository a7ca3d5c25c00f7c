"""Rules: ordered conditions on a request (regex, keywords, prompt length, metadata) -> a model.

A :class:`Rule` matches when *every* condition it has holds; :class:`RuleSet` tries rules in order
and the first match wins, else the default model. Each match explains itself, so the decision
log says which rule fired and on what.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .decisions import RouteRequest

__all__ = ["Rule", "RuleSet"]


@dataclass(frozen=True)
class Rule:
    """One routing rule. Give at least one condition; all given conditions must hold."""

    model: str
    name: str | None = None
    pattern: str | None = None  # a Python regex, searched ignoring case
    keywords: Sequence[str] | None = None  # any of these words (whole words, ignoring case)
    max_chars: int | None = None
    min_chars: int | None = None
    metadata: Mapping[str, Any] | None = None  # field == value, or value in a list
    _compiled: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _keyword_re: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if all(v is None for v in (self.pattern, self.keywords, self.max_chars, self.min_chars, self.metadata)):
            raise ValueError(f"rule {self.label!r} has no condition: give pattern, keywords, max_chars, "
                             "min_chars or metadata (use the default model for a catch-all)")
        if self.pattern is not None:
            object.__setattr__(self, "_compiled", re.compile(self.pattern, re.IGNORECASE))
        if self.keywords:
            words = "|".join(re.escape(k) for k in self.keywords)
            object.__setattr__(self, "_keyword_re", re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE))

    @property
    def label(self) -> str:
        return self.name or f"-> {self.model}"

    def explain(self, request: RouteRequest) -> str | None:
        """Why the rule matches ``request`` (e.g. ``pattern 'def ' found``), or None if it does not."""
        why: list[str] = []
        prompt = request.prompt
        if self._compiled is not None:
            found = self._compiled.search(prompt)
            if not found:
                return None
            why.append(f"pattern {self.pattern!r} found {found.group(0)!r}")
        if self.keywords is not None:
            hit = self._keyword_re.search(prompt) if self._keyword_re else None
            if not hit:
                return None
            why.append(f"keyword {hit.group(0)!r}")
        if self.max_chars is not None:
            if len(prompt) > self.max_chars:
                return None
            why.append(f"{len(prompt)} chars <= {self.max_chars}")
        if self.min_chars is not None:
            if len(prompt) < self.min_chars:
                return None
            why.append(f"{len(prompt)} chars >= {self.min_chars}")
        for key, wanted in (self.metadata or {}).items():
            value = request.metadata.get(key)
            allowed = wanted if isinstance(wanted, list | tuple | set) else [wanted]
            if value not in allowed:
                return None
            why.append(f"metadata {key}={value!r}")
        return ", ".join(why)


@dataclass(frozen=True)
class RuleSet:
    """Rules tried in order; the first match wins, else ``default``."""

    rules: Sequence[Rule]
    default: str

    def first_match(self, request: RouteRequest) -> tuple[Rule | None, str]:
        """The rule that matched (or None for the default) and the reason, for the log."""
        for index, rule in enumerate(self.rules):
            why = rule.explain(request)
            if why is not None:
                return rule, f"rule {index} {rule.label!r} matched: {why}"
        return None, f"no rule matched: default {self.default}"
