"""Run reports: percentiles per metric, throughput, goodput and SLO attainment, errors by kind.

A :class:`Report` is one run at one load shape; a :class:`SweepReport` is a series of runs at
rising concurrency. Both show as a table in the terminal (``print``), as HTML in a notebook, and
convert to a pandas DataFrame (``to_frame``), JSON (``to_json``) and CSV (``to_csv``). Every form
carries the load shape, because a latency figure without the load it was measured under means
nothing. Definitions: ``shared/METRICS.md`` and :mod:`rightsize.profiling.metrics`.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import RightsizeError
from ..stats import percentile
from .metrics import RequestMetrics

if TYPE_CHECKING:
    import pandas as pd

    from ..providers.base import Response
    from .workload import WorkloadRequest

__all__ = ["PERCENTILES", "SLO", "LoadShape", "Report", "SweepReport", "parse_duration", "summarize"]

PERCENTILES = (50, 90, 95, 99)
STAT_COLUMNS = ("count", "mean", "min", "p50", "p90", "p95", "p99", "max")

#: the metrics of the summary table, in order, with their labels
METRIC_LABELS = {
    "ttft_ms": "time to first token (ms)",
    "tpot_ms": "time per output token (ms)",
    "itl_ms": "inter-token latency (ms)",
    "e2e_ms": "end-to-end latency (ms)",
    "output_tokens": "output tokens",
    "send_lag_ms": "send lag vs schedule (ms)",
}

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*(us|µs|ms|s|sec|m|min)?\s*$", re.IGNORECASE)


def parse_duration(value: str | float) -> float:
    """Seconds from ``"200ms"``, ``"3s"``, ``"1.5"`` (seconds) or a number of seconds."""
    if isinstance(value, bool):
        raise RightsizeError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if not match:
            raise RightsizeError(f"not a duration: {value!r} (write it like 200ms or 3s)")
        number, unit = float(match.group(1)), (match.group(2) or "s").lower()
        scale = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0}[unit]
        seconds = number * scale
    if not math.isfinite(seconds) or seconds <= 0:
        raise RightsizeError(f"a duration must be a positive time, not {value!r}")
    return seconds


@dataclass(frozen=True)
class SLO:
    """Service-level objectives a request must meet to count toward goodput.

    Times are seconds, or strings with a unit (``SLO(ttft="200ms", itl="50ms")``). ``itl`` is
    checked on each request's own inter-token gaps at ``itl_percentile`` (99 by default, so one
    stall in a long answer fails it but a single jittery gap in a hundred does not). A request
    with fewer than two tokens has no TPOT or ITL to miss. An error is always a miss.
    """

    ttft: float | str | None = None
    tpot: float | str | None = None
    itl: float | str | None = None
    e2e: float | str | None = None
    itl_percentile: float = 99.0

    def __post_init__(self) -> None:
        for name in ("ttft", "tpot", "itl", "e2e"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_duration(value))
        if not 0 < self.itl_percentile <= 100:
            raise RightsizeError("itl_percentile must be in (0, 100]")

    @classmethod
    def parse(cls, specs: str | Iterable[str] | Mapping[str, Any] | SLO | None) -> SLO | None:
        """An SLO from ``"ttft=200ms"`` strings (one or several, comma-separated) or a dict."""
        if specs is None or isinstance(specs, SLO):
            return specs
        if isinstance(specs, Mapping):
            items = dict(specs)
        else:
            if isinstance(specs, str):
                specs = [specs]
            items = {}
            for spec in specs:
                for part in str(spec).split(","):
                    if not part.strip():
                        continue
                    name, sep, value = part.partition("=")
                    if not sep:
                        raise RightsizeError(f"an SLO is written name=time, like ttft=200ms, not {part.strip()!r}")
                    items[name.strip().lower()] = value.strip()
        known = {"ttft", "tpot", "itl", "e2e"}
        unknown = sorted(set(items) - known - {"itl_percentile"})
        if unknown:
            raise RightsizeError(f"unknown SLO {', '.join(unknown)}: use ttft, tpot, itl or e2e (e.g. ttft=200ms)")
        if "itl_percentile" in items:
            items["itl_percentile"] = float(items["itl_percentile"])
        return cls(**items) if items else None

    @property
    def empty(self) -> bool:
        return all(getattr(self, n) is None for n in ("ttft", "tpot", "itl", "e2e"))

    def limit(self, name: str) -> float | None:
        """An objective in seconds (None when not set)."""
        value = getattr(self, name)
        return None if value is None else float(value)

    def misses(self, request: RequestMetrics) -> list[str]:
        """The objectives this request missed (``["error"]`` for a failed request)."""
        if not request.ok:
            return ["error"]
        missed = []
        ttft, tpot, itl, e2e = (self.limit(n) for n in ("ttft", "tpot", "itl", "e2e"))
        if ttft is not None and (request.time_to_first_token is None or request.time_to_first_token > ttft):
            missed.append("ttft")
        if tpot is not None and request.time_per_output_token is not None and request.time_per_output_token > tpot:
            missed.append("tpot")
        if itl is not None and request.inter_token_latencies and \
                percentile(request.inter_token_latencies, self.itl_percentile) > itl:
            missed.append("itl")
        if e2e is not None and (request.end_to_end is None or request.end_to_end > e2e):
            missed.append("e2e")
        return missed

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"{n}_ms": (self.limit(n) or 0.0) * 1000 for n in ("ttft", "tpot", "itl", "e2e")
                               if getattr(self, n) is not None}
        if self.itl is not None:
            out["itl_percentile"] = self.itl_percentile
        return out

    def __str__(self) -> str:
        parts = []
        for name, label in (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2e", "E2E")):
            value = self.limit(name)
            if value is not None:
                if name == "itl":
                    label = f"ITL p{self.itl_percentile:g}"
                parts.append(f"{label} <= {_fmt_ms(value * 1000)} ms")
        return ", ".join(parts) or "none"


@dataclass(frozen=True)
class LoadShape:
    """How load was offered: closed loop at a concurrency, or open loop at a rate (constant/Poisson)."""

    kind: str  # "closed", "constant" or "poisson"
    max_requests: int
    max_duration: float
    concurrency: int | None = None
    rate: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("closed", "constant", "poisson"):
            raise RightsizeError(f"load kind must be closed, constant or poisson, not {self.kind!r}")
        if self.kind == "closed":
            if not isinstance(self.concurrency, int) or isinstance(self.concurrency, bool) or self.concurrency < 1:
                raise RightsizeError(f"concurrency must be a whole number of at least 1, not {self.concurrency!r}")
        elif self.rate is None or not isinstance(self.rate, int | float) or not math.isfinite(self.rate) \
                or self.rate <= 0:
            raise RightsizeError(f"rate must be a positive number of requests per second, not {self.rate!r}")
        if not isinstance(self.max_requests, int) or isinstance(self.max_requests, bool) or self.max_requests < 1:
            raise RightsizeError(f"the request bound must be a whole number of at least 1, not {self.max_requests!r}")
        if not isinstance(self.max_duration, int | float) or not math.isfinite(self.max_duration) \
                or self.max_duration <= 0:
            raise RightsizeError(f"the time bound must be a positive number of seconds, not {self.max_duration!r}")

    @property
    def open_loop(self) -> bool:
        return self.kind != "closed"

    def describe(self) -> str:
        if self.kind == "closed":
            return f"closed loop, concurrency {self.concurrency}"
        if self.kind == "constant":
            return f"open loop, constant {self.rate:g} req/s"
        return f"open loop, Poisson arrivals at {self.rate:g} req/s (seed {self.seed})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "concurrency": self.concurrency, "rate": self.rate, "seed": self.seed,
                "max_requests": self.max_requests, "max_duration_s": self.max_duration,
                "description": self.describe()}


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, mean, min, p50, p90, p95, p99 and max of some values (None when there are none)."""
    if not values:
        return {"count": 0, **{c: None for c in STAT_COLUMNS[1:]}}
    clean = [float(v) for v in values]
    out: dict[str, float | int | None] = {"count": len(clean), "mean": math.fsum(clean) / len(clean),
                                          "min": min(clean)}
    out.update({f"p{p}": percentile(clean, p) for p in PERCENTILES})
    out["max"] = max(clean)
    return out


