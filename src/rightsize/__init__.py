"""rightsize: measure and pick the right-sized language model for a production feature.

The course's notebooks import everything from here::

    import rightsize as rs
    model = rs.connect("local")            # or "mid", "frontier", any id or alias
    answer = model.complete("Classify: my card was charged twice")
    answer.text, answer.time_to_first_token, answer.usage

See :mod:`rightsize.registry` for the models, :mod:`rightsize.providers` for the adapters and
:mod:`rightsize.lab` for the lab server that notebooks start on demand.
"""

from __future__ import annotations

from .errors import (
    AuthError,
    BadRequestError,
    MissingKeyError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    RightsizeError,
    StreamCutError,
    UnknownModelError,
)
from .lab import lab_url
from .providers import Provider, Response, connect
from .registry import (
    ModelInfo,
    RetiredModelError,
    UnsupportedOptionError,
    get_model,
    list_models,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "BadRequestError",
    "MissingKeyError",
    "ModelInfo",
    "OverloadedError",
    "Provider",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitedError",
    "Response",
    "RetiredModelError",
    "RightsizeError",
    "StreamCutError",
    "UnknownModelError",
    "UnsupportedOptionError",
    "__version__",
    "connect",
    "get_model",
    "lab_url",
    "list_models",
]
