"""The model registry: ids, aliases, prices with their dates, context windows and retirements.

The data lives in ``models.yaml`` beside this module; this module only reads and checks it.
Ask for a model by id or alias with :func:`get_model`; a name the registry does not know raises
:class:`~rightsize.errors.UnknownModelError` listing what is known, and a retired id raises
:class:`RetiredModelError` naming its replacement, so a lesson never calls a dead model silently.
"""

from __future__ import annotations

import datetime as dt
import functools
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import RightsizeError, UnknownModelError

__all__ = [
    "Capabilities",
    "ModelInfo",
    "Price",
    "Registry",
    "RetiredModelError",
    "get_model",
    "list_models",
    "load_registry",
]

Api = Literal["local", "openai", "anthropic"]


class RetiredModelError(RightsizeError):
    """The model has been retired by its provider."""

    def __init__(self, model: ModelInfo) -> None:
        self.model = model
        hint = f" Use {model.replaced_by!r} instead." if model.replaced_by else ""
        super().__init__(f"model {model.id!r} was retired on {model.retires_on}.{hint}")


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


class ModelInfo(BaseModel):
    """One registry entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="the provider's model id (what is sent on the wire)")
    name: str = Field(description="a human-readable name")
    provider: str = Field(description="who runs it: local, lab, openai, anthropic, google")
    api: Api = Field(description="the wire protocol used to call it")
    aliases: tuple[str, ...] = ()
    tier: Literal["tiny", "small", "frontier"]
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

    @property
    def wire_model(self) -> str:
        """The model name sent in requests (the lab server's entries send what they serve)."""
        return self.serves or self.id

    @property
    def needs_key(self) -> bool:
        return bool(self.key_env)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """List-price cost in USD of one request with this usage."""
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
        self._by_name: dict[str, ModelInfo] = {}
        for model in self.models:
            for name in (model.id, *model.aliases):
                if name in self._by_name:
                    raise RightsizeError(
                        f"model registry: the name {name!r} is used by both "
                        f"{self._by_name[name].id!r} and {model.id!r}; ids and aliases must be unique"
                    )
                self._by_name[name] = model

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


def load_registry(path: str | Path | None = None) -> Registry:
    """Read and check a registry file (by default the one shipped in the package)."""
    if path is None:
        text = resources.files("rightsize").joinpath("models.yaml").read_text(encoding="utf-8")
        where = "rightsize/models.yaml"
    else:
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    try:
        data = _RegistryFile.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise RightsizeError(f"{where}: {loc}: {first['msg']}") from exc
    return Registry(data.models)


@functools.cache
def _default_registry() -> Registry:
    return load_registry()


def get_model(name: str, *, allow_retired: bool = False) -> ModelInfo:
    """The registry entry for a model id or alias, e.g. ``get_model("small")``."""
    return _default_registry().get(name, allow_retired=allow_retired)


def list_models(*, include_retired: bool = False) -> list[ModelInfo]:
    """Every model in the shipped registry."""
    return [m for m in _default_registry().models if include_retired or not m.retired]
