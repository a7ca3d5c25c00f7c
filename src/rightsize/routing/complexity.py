"""A small request-complexity classifier: handcrafted features plus TF-IDF, then logistic regression.

It learns ``simple`` / ``medium`` / ``complex`` from the routing set's **dev** split (30 items)
and is scored on its **test** split (60 items), which nothing here looks at while building the
model. The handcrafted features were written after reading the dev prompts and the set's README
(how long the prompt is, how many numbers it holds, whether it asks for ``ANSWER:``, holds code,
or says "how many"/"each"/"then"...). Model choice was by leave-one-out accuracy on dev only.

Honest numbers at the time of writing (``ComplexityClassifier.train().evaluate()``): leave-one-out
accuracy on dev 0.90, accuracy on test 0.67 (40 of 60), against 0.33 for always guessing one
class. Thirty training prompts are very few: treat the classifier as a teaching example of a
router's signal, not as a product.

Use :meth:`ComplexityClassifier.classify` for one prompt, :meth:`~ComplexityClassifier.predict_proba`
for a classifier-probability confidence (cascades), and :meth:`~ComplexityClassifier.score`
(0 = surely simple, 1 = surely complex) to sweep a routing threshold in :mod:`.evaluation`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COMPLEXITY_CLASSES",
    "FEATURE_NAMES",
    "ClassifierReport",
    "ComplexityClassifier",
    "ComplexityPrediction",
    "default_classifier",
    "load_routing_requests",
    "prompt_features",
]

COMPLEXITY_CLASSES: tuple[str, ...] = ("simple", "medium", "complex")

FEATURE_NAMES: tuple[str, ...] = (
    "log_chars", "log_words", "numbers", "lines", "sentences", "asks_answer_line", "has_code",
    "multi_step_words", "asks_one_word",
)

_CODE = re.compile(r"print\(|def |for .+ in |\bimport\b|```")
_STEPS = re.compile(r"\b(how many|count|each|then|total|average|after|until|before|all different)\b", re.IGNORECASE)
_SHORT = re.compile(r"one word|just the|yes or no", re.IGNORECASE)


def prompt_features(prompts: Sequence[str]) -> np.ndarray:
    """The handcrafted features (columns named by :data:`FEATURE_NAMES`) of each prompt."""
    rows = []
    for text in prompts:
        rows.append([
            math.log1p(len(text)),
            math.log1p(len(text.split())),
            len(re.findall(r"\d+(?:\.\d+)?", text)),
            text.count("\n"),
            len(re.findall(r"[.?!](?:\s|$)", text)),
            float("ANSWER:" in text),
            float(bool(_CODE.search(text))),
            float(bool(_STEPS.search(text))),
            float(bool(_SHORT.search(text))),
        ])
    return np.asarray(rows, dtype=float).reshape(len(rows), len(FEATURE_NAMES))


def load_routing_requests(split: Literal["dev", "test"] | None = None) -> list[dict[str, Any]]:
    """The routing golden set (``rightsize/data/routing/requests.jsonl``), optionally one split."""
    text = resources.files("rightsize").joinpath("data/routing/requests.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if split is not None and split not in ("dev", "test"):
        raise ValueError(f"split must be 'dev', 'test' or None, not {split!r}")
    return [r for r in rows if split is None or r["split"] == split]


@dataclass(frozen=True)
class ComplexityPrediction:
    """The predicted class of one prompt and the classifier's probability for each class."""

    label: str
    probability: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class ClassifierReport:
    """How well the classifier did on one split."""

    split: str
    n: int
    accuracy: float
    majority_baseline: float
    recall: dict[str, float]
    confusion: pd.DataFrame  # rows: true class, columns: predicted class

    def __str__(self) -> str:
        recalls = ", ".join(f"{k} {v:.2f}" for k, v in self.recall.items())
        return (f"{self.split}: accuracy {self.accuracy:.2f} on {self.n} items "
                f"(always-one-class baseline {self.majority_baseline:.2f}); recall by class: {recalls}")


