"""Every provider SDK exception maps onto the rightsize tree; keys fail with the variable's name."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from rightsize import connect, errors
from rightsize.providers.anthropic_messages import AnthropicProvider
from rightsize.providers.openai_compat import OpenAIProvider
from rightsize.registry import UnsupportedOptionError, get_model


def _status_error(sdk: object, cls_name: str, status: int, headers: dict[str, str] | None = None) -> Exception:
    request = httpx.Request("POST", "http://example.invalid/v1")
    response = httpx.Response(status, headers=headers or {}, request=request, json={"error": {"message": "x"}})
    cls = getattr(sdk, cls_name)
    return cls("boom", response=response, body=None)


@pytest.mark.parametrize(("cls_name", "status", "expected"), [
    ("BadRequestError", 400, errors.BadRequestError),
    ("AuthenticationError", 401, errors.AuthError),
    ("PermissionDeniedError", 403, errors.AuthError),
    ("NotFoundError", 404, errors.BadRequestError),
    ("RateLimitError", 429, errors.RateLimitedError),
    ("InternalServerError", 503, errors.OverloadedError),
    ("InternalServerError", 529, errors.OverloadedError),
    ("APIStatusError", 529, errors.OverloadedError),
    ("APIStatusError", 408, errors.ProviderTimeoutError),
])
def test_status_errors_map_by_kind(cls_name: str, status: int, expected: type) -> None:
    for sdk, provider_cls, model in ((openai, OpenAIProvider, "gpt-4o-mini"),
                                     (anthropic, AnthropicProvider, "claude-haiku-4-5")):
        provider = provider_cls(get_model(model), key="test-key")
        mapped = provider.map_error(_status_error(sdk, cls_name, status))
        assert type(mapped) is expected, (sdk.__name__, cls_name, status, mapped)
        assert mapped.status == status


def test_retry_after_is_read_from_the_response() -> None:
    provider = OpenAIProvider(get_model("gpt-4o-mini"), key="k")
    mapped = provider.map_error(_status_error(openai, "RateLimitError", 429, {"retry-after": "7"}))
    assert isinstance(mapped, errors.RateLimitedError) and mapped.retry_after == 7.0
    assert mapped.retryable
    mapped = provider.map_error(_status_error(openai, "RateLimitError", 429, {"retry-after-ms": "250"}))
    assert mapped.retry_after == 0.25


def test_connection_and_timeout_errors() -> None:
    request = httpx.Request("POST", "http://example.invalid")
    provider = AnthropicProvider(get_model("claude-haiku-4-5"), key="k")
    assert type(provider.map_error(anthropic.APITimeoutError(request))) is errors.ProviderTimeoutError
    assert type(provider.map_error(anthropic.APIConnectionError(request=request))) is errors.OverloadedError
    assert provider.map_error(ValueError("not the SDK's")) is None
    assert isinstance(errors.ProviderTimeoutError("x"), TimeoutError)  # the builtin, too


@pytest.mark.parametrize(("model", "variable"), [
    ("gpt-4o-mini", "OPENAI_API_KEY"),
    ("claude-haiku-4-5", "ANTHROPIC_API_KEY"),
    ("gemini-2.5-flash-lite", "GEMINI_API_KEY"),
])
def test_missing_key_names_the_variable(model: str, variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(errors.MissingKeyError, match=variable):
        connect(model)


def test_key_order_explicit_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-env-123")
    assert connect("gpt-4o-mini").key() == "from-env-123"
    provider = connect("gpt-4o-mini", key="explicit-456")
    assert provider.key() == "explicit-456"
    assert "explicit-456" not in repr(provider) and "from-env" not in repr(provider)


def test_local_models_need_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert connect("local").key() is None
    assert connect("lab").key() is None


# -- options a model does not take: a clear error before anything is sent --------------------------


def _offline(provider: object) -> None:
    import httpx2

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError(f"a request was sent: {request.url}")

    assert provider.api == "openai"  # type: ignore[attr-defined]
    args = provider._client_args()  # type: ignore[attr-defined]
    transport = httpx2.MockTransport(refuse)
    provider.client = openai.OpenAI(**args, http_client=httpx2.Client(transport=transport))  # type: ignore[attr-defined]
    provider.async_client = openai.AsyncOpenAI(  # type: ignore[attr-defined]
        **args, http_client=httpx2.AsyncClient(transport=transport))


@pytest.mark.parametrize(("model", "options", "says"), [
    ("gpt-5-mini", {"temperature": 0},
     "gpt-5-mini accepts only the default temperature (1), not 0: leave temperature unset"),
    ("gpt-5", {"temperature": 0.2}, "leave temperature unset"),
    ("gpt-5-mini", {"stop": ["\n"]},
     "gpt-5-mini does not take stop (GPT-5 reasoning models refuse it): leave stop unset"),
    ("claude-haiku-4-5", {"temperature": 0},
     "claude-haiku-4-5 does not take temperature (the anthropic SDK 2.x sends no temperature): leave temperature unset"),
    ("sonnet", {"seed": 1}, "claude-sonnet-4-5 does not take seed"),
    ("lab-anthropic", {"temperature": 1.5}, "takes temperature up to 1, not 1.5"),
])
def test_an_explicit_option_the_model_does_not_take_is_a_clear_error(
        model: str, options: dict[str, object], says: str) -> None:
    provider = connect(model, key="test-key")
    with pytest.raises(UnsupportedOptionError) as info:
        # raised even with raise_errors=False: the caller's mistake, not a provider's answer
        provider.complete("hi", stream=False, raise_errors=False, **options)
    error = info.value
    assert says in str(error)
    assert error.model_id == provider.model.id and error.option == next(iter(options))
    assert isinstance(error, errors.RightsizeError) and not isinstance(error, errors.ProviderError)


def test_the_error_comes_before_any_request() -> None:
    import asyncio

    provider = connect("gpt-5-mini", key="test-key")
    _offline(provider)
    with pytest.raises(UnsupportedOptionError):
        provider.complete("hi", temperature=0)
    with pytest.raises(UnsupportedOptionError):
        asyncio.run(provider.acomplete("hi", temperature=0))


def test_unset_or_empty_options_are_never_an_error() -> None:
    info = get_model("gpt-5-mini")
    info.check_options({})
    info.check_options({"temperature": 1.0, "stop": None, "seed": 3})
    info.check_options({"stop": []})
    get_model("haiku").check_options({"stop": ["\n"], "seed": None})
    get_model("local").check_options({"temperature": 2.0, "seed": 1, "stop": ["."]})
    with pytest.raises(UnsupportedOptionError):
        info.check_options({"temperature": 0.0})
