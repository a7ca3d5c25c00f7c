"""Side-by-side comparison of runs, and the cost/latency/quality Pareto plot.

Anything with a ``summary()`` dict holding ``name``, ``accuracy``, ``p50_latency_s``,
``p95_latency_s`` and ``cost_per_10k`` can be compared: an :class:`~rightsize.evals.EvalRun`
or a :class:`~rightsize.evals.cascades.CascadeEval`. Accuracies carry their Wilson 95% interval
(``accuracy_low``, ``accuracy_high``); two runs on the same items are compared item by item with
:func:`paired_comparison` (exact McNemar test, paired-bootstrap interval; see :mod:`rightsize.stats`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import RightsizeError
from ..stats import PairedTest, format_p_value, paired_test

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "compare",
    "compare_items",
    "format_latency",
    "format_paired_table",
    "format_table",
    "paired_comparison",
    "pareto_front",
    "pareto_plot",
]

_AXES = {
    "cost_per_10k": "cost per 10,000 requests (USD, list prices)",
    "cost_per_request": "cost per request (USD, list prices)",
    "p95_latency": "p95 end-to-end latency per request (s)",
    "p50_latency": "median end-to-end latency per request (s)",
    "accuracy": "accuracy on the test split (share of items)",
}
_COLUMN = {"p95_latency": "p95_latency_s", "p50_latency": "p50_latency_s"}


_PAIRED_COLUMNS = ["accuracy_diff", "diff_low", "diff_high", "only_this_right", "only_reference_right", "p_value"]


def compare(runs: Sequence[Any], *, against: Any = None) -> pd.DataFrame:
    """One row per run: quality, coverage, parse/schema success, latency percentiles and cost.

    ``accuracy_low`` and ``accuracy_high`` are the Wilson 95% interval of ``accuracy``. With
    ``against`` (one of ``runs``, or its name), every other row is also paired with that run on
    the same items (:func:`paired_comparison`): ``accuracy_diff`` (this run minus the reference),
    ``diff_low`` and ``diff_high`` (its 95% interval), ``only_this_right``,
    ``only_reference_right`` and ``p_value`` (exact McNemar test); the reference's own row has NaN.
    """
    if not runs:
        raise RightsizeError("compare() needs at least one run")
    rows = [run.summary() for run in runs]
    sizes = {row.get("items") for row in rows}
    frame = pd.DataFrame(rows).set_index("name")
    if len(sizes) > 1:
        frame.attrs["warning"] = f"runs cover different numbers of items ({sorted(map(str, sizes))}): not comparable"
    if against is not None:
        reference = _find_run(runs, against)
        values = []
        for run in runs:
            if run is reference:
                values.append([math.nan] * len(_PAIRED_COLUMNS))
                continue
            test = paired_comparison(run, reference)
            values.append([test.difference, test.low, test.high, test.only_a, test.only_b, test.p_value])
        for column, column_values in zip(_PAIRED_COLUMNS, zip(*values)):
            frame[column] = list(column_values)
        frame.attrs["against"] = reference.summary()["name"]
    return frame


def _find_run(runs: Sequence[Any], wanted: Any) -> Any:
    if not isinstance(wanted, str):
        if any(run is wanted for run in runs):
            return wanted
        raise RightsizeError("against= must be one of the runs being compared (or its name)")
    named = [run for run in runs if run.summary()["name"] == wanted]
    if len(named) != 1:
        names = ", ".join(repr(run.summary()["name"]) for run in runs)
        problem = "no run is" if not named else f"{len(named)} runs are"
        raise RightsizeError(f"{problem} named {wanted!r}; against= takes one of: {names}")
    return named[0]


def paired_comparison(a: Any, b: Any, *, confidence: float = 0.95) -> PairedTest:
    """Run ``a`` against run ``b`` on the same items: the exact McNemar test and a paired-bootstrap
    interval for ``a``'s accuracy minus ``b``'s (:func:`rightsize.stats.paired_test`).

    Items are matched by id, so the two runs may list them in different orders, but both must
    cover the same items: evaluate both on the same split (and ``limit``).
    """
    a_items, b_items = _correct_by_item(a), _correct_by_item(b)
    if set(a_items) != set(b_items):
        only_a = sorted(set(a_items) - set(b_items))
        only_b = sorted(set(b_items) - set(a_items))
        raise RightsizeError(f"{_name(a)} and {_name(b)} were not graded on the same items ({len(only_a)} only in "
                             f"the first, e.g. {only_a[:3]}; {len(only_b)} only in the second, e.g. {only_b[:3]}): "
                             "evaluate both on the same split")
    ids = list(a_items)
    return paired_test([a_items[i] for i in ids], [b_items[i] for i in ids], confidence=confidence)


def _is(run: Any, wanted: Any) -> bool:
    return run is wanted if not isinstance(wanted, str) else bool(run.summary()["name"] == wanted)


def _name(run: Any) -> str:
    return str(getattr(run, "name", type(run).__name__))


def _correct_by_item(run: Any) -> dict[str, bool]:
    getter = getattr(run, "correct_by_item", None)
    if not callable(getter):
        raise RightsizeError(f"a paired comparison needs per-item results; {_name(run)} is a {type(run).__name__} "
                             "(pass an EvalRun or a CascadeEval)")
    result: dict[str, bool] = getter()
    return result


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


def _text_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(rows: Sequence[Any], *, columns: Sequence[str] | None = None) -> str:
    """A plain-text table of runs: name, accuracy with its Wilson 95% interval (``0.805 [0.72, 0.87]``),
    n correct / n, coverage, p50, p95, $/10k."""
    header = list(columns or ["tier", "accuracy [95% CI]", "correct", "answered", "p50 latency", "p95 latency",
                              "cost / 10k req"])
    body = []
    for run in rows:
        s = run.summary()
        body.append([s["name"], f"{s['accuracy']:.3f} [{s['accuracy_low']:.2f}, {s['accuracy_high']:.2f}]",
                     f"{s['n_correct']}/{s['items']}", f"{s['coverage']:.0%}", format_latency(s["p50_latency_s"]),
                     format_latency(s["p95_latency_s"]), _money(s["cost_per_10k"])])
    return _text_table(header, body)


def format_paired_table(rows: Sequence[Any], against: Any) -> str:
    """A plain-text table pairing every run with ``against`` (the reference: a run or its name) on the
    same items: the run's accuracy minus the reference's with its 95% interval, the items only
    one of the two got right, and the exact McNemar p-value."""
    frame = compare(rows, against=against)
    header = ["tier", "difference [95% CI]", "only this right", "only reference right", "p (McNemar)"]
    body = [[str(name), f"{r.accuracy_diff:+.3f} [{r.diff_low:+.2f}, {r.diff_high:+.2f}]",
             str(int(r.only_this_right)), str(int(r.only_reference_right)), format_p_value(float(r.p_value))]
            for (name, r), run in zip(frame.iterrows(), rows) if not _is(run, against)]
    return _text_table(header, body)


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
