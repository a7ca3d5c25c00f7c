"""The exceptions rightsize raises, in one shallow tree.

Every provider SDK error is wrapped in one of these (``raise ... from exc``) so lesson code and
the routing layer handle one set of names whichever provider answered::

    RightsizeError
    ├── UnknownModelError          a name that is not in the registry (lists what is known)
    ├── RetiredModelError          a retired model (names its replacement)       [rightsize.registry]
    ├── UnsupportedOptionError     an option the model does not take, set explicitly  [rightsize.registry]
    ├── MissingKeyError            no API key: names the environment variable to set
    ├── MissingDependencyError     an optional package is absent: prints the pip line
    └── ProviderError              a provider (or the lab server) answered with an error
        ├── BadRequestError        4xx for a malformed request: fix the request, do not retry
        ├── AuthError              401/403: the key is wrong or lacks permission
        ├── RateLimitedError       429: slow down; ``retry_after`` seconds when the server said
        ├── OverloadedError        500/502/503/529 or a refused connection: try later or elsewhere
        ├── ProviderTimeoutError   no answer in time (a subclass of the builtin TimeoutError too)
        └── StreamCutError         the stream ended before the provider said it was finished

``ProviderError.retryable`` says whether a fallback chain may try again.
"""

from __future__ import annotations

import builtins

__all__ = [
    "AuthError",
    "BadRequestError",
    "MissingDependencyError",
    "MissingKeyError",
    "OverloadedError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitedError",
    "RightsizeError",
    "StreamCutError",
    "UnknownModelError",
]


class RightsizeError(Exception):
    """Base class of every error rightsize raises on purpose."""


class UnknownModelError(RightsizeError, KeyError):
    """A model name or alias that the registry does not know."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown model {self.name!r}. Known models and aliases: {', '.join(self.known)}"


class MissingKeyError(RightsizeError):
    """No API key was given or found in the environment."""

    def __init__(self, provider: str, env_var: str) -> None:
        self.provider = provider
        self.env_var = env_var
        super().__init__(
            f"no API key for {provider}: set the environment variable {env_var} "
            f"(for example in your shell: export {env_var}=...), or pass key=... explicitly. "
            "Never paste a key into a notebook."
        )


class MissingDependencyError(RightsizeError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the package {package!r}: pip install {package}")


class ProviderError(RightsizeError):
    """A provider or the lab server answered with an error.

    ``status`` is the HTTP status when there was one; ``provider`` names who answered.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.provider = provider
        self.retry_after = retry_after
        super().__init__(message)

    @property
    def kind(self) -> str:
        """A short name for reports: ``rate_limited``, ``overloaded``, ``timeout``..."""
        return _KIND_NAMES.get(type(self), "error")


class BadRequestError(ProviderError):
    """The request was malformed or refused as invalid (400, 404, 413, 422)."""


class AuthError(ProviderError):
    """The key is missing, wrong or lacks permission (401, 403)."""


class RateLimitedError(ProviderError):
    """429: too many requests or tokens; ``retry_after`` holds the server's hint in seconds."""

    retryable = True


class OverloadedError(ProviderError):
    """The provider is overloaded or unavailable (500, 502, 503, 529, connection refused)."""

    retryable = True


class ProviderTimeoutError(ProviderError, builtins.TimeoutError):
    """No (complete) answer within the time allowed."""

    retryable = True


class StreamCutError(ProviderError):
    """A streamed answer stopped before its final event."""

    retryable = True


_KIND_NAMES: dict[type, str] = {
    ProviderError: "error",
    BadRequestError: "bad_request",
    AuthError: "auth",
    RateLimitedError: "rate_limited",
    OverloadedError: "overloaded",
    ProviderTimeoutError: "timeout",
    StreamCutError: "stream_cut",
}


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """The rightsize error for an HTTP status code."""
    cls: type[ProviderError]
    if status == 429:
        cls = RateLimitedError
    elif status in (401, 403):
        cls = AuthError
    elif status in (408, 504):
        cls = ProviderTimeoutError
    elif status >= 500:
        cls = OverloadedError
    elif 400 <= status < 500:
        cls = BadRequestError
    else:
        cls = ProviderError
    return cls(message, status=status, provider=provider, retry_after=retry_after)
