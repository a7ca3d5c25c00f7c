"""Provider adapters behind one interface, and :func:`connect` to get one by model name.

Business logic calls ``connect("mid").complete(...)`` and never imports a provider SDK, so a
model swap is a change of alias, not of code.
"""

from __future__ import annotations

from ..registry import Capabilities, ModelInfo, OptionRule, Parameters, Price, get_model
from .base import Chunk, Delta, Options, Provider, Request, Response, Usage

__all__ = [
    "Chunk",
    "Delta",
    "Options",
    "Provider",
    "Request",
    "Response",
    "Usage",
    "adapter_class",
    "connect",
    "endpoint_model",
]


def adapter_class(api: str) -> type[Provider]:
    """The adapter class for a wire protocol name (local, openai, anthropic)."""
    if api == "local":
        from .local import LocalProvider

        return LocalProvider
    if api == "openai":
        from .openai_compat import OpenAIProvider

        return OpenAIProvider
    if api == "anthropic":
        from .anthropic_messages import AnthropicProvider

        return AnthropicProvider
    raise ValueError(f"unknown protocol {api!r}: use local, openai or anthropic")


def endpoint_model(model: str, base_url: str, protocol: str = "openai") -> ModelInfo:
    """A registry-style entry for a model on any compatible server (vLLM, Ollama, ...).

    It has no list price: the cost model reports such a model's cost as unknown-zero and says so.
    It is assumed to take every sampling option its protocol has, with ``max_tokens`` as the limit.
    """
    if protocol not in ("openai", "anthropic"):
        raise ValueError(f"protocol must be openai or anthropic, not {protocol!r}")
    parameters = Parameters()  # a compatible server: takes every option, limit named max_tokens
    if protocol == "anthropic":
        parameters = Parameters(temperature=OptionRule(maximum=1.0),
                                seed=OptionRule(kind="unsupported", why="the Messages protocol has no seed"),
                                source="a Messages-compatible server: temperature 0 to 1, no seed")
    return ModelInfo(
        id=model,
        name=f"{model} at {base_url}",
        provider="endpoint",
        api=protocol,
        tier="small",
        context_window=8192,
        capabilities=Capabilities(stream=True, json_schema=protocol == "openai", logprobs=protocol == "openai"),
        price=Price(input_per_mtok=0, output_per_mtok=0, read_on="1970-01-01",
                    source="not in the registry: no price known"),
        base_url=base_url,
        parameters=parameters,
    )


def connect(
    model: str | ModelInfo,
    *,
    key: str | None = None,
    base_url: str | None = None,
    protocol: str | None = None,
    timeout: float = 120.0,
    headers: dict[str, str] | None = None,
) -> Provider:
    """A ready adapter for a registry model (id or alias) or, with ``base_url``, any endpoint.

    Keys come from ``key`` if given, else the model's environment variable
    (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``); the error for a missing key
    names the variable. ``headers`` go with every request (the lab server reads
    ``X-Rightsize-Faults`` from them). Nothing is sent until the first request.

    The options sent follow the model's registry entry (``parameters``), also on another
    ``base_url``; a model of your own (``base_url`` with ``protocol``) is assumed to take them all.
    """
    if isinstance(model, ModelInfo):
        info = model
    elif base_url is not None and protocol is not None:
        info = endpoint_model(model, base_url, protocol)
    else:
        info = get_model(model)
    cls = adapter_class(protocol or info.api)
    provider = cls(info, key=key, base_url=base_url, timeout=timeout, headers=headers)
    if info.needs_key and key is None and base_url is None:
        provider.key()  # fail now, with the variable's name, not at the first request
    from ..responses import recorded

    return recorded(provider)  # answered from recordings under the autograder (see rightsize.responses)
