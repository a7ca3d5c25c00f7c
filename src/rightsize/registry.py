"""The model registry: ids, aliases, prices with their dates, context windows and retirements.

The data lives in ``models.yaml`` beside this module; this module only reads and checks it.
Ask for a model by id or alias with :func:`get_model`; a name the registry does not know raises
:class:`~rightsize.errors.UnknownModelError` listing what is known, and a retired id raises
:class:`RetiredModelError` naming its replacement, so a lesson never calls a dead model silently.

Each entry also says how the model is called (:class:`Parameters`: which sampling options it takes
and the name of its token-limit parameter) and whether it bills hidden reasoning tokens
(:class:`Reasoning`), so swapping one alias for another changes data, not code. An option a learner
sets that the model does not take raises :class:`UnsupportedOptionError` before anything is sent.

A registry file is read by :mod:`rightsize.yamlconfig`, so a broken one raises
:class:`RegistryError` listing every problem with its line.
"""

from __future__ import annotations

import datetime as dt
import functools
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import RightsizeError, UnknownModelError
from .yamlconfig import ConfigError, LocatedDocument, load_file, load_model
from .yamlconfig import Path as KeyPath

__all__ = [
    "SAMPLING_OPTIONS",
    "Capabilities",
    "ModelInfo",
    "OptionRule",
    "Parameters",
    "Price",
    "Reasoning",
    "Registry",
    "RegistryError",
    "RetiredModelError",
    "UnsupportedOptionError",
    "get_model",
    "list_models",
    "load_registry",
]

#: the generation options whose acceptance differs between models (the token limit is always taken)
SAMPLING_OPTIONS = ("temperature", "seed", "stop")

Api = Literal["local", "openai", "anthropic"]


class RegistryError(ConfigError):
    """A registry file that cannot be used; ``problems`` lists each one with its line."""


class RetiredModelError(RightsizeError):
    """The model has been retired by its provider."""

    def __init__(self, model: ModelInfo) -> None:
        self.model = model
        hint = f" Use {model.replaced_by!r} instead." if model.replaced_by else ""
        super().__init__(f"model {model.id!r} was retired on {model.retires_on}.{hint}")


class UnsupportedOptionError(RightsizeError, ValueError):
    """An option the learner set that the model does not take (raised before anything is sent)."""

    def __init__(self, model_id: str, option: str, message: str) -> None:
        self.model_id = model_id
        self.option = option
        super().__init__(message)


class Price(BaseModel):
    """A list price in USD per million tokens, with the day it was read and where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0, description="USD per million input (prompt) tokens")
    output_per_mtok: float = Field(ge=0, description="USD per million output tokens")
    read_on: dt.date = Field(description="the day the price was read")
    source: str = Field(min_length=3, description="where the price was read")


class Capabilities(BaseModel):
    """What a model's API can do, so lessons can skip what a model cannot."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stream: bool = True
    json_schema: bool = Field(False, description="accepts a JSON schema to constrain its output")
    logprobs: bool = Field(False, description="returns token log-probabilities")


