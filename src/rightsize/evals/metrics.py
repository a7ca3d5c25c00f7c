"""Quality, latency and calibration metrics on plain lists, so each can be checked by hand.

Latency percentiles are :func:`rightsize.stats.percentile` (linear interpolation between order
statistics, numpy's default, as in :mod:`rightsize.profiling`), re-exported here; end-to-end
latency and time to first token are defined as in ``shared/METRICS.md`` and measured by the
provider layer on the client. Intervals and paired tests live in :mod:`rightsize.stats`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..stats import percentile

__all__ = [
    "ABSTAIN",
    "accuracy",
    "confusion_matrix",
    "expected_calibration_error",
    "field_matches",
    "per_class_report",
    "percentile",
    "reliability_table",
]

ABSTAIN = "(none)"  # how a missing prediction (abstained, unparseable) shows in tables


def accuracy(gold: Sequence[Any], predicted: Sequence[Any]) -> float:
    """Share of items whose prediction equals the gold answer (a missing prediction is wrong)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold answers but {len(predicted)} predictions")
    if not gold:
        return math.nan
    return sum(bool(g == p) for g, p in zip(gold, predicted)) / len(gold)


def confusion_matrix(gold: Sequence[Hashable], predicted: Sequence[Hashable | None],
                     labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Counts with gold labels as rows and predictions as columns.

    A missing prediction (None) gets its own column, ``(none)``, shown only when it occurs, so
    abstentions and unparseable answers are visible rather than silently dropped.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold answers but {len(predicted)} predictions")
    rows = list(labels) if labels is not None else sorted({str(g) for g in gold})
    _check_gold_labels(gold, rows)
    cols = list(rows)
    extra = sorted({str(p) for p in predicted if p is not None and str(p) not in rows})
    cols += extra
    if any(p is None for p in predicted):
        cols.append(ABSTAIN)
    table = pd.DataFrame(0, index=pd.Index(rows, name="gold"), columns=pd.Index(cols, name="predicted"))
    for g, p in zip(gold, predicted):
        table.loc[str(g), ABSTAIN if p is None else str(p)] += 1
    return table


def _check_gold_labels(gold: Sequence[Hashable], labels: Sequence[str]) -> None:
    unknown = sorted({str(g) for g in gold} - set(labels))
    if unknown:
        raise ValueError(f"gold label(s) {', '.join(map(repr, unknown))} not among the labels given "
                         f"({', '.join(labels)}): pass every label of the dataset")


def per_class_report(gold: Sequence[Hashable], predicted: Sequence[Hashable | None],
                     labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, plus macro averages.

    Precision of a class that was never predicted is 0 (and so is its F1), as in scikit-learn's
    ``zero_division=0``: a class the model never names is a class it does not serve.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold answers but {len(predicted)} predictions")
    names = list(labels) if labels is not None else sorted({str(g) for g in gold})
    _check_gold_labels(gold, names)
    rows = []
    for name in names:
        tp = sum(1 for g, p in zip(gold, predicted) if g == name and p == name)
        predicted_n = sum(1 for p in predicted if p == name)
        support = sum(1 for g in gold if g == name)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"label": name, "precision": precision, "recall": recall, "f1": f1, "support": support,
                     "predicted": predicted_n})
    frame = pd.DataFrame(rows).set_index("label")
    if len(frame):
        frame.loc["macro avg"] = [frame["precision"].mean(), frame["recall"].mean(), frame["f1"].mean(),
                                  frame["support"].sum(), frame["predicted"].sum()]
    return frame


def field_matches(expected: Mapping[str, Any], got: Any, *, price_tolerance: float = 0.005) -> dict[str, bool]:
    """Per-field correctness of an extracted order, scored as ``extraction/README.md`` suggests.

    ``customer_name`` and ``product`` compare after trimming and lower-casing; ``unit_price`` as a
    number within ``price_tolerance``; every other field exactly (``null`` must match ``null``).
    A value that is not an object scores every field wrong.
    """
    result: dict[str, bool] = {}
    value = got if isinstance(got, Mapping) else {}
    for key, want in expected.items():
        have = value.get(key, _MISSING)
        if key in ("customer_name", "product") and isinstance(want, str) and isinstance(have, str):
            result[key] = want.strip().lower() == have.strip().lower()
        elif key == "unit_price" and want is not None and isinstance(have, (int, float)) and not isinstance(have, bool):
            result[key] = abs(float(have) - float(want)) <= price_tolerance
        else:
            result[key] = _same(want, have)
    return result


def _same(want: Any, have: Any) -> bool:
    if have is _MISSING:
        return False
    if isinstance(want, bool) or isinstance(have, bool):  # True is not 1 here
        return type(want) is type(have) and want == have
    if isinstance(want, (int, float)) and isinstance(have, (int, float)):
        return float(want) == float(have)
    return bool(want == have)


_MISSING = object()


def reliability_table(confidences: Sequence[float], correct: Sequence[bool], bins: int = 5) -> pd.DataFrame:
    """Items per confidence bin with the bin's mean confidence and its actual accuracy.

    A calibrated model has ``accuracy`` close to ``confidence`` in every bin.
    """
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences but {len(correct)} correctness flags")
    conf = np.asarray(confidences, dtype=float)
    ok = np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for low, high in itertools.pairwise(edges):
        inside = (conf >= low) & ((conf < high) if high < 1 else (conf <= high))
        n = int(inside.sum())
        rows.append({"bin": f"{low:.1f}-{high:.1f}", "items": n,
                     "confidence": float(conf[inside].mean()) if n else math.nan,
                     "accuracy": float(ok[inside].mean()) if n else math.nan})
    return pd.DataFrame(rows)


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Mean gap between confidence and accuracy over equal-width bins, weighted by items (0 = calibrated)."""
    table = reliability_table(confidences, correct, bins)
    used = table[table["items"] > 0]
    if used.empty:
        return math.nan
    return float((used["items"] * (used["confidence"] - used["accuracy"]).abs()).sum() / used["items"].sum())