class ComplexityClassifier:
    """Predicts a request's complexity class from its prompt text.

    ``features`` picks the inputs: ``"handcrafted"``, ``"tfidf"`` (word 1-2 grams) or ``"both"``.
    """

    def __init__(self, *, features: Literal["handcrafted", "tfidf", "both"] = "both", C: float = 1.0) -> None:
        if features not in ("handcrafted", "tfidf", "both"):
            raise ValueError(f"features must be handcrafted, tfidf or both, not {features!r}")
        self.features = features
        self.C = C
        self._pipeline: Any = None

    def _build(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.preprocessing import FunctionTransformer, StandardScaler

        handcrafted = make_pipeline(FunctionTransformer(prompt_features), StandardScaler())
        tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        parts = {"handcrafted": [handcrafted], "tfidf": [tfidf], "both": [tfidf, handcrafted]}[self.features]
        inputs = parts[0] if len(parts) == 1 else make_union(*parts)
        return make_pipeline(inputs, LogisticRegression(C=self.C, max_iter=5000))

    def fit(self, prompts: Sequence[str], labels: Sequence[str]) -> ComplexityClassifier:
        """Train on prompts and their labels (each one of :data:`COMPLEXITY_CLASSES`)."""
        unknown = sorted(set(labels) - set(COMPLEXITY_CLASSES))
        if unknown:
            raise ValueError(f"unknown complexity labels {unknown}; use {', '.join(COMPLEXITY_CLASSES)}")
        if len(prompts) != len(labels) or not prompts:
            raise ValueError("fit needs as many labels as prompts, and at least one of each class")
        self._pipeline = self._build().fit(list(prompts), list(labels))
        return self

    @classmethod
    def train(cls, split: Literal["dev", "test"] = "dev", **kwargs: Any) -> ComplexityClassifier:
        """A classifier trained on one split of the routing set (the dev split, normally)."""
        rows = load_routing_requests(split)
        return cls(**kwargs).fit([r["prompt"] for r in rows], [r["complexity"] for r in rows])

    def _fitted(self) -> Any:
        if self._pipeline is None:
            raise RuntimeError("the classifier is not trained yet: call .fit(prompts, labels) or "
                               "ComplexityClassifier.train()")
        return self._pipeline

    def predict_proba(self, prompts: Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per prompt, columns in :data:`COMPLEXITY_CLASSES` order."""
        pipeline = self._fitted()
        raw = pipeline.predict_proba(list(prompts))
        order = [list(pipeline.classes_).index(c) if c in pipeline.classes_ else None for c in COMPLEXITY_CLASSES]
        out = np.zeros((len(prompts), len(COMPLEXITY_CLASSES)))
        for column, source in enumerate(order):
            if source is not None:
                out[:, column] = raw[:, source]
        return out

    def predict(self, prompts: Sequence[str]) -> list[str]:
        """The likeliest class of each prompt."""
        return [COMPLEXITY_CLASSES[i] for i in self.predict_proba(prompts).argmax(axis=1)]

    def classify(self, prompt: str) -> ComplexityPrediction:
        """The class of one prompt, with its probability."""
        probs = self.predict_proba([prompt])[0]
        best = int(probs.argmax())
        return ComplexityPrediction(COMPLEXITY_CLASSES[best], float(probs[best]),
                                    {c: float(p) for c, p in zip(COMPLEXITY_CLASSES, probs)})

    def score(self, prompts: Sequence[str]) -> np.ndarray:
        """Expected complexity in 0..1 (P(medium)/2 + P(complex)): a routing score to threshold."""
        probs = self.predict_proba(prompts)
        return np.asarray(probs[:, 1] * 0.5 + probs[:, 2], dtype=float)

    def evaluate(self, split: Literal["dev", "test"] = "test") -> ClassifierReport:
        """Accuracy, per-class recall and the confusion table on one split of the routing set."""
        import pandas as pd

        rows = load_routing_requests(split)
        truth = [r["complexity"] for r in rows]
        predicted = self.predict([r["prompt"] for r in rows])
        confusion = pd.crosstab(pd.Categorical(truth, COMPLEXITY_CLASSES),
                                pd.Categorical(predicted, COMPLEXITY_CLASSES),
                                rownames=["true"], colnames=["predicted"], dropna=False)
        hits = [t == p for t, p in zip(truth, predicted)]
        recall = {c: float(np.mean([h for h, t in zip(hits, truth) if t == c])) if c in truth else math.nan
                  for c in COMPLEXITY_CLASSES}
        majority = max(truth.count(c) for c in COMPLEXITY_CLASSES) / len(truth)
        return ClassifierReport(split, len(truth), float(np.mean(hits)), majority, recall, confusion)


@functools.cache
def default_classifier() -> ComplexityClassifier:
    """The classifier trained on the routing set's dev split (trained once, then reused)."""
    return ComplexityClassifier.train("dev")