class OptionRule(BaseModel):
    """How a model takes one sampling option (``temperature``, ``seed`` or ``stop``).

    In ``models.yaml`` a rule is written short: ``accepted``; ``{maximum: 1}`` (accepted up to that
    value); ``{fixed: 1}`` (only the provider's default, so it is never sent); ``unsupported`` or
    ``{unsupported: "why"}`` (never sent).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["accepted", "fixed", "unsupported"] = "accepted"
    maximum: float | None = Field(None, description="accepted: the highest value the model takes")
    fixed: float | None = Field(None, description="fixed: the provider's default, the only value taken")
    why: str | None = Field(None, description="unsupported: why, for the error message")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"kind": data}
        if isinstance(data, dict) and "kind" not in data:
            if "fixed" in data:
                return {"kind": "fixed", **data}
            if "unsupported" in data:
                return {"kind": "unsupported", "why": data["unsupported"]}
            if "maximum" in data:
                return {"kind": "accepted", **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> OptionRule:
        if (self.kind == "fixed") != (self.fixed is not None):
            raise ValueError("a fixed option needs its value ({fixed: 1}), and only a fixed one has one")
        if self.maximum is not None and self.kind != "accepted":
            raise ValueError("only an accepted option has a maximum")
        return self

    @property
    def sent(self) -> bool:
        """Whether the option goes on the wire when it has a value."""
        return self.kind == "accepted"

    def refusal(self, model_id: str, option: str, value: Any) -> str | None:
        """Why ``model_id`` cannot take ``option=value`` set explicitly (None when it can)."""
        shown = f"{value:g}" if isinstance(value, int | float) else repr(value)
        if self.kind == "unsupported":
            why = f" ({self.why})" if self.why else ""
            return f"{model_id} does not take {option}{why}: leave {option} unset"
        if self.kind == "fixed" and value != self.fixed:
            return f"{model_id} accepts only the default {option} ({self.fixed:g}), not {shown}: leave {option} unset"
        if self.maximum is not None and value > self.maximum:
            return f"{model_id} takes {option} up to {self.maximum:g}, not {shown}: pass a value in that range"
        return None


_COMPATIBLE_SERVER_SOURCE = "a compatible server (vLLM, Ollama, llama.cpp): assumed to take every option"


class Parameters(BaseModel):
    """How the model is called: which sampling options it takes, and its token-limit parameter.

    The defaults describe a compatible server that takes everything (what an endpoint you run
    yourself usually is); every entry in ``models.yaml`` states its own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: OptionRule = OptionRule()
    seed: OptionRule = OptionRule()
    stop: OptionRule = OptionRule()
    token_limit: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens", description="the request parameter that carries Options.max_tokens")
    source: str = Field(_COMPATIBLE_SERVER_SOURCE, min_length=3, description="where these facts come from")

    @model_validator(mode="after")
    def _stop_is_taken_or_not(self) -> Parameters:
        if self.stop.kind == "fixed" or self.stop.maximum is not None:
            raise ValueError("stop is a list of strings: its rule is accepted or unsupported")
        return self

    def rule(self, option: str) -> OptionRule:
        """The rule for one of :data:`SAMPLING_OPTIONS`."""
        if option not in SAMPLING_OPTIONS:
            raise ValueError(f"{option!r} is not a sampling option: use one of {', '.join(SAMPLING_OPTIONS)}")
        rule: OptionRule = getattr(self, option)
        return rule


class Reasoning(BaseModel):
    """Hidden reasoning ("thinking") tokens: never shown in the answer, billed at the output price.

    ``billed`` is true when the model reasons on the requests rightsize sends (its default effort).
    ``assumed_tokens_per_request`` is what the cost model adds per request when the real number is
    not known: an assumption, with its source and the day it was made, like a price.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    billed: bool = False
    assumed_tokens_per_request: int = Field(0, ge=0, description="reasoning tokens assumed per request")
    as_of: dt.date | None = Field(None, description="the day the assumption was made")
    source: str | None = Field(None, description="where the assumption comes from")
    note: str | None = None

    @model_validator(mode="after")
    def _stated(self) -> Reasoning:
        if self.billed and (self.as_of is None or not self.source or self.assumed_tokens_per_request <= 0):
            raise ValueError("a model that bills reasoning needs assumed_tokens_per_request > 0, as_of and source")
        if not self.billed and self.assumed_tokens_per_request:
            raise ValueError("assumed_tokens_per_request is for models that bill reasoning (billed: true)")
        return self


class ModelInfo(BaseModel):
    """One registry entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="the provider's model id (what is sent on the wire)")
    name: str = Field(description="a human-readable name")
    provider: str = Field(description="who runs it: local, lab, openai, anthropic, google")
    api: Api = Field(description="the wire protocol used to call it")
    aliases: tuple[str, ...] = ()
    tier: Literal["small", "mid", "frontier"] = Field(
        description="small: runs on your own hardware; mid: the production workhorses; frontier: the flagships")
    context_window: int = Field(gt=0, description="tokens of prompt plus answer")
    capabilities: Capabilities = Capabilities()
    price: Price
    base_url: str | None = Field(None, description='"lab" for the lab server, a URL, or the SDK default')
    key_env: str | None = Field(None, description="environment variable that holds the key")
    serves: str | None = Field(None, description="for lab entries: the model id the server runs")
    retires_on: dt.date | None = None
    retired: bool = False
    replaced_by: str | None = None
    note: str | None = None
    parameters: Parameters = Field(Parameters(), description="sampling options taken; token-limit name")
    reasoning: Reasoning = Field(Reasoning(), description="hidden reasoning tokens billed as output")

    @model_validator(mode="after")
    def _token_limit_fits_the_protocol(self) -> ModelInfo:
        if self.api != "openai" and self.parameters.token_limit != "max_tokens":
            raise ValueError(f"the {self.api} protocol names its token limit max_tokens, "
                             f"not {self.parameters.token_limit}")
        return self

    def accepts(self, option: str, value: Any) -> bool:
        """Whether this model takes ``option=value`` set explicitly (for code that serves any model,
        e.g. to ask for temperature 0 only where a temperature is taken)."""
        return self.parameters.rule(option).refusal(self.id, option, value) is None

    def check_options(self, explicit: dict[str, Any]) -> None:
        """Raise :class:`UnsupportedOptionError` for an option set explicitly that this model does not take.

        ``explicit`` holds only the options the caller set; None (or an empty stop list) means unset.
        """
        for option in SAMPLING_OPTIONS:
            value = explicit.get(option)
            if value is None or value == []:
                continue
            message = self.parameters.rule(option).refusal(self.id, option, value)
            if message:
                raise UnsupportedOptionError(self.id, option, message)

    @property
    def wire_model(self) -> str:
        """The model name sent in requests (the lab server's entries send what they serve)."""
        return self.serves or self.id

    @property
    def needs_key(self) -> bool:
        return bool(self.key_env)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """List-price cost in USD of one request with this usage.

        ``output_tokens`` are the tokens as billed: for a model that reasons, the server's count
        already holds the hidden reasoning. To price a planned answer length, use
        :func:`rightsize.cost.request_cost`, which adds the model's reasoning tokens.
        """
        return (
            input_tokens * self.price.input_per_mtok + output_tokens * self.price.output_per_mtok
        ) / 1_000_000


