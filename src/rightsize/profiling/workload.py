"""What the profiler sends: prompts with their options, cycled over the requests of a run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import RightsizeError
from ..providers.base import Options

__all__ = ["DEFAULT_PROMPTS", "Workload", "WorkloadRequest"]

#: a small mix of short and long questions, used when a run names no prompts
DEFAULT_PROMPTS: tuple[str, ...] = (
    "What is the capital of France?",
    "Write a short paragraph about why the sky is blue.",
    "List three uses of a paperclip.",
    "Explain in two sentences what a hash table is.",
    "Write a haiku about autumn.",
    "Summarize the plot of Romeo and Juliet in a few sentences.",
    "Give me a friendly one-line greeting for a customer support chat.",
    "Describe how a bicycle works to a ten-year-old.",
)


@dataclass(frozen=True)
class WorkloadRequest:
    """One request to send: messages, an optional system prompt and generation options."""

    messages: list[dict[str, str]]
    system: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, item: str | list[dict[str, str]] | dict[str, Any] | WorkloadRequest, **options: Any) -> WorkloadRequest:
        """A prompt from a string, a message list, a ``{"messages"|"prompt", "system", ...}`` dict."""
        if isinstance(item, WorkloadRequest):
            return item if not options else cls(item.messages, item.system, {**options, **item.options})
        if isinstance(item, str):
            return cls([{"role": "user", "content": item}], None, dict(options))
        if isinstance(item, list):
            return cls(list(item), None, dict(options))
        if isinstance(item, dict):
            data = dict(item)
            if "messages" in data:
                messages = list(data.pop("messages"))
            elif "prompt" in data:
                messages = [{"role": "user", "content": str(data.pop("prompt"))}]
            else:
                raise RightsizeError("a prompt dict needs 'messages' or 'prompt'")
            system = data.pop("system", None)
            inner = data.pop("options", {}) or {}
            return cls(messages, system, {**options, **inner, **data})
        raise RightsizeError(f"a prompt must be a string, a list of messages or a dict, not {type(item).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "system": self.system, "options": self.options}


class Workload:
    """Prompts cycled in order: request ``i`` sends ``prompts[i % len(prompts)]``."""

    def __init__(self, prompts: Sequence[WorkloadRequest]) -> None:
        if not prompts:
            raise RightsizeError("a workload needs at least one prompt")
        self.prompts = list(prompts)

    @classmethod
    def of(cls, prompts: Iterable[Any] | str | Workload | None = None, **options: Any) -> Workload:
        """A workload from prompts (strings, message lists, dicts) with shared options such as max_tokens."""
        if isinstance(prompts, Workload):
            return prompts if not options else cls([WorkloadRequest.of(p, **options) for p in prompts.prompts])
        if prompts is None:
            prompts = DEFAULT_PROMPTS
        elif isinstance(prompts, str):
            prompts = [prompts]
        built = [WorkloadRequest.of(p, **options) for p in prompts]
        for prompt in built:
            try:
                Options(**prompt.options)
            except Exception as exc:  # a misspelled option: say which
                first = exc.errors()[0] if hasattr(exc, "errors") else None
                where = ".".join(str(p) for p in first["loc"]) if first else ""
                raise RightsizeError(f"bad option {where}: {first['msg'] if first else exc}") from None
        return cls(built)

    def __getitem__(self, index: int) -> WorkloadRequest:
        return self.prompts[index % len(self.prompts)]

    def __len__(self) -> int:
        return len(self.prompts)