def _fmt_ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for n, row in enumerate([header, *rows]):
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass
class Report:
    """One profiling run: every request's metrics and what they add up to.

    ``requests`` holds a :class:`~rightsize.profiling.metrics.RequestMetrics` per request sent
    (failed ones too); ``responses`` and ``prompts`` are kept alongside so a run can be saved
    as a recording (:meth:`save_recording`) and a stream drawn (:func:`~rightsize.profiling.plots.stream_timeline`).
    """

    model: str
    shape: LoadShape
    requests: list[RequestMetrics]
    wall_time: float
    slo: SLO | None = None
    target: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    interrupted: bool = False
    dropped_in_flight: int = 0
    stopped_by: str = ""  # "requests", "time", "interrupted"
    responses: list[Response | None] = field(default_factory=list, repr=False)  # parallel to requests
    prompts: list[WorkloadRequest] = field(default_factory=list, repr=False)  # parallel to requests

    # -- the numbers ----------------------------------------------------------------------
    @property
    def ok(self) -> list[RequestMetrics]:
        return [r for r in self.requests if r.ok]

    @property
    def errors(self) -> dict[str, int]:
        """Failed requests by kind, with the HTTP status when there was one (``"rate_limited (429)"``)."""
        counts: Counter[str] = Counter()
        for r in self.requests:
            if not r.ok:
                counts[f"{r.error_kind} ({r.error_status})" if r.error_status else str(r.error_kind)] += 1
        return dict(sorted(counts.items()))

    def samples(self, metric: str) -> list[float]:
        """The values behind one row of the summary (successful requests only; ITL pooled over all gaps)."""
        ok = self.ok
        if metric == "ttft_ms":
            return [r.time_to_first_token * 1000 for r in ok if r.time_to_first_token is not None]
        if metric == "tpot_ms":
            return [r.time_per_output_token * 1000 for r in ok if r.time_per_output_token is not None]
        if metric == "itl_ms":
            return [gap * 1000 for r in ok for gap in r.inter_token_latencies]
        if metric == "e2e_ms":
            return [r.end_to_end * 1000 for r in ok if r.end_to_end is not None]
        if metric == "output_tokens":
            return [float(r.output_tokens) for r in ok if r.output_tokens is not None]
        if metric == "send_lag_ms":
            return [r.send_lag * 1000 for r in self.requests if r.send_lag is not None]
        raise RightsizeError(f"unknown metric {metric!r}: use one of {', '.join(METRIC_LABELS)}")

    def stats(self, metric: str) -> dict[str, float | int | None]:
        """count, mean, min, p50, p90, p95, p99 and max of one metric."""
        return summarize(self.samples(metric))

    def percentile(self, metric: str, q: float) -> float | None:
        values = self.samples(metric)
        return percentile(values, q) if values else None

    @property
    def request_throughput(self) -> float:
        """Completed (successful) requests per second of wall time."""
        return len(self.ok) / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def output_token_throughput(self) -> float:
        """Output tokens of successful requests per second of wall time."""
        tokens = sum(r.output_tokens or 0 for r in self.ok)
        return tokens / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def slo_met(self) -> int | None:
        if self.slo is None or self.slo.empty:
            return None
        return sum(1 for r in self.requests if not self.slo.misses(r))

    @property
    def goodput(self) -> float | None:
        """Requests per second that met every SLO (errors are misses); None without an SLO."""
        met = self.slo_met
        if met is None:
            return None
        return met / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def slo_attainment(self) -> float | None:
        """The fraction of requests sent that met every SLO; None without an SLO."""
        met = self.slo_met
        if met is None:
            return None
        return met / len(self.requests) if self.requests else 0.0

    def slo_misses(self) -> dict[str, int]:
        """How many requests missed each objective (a request may miss several)."""
        if self.slo is None:
            return {}
        counts: Counter[str] = Counter()
        for r in self.requests:
            counts.update(self.slo.misses(r))
        return dict(counts)

    @property
    def notes(self) -> list[str]:
        """What a reader must know to read the figures right."""
        notes = []
        if self.interrupted:
            notes.append(f"INTERRUPTED: partial results from {len(self.requests)} finished requests"
                         + (f"; {self.dropped_in_flight} in flight were not measured" if self.dropped_in_flight else ""))
        multi = sum(r.multi_token_chunks for r in self.ok)
        chunks = sum(r.content_chunks for r in self.ok)
        if multi:
            notes.append(f"{multi} of {chunks} content chunks held several tokens: ITL is the gap between "
                         "chunks, not between tokens (nothing was divided)")
        sources = Counter(r.output_tokens_source for r in self.ok)
        counted = {s: n for s, n in sources.items() if s != "server"}
        for source, n in sorted(counted.items()):
            notes.append(f"output tokens of {n} of {len(self.ok)} requests: {source}")
        replayed = sum(1 for r in self.requests if r.replayed)
        if replayed:
            notes.append(f"{replayed} answers were replayed from recordings (RIGHTSIZE_RESPONSES), not generated")
        if self.target.get("recording"):
            notes.append(f"measured from the {self.target['recording']}: recorded timings, not a live run")
        if str(self.target.get("model_id", "")).startswith("replay/") or str(self.model).startswith("replay/"):
            notes.append("this model is a replay of a recording: recorded timings, not a live model")
        lag = self.samples("send_lag_ms")
        if lag:
            p99 = percentile(lag, 99)
            if p99 > 10:
                notes.append(f"the client sent late against its schedule (p99 lag {p99:.1f} ms): the offered "
                             "rate was not fully met, treat the latencies with care")
        unfinished = sum(1 for r in self.requests if r.error_kind == "unfinished")
        if unfinished:
            notes.append(f"{unfinished} requests were still running when the run's time bound (plus drain) ran "
                         "out: counted as errors")
        return notes

    # -- forms ----------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The summary table: one row per metric, columns count, mean, min, p50, p90, p95, p99, max.

        ``df.attrs`` holds the model, the load shape and the run-level figures.
        """
        import pandas as pd

        rows = {}
        for metric in METRIC_LABELS:
            if metric == "send_lag_ms" and not self.shape.open_loop:
                continue
            rows[metric] = self.stats(metric)
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(STAT_COLUMNS))
        frame.index.name = "metric"
        frame.attrs.update(self.run_summary())
        return frame

    def per_request(self) -> pd.DataFrame:
        """One row per request (times in ms), in send order."""
        import pandas as pd

        return pd.DataFrame([r.as_row() for r in self.requests])

    def run_summary(self) -> dict[str, Any]:
        """The run-level figures: load shape, counts, throughputs, goodput, errors."""
        return {
            "model": self.model,
            "target": self.target,
            "load": self.shape.to_dict(),
            "started_at": self.started_at,
            "wall_time_s": self.wall_time,
            "stopped_by": self.stopped_by,
            "interrupted": self.interrupted,
            "requests_sent": len(self.requests),
            "requests_ok": len(self.ok),
            "requests_failed": len(self.requests) - len(self.ok),
            "errors": self.errors,
            "request_throughput_rps": self.request_throughput,
            "output_token_throughput_tps": self.output_token_throughput,
            "slo": None if self.slo is None else self.slo.to_dict(),
            "goodput_rps": self.goodput,
            "slo_attainment": self.slo_attainment,
            "slo_misses": self.slo_misses(),
            "notes": self.notes,
        }

    def to_dict(self, *, per_request: bool = False) -> dict[str, Any]:
        data = self.run_summary()
        data["metrics"] = {m: self.stats(m) for m in METRIC_LABELS
                           if m != "send_lag_ms" or self.shape.open_loop}
        data["units"] = {"times": "milliseconds", "throughput": "per second of wall time"}
        if per_request:
            data["requests"] = [r.as_row() for r in self.requests]
        return data

    def to_json(self, path: str | None = None, *, per_request: bool = False, indent: int | None = 2) -> str:
        """The report as JSON (written to ``path`` too when given)."""
        text = json.dumps(self.to_dict(per_request=per_request), indent=indent, default=str)
        if path is not None:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text + "\n")
        return text

    def to_csv(self, path: str | None = None, *, per_request: bool = False) -> str:
        """The summary table (or every request) as CSV, each row labelled with model and load shape."""
        frame = self.per_request() if per_request else self.to_frame().reset_index()
        frame = frame.assign(model=self.model, load=self.shape.describe())
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        text = buffer.getvalue()
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as out:
                out.write(text)
        return text

    def save_recording(self, path: str, *, name: str | None = None, note: str | None = None) -> str:
        """Write this run's requests and streams as a JSONL recording (see :mod:`.record`)."""
        from .record import write_recording

        return str(write_recording(self, path, name=name, note=note))

    def headline(self) -> list[str]:
        target = self.target
        where = f" via {target.get('protocol')} {target.get('base_url')}" if target.get("base_url") else \
            f" via {target.get('protocol', '?')}"
        client = f" ({target['client']} client)" if target.get("client") else ""
        bound = f"bounds {self.shape.max_requests} requests / {self.shape.max_duration:g} s"
        lines = [
            f"model: {self.model}{where}{client}",
            f"load: {self.shape.describe()}; {len(self.requests)} requests in {self.wall_time:.2f} s "
            f"({bound}{', stopped by ' + self.stopped_by if self.stopped_by else ''})",
        ]
        failed = len(self.requests) - len(self.ok)
        errs = ", ".join(f"{k}: {v}" for k, v in self.errors.items())
        lines.append(f"requests: {len(self.ok)} ok, {failed} failed" + (f" ({errs})" if errs else ""))
        lines.append(f"throughput: {self.request_throughput:.2f} req/s, "
                     f"{self.output_token_throughput:.1f} output tokens/s")
        if self.slo is not None and not self.slo.empty:
            misses = ", ".join(f"{k} {v}" for k, v in sorted(self.slo_misses().items()))
            lines.append(f"SLO ({self.slo}): goodput {self.goodput:.2f} req/s, attainment "
                         f"{(self.slo_attainment or 0) * 100:.1f}%" + (f"; misses: {misses}" if misses else ""))
        return lines

    def _rows(self) -> list[list[str]]:
        frame = self.to_frame()
        rows = []
        for metric, row in frame.iterrows():
            label = METRIC_LABELS[str(metric)]
            cells = [label, str(int(row["count"]))]
            for col in STAT_COLUMNS[1:]:
                value = row[col]
                cells.append("-" if value is None or (isinstance(value, float) and math.isnan(value)) else
                             (f"{value:.1f}" if metric == "output_tokens" else _fmt_ms(float(value))))
            rows.append(cells)
        return rows

    def __str__(self) -> str:
        parts = self.headline()
        parts.append("")
        parts.append(_table(["metric", *STAT_COLUMNS], self._rows()))
        notes = self.notes
        if notes:
            parts.append("")
            parts.extend(f"note: {n}" for n in notes)
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        head = "".join(f"<div>{html.escape(line)}</div>" for line in self.headline())
        header = "".join(f"<th>{html.escape(c)}</th>" for c in ["metric", *STAT_COLUMNS])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self._rows())
        notes = "".join(f"<div><em>note: {html.escape(n)}</em></div>" for n in self.notes)
        return (f"<div class='rightsize-report'>{head}<table><thead><tr>{header}</tr></thead>"
                f"<tbody>{body}</tbody></table>{notes}</div>")

    def __repr__(self) -> str:
        return (f"<Report {self.model}: {self.shape.describe()}, {len(self.requests)} requests, "
                f"{self.request_throughput:.2f} req/s>")


