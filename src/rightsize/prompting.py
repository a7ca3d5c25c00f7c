"""Prompts as versioned data: load them from ``rightsize/prompts/*.yaml`` and render them.

A prompt is data, not a string literal in a notebook: each task has one YAML file listing its
versions, newest last, and each version holds **variants** per provider family and style where
they differ. The tiny local model gets short prompts and examples; cloud models get a system
prompt with the full label definitions. A variant is chosen by:

- ``provider``: ``"local"`` for the embedded SmolLM2 (in-process or through the lab server),
  ``"openai"``, ``"anthropic"``, ``"google"``..., falling back to ``"default"``;
- ``style``: how the answer is asked for, e.g. ``"plain"`` (free text), ``"json"`` (a JSON
  object, usable with a grammar) or ``"few_shot"`` (with examples).

Templates use ``{name}`` placeholders (JSON braces in a template need no escaping: only
``{identifier}`` is a placeholder). A :class:`Prompt`'s ``version`` and ``fingerprint`` (a hash
of its text) go into evaluation cache keys, so editing a prompt never reuses stale results.

A prompt file is read by :mod:`rightsize.yamlconfig`, so a misspelled or missing key raises
:class:`PromptFileError` (a :class:`PromptError`) listing every problem with its line.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import RightsizeError
from .registry import ModelInfo
from .yamlconfig import ConfigError, LocatedDocument, load_file
from .yamlconfig import Path as KeyPath

__all__ = ["Prompt", "PromptError", "PromptFileError", "get_prompt", "list_prompts", "prompt_family",
           "render_template"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TINY_PROVIDERS = ("local", "lab")


class PromptError(RightsizeError, KeyError):
    """A prompt that does not exist, a template rendered without one of its fields, or a broken
    prompt file (:class:`PromptFileError`)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PromptFileError(PromptError, ConfigError):
    """A prompt file that cannot be used; ``problems`` lists each one with its line."""


