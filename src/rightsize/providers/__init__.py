"""Provider adapters behind one interface, and :func:`connect` to get one by model name.

Business logic calls ``connect("mid").complete(...)`` and never imports a provider SDK, so a
model swap is a change of alias, not of code. ``connect`` is the one factory: the official SDK
adapters by default, the profiler's lean HTTP client with ``client="lean"`` or ``"auto"``.
"""

from __future__ import annotations

from ..errors import RightsizeError
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
    "resolve_model",
]

#: the clients :func:`connect` can build an adapter on
CLIENTS = ("sdk", "lean", "auto")


def adapter_class(api: str, client: str = "sdk") -> type[Provider]:
    """The adapter class for a wire protocol name (local, openai, anthropic) and a client.

    ``client`` is ``"sdk"`` (the official SDKs), ``"lean"`` (the profiler's lean HTTP client,
    :mod:`rightsize.profiling.client`) or ``"auto"`` (lean over HTTP, in-process for the local model).
    """
    if client not in CLIENTS:
        raise RightsizeError(f"client must be sdk, lean or auto, not {client!r}")
    if api == "local":
        if client == "lean":
            raise RightsizeError("the local model runs in-process: there is no HTTP for the lean client "
                                 "(use client='auto' or 'sdk')")
        from .local import LocalProvider

        return LocalProvider
    if api in ("openai", "anthropic") and client != "sdk":
        from ..profiling import client as lean  # imported only when asked for

        return lean.LeanOpenAIProvider if api == "openai" else lean.LeanAnthropicProvider
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


def resolve_model(model: str | ModelInfo, *, base_url: str | None = None,
                  protocol: str | None = None) -> ModelInfo:
    """The registry entry for a name, or an endpoint entry for a model on ``base_url``.

    With ``base_url`` and no ``protocol``, a registry model keeps its entry (its price, the options
    it takes) and is sent to that URL; a name the registry does not know is taken as an
    OpenAI-protocol endpoint. With both, the name is an endpoint of that protocol.
    """
    if isinstance(model, ModelInfo):
        return model
    if base_url is None:
        if protocol is not None:
            raise RightsizeError(f"protocol={protocol!r} only applies with a base_url (a registry model "
                                 "knows its protocol): pass base_url=... too, or leave protocol unset")
        return get_model(model)
    if protocol is None:
        try:
            return get_model(model)
        except KeyError:
            protocol = "openai"
    if protocol not in ("openai", "anthropic"):
        raise RightsizeError(f"protocol must be openai or anthropic, not {protocol!r}")
    return endpoint_model(model, base_url, protocol)


def connect(
    model: str | ModelInfo,
    *,
    key: str | None = None,
    base_url: str | None = None,
    protocol: str | None = None,
    timeout: float = 120.0,
    headers: dict[str, str] | None = None,
    client: str = "sdk",
) -> Provider:
    """A ready adapter for a registry model (id or alias) or, with ``base_url``, any endpoint.

    Keys come from ``key`` if given, else the model's environment variable
    (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``); the error for a missing key
    names the variable. ``headers`` go with every request (the lab server reads
    ``X-Rightsize-Faults`` from them). Nothing is sent until the first request.

    With ``base_url``, a registry model keeps its entry and an unknown name is an OpenAI-protocol
    endpoint; ``protocol`` (``openai`` or ``anthropic``, only with ``base_url``) makes the name an
    endpoint of that protocol (see :func:`resolve_model`). The options sent follow the model's
    registry entry (``parameters``), also on another ``base_url``; an endpoint is assumed to take them all.

    ``client`` picks the adapter: ``"sdk"`` (the official SDKs, the default), ``"lean"`` (the
    profiler's lean HTTP client, same answers with less client overhead) or ``"auto"`` (lean over
    HTTP, in-process for the local model).
    """
    info = resolve_model(model, base_url=base_url, protocol=protocol)
    cls = adapter_class(protocol or info.api, client)
    provider = cls(info, key=key, base_url=base_url, timeout=timeout, headers=headers)
    if info.needs_key and key is None and base_url is None:
        provider.key()  # fail now, with the variable's name, not at the first request
    from ..responses import recorded

    return recorded(provider)  # answered from recordings under the autograder (see rightsize.responses)
