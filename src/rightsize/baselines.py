"""The cheap tiers for ticket triage that are not LLMs: a keyword rule gate and a TF-IDF classifier.

These are the "tiny specialized model" tier of the course, and real models with honest numbers:

- :class:`KeywordRuleGate` applies hand-written keyword rules, in the order of the decision
  rules of ``data/triage/labels.yaml``. It **abstains** (answers ``None``) when no rule fires,
  so it can sit in front of a model and answer only what it recognizes. The rules were written
  from the label definitions and decision rules, not fitted to any split; its confidence is the
  share of keyword evidence behind its answer, a heuristic score, **not** a probability.
- :class:`TfidfClassifier` is a scikit-learn pipeline (word and character TF-IDF, logistic
  regression) trained on the ``train`` split, wrapped in ``CalibratedClassifierCV`` (Platt
  scaling, 5 folds) to bring its ``predict_proba`` closer to the hit rate. Whether it got there
  is measured, not assumed: on the triage dev split it is underconfident (mean confidence 0.67,
  78% right; lesson 08 plots the reliability). A cascade's threshold is therefore chosen on dev
  from the accuracy it gives, not read off as a probability.

Both time every prediction (one text at a time, as a service would answer a request) and report
``cost_usd = 0``: they run in microseconds to milliseconds on a CPU you already pay for. (To put
a price on that CPU, multiply the latency by a server's price per second; :func:`compute_cost`
does it.)
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import RightsizeError

__all__ = [
    "DEFAULT_RULES",
    "KeywordRule",
    "KeywordRuleGate",
    "NearestTicket",
    "Prediction",
    "TfidfClassifier",
    "compute_cost",
]


@dataclass(frozen=True)
class Prediction:
    """One answer of a classifier: the label (None = abstained), its confidence and its latency."""

    label: str | None
    confidence: float
    latency_s: float
    cost_usd: float = 0.0
    probabilities: Mapping[str, float] | None = None
    reason: str = ""

    @property
    def abstained(self) -> bool:
        return self.label is None


def compute_cost(latency_s: float, server_usd_per_hour: float) -> float:
    """USD of CPU time for one prediction on a server billed ``server_usd_per_hour`` (busy time only)."""
    return latency_s * server_usd_per_hour / 3600.0


# -- the keyword rule gate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeywordRule:
    """Keywords (regular expressions, matched on word boundaries, any case) that point to a label."""

    label: str
    why: str
    patterns: tuple[str, ...]


# In the order of labels.yaml's decision rules: when several rules fire, the earliest wins.
# Written from the label definitions and rules, with everyday words for each; not tuned on test.
DEFAULT_RULES: tuple[KeywordRule, ...] = (
    KeywordRule("account", "rule 1: security and access", (
        r"(can ?not|can'?t|unable to|couldn'?t|won'?t let me) (sign|log) ?in", r"locked out", r"lock(ed)? me out",
        r"log ?in", r"sign ?in", r"password", r"2fa", r"two[- ]factor", r"verification code", r"hack(ed|er)?",
        r"compromised", r"someone (else )?(got into|accessed|is using) my account", r"suspended",
    )),
    KeywordRule("billing", "rule 2: a charge that was wrong", (
        r"charged (me )?(twice|two times|three times|double)", r"double[- ]charged?", r"duplicate (charge|payment)",
        r"overcharged", r"wrong amount", r"charged .{0,30}after (i )?cancel", r"unauthori[sz]ed (charge|payment)",
        r"(promo|discount|coupon) code", r"(two|2|three|3) (\w+ )?(charges|payments)", r"billed (twice|again)",
    )),
    KeywordRule("refund", "rule 3: money back for a correct charge", (
        r"refund", r"money back", r"reimburse", r"return (it|them|the|my)", r"send (it|them) back",
        r"cancel (my|the|this) order", r"return (shipping )?label", r"prorated",
    )),
    KeywordRule("shipping", "rule 4: delivery", (
        r"deliver(y|ed)?", r"shipping", r"shipped", r"tracking", r"courier", r"parcel", r"package",
        r"arriv(e|ed|al)", r"out for delivery", r"wrong item", r"missing (item|from my order)", r"replacement",
        r"exchange", r"(my|the) order", r"dispatch(ed)?",
    )),
    KeywordRule("account", "rule 5: managing the account", (
        r"(delete|close|deactivate) (my |the )?account", r"e-?mail address", r"change (my )?(name|e-?mail|username)",
        r"profile", r"(my|our) data", r"gdpr", r"privacy", r"invite", r"seats?", r"roles?", r"owner(ship)?",
        r"admin", r"username", r"account",
    )),
    KeywordRule("billing", "rule 6: billing administration", (
        r"invoices?", r"receipts?", r"billing", r"billed", r"charged?", r"payments?", r"(credit|debit) card",
        r"paypal", r"pric(e|es|ing)", r"\btax\b", r"vat", r"upgrade", r"downgrade", r"auto-?renew", r"subscription",
        r"plan", r"fee",
    )),
    KeywordRule("technical", "rule 7: something does not work", (
        r"error", r"bug", r"crash(es|ed|ing)?",
        (r"(doesn'?t|does not|won'?t|will not|isn'?t|stopped) (work|load|connect|"
         r"sync|charge|turn on|power on|pair|respond|update)\w*"),
        r"not working", r"broken", r"freez(e|es|ing)", r"frozen",
        r"sync(ing)?", r"connect(ion|ed|ing)?", r"wi-?fi", r"offline", r"firmware", r"update", r"pair(ing)?",
        r"set ?up", r"battery", r"app", r"api", r"slow", r"lag(s|gy)?", r"disconnect", r"reboot", r"reset",
        r"notifications?", r"blink(s|ing)?", r"dashboard", r"glitch",
    )),
    KeywordRule("feedback", "rule 8: nothing to fix, no money to move", (
        r"suggest(ion)?", r"feature request", r"would (be|love) (nice|great|good)?", r"it'?d be (nice|great)",
        r"please add", r"(i|we) (love|like) (it|the|your)", r"thank(s| you)", r"great", r"awesome", r"amazing",
        r"wish", r"idea", r"feedback", r"roadmap", r"compatible", r"do you (plan|have|sell|offer)",
    )),
)

_NEGATION = re.compile(r"\b(not|no|never|isn'?t|don'?t|without)\b(\W+\w+){0,2}\W*$", re.IGNORECASE)


class KeywordRuleGate:
    """Hand-written keyword rules that answer what they recognize and abstain otherwise.

    For each rule (in decision-rule order) the gate counts keyword matches in the ticket,
    skipping a keyword negated just before it ("not a refund"). The answer is the label of the
    first rule that fired; ``confidence`` is the share of all keyword matches that point to that
    label (1.0 when every keyword agrees). With no match, or a confidence below
    ``abstain_below``, the gate abstains: ``label=None``, so a cascade sends the ticket on.
    """

    name = "rule gate"

    def __init__(self, rules: Sequence[KeywordRule] = DEFAULT_RULES, *, abstain_below: float = 0.0) -> None:
        if not rules:
            raise RightsizeError("a rule gate needs at least one rule")
        self.rules = tuple(rules)
        self.abstain_below = abstain_below
        self._compiled = [(rule, [re.compile(rf"(?<!\w){p}(?!\w)", re.IGNORECASE) for p in rule.patterns])
                          for rule in self.rules]

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(rule.label for rule in self.rules))

    def _hits(self, text: str) -> list[tuple[KeywordRule, int]]:
        fired = []
        for rule, patterns in self._compiled:
            count = 0
            for pattern in patterns:
                for match in pattern.finditer(text):
                    if not _NEGATION.search(text[max(0, match.start() - 30) : match.start()]):
                        count += 1
            if count:
                fired.append((rule, count))
        return fired

    def explain(self, text: str) -> list[tuple[str, str, int]]:
        """Which rules fired on ``text``: (label, why, keyword matches), in decision order."""
        return [(rule.label, rule.why, count) for rule, count in self._hits(text)]

    def predict_one(self, text: str) -> Prediction:
        """Classify one ticket (timed)."""
        started = time.perf_counter()
        fired = self._hits(text)
        if not fired:
            return Prediction(None, 0.0, time.perf_counter() - started, reason="no rule fired: abstain")
        rule, _ = fired[0]
        total = sum(count for _, count in fired)
        agree = sum(count for r, count in fired if r.label == rule.label)
        confidence = agree / total
        latency = time.perf_counter() - started
        if confidence < self.abstain_below:
            return Prediction(None, confidence, latency, reason=f"keywords disagree ({confidence:.2f}): abstain")
        return Prediction(rule.label, confidence, latency, reason=rule.why)

    def predict(self, texts: Iterable[str]) -> list[str | None]:
        return [self.predict_one(t).label for t in texts]

    def predict_with_confidence(self, texts: Iterable[str]) -> list[Prediction]:
        return [self.predict_one(t) for t in texts]


# -- the TF-IDF classifier ---------------------------------------------------------------------------


@functools.cache
def _thread_controller() -> Any:
    import sklearn.linear_model  # noqa: F401  (load the BLAS and OpenMP libraries first)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run numpy/scipy on one thread: on a problem this small, threads only add waiting.

    (On a busy 2-core machine OpenBLAS threads made training ten times slower.)
    """
    with _thread_controller().limit(limits=1):
        yield


