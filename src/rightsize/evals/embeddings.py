"""The local model adapted to triage: its embeddings and a logistic-regression head trained on them.

Instead of prompting SmolLM2-135M-Instruct for a label, read its hidden states: llama.cpp's
embedding mode runs one forward pass over the ticket (no chat template, no generation) and
**mean-pools** the last layer's token states into one 576-number vector. Mean pooling because the
model was never trained to embed: in a causal model only the last token has seen the whole
ticket, but its state is shaped to predict the next token, while the mean gives every token of
the ticket a say (``pooling="last"`` is there to compare, on dev). A head like the TF-IDF
classifier's (:mod:`rightsize.baselines`: standardized features, logistic regression wrapped in
``CalibratedClassifierCV``, Platt scaling over 5 folds) is trained on the ``train`` split; its
regularization ``C`` is the one with the best ``dev`` accuracy (ties: lower dev log loss). The
test split is never seen by fitting or by the choice of ``C``.

- :class:`TicketEmbedder` is the model in embedding mode (a second llama.cpp context over the same
  GGUF that :func:`rightsize.local_model.model_path` finds); vectors are kept in half precision.
- :func:`triage_vectors` embeds the train and dev tickets one at a time, timed, and keeps them in
  the evaluation cache (``evals/triage/*.npz``, user cache first, then the shipped one), with the
  machine and load they were measured on; so the head trains offline in about a second.
- :class:`EmbeddingHead` is the head, :class:`EmbeddingClassifier` embedder plus head (it answers
  like the baselines, with a timed :class:`~rightsize.baselines.Prediction`), and
  :class:`EmbeddingPredictor` puts it in :func:`~rightsize.evals.evaluate`: its per-item records
  (latency = embedding + head, measured on the item) are cached like an LLM run's.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..baselines import Prediction, _one_thread
from ..datasets import TriageItem, load_triage
from ..errors import RightsizeError
from ..local_model import MODEL_ID, load_llama, model_path
from .cache import EvalCache, cache_key, header_summary, session_header
from .predictors import _tags
from .records import ItemRecord

__all__ = [
    "FIT_SPLITS",
    "POOLINGS",
    "EmbeddingClassifier",
    "EmbeddingHead",
    "EmbeddingPredictor",
    "SplitVectors",
    "TicketEmbedder",
    "TriageVectors",
    "embedding_identity",
    "get_embedder",
    "triage_vectors",
]

POOLINGS = ("mean", "last")
FIT_SPLITS = ("train", "dev")  # what fitting and the choice of C may see; never test
DEFAULT_C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
_CONTEXT = 512  # tokens; the longest ticket is under 100


def embedding_identity(pooling: str = "mean") -> dict[str, Any]:
    """What determines a ticket's vector (the cache key of the vectors and of the runs using them)."""
    if pooling not in POOLINGS:
        raise RightsizeError(f"unknown pooling {pooling!r}: use one of {', '.join(POOLINGS)}")
    return {"model": MODEL_ID, "weights": model_path().name, "runtime": "llama.cpp embedding mode",
            "input": "ticket text, no template", "pooling": pooling, "max_tokens": _CONTEXT,
            "precision": "float16"}


def _half(vector: Any) -> np.ndarray:
    """A vector as stored (float16) and as the head reads it (float32): one rounding everywhere."""
    return np.asarray(vector, dtype=np.float32).astype(np.float16)