class _RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1]
    models: list[ModelInfo]


class Registry:
    """The models known to the course, looked up by id or alias."""

    def __init__(self, models: list[ModelInfo]) -> None:
        self.models = list(models)
        clashes = _name_clashes(self.models)
        if clashes:
            raise RightsizeError(f"model registry: {clashes[0][1]}")
        self._by_name = {name: model for model in self.models for name in (model.id, *model.aliases)}

    def names(self) -> list[str]:
        """Every id and alias, sorted."""
        return sorted(self._by_name)

    def get(self, name: str, *, allow_retired: bool = False) -> ModelInfo:
        """The entry for an id or alias."""
        try:
            model = self._by_name[name]
        except KeyError:
            raise UnknownModelError(name, self.names()) from None
        if model.retired and not allow_retired:
            raise RetiredModelError(model)
        return model

    def overdue(self, today: dt.date | None = None) -> list[ModelInfo]:
        """Entries past their retirement date that are not marked retired."""
        today = today or dt.date.today()
        return [m for m in self.models if m.retires_on and m.retires_on <= today and not m.retired]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)


def _name_clashes(models: list[ModelInfo]) -> list[tuple[KeyPath, str]]:
    """Each id or alias already used by an earlier entry: its path in the file, and what to fix."""
    owner: dict[str, str] = {}
    clashes: list[tuple[KeyPath, str]] = []
    for index, model in enumerate(models):
        named: list[tuple[KeyPath, str]] = [(("id",), model.id)]
        named += [(("aliases", i), alias) for i, alias in enumerate(model.aliases)]
        for where, name in named:
            if name in owner:
                message = (f"the name {name!r} is used by both {owner[name]!r} and {model.id!r}; "
                           "ids and aliases must be unique")
                clashes.append((("models", index, *where), message))
            owner.setdefault(name, model.id)
    return clashes


def _check_registry(registry: _RegistryFile, doc: LocatedDocument) -> list[tuple[KeyPath, str]]:
    """The problems pydantic cannot see (for ``load_model``'s ``check``)."""
    return _name_clashes(registry.models)


def load_registry(path: str | Path | None = None) -> Registry:
    """Read and check a registry file (by default the one shipped in the package).

    Raises :class:`RegistryError` listing every problem with its line.
    """
    if path is None:
        text = resources.files("rightsize").joinpath("models.yaml").read_text(encoding="utf-8")
        data = load_model(text, _RegistryFile, source="rightsize/models.yaml", error=RegistryError,
                          check=_check_registry)
    else:
        data = load_file(path, _RegistryFile, error=RegistryError, check=_check_registry)
    return Registry(data.models)


@functools.cache
def _default_registry() -> Registry:
    return load_registry()


def get_model(name: str, *, allow_retired: bool = False) -> ModelInfo:
    """The registry entry for a model id or alias, e.g. ``get_model("mid")``."""
    return _default_registry().get(name, allow_retired=allow_retired)


def list_models(*, include_retired: bool = False) -> list[ModelInfo]:
    """Every model in the shipped registry."""
    return [m for m in _default_registry().models if include_retired or not m.retired]
