"""Mapping provider SDK exceptions onto the rightsize exception tree.

The OpenAI and Anthropic SDKs share one design (an ``APIStatusError`` carrying the HTTP response,
plus connection, timeout and response-validation errors), so one mapper serves both. Each
adapter passes a table naming every exception class its SDK exports; a test fails when the SDK
grows a class the table does not name, so no SDK error reaches a learner unwrapped.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from .. import errors

# what to use for an SDK class name; None means "decide from the HTTP status"
ErrorTable = Mapping[str, type[errors.ProviderError] | None]


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The server's retry hint in seconds, from ``retry-after-ms`` or ``retry-after``."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


def map_sdk_error(
    exc: BaseException, table: ErrorTable, sdk_base: type[BaseException], provider: str
) -> errors.ProviderError | None:
    """The rightsize error for ``exc``, or None when ``exc`` is not from this SDK."""
    if not isinstance(exc, sdk_base):
        return None
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) if response is not None else None
    retry_after = retry_after_seconds(headers)
    message = f"{provider}: {exc}"
    for cls in type(exc).__mro__:
        if cls.__name__ in table:
            target = table[cls.__name__]
            if target is None and isinstance(status, int):
                return errors.error_for_status(
                    status, message, provider=provider, retry_after=retry_after
                )
            if target is not None:
                return target(message, status=status, provider=provider, retry_after=retry_after)
    return errors.ProviderError(message, status=status, provider=provider, retry_after=retry_after)
