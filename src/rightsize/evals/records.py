"""What an evaluation produces: one :class:`ItemRecord` per item and an :class:`EvalRun` over them.

Records are plain JSON-able data, so a run can be cached on disk and read back unchanged. The
run computes its summary on demand: accuracy with its Wilson 95% interval (or exact match and
field accuracy), per-class precision/recall/F1, the confusion matrix, parse and schema success,
latency percentiles and cost per request and per 10,000 requests, with the date the prices were read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pandas as pd

from ..errors import RightsizeError
from ..stats import ProportionInterval, percentile, wilson_interval
from .metrics import confusion_matrix, per_class_report

__all__ = ["EvalRun", "ItemRecord"]


@dataclass
class ItemRecord:
    """One item of an evaluation: what was expected, what came back, and what it took.

    Times are seconds measured on the client (``e2e`` is end-to-end latency, ``ttft`` time to
    first token; both None for a model that does not stream). ``cost_usd`` is the list-price
    cost of the tokens used (0 for local models and classifiers). ``confidence`` is the
    predictor's own score for its answer, when it has one. ``tags`` carry item attributes for
    breakdowns (difficulty, complexity); ``extra`` holds mode-specific details (repairs made,
    the structured-output stage, per-field correctness...).
    """

    id: str
    gold: Any
    predicted: Any
    raw_text: str | None
    parse_ok: bool | None
    schema_ok: bool | None
    correct: bool
    ttft: float | None
    e2e: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float
    confidence: float | None
    error: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def answered(self) -> bool:
        """False when the predictor abstained or its answer could not be read."""
        return self.predicted is not None


@dataclass
class EvalRun:
    """An evaluation of one predictor over one dataset (or the part of it that was asked for).

    ``meta`` says where the numbers come from: the machine and date of the real run, and
    ``source`` = ``"run"`` (just measured), ``"cache"`` (your cache) or ``"shipped"`` (the
    results shipped with the course, measured by ``scripts/build_eval_cache.py``).
    """

    name: str
    model: str
    task: str
    mode: str
    dataset: str
    split: str | None
    records: list[ItemRecord]
    prompt_id: str | None = None
    prompt_version: int | None = None
    labels: list[str] | None = None
    price_read_on: str | None = None
    price_note: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.records:
            raise RightsizeError(f"the run {self.name!r} has no items: evaluate a non-empty dataset")

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return (f"<EvalRun {self.name!r} {self.task} {self.dataset} n={len(self)} "
                f"accuracy={self.accuracy_interval} p95={self.latency_p95:.3f}s>")

    # -- quality --------------------------------------------------------------------------------
    @property
    def accuracy(self) -> float:
        """Share of items answered correctly (exact match of the whole answer for extraction)."""
        return sum(r.correct for r in self.records) / len(self.records)

    @property
    def n_correct(self) -> int:
        return sum(r.correct for r in self.records)

    @property
    def accuracy_interval(self) -> ProportionInterval:
        """The accuracy with its Wilson 95% interval: on 118 items, about 7 points either way."""
        return wilson_interval(self.n_correct, len(self.records))

    def correct_by_item(self) -> dict[str, bool]:
        """``{item id: answered correctly}``, for pairing with another run on the same items."""
        return {r.id: bool(r.correct) for r in self.records}

    @property
    def coverage(self) -> float:
        """Share of items with an answer (a rule gate abstains; a model's answer may be unreadable)."""
        return sum(r.answered for r in self.records) / len(self.records)

    @property
    def accuracy_when_answered(self) -> float:
        answered = [r for r in self.records if r.answered]
        return sum(r.correct for r in answered) / len(answered) if answered else math.nan

    @property
    def parse_rate(self) -> float:
        """Share of items whose answer could be read (NaN when the predictor has no parsing)."""
        flags = [r.parse_ok for r in self.records if r.parse_ok is not None]
        return sum(flags) / len(flags) if flags else math.nan

    @property
    def schema_rate(self) -> float:
        """Share of items whose answer matched the schema or label set (NaN when not applicable)."""
        flags = [r.schema_ok for r in self.records if r.schema_ok is not None]
        return sum(flags) / len(flags) if flags else math.nan

    @property
    def error_rate(self) -> float:
        return sum(r.error is not None for r in self.records) / len(self.records)

    def confusion(self) -> pd.DataFrame:
        """Confusion matrix (gold rows, predicted columns; unanswered items in ``(none)``)."""
        self._classification_only("a confusion matrix")
        return confusion_matrix([r.gold for r in self.records], [r.predicted for r in self.records], self.labels)

    def per_class(self) -> pd.DataFrame:
        """Precision, recall, F1 and support per class, with macro averages."""
        self._classification_only("per-class metrics")
        return per_class_report([r.gold for r in self.records], [r.predicted for r in self.records], self.labels)

    def field_accuracy(self) -> pd.Series:
        """Extraction: share of items with each field right (missing or unparseable answers score 0)."""
        rows = [r.extra.get("fields") for r in self.records]
        if not all(isinstance(row, dict) for row in rows):
            raise RightsizeError(f"{self.name}: field accuracy needs extraction records (task {self.task!r})")
        return pd.DataFrame(rows).mean().rename("field accuracy")

    def accuracy_by(self, tag: str, *, interval: bool = False) -> pd.Series | pd.DataFrame:
        """Accuracy per value of an item tag, e.g. ``run.accuracy_by("difficulty")``.

        With ``interval=True``, a frame with ``items``, ``accuracy``, ``accuracy_low`` and
        ``accuracy_high`` (Wilson 95%) per value: small groups have wide intervals.
        """
        values = [r.tags.get(tag) for r in self.records]
        if all(v is None for v in values):
            raise RightsizeError(f"{self.name}: no item has the tag {tag!r}; tags: {sorted(self.records[0].tags)}")
        frame = pd.DataFrame({tag: values, "correct": [r.correct for r in self.records]})
        if not interval:
            return frame.groupby(tag)["correct"].mean().rename("accuracy")
        rows = {}
        for value, group in frame.groupby(tag):
            ci = wilson_interval(int(group["correct"].sum()), len(group))
            rows[value] = {"items": ci.n, "accuracy": ci.estimate, "accuracy_low": ci.low, "accuracy_high": ci.high}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis(tag)

    def _classification_only(self, what: str) -> None:
        if self.task != "triage":
            raise RightsizeError(f"{what} needs a classification task; {self.name} is {self.task!r}")

    # -- latency and cost -----------------------------------------------------------------------
    def latencies(self) -> list[float]:
        return [r.e2e for r in self.records if r.e2e is not None]

    @property
    def latency_p50(self) -> float:
        """Median end-to-end latency per item, seconds."""
        return percentile(self.latencies(), 50)

    @property
    def latency_p95(self) -> float:
        """95th percentile of end-to-end latency per item, seconds."""
        return percentile(self.latencies(), 95)

    @property
    def ttft_p50(self) -> float:
        return percentile([r.ttft for r in self.records], 50)

    @property
    def cost_per_request(self) -> float:
        """Mean list-price USD per item."""
        return sum(r.cost_usd for r in self.records) / len(self.records)

    @property
    def cost_per_10k(self) -> float:
        """List-price USD per 10,000 requests like these."""
        return self.cost_per_request * 10_000

    def summary(self) -> dict[str, Any]:
        """The headline numbers as one dict (a row of :func:`~rightsize.evals.compare`).

        ``accuracy_low`` and ``accuracy_high`` bound the accuracy (Wilson 95% interval over the
        ``items``; for extraction, the exact-match accuracy).
        """
        ci = self.accuracy_interval
        row: dict[str, Any] = {
            "name": self.name, "model": self.model, "mode": self.mode, "prompt": self.prompt_id,
            "items": len(self), "n_correct": self.n_correct, "accuracy": self.accuracy,
            "accuracy_low": ci.low, "accuracy_high": ci.high, "coverage": self.coverage,
            "parse_ok": self.parse_rate, "schema_ok": self.schema_rate,
            "p50_latency_s": self.latency_p50, "p95_latency_s": self.latency_p95,
            "cost_per_request": self.cost_per_request, "cost_per_10k": self.cost_per_10k,
            "price_read_on": self.price_read_on, "source": self.meta.get("source"),
        }
        if self.task == "extraction":
            row["field_accuracy"] = float(self.field_accuracy().mean())
        return row

    def to_frame(self) -> pd.DataFrame:
        """One row per item (tags and extra details flattened into columns)."""
        rows = []
        for r in self.records:
            row = {k: v for k, v in r.to_json().items() if k not in ("tags", "extra")}
            row.update(r.tags)
            row.update({k: v for k, v in r.extra.items() if not isinstance(v, (dict, list))})
            rows.append(row)
        return pd.DataFrame(rows)

    def subset(self, ids: Sequence[str], *, name: str | None = None) -> EvalRun:
        """The same run restricted to some items, in the order of ``ids``."""
        by_id = {r.id: r for r in self.records}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise RightsizeError(f"{self.name}: no records for {missing[:5]}")
        return EvalRun(name or self.name, self.model, self.task, self.mode, self.dataset, self.split,
                       [by_id[i] for i in ids], self.prompt_id, self.prompt_version, self.labels,
                       self.price_read_on, self.price_note, dict(self.meta))
