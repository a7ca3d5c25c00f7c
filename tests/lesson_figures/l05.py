"""Figures lesson 05 states in prose, computed from the course's data (the registry's parameter rules)."""

from __future__ import annotations

from rightsize.registry import get_model, list_models

from . import Figure

GPT5_FAMILY = ("gpt-5", "gpt-5-mini")


def _gpt5_family_options() -> tuple[float, str]:
    """The GPT-5 family's one temperature, and whether it takes a stop sequence (the same for each member)."""
    (fixed,) = {get_model(m).parameters.temperature.fixed for m in GPT5_FAMILY}
    (stop,) = {get_model(m).parameters.stop.kind for m in GPT5_FAMILY}
    assert fixed is not None, "the registry no longer fixes the GPT-5 family's temperature"
    return fixed, "no `stop`" if stop == "unsupported" else "a `stop`"


def _claude_options() -> str:
    """What the registry's Claude models take of temperature and seed."""
    claude = [m for m in list_models() if m.provider == "anthropic"]
    kinds = {(m.parameters.temperature.kind, m.parameters.seed.kind) for m in claude}
    if claude and kinds == {("unsupported", "unsupported")}:
        return "take no `temperature` and no `seed`"
    return "(the registry's Claude models no longer refuse both temperature and seed)"


def _limit_names() -> tuple[str, str]:
    """The token limit's name on OpenAI's own API, and on compatible servers and the Messages protocol."""
    openai = {m.parameters.token_limit for m in list_models() if m.provider == "openai"}
    others = {m.parameters.token_limit for m in list_models() if m.provider in ("lab", "anthropic")}
    (own,), (elsewhere,) = openai, others
    return own, elsewhere


def _reasoning_models() -> str:
    """The models that bill hidden reasoning, as the lesson lists them."""
    billed = {m.id for m in list_models() if m.reasoning.billed}
    if billed == {"gpt-5", "gpt-5-mini", "gemini-2.5-flash", "gemini-2.5-pro"}:
        return "GPT-5, GPT-5 mini, Gemini 2.5 Flash and Pro"
    return "(the registry's reasoning models changed: " + ", ".join(sorted(billed)) + ")"


FIGURES: list[Figure] = [
    Figure("05", "the GPT-5 family takes only its default temperature ({:g}) and {};", _gpt5_family_options),
    Figure("05", "Claude models through the Anthropic SDK of 2026 {}", _claude_options),
    Figure("05", "OpenAI's own API names the output limit `{}`; compatible servers and the Messages protocol call it `{}`",
           _limit_names),
    Figure("05", "reasoning models ({}) bill hidden reasoning tokens", _reasoning_models),
]