class TfidfClassifier:
    """TF-IDF features and a calibrated logistic regression, trained on labelled texts.

    ``fit(texts, labels)`` trains it (``from_triage()`` trains on the triage ``train`` split);
    ``predict_proba`` returns one row of class probabilities per text (each row sums to 1, columns
    in ``classes_`` order); ``predict_with_confidence`` returns timed :class:`Prediction`\\ s whose
    confidence is the top probability.
    """

    name = "tf-idf + logistic regression"

    def __init__(self, *, C: float = 10.0, calibration: str = "sigmoid", folds: int = 5, seed: int = 0) -> None:
        self.C = C
        self.calibration = calibration
        self.folds = folds
        self.seed = seed
        self.pipeline: Any = None
        self.train_size = 0

    def _build(self) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
        from sklearn.pipeline import FeatureUnion, Pipeline

        features = FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, strip_accents="unicode")),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ])
        regression = LogisticRegression(C=self.C, max_iter=5000)
        folds = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
        return Pipeline([("tfidf", features),
                         ("model", CalibratedClassifierCV(regression, method=self.calibration, cv=folds,
                                                                ensemble=False))])

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TfidfClassifier:
        """Train on ``texts`` and their ``labels`` (needs at least ``folds`` examples per label)."""
        if len(texts) != len(labels):
            raise RightsizeError(f"{len(texts)} texts but {len(labels)} labels: they must be aligned")
        if not texts:
            raise RightsizeError("cannot train a classifier on no examples")
        counts = {label: list(labels).count(label) for label in set(labels)}
        thin = {k: v for k, v in counts.items() if v < self.folds}
        if thin:
            raise RightsizeError(f"too few training examples for calibration ({self.folds} folds): {thin}; "
                                 "add examples or lower folds=")
        with _one_thread():
            self.pipeline = self._build().fit(list(texts), list(labels))
        self.train_size = len(texts)
        return self

    @classmethod
    def from_triage(cls, split: str = "train", **kwargs: Any) -> TfidfClassifier:
        """A classifier trained on a split of the triage set (``train`` unless told otherwise)."""
        from .datasets import load_triage

        data = load_triage(split)
        return cls(**kwargs).fit([i.text for i in data], [i.category for i in data])

    def _need_fit(self) -> Any:
        if self.pipeline is None:
            raise RightsizeError("the classifier is not trained yet: call fit(texts, labels) or from_triage()")
        return self.pipeline

    @property
    def classes_(self) -> list[str]:
        return [str(c) for c in self._need_fit().classes_]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per text, columns in ``classes_`` order."""
        pipeline = self._need_fit()
        with _one_thread():
            return np.asarray(pipeline.predict_proba(list(texts)))

    def predict(self, texts: Sequence[str]) -> list[str]:
        classes = self.classes_
        return [classes[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def predict_one(self, text: str) -> Prediction:
        """Classify one text, timed as a single request."""
        pipeline = self._need_fit()
        with _one_thread():
            started = time.perf_counter()
            row = pipeline.predict_proba([text])[0]
            latency = time.perf_counter() - started
        classes = self.classes_
        best = int(np.argmax(row))
        probabilities = {c: float(p) for c, p in zip(classes, row)}
        return Prediction(classes[best], float(row[best]), latency, probabilities=probabilities,
                          reason="highest calibrated probability")

    def predict_with_confidence(self, texts: Iterable[str]) -> list[Prediction]:
        """Timed predictions (one text at a time), confidence = the top calibrated probability."""
        return [self.predict_one(t) for t in texts]

    def vectorize(self, texts: Sequence[str]) -> Any:
        """The TF-IDF feature rows of ``texts`` (a sparse matrix), for repeated similarity queries."""
        features = self._need_fit().named_steps["tfidf"]
        with _one_thread():
            return features.transform(list(texts))

    def similarities(self, text: str, candidates: Sequence[str] | Any) -> np.ndarray:
        """Cosine similarity of ``text`` to each candidate (texts, or rows from :meth:`vectorize`)."""
        matrix: Any = self.vectorize(candidates) if isinstance(candidates, (list, tuple)) else candidates
        query = self.vectorize([text])
        with _one_thread():
            norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()) + 1e-12
            qnorm = float(np.sqrt(query.multiply(query).sum())) + 1e-12
            scores: np.ndarray = np.asarray(matrix @ query.T.toarray()).ravel() / (norms * qnorm)
            return scores

    def nearest(self, text: str, candidates: Sequence[str], k: int = 4) -> list[int]:
        """Indices of the ``k`` candidates most similar to ``text`` (cosine over the TF-IDF features).

        Used to retrieve few-shot examples for the local LLM from the train split.
        """
        scores = self.similarities(text, list(candidates))
        return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]


class NearestTicket:
    """The label of the most similar train ticket (TF-IDF cosine): retrieval with no model on top.

    It is what the local LLM's few-shot prompt starts from, so it shows how much the LLM adds
    beyond the examples it is shown. Confidence is the cosine similarity of that ticket (a
    similarity, not a probability).
    """

    name = "nearest train ticket (TF-IDF)"

    def __init__(self, vectors: TfidfClassifier, texts: Sequence[str], labels: Sequence[str]) -> None:
        if len(texts) != len(labels) or not texts:
            raise RightsizeError("NearestTicket needs as many labels as texts, and at least one")
        self.vectors = vectors
        self.texts = list(texts)
        self.labels = list(labels)
        self.matrix = vectors.vectorize(self.texts)  # once, not per request

    @classmethod
    def from_triage(cls, vectors: TfidfClassifier | None = None, split: str = "train") -> NearestTicket:
        from .datasets import load_triage

        data = load_triage(split)
        texts, labels = [i.text for i in data], [i.category for i in data]
        return cls(vectors or TfidfClassifier().fit(texts, labels), texts, labels)

    def predict_one(self, text: str) -> Prediction:
        started = time.perf_counter()
        scores = self.vectors.similarities(text, self.matrix)
        best = int(np.argmax(scores))
        latency = time.perf_counter() - started
        return Prediction(self.labels[best], float(scores[best]), latency, reason="label of the most similar ticket")

    def predict(self, texts: Iterable[str]) -> list[str | None]:
        return [self.predict_one(t).label for t in texts]

    def predict_with_confidence(self, texts: Iterable[str]) -> list[Prediction]:
        return [self.predict_one(t) for t in texts]
