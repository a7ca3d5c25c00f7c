"""Side-by-side comparison of runs, and the cost/latency/quality Pareto plot.

Anything with a ``summary()`` dict holding ``name``, ``accuracy``, ``p50_latency_s``,
``p95_latency_s`` and ``cost_per_10k`` can be compared: an :class:`~rightsize.evals.EvalRun`
or a :class:`~rightsize.evals.cascades.CascadeEval`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import RightsizeError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["compare", "compare_items", "format_latency", "format_table", "pareto_front", "pareto_plot"]

_AXES = {
    "cost_per_10k": "cost per 10,000 requests (USD, list prices)",
    "cost_per_request": "cost per request (USD, list prices)",
    "p95_latency": "p95 end-to-end latency per request (s)",
    "p50_latency": "median end-to-end latency per request (s)",
    "accuracy": "accuracy on the test split (share of items)",
}
_COLUMN = {"p95_latency": "p95_latency_s", "p50_latency": "p50_latency_s"}


def compare(runs: Sequence[Any]) -> pd.DataFrame:
    """One row per run: quality, coverage, parse/schema success, latency percentiles and cost."""
    if not runs:
        raise RightsizeError("compare() needs at least one run")
    rows = [run.summary() for run in runs]
    sizes = {row.get("items") for row in rows}
    frame = pd.DataFrame(rows).set_index("name")
    if len(sizes) > 1:
        frame.attrs["warning"] = f"runs cover different numbers of items ({sorted(map(str, sizes))}): not comparable"
    return frame


def compare_items(runs: Sequence[Any]) -> pd.DataFrame:
    """Per-item answers side by side (one column per run), with the gold answer, for reading errors."""
    if not runs:
        raise RightsizeError("compare_items() needs at least one run")
    frame = pd.DataFrame({"gold": {r.id: r.gold for r in runs[0].records}})
    for run in runs:
        frame[run.name] = pd.Series({r.id: r.predicted for r in run.records})
    return frame


def format_latency(seconds: float | None) -> str:
    """``12 ms``, ``1.3 s``, ``4.0 min``: a latency in the unit a reader can take in."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _money(value: float) -> str:
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


def format_table(rows: Sequence[Any], *, columns: Sequence[str] | None = None) -> str:
    """A plain-text table of runs: name, accuracy (n correct / n), coverage, p50, p95, $/10k."""
    header = list(columns or ["tier", "accuracy", "answered", "p50 latency", "p95 latency", "cost / 10k req"])
    body = []
    for run in rows:
        s = run.summary()
        n = s["items"]
        body.append([s["name"], f"{s['accuracy']:.3f} ({round(s['accuracy'] * n)}/{n})", f"{s['coverage']:.0%}",
                     format_latency(s["p50_latency_s"]), format_latency(s["p95_latency_s"]), _money(s["cost_per_10k"])])
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: lower or equal x and higher or equal y, one strictly."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def pareto_plot(runs: Sequence[Any], x: str = "cost_per_10k", y: str = "accuracy", *,
                ax: Axes | None = None, title: str | None = None) -> Axes:
    """Quality against cost or latency, one labelled point per run, the Pareto front drawn.

    ``x`` is ``"cost_per_10k"``, ``"cost_per_request"``, ``"p95_latency"`` or ``"p50_latency"``;
    ``y`` is ``"accuracy"``. Cost axes use a symmetric log scale so $0 tiers stay on the plot.
    """
    import matplotlib.pyplot as plt

    if x not in _AXES or x == "accuracy":
        raise RightsizeError(f"x must be one of cost_per_10k, cost_per_request, p95_latency, p50_latency, not {x!r}")
    if y != "accuracy":
        raise RightsizeError(f"y must be 'accuracy', not {y!r}")
    if not runs:
        raise RightsizeError("pareto_plot() needs at least one run")
    summaries = [run.summary() for run in runs]
    xs = [float(s[_COLUMN.get(x, x)]) for s in summaries]
    ys = [float(s[y]) for s in summaries]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(xs, ys, s=40, zorder=3)
    for s, px, py in zip(summaries, xs, ys):
        ax.annotate(s["name"], (px, py), textcoords="offset points", xytext=(6, 4), fontsize=8)
    front = pareto_front(list(zip(xs, ys)))
    ax.plot([xs[i] for i in front], [ys[i] for i in front], "--", color="grey", zorder=2, label="Pareto front")
    if x.startswith("cost"):
        positive = [v for v in xs if v > 0]
        ax.set_xscale("symlog", linthresh=min(positive) if positive else 1.0)
    else:
        ax.set_xscale("log")
    dates = sorted({str(s.get("price_read_on")) for s in summaries if s.get("price_read_on")})
    label = _AXES[x] + (f"; prices read {', '.join(dates)}" if x.startswith("cost") and dates else "")
    ax.set_xlabel(label)
    ax.set_ylabel(_AXES[y])
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    return ax