def render_template(template: str, fields: Mapping[str, Any], *, where: str = "template") -> str:
    """Fill ``{name}`` placeholders from ``fields``; a missing field is an error naming it."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fields:
            raise PromptError(f"{where} needs the field {name!r}; pass it to render() "
                              f"(given: {', '.join(sorted(fields)) or 'none'})")
        return str(fields[name])

    return _PLACEHOLDER.sub(fill, template)


@dataclass(frozen=True)
class Prompt:
    """One variant of one version of a task's prompt."""

    task: str
    version: int
    provider: str
    style: str
    user: str
    system: str | None = None
    example: str | None = None  # template of one few-shot example (its user turn, or inline text)
    example_answer: str | None = None  # with it, each example is a user turn and an assistant turn
    example_separator: str = "\n\n"
    notes: str = ""
    examples: tuple[Mapping[str, Any], ...] = ()  # fixed examples, used when render() is given none

    @property
    def id(self) -> str:
        """``task/vN/provider/style``: how reports and cache files name this prompt."""
        return f"{self.task}/v{self.version}/{self.provider}/{self.style}"

    @property
    def fingerprint(self) -> str:
        """A short hash of the prompt's text: changes whenever a word of it changes."""
        text = json.dumps([self.system, self.user, self.example, self.example_answer, self.example_separator,
                           [dict(e) for e in self.examples]], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def fields(self) -> list[str]:
        """The placeholders the templates use (``examples`` is filled from ``render(examples=...)``)."""
        found: list[str] = []
        for part in (self.system or "", self.user):
            for name in _PLACEHOLDER.findall(part):
                if name not in found:
                    found.append(name)
        return found

    def render(self, *, examples: Sequence[Mapping[str, Any]] = (),
               **fields: Any) -> tuple[list[dict[str, str]], str | None]:
        """The messages and the system prompt for ``provider.complete(messages, system=system)``.

        ``fields`` fill the placeholders (e.g. ``text=...``, ``labels=...``). ``examples`` (dicts
        of fields, e.g. ``{"text": ..., "label": ...}``) are rendered with the variant's
        ``example`` template: as a user turn and an ``example_answer`` assistant turn each when
        the variant has ``example_answer``, else joined into the ``{examples}`` placeholder.
        """
        values = dict(fields)
        examples = list(examples) or list(self.examples)
        turns: list[dict[str, str]] = []
        if self.example is not None and self.example_answer is not None:
            for ex in examples:
                merged = {**fields, **ex}
                turns.append({"role": "user", "content": render_template(self.example, merged, where=f"{self.id} example")})
                turns.append({"role": "assistant",
                              "content": render_template(self.example_answer, merged, where=f"{self.id} example_answer")})
        elif self.example is not None:
            values.setdefault("examples", self.example_separator.join(
                render_template(self.example, {**fields, **ex}, where=f"{self.id} example") for ex in examples))
        elif examples and not self.examples:
            raise PromptError(f"{self.id} has no example template; use a few_shot style to pass examples")
        system = render_template(self.system, values, where=f"{self.id} system") if self.system else None
        user = render_template(self.user, values, where=f"{self.id} user")
        return [*turns, {"role": "user", "content": user}], system


def prompt_family(model: ModelInfo | str | None) -> str:
    """The prompt family of a model: ``"local"`` for the tiny embedded model, else its provider.

    A string is looked up in the registry (id or alias); a string the registry does not know is
    taken as a family name itself (``"default"``, ``"openai"``...).
    """
    if model is None:
        return "default"
    if isinstance(model, str):
        from .errors import UnknownModelError
        from .registry import get_model

        try:
            info = get_model(model, allow_retired=True)
        except UnknownModelError:
            return model
        return prompt_family(info)
    if model.provider in _TINY_PROVIDERS:
        return "local"
    return model.provider


# -- prompt files -----------------------------------------------------------------------------------
class _PromptVariant(BaseModel):
    """One variant of a version in a prompt file: the templates for one provider family and style."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field("default", description='the family it is for: "local", "openai"..., or "default"')
    style: str = Field("plain", description='how the answer is asked for: "plain", "json", "few_shot"...')
    system: str | None = Field(None, description="the system prompt template")
    user: str = Field(description="the user turn template")
    example: str | None = Field(None, description="template of one few-shot example")
    example_answer: str | None = Field(None, description="with it, each example is a user and an assistant turn")
    example_separator: str = Field("\n\n", description="what joins examples rendered into {examples}")
    notes: str | None = Field(None, description="what to know about this variant (default: the version's changes)")
    examples: list[dict[str, Any]] = Field(default_factory=list, description="fixed examples (dicts of fields)")


class _PromptVersion(BaseModel):
    """One version of a task's prompt: its number, what changed, and its variants."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(description="the version number; a new version takes the next one")
    changes: str = Field("", description="what changed from the previous version, and what it measured")
    variants: list[_PromptVariant] = Field(description="the variants, per provider family and style")


class _PromptFile(BaseModel):
    """The contents of ``prompts/<task>.yaml``: the task's name and its versions, newest last."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(description="the task's name, the same as the file's name")
    versions: list[_PromptVersion] = Field(description="the versions, newest last")


def _prompts_dir() -> Path:
    return Path(str(resources.files("rightsize").joinpath("prompts")))


def _file_problems(prompts: _PromptFile, doc: LocatedDocument, task: str) -> list[tuple[KeyPath, str]]:
    """What pydantic cannot see in a prompt file: its task's name, and each version's number and variants."""
    problems: list[tuple[KeyPath, str]] = []
    if prompts.task != task:
        problems.append((("task",), f"the file {task}.yaml says task: {prompts.task}; write task: {task}"))
    if not prompts.versions:
        problems.append((("versions",), "no versions; add one (version: 1, with its variants)"))
    first: dict[int, KeyPath] = {}
    for index, version in enumerate(prompts.versions):
        where: KeyPath = ("versions", index, "version")
        if version.version in first:
            message = (f"version {version.version} appears twice (first on line "
                       f"{doc.line_of(first[version.version])}); give the new one the next number")
            problems.append((where, message))
        first.setdefault(version.version, where)
        if not version.variants:
            problems.append((("versions", index, "variants"), "no variants; add one with at least `user:`"))
    return problems


@functools.cache
def _load_task(task: str, folder: str | None = None) -> dict[int, list[Prompt]]:
    path = Path(folder or _prompts_dir()) / f"{task}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in Path(folder or _prompts_dir()).glob("*.yaml"))
        raise PromptError(f"no prompts for the task {task!r}; known tasks: {', '.join(known)}")
    prompts = load_file(path, _PromptFile, error=PromptFileError,
                        check=lambda loaded, doc: _file_problems(loaded, doc, task))
    versions: dict[int, list[Prompt]] = {}
    for entry in prompts.versions:
        versions[entry.version] = [
            Prompt(task=task, version=entry.version, provider=v.provider, style=v.style, user=v.user,
                   system=v.system, example=v.example, example_answer=v.example_answer,
                   example_separator=v.example_separator, examples=tuple(v.examples),
                   notes=entry.changes if v.notes is None else v.notes)
            for v in entry.variants]
    return versions


def get_prompt(task: str, provider: str | ModelInfo | None = "default", version: int | None = None,
               style: str = "plain") -> Prompt:
    """The prompt for a task, provider family and style (newest version unless ``version`` is given).

    ``provider`` is a family name (``"local"``, ``"openai"``...), a registry model or alias
    (mapped by :func:`prompt_family`), or None for ``"default"``. A family without its own
    variant uses the ``default`` one.
    """
    family = prompt_family(provider)
    versions = _load_task(task)
    number = max(versions) if version is None else version
    if number not in versions:
        raise PromptError(f"{task} has no prompt version {number}; versions: {sorted(versions)}")
    for wanted in (family, "default"):
        for prompt in versions[number]:
            if prompt.provider == wanted and prompt.style == style:
                return prompt
    have = ", ".join(f"{p.provider}/{p.style}" for p in versions[number])
    raise PromptError(f"{task} v{number} has no {style!r} prompt for {family!r} (nor a default one); it has: {have}")


def list_prompts(task: str | None = None) -> list[Prompt]:
    """Every prompt variant of every version (of one task, or of all)."""
    tasks = [task] if task else sorted(p.stem for p in _prompts_dir().glob("*.yaml"))
    return [p for t in tasks for v in sorted(_load_task(t)) for p in _load_task(t)[v]]
