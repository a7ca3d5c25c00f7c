"""Per-request latency metrics, computed exactly as ``shared/METRICS.md`` defines them.

Every time is read on the client (``time.perf_counter()`` in the provider layer), in seconds:

- **time to first token (TTFT)**: send to the first chunk that carries text; a role-only or empty
  first chunk is not a token;
- **end-to-end latency (E2E)**: send to the last chunk of the stream;
- **time per output token (TPOT)**: ``(E2E - TTFT) / (output_tokens - 1)``, undefined (None) for
  answers of fewer than two tokens, so it describes the decode phase only;
- **inter-token latencies (ITL)**: the gaps between consecutive content chunks. When a chunk holds
  several tokens this is a per-chunk gap and :attr:`RequestMetrics.multi_token_chunks` says how
  many chunks did; nothing is divided to pretend the tokens arrived one by one;
- **output tokens**: the server's usage when it reported one, else the content chunks counted
  (``output_tokens_source`` says which).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..providers.base import Response

__all__ = ["RequestMetrics", "measure"]


@dataclass
class RequestMetrics:
    """The measured figures of one request (times in seconds, None where undefined)."""

    index: int
    ok: bool
    sent: float  # seconds since the start of the run (or the send clock when measured alone)
    time_to_first_token: float | None
    end_to_end: float | None
    time_per_output_token: float | None
    inter_token_latencies: list[float] = field(default_factory=list)
    output_tokens: int | None = None
    output_tokens_source: str = "unknown"
    input_tokens: int | None = None
    content_chunks: int = 0
    multi_token_chunks: int = 0  # content chunks the server said hold more than one token
    finish_reason: str | None = None
    error_kind: str | None = None  # rate_limited, overloaded, timeout, stream_cut, bad_request, auth...
    error_status: int | None = None
    error_message: str | None = None
    scheduled: float | None = None  # open loop: when the clock said to send (seconds since start)
    replayed: bool = False

    @property
    def send_lag(self) -> float | None:
        """Open loop: how late the request left against its schedule (coordinated omission check)."""
        return None if self.scheduled is None else self.sent - self.scheduled

    def as_row(self) -> dict[str, Any]:
        """A flat dict for a DataFrame row or a CSV line (times in milliseconds)."""

        def ms(value: float | None) -> float | None:
            return None if value is None else value * 1000

        itl = self.inter_token_latencies
        return {
            "index": self.index,
            "ok": self.ok,
            "error_kind": self.error_kind,
            "error_status": self.error_status,
            "sent_s": self.sent,
            "scheduled_s": self.scheduled,
            "send_lag_ms": ms(self.send_lag),
            "ttft_ms": ms(self.time_to_first_token),
            "e2e_ms": ms(self.end_to_end),
            "tpot_ms": ms(self.time_per_output_token),
            "itl_max_ms": ms(max(itl)) if itl else None,
            "itl_count": len(itl),
            "output_tokens": self.output_tokens,
            "output_tokens_source": self.output_tokens_source,
            "input_tokens": self.input_tokens,
            "content_chunks": self.content_chunks,
            "multi_token_chunks": self.multi_token_chunks,
            "finish_reason": self.finish_reason,
            "replayed": self.replayed,
        }


def measure(response: Response, *, index: int = 0, origin: float | None = None,
            scheduled: float | None = None) -> RequestMetrics:
    """The metrics of one :class:`~rightsize.providers.base.Response`.

    ``origin`` is the clock reading the run started at (``sent`` and ``scheduled`` are then
    relative to it); ``scheduled`` is the intended send time of an open-loop arrival, on the
    same clock as ``response.sent``.
    """
    start = response.sent if origin is None else origin
    content = [c for c in response.chunks if c.text]
    ttft = content[0].arrived - response.sent if content else None
    e2e = None if response.finished is None else response.finished - response.sent
    itl = [later.arrived - earlier.arrived for earlier, later in zip(content, content[1:])]
    usage = response.usage
    if usage.output_tokens is not None:
        output_tokens: int | None = usage.output_tokens
        source = usage.source if usage.source != "unknown" else "server"
    elif content:
        output_tokens = len(content)
        source = "counted: content chunks (no usage from the server)"
    else:
        output_tokens, source = None, "unknown"
    tpot = None
    if response.ok and ttft is not None and e2e is not None and output_tokens is not None and output_tokens >= 2:
        tpot = (e2e - ttft) / (output_tokens - 1)
    error = response.error
    return RequestMetrics(
        index=index,
        ok=response.ok,
        sent=response.sent - start,
        time_to_first_token=ttft,
        end_to_end=e2e,
        time_per_output_token=tpot,
        inter_token_latencies=itl,
        output_tokens=output_tokens,
        output_tokens_source=source,
        input_tokens=usage.input_tokens,
        content_chunks=len(content),
        multi_token_chunks=sum(1 for c in content if c.tokens is not None and c.tokens > 1),
        finish_reason=response.finish_reason,
        error_kind=None if error is None else error.kind,
        error_status=None if error is None else error.status,
        error_message=None if error is None else str(error),
        scheduled=None if scheduled is None else scheduled - start,
        replayed=response.replayed,
    )
