"""Plots of profiling runs with matplotlib: ECDF and histogram of a latency, TTFT against
concurrency, throughput against latency (where the knee is), and the timeline of one stream.

Each function draws on ``ax`` (a new figure when None) and returns the Axes; nothing is shown or
saved, so the caller (a notebook cell, ``fig.savefig``) decides. Every title names the load shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError, RightsizeError
from ..providers.base import Response
from .report import METRIC_LABELS, Report, SweepReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["latency_ecdf", "latency_histogram", "stream_timeline", "throughput_vs_latency", "ttft_vs_concurrency"]


def _axes(ax: Axes | None) -> Axes:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise MissingDependencyError("matplotlib", "plots") from exc
    if ax is None:
        _, new = plt.subplots(figsize=(7, 4))
        return new
    return ax


def _reports(reports: Report | Sequence[Report]) -> list[Report]:
    return [reports] if isinstance(reports, Report) else list(reports)


def _label(report: Report) -> str:
    return f"{report.model}, {report.shape.describe()}"


def latency_ecdf(reports: Report | Sequence[Report], metric: str = "ttft_ms", *, ax: Axes | None = None,
                 percentiles: Sequence[float] = (50, 95, 99)) -> Axes:
    """The empirical CDF of a metric for one or several runs, with percentile guides."""
    import numpy as np

    ax = _axes(ax)
    for report in _reports(reports):
        values = np.sort(np.asarray(report.samples(metric), dtype=float))
        if values.size == 0:
            continue
        ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", label=_label(report))
    for q in percentiles:
        ax.axhline(q / 100, color="grey", linewidth=0.6, linestyle=":")
        ax.text(ax.get_xlim()[0], q / 100, f" p{q:g}", va="bottom", fontsize=8, color="grey")
    ax.set_xlabel(METRIC_LABELS.get(metric, metric))
    ax.set_ylabel("fraction of samples at or below")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"ECDF of {METRIC_LABELS.get(metric, metric)}")
    ax.legend(fontsize=8)
    return ax


def latency_histogram(reports: Report | Sequence[Report], metric: str = "e2e_ms", *, bins: int = 40,
                      ax: Axes | None = None) -> Axes:
    """A histogram of a metric (one or several runs overlaid), with p50 and p99 marked."""
    ax = _axes(ax)
    for report in _reports(reports):
        values = report.samples(metric)
        if not values:
            continue
        ax.hist(values, bins=bins, alpha=0.6, label=_label(report))
        for q, style in ((50, "--"), (99, ":")):
            value = report.percentile(metric, q)
            if value is not None:
                ax.axvline(value, linestyle=style, color="black", linewidth=0.8)
                ax.text(value, ax.get_ylim()[1] * 0.95, f" p{q}", fontsize=8)
    ax.set_xlabel(METRIC_LABELS.get(metric, metric))
    ax.set_ylabel("count")
    ax.set_title(f"Distribution of {METRIC_LABELS.get(metric, metric)}")
    ax.legend(fontsize=8)
    return ax


def _sweep_frame(sweep: SweepReport | Sequence[Report]) -> tuple[str, Any]:
    reports = sweep.reports if isinstance(sweep, SweepReport) else list(sweep)
    if not reports:
        raise RightsizeError("nothing to plot: the sweep has no levels")
    model = sweep.model if isinstance(sweep, SweepReport) else reports[0].model
    frame = SweepReport(model, reports, "").to_frame()
    return model, frame


def ttft_vs_concurrency(sweep: SweepReport | Sequence[Report], *, percentiles: Sequence[int] = (50, 95, 99),
                        ax: Axes | None = None) -> Axes:
    """TTFT percentiles at each concurrency of a sweep: queueing shows here first."""
    ax = _axes(ax)
    model, frame = _sweep_frame(sweep)
    for q in percentiles:
        ax.plot(frame["concurrency"], frame[f"ttft_p{q}_ms"], marker="o", label=f"TTFT p{q}")
    ax.set_xscale("log", base=2)
    # tick at the levels measured, written as plain numbers (1, 2, 4), not powers of two
    levels = [int(c) for c in frame["concurrency"]]
    ax.set_xticks(levels, [str(c) for c in levels])
    ax.minorticks_off()
    ax.set_xlabel("concurrency (closed loop)")
    ax.set_ylabel("time to first token (ms)")
    ax.set_title(f"TTFT against concurrency: {model}")
    ax.legend(fontsize=8)
    return ax


def throughput_vs_latency(sweep: SweepReport | Sequence[Report], *, latency: str = "e2e_p95_ms",
                          throughput: str = "request_throughput_rps", ax: Axes | None = None) -> Axes:
    """Throughput against a latency percentile, one point per concurrency: the knee is where more
    concurrency buys latency and no throughput."""
    ax = _axes(ax)
    model, frame = _sweep_frame(sweep)
    ax.plot(frame[throughput], frame[latency], marker="o")
    for _, row in frame.iterrows():
        ax.annotate(f"c={int(row['concurrency'])}", (row[throughput], row[latency]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    best = frame.loc[frame[throughput].idxmax()]
    ax.scatter([best[throughput]], [best[latency]], s=120, facecolors="none", edgecolors="red",
               label=f"highest throughput (c={int(best['concurrency'])})")
    ax.set_xlabel("requests per second" if throughput == "request_throughput_rps" else throughput)
    ax.set_ylabel(latency.replace("_ms", " (ms)").replace("_", " "))
    ax.set_title(f"Throughput against latency: {model} (closed-loop sweep)")
    ax.legend(fontsize=8)
    return ax


def stream_timeline(response: Response | Report, index: int = 0, *, ax: Axes | None = None) -> Axes:
    """One streamed answer on a time axis: the wait for the first token, then each content chunk.

    Pass a :class:`~rightsize.providers.base.Response`, or a report and the index of a request.
    """
    if isinstance(response, Report):
        kept = [r for r in response.responses if r is not None]
        if not kept:
            raise RightsizeError("this report kept no responses to draw")
        if not 0 <= index < len(kept):
            raise RightsizeError(f"request index {index} is out of range (0..{len(kept) - 1})")
        response = kept[index]
    ax = _axes(ax)
    sent = response.sent
    content = [c for c in response.chunks if c.text]
    if not content:
        raise RightsizeError("this response has no content chunks to draw")
    first = (content[0].arrived - sent) * 1000
    ax.barh(0, first, color="#f4a261", label=f"waiting for the first token ({first:.1f} ms)")
    times = [(c.arrived - sent) * 1000 for c in content]
    ax.vlines(times, -0.4, 0.4, color="#264653", linewidth=1, label=f"{len(content)} content chunks")
    if response.finished is not None:
        end = (response.finished - sent) * 1000
        ax.axvline(end, color="black", linestyle="--", linewidth=0.8, label=f"last chunk ({end:.1f} ms)")
    ax.set_yticks([])
    ax.set_xlabel("ms since the request was sent")
    ax.set_title(f"Timeline of one stream: {response.model}")
    ax.legend(fontsize=8, loc="upper left")
    return ax