class TicketEmbedder:
    """SmolLM2-135M-Instruct in llama.cpp's embedding mode: one pooled vector per text.

    Use :func:`get_embedder` for the shared instance. Texts are embedded one per forward pass,
    as a service answers one request, so a text's vector never depends on what else was sent.
    """

    model_id = MODEL_ID

    def __init__(self, pooling: str = "mean", *, n_threads: int | None = None) -> None:
        self.identity = embedding_identity(pooling)
        self.pooling = pooling
        import llama_cpp

        self.path = model_path()  # the file the identity names, so cached vectors always match it
        pooling_type = {"mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN, "last": llama_cpp.LLAMA_POOLING_TYPE_LAST}[pooling]
        self._llm = load_llama(self.path, "the local model's embeddings", n_threads=n_threads, embedding=True,
                               pooling_type=pooling_type, n_ctx=_CONTEXT, n_batch=_CONTEXT)
        self.dimensions = int(self._llm.n_embd())
        self.lock = threading.Lock()  # one llama.cpp context: one request at a time

    def embed_one(self, text: str) -> tuple[np.ndarray, float]:
        """The vector of one text (float16) and the seconds it took (a text over 512 tokens is cut there)."""
        with self.lock:
            started = time.perf_counter()
            vector = _half(self._llm.embed(text, truncate=True))
            return vector, time.perf_counter() - started

    def close(self) -> None:
        """Free llama.cpp's memory now (also done at interpreter exit for the shared embedders)."""
        llm = self.__dict__.pop("_llm", None)
        if llm is not None:
            llm.close()


_shared: dict[str, TicketEmbedder] = {}
_shared_lock = threading.Lock()


def get_embedder(pooling: str = "mean") -> TicketEmbedder:
    """The process-wide :class:`TicketEmbedder` for ``pooling``, loaded on first use (well under a second)."""
    with _shared_lock:
        if pooling not in _shared:
            embedder = TicketEmbedder(pooling)
            atexit.register(embedder.close)  # before llama-cpp's own finalizer, which fails at teardown
            embedder.embed_one("warm up")  # so the first measured ticket is typical
            _shared[pooling] = embedder
        return _shared[pooling]


# -- the cached train and dev vectors --------------------------------------------------------------


@dataclass(frozen=True)
class SplitVectors:
    """The vectors of one split's tickets, in dataset order, with the seconds each took."""

    split: str
    ids: tuple[str, ...]
    vectors: np.ndarray  # float16, one row per ticket
    seconds: np.ndarray

    def labels(self) -> list[str]:
        """The gold categories of these tickets, read from the dataset (one home for labels)."""
        data = load_triage(self.split)
        return [data.by_id(i).category for i in self.ids]


@dataclass(frozen=True)
class TriageVectors:
    """Train and dev vectors, where they came from and the machine they were measured on."""

    splits: dict[str, SplitVectors]
    meta: dict[str, Any]
    source: str  # "run", "cache" or "shipped"
    path: Path | None = None

    def __getitem__(self, split: str) -> SplitVectors:
        return self.splits[split]


def _vector_file(folder: Path, key: str) -> Path:
    return folder / "triage" / f"local-llm-embeddings-{key}.npz"


def _read_vectors(path: Path, source: str) -> TriageVectors:
    with np.load(path, allow_pickle=False) as stored:
        splits = {s: SplitVectors(s, tuple(str(i) for i in stored[f"{s}_ids"]), stored[f"{s}_vectors"],
                                  stored[f"{s}_seconds"]) for s in FIT_SPLITS}
        meta = json.loads(str(stored["meta"]))
    return TriageVectors(splits, meta, source, path)


def triage_vectors(pooling: str = "mean", *, cache_store: EvalCache | None = None, refresh: bool = False,
                   progress: bool = False) -> TriageVectors:
    """The train and dev tickets' vectors: from your cache, else the shipped one, else embedded now.

    Embedding them takes one forward pass per ticket (320 tickets; about a minute on a quiet
    2-core CPU) and writes them to your cache. ``refresh=True`` embeds them again.
    """
    store = cache_store or EvalCache()
    dataset = load_triage()
    identity = embedding_identity(pooling)
    key = cache_key(identity, dataset.name, dataset.content_hash)
    places = [("cache", store.user_dir)] + ([("shipped", store.shipped_dir)] if store.use_shipped else [])
    if not refresh:
        for source, folder in places:  # your own vectors first
            path = _vector_file(folder, key)
            if path.is_file():
                return _read_vectors(path, source)

    embedder = get_embedder(pooling)
    began = header_summary(session_header(), "run")  # when, where, at what load it began
    started = time.perf_counter()
    splits: dict[str, SplitVectors] = {}
    for split in FIT_SPLITS:
        items: Iterable[TriageItem] = load_triage(split)
        if progress:
            from tqdm.auto import tqdm

            items = tqdm(list(items), desc=f"embedding {split}", file=sys.stderr, leave=False)
        rows, seconds, ids = [], [], []
        for item in items:
            vector, took = embedder.embed_one(item.text)
            rows.append(vector)
            seconds.append(took)
            ids.append(item.id)
        splits[split] = SplitVectors(split, tuple(ids), np.stack(rows), np.asarray(seconds))
    meta = {**began, "identity": identity, "dataset": dataset.key,
            "wall_seconds": round(time.perf_counter() - started, 2)}
    with contextlib.suppress(OSError):
        meta["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    path = _vector_file(store.user_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {"meta": np.asarray(json.dumps(meta, sort_keys=True))}
    for split, part in splits.items():
        arrays.update({f"{split}_ids": np.asarray(part.ids), f"{split}_vectors": part.vectors,
                       f"{split}_seconds": part.seconds})
    with open(path, "wb") as handle:  # an open file, so numpy does not add a second .npz suffix
        np.savez_compressed(handle, **arrays)
    return TriageVectors(splits, meta, "run", path)


# -- the head ---------------------------------------------------------------------------------------


class EmbeddingHead:
    """Standardized vectors into a calibrated logistic regression; ``C`` chosen on dev.

    ``fit(train_X, train_y, dev_X, dev_y)`` trains one head per ``C`` of the grid on train only
    and keeps the one with the best dev accuracy (ties: the lower dev log loss, then the smaller
    ``C``). ``dev_scores`` holds every candidate's dev accuracy and log loss.
    """

    def __init__(self, *, c_grid: Sequence[float] = DEFAULT_C_GRID, calibration: str = "sigmoid", folds: int = 5,
                 seed: int = 0) -> None:
        if not c_grid:
            raise RightsizeError("give at least one value of C to choose from")
        self.c_grid = tuple(float(c) for c in c_grid)
        self.calibration = calibration
        self.folds = folds
        self.seed = seed
        self.pipeline: Any = None
        self.C: float | None = None
        self.dev_scores: dict[float, tuple[float, float]] = {}

    def config(self) -> dict[str, Any]:
        """The head's settings, for cache keys."""
        return {"features": "standardized", "model": "logistic regression", "calibration": self.calibration,
                "folds": self.folds, "seed": self.seed, "c_grid": list(self.c_grid),
                "chosen_by": "dev accuracy, then dev log loss"}

    def _build(self, C: float) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        folds = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
        regression = LogisticRegression(C=C, max_iter=5000)
        return Pipeline([("scale", StandardScaler()),
                         ("model", CalibratedClassifierCV(regression, method=self.calibration, cv=folds,
                                                          ensemble=False))])

    def fit(self, train_X: np.ndarray, train_y: Sequence[str], dev_X: np.ndarray, dev_y: Sequence[str]) -> EmbeddingHead:
        """Train on train, choose ``C`` on dev. Both must cover every label."""
        from sklearn.metrics import log_loss

        if len(train_X) != len(train_y) or len(dev_X) != len(dev_y):
            raise RightsizeError("vectors and labels must be aligned (as many labels as rows)")
        if set(dev_y) - set(train_y):
            raise RightsizeError(f"dev has labels the train split lacks: {sorted(set(dev_y) - set(train_y))}")
        train = np.asarray(train_X, dtype=np.float32)
        dev = np.asarray(dev_X, dtype=np.float32)
        gold = np.asarray(dev_y)
        best: tuple[float, float, float] | None = None  # (-accuracy, log loss, C): smallest wins
        chosen: Any = None
        with _one_thread():
            for C in self.c_grid:
                pipeline = self._build(C).fit(train, list(train_y))
                probabilities = pipeline.predict_proba(dev)
                accuracy = float(np.mean(pipeline.classes_[probabilities.argmax(axis=1)] == gold))
                loss = float(log_loss(gold, probabilities, labels=pipeline.classes_))
                self.dev_scores[C] = (accuracy, loss)
                if best is None or (-accuracy, loss, C) < best:
                    best, chosen = (-accuracy, loss, C), pipeline
        assert best is not None
        self.C, self.pipeline = best[2], chosen
        return self

    def _need_fit(self) -> Any:
        if self.pipeline is None:
            raise RightsizeError("the head is not trained yet: call fit(train_X, train_y, dev_X, dev_y)")
        return self.pipeline

    @property
    def classes_(self) -> list[str]:
        return [str(c) for c in self._need_fit().classes_]

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per vector, columns in ``classes_`` order."""
        pipeline = self._need_fit()
        with _one_thread():
            return np.asarray(pipeline.predict_proba(np.asarray(vectors, dtype=np.float32)))


# -- embedder + head -------------------------------------------------------------------------------


class EmbeddingClassifier:
    """The local model's ticket vectors and a trained head: a classifier answering like the baselines.

    ``from_triage()`` trains the head on the cached train vectors (C chosen on dev);
    ``predict_one(text)`` embeds the text now and classifies it, timed as one request.
    """

    name = "local LLM embeddings + logistic regression"

    def __init__(self, head: EmbeddingHead, *, pooling: str = "mean", vectors: TriageVectors | None = None) -> None:
        self.head = head
        self.pooling = pooling
        self.vectors = vectors
        self._embedder: TicketEmbedder | None = None

    @classmethod
    def from_triage(cls, pooling: str = "mean", *, head: EmbeddingHead | None = None,
                    cache_store: EvalCache | None = None, refresh: bool = False,
                    progress: bool = False) -> EmbeddingClassifier:
        """Embed (or read) the train and dev tickets and train the head: train fits, dev chooses."""
        vectors = triage_vectors(pooling, cache_store=cache_store, refresh=refresh, progress=progress)
        train, dev = vectors["train"], vectors["dev"]
        head = (head or EmbeddingHead()).fit(train.vectors, train.labels(), dev.vectors, dev.labels())
        return cls(head, pooling=pooling, vectors=vectors)

    @property
    def embedder(self) -> TicketEmbedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.pooling)
        return self._embedder

    def classify(self, text: str) -> tuple[dict[str, float], float, float]:
        """Class probabilities of one ticket, the seconds its embedding took and those of the head."""
        vector, embed_s = self.embedder.embed_one(text)
        started = time.perf_counter()
        row = self.head.predict_proba(vector[None, :])[0]
        head_s = time.perf_counter() - started
        return {c: float(p) for c, p in zip(self.head.classes_, row)}, embed_s, head_s

    def predict_one(self, text: str) -> Prediction:
        """Classify one ticket, timed as one request: ``latency_s`` is the embedding plus the head."""
        probabilities, embed_s, head_s = self.classify(text)
        label = max(probabilities, key=probabilities.__getitem__)
        return Prediction(label, probabilities[label], embed_s + head_s, probabilities=probabilities,
                          reason="highest calibrated probability")

    def predict(self, texts: Iterable[str]) -> list[str | None]:
        return [self.predict_one(t).label for t in texts]

    def predict_with_confidence(self, texts: Iterable[str]) -> list[Prediction]:
        return [self.predict_one(t) for t in texts]


class EmbeddingPredictor:
    """:class:`EmbeddingClassifier` as a cached predictor for :func:`~rightsize.evals.evaluate`.

    The classifier is built on the first item that is not in the cache, so a cached run needs
    neither the model nor the vectors. Each record's ``e2e`` is embedding plus head (each in
    ``extra``), ``confidence`` the top calibrated probability, ``cost_usd`` 0: it runs on a CPU
    you already pay for.
    """

    task = "triage"
    mode = "embedding_head"
    model_id = MODEL_ID

    def __init__(self, pooling: str = "mean", *, head: EmbeddingHead | None = None, name: str | None = None,
                 cache_store: EvalCache | None = None, refresh: bool = False) -> None:
        embedding_identity(pooling)  # an unknown pooling fails here, not on the first uncached item
        self.pooling = pooling
        self.head = head or EmbeddingHead()
        self.name = name or EmbeddingClassifier.name + ("" if pooling == "mean" else f" ({pooling} pooling)")
        self.cache_store = cache_store
        self.refresh = refresh
        self._classifier: EmbeddingClassifier | None = None

    def identity(self) -> dict[str, Any] | None:
        return {"model": MODEL_ID, "task": self.task, "mode": self.mode, "embedding": embedding_identity(self.pooling),
                "head": self.head.config(), "fit_on": list(FIT_SPLITS)}

    @property
    def classifier(self) -> EmbeddingClassifier:
        """The trained classifier (vectors read or embedded, head fitted) on first use."""
        if self._classifier is None:
            self._classifier = EmbeddingClassifier.from_triage(self.pooling, head=self.head,
                                                               cache_store=self.cache_store, refresh=self.refresh)
        return self._classifier

    def predict(self, item: TriageItem) -> ItemRecord:
        classifier = self.classifier
        probabilities, embed_s, head_s = classifier.classify(item.text)
        label = max(probabilities, key=probabilities.__getitem__)
        return ItemRecord(
            id=item.id, gold=item.category, predicted=label, raw_text=None, parse_ok=None, schema_ok=None,
            correct=label == item.category, ttft=None, e2e=embed_s + head_s, input_tokens=None, output_tokens=None,
            cost_usd=0.0, confidence=probabilities[label], tags=_tags(item),
            extra={"embed_s": embed_s, "head_s": head_s, "C": classifier.head.C, "probabilities": probabilities},
        )