@dataclass
class SweepReport:
    """Runs at rising concurrency, from one request at a time toward saturation."""

    model: str
    reports: list[Report]
    stopped_because: str
    slo: SLO | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per level: concurrency, throughputs, latency percentiles, goodput, errors."""
        import pandas as pd

        rows = []
        for r in self.reports:
            ttft, e2e, tpot, itl = (r.stats(m) for m in ("ttft_ms", "e2e_ms", "tpot_ms", "itl_ms"))
            rows.append({
                "concurrency": r.shape.concurrency, "requests": len(r.requests), "ok": len(r.ok),
                "errors": len(r.requests) - len(r.ok), "wall_time_s": r.wall_time,
                "request_throughput_rps": r.request_throughput,
                "output_token_throughput_tps": r.output_token_throughput,
                "ttft_p50_ms": ttft["p50"], "ttft_p95_ms": ttft["p95"], "ttft_p99_ms": ttft["p99"],
                "tpot_p50_ms": tpot["p50"], "tpot_p95_ms": tpot["p95"],
                "itl_p50_ms": itl["p50"], "itl_p99_ms": itl["p99"],
                "e2e_p50_ms": e2e["p50"], "e2e_p95_ms": e2e["p95"], "e2e_p99_ms": e2e["p99"],
                "goodput_rps": r.goodput, "slo_attainment": r.slo_attainment,
            })
        frame = pd.DataFrame(rows)
        frame.attrs.update({"model": self.model, "load": "closed loop concurrency sweep",
                            "stopped_because": self.stopped_because,
                            "slo": None if self.slo is None else self.slo.to_dict()})
        return frame

    @property
    def knee(self) -> Report | None:
        """The level with the highest request throughput (where more concurrency stops paying)."""
        return max(self.reports, key=lambda r: r.request_throughput) if self.reports else None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "load": "closed loop concurrency sweep",
                "stopped_because": self.stopped_because, "slo": None if self.slo is None else self.slo.to_dict(),
                "levels": [r.to_dict() for r in self.reports]}

    def to_json(self, path: str | None = None, *, indent: int | None = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, default=str)
        if path is not None:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text + "\n")
        return text

    def to_csv(self, path: str | None = None) -> str:
        buffer = io.StringIO()
        self.to_frame().assign(model=self.model).to_csv(buffer, index=False)
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as out:
                out.write(buffer.getvalue())
        return buffer.getvalue()

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        header = ["concurrency", "req/s", "tok/s", "TTFT p50", "TTFT p95", "TPOT p50", "E2E p50", "E2E p95",
                  "errors"]
        if self.slo is not None and not self.slo.empty:
            header += ["goodput", "SLO met"]
        rows = []
        for _, row in self.to_frame().iterrows():
            cells = [str(int(row["concurrency"])), f"{row['request_throughput_rps']:.2f}",
                     f"{row['output_token_throughput_tps']:.1f}"]
            cells += [_fmt_ms(row[c]) for c in ("ttft_p50_ms", "ttft_p95_ms", "tpot_p50_ms", "e2e_p50_ms",
                                                 "e2e_p95_ms")]
            cells.append(str(int(row["errors"])))
            if self.slo is not None and not self.slo.empty:
                cells += [f"{row['goodput_rps']:.2f}", f"{row['slo_attainment'] * 100:.0f}%"]
            rows.append(cells)
        return header, rows

    def __str__(self) -> str:
        header, rows = self._rows()
        lines = [f"model: {self.model}", "load: closed loop concurrency sweep (times in ms)"]
        if self.slo is not None and not self.slo.empty:
            lines.append(f"SLO: {self.slo}")
        lines += ["", _table(header, rows), "", f"stopped: {self.stopped_because}"]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        header, rows = self._rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        slo = f"<div>SLO: {html.escape(str(self.slo))}</div>" if self.slo is not None and not self.slo.empty else ""
        return (f"<div class='rightsize-sweep'><div>model: {html.escape(self.model)}</div>"
                f"<div>load: closed loop concurrency sweep (times in ms)</div>{slo}"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                f"<div>stopped: {html.escape(self.stopped_because)}</div></div>")
