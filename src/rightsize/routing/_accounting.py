"""Cost and latency of one response, computed the same way by routers, cascades and chains."""

from __future__ import annotations

from ..providers import Response
from ..registry import ModelInfo


def response_cost(model: ModelInfo, response: Response) -> float | None:
    """List-price USD of a response from its reported usage; None when usage is unknown.

    A free model (price 0) costs 0 even without usage. A failed request with no usage costs 0:
    providers do not bill refused requests.
    """
    if model.price.input_per_mtok == 0 and model.price.output_per_mtok == 0:
        return 0.0
    usage = response.usage
    if usage.input_tokens is None and usage.output_tokens is None:
        return 0.0 if response.error is not None else None
    return model.cost(usage.input_tokens or 0, usage.output_tokens or 0)
