"""``evaluate``: run a model, a classifier or a router over a dataset, with a disk cache.

    from rightsize.datasets import load_triage
    from rightsize.evals import evaluate

    run = evaluate("local", load_triage("test"), mode="grammar")
    run.accuracy, run.latency_p95, run.cost_per_10k
    run.confusion()

Every record comes from a real call; the cache only stores them. A cached record keeps the
latency measured when it was made (``run.meta`` says when and on what machine), so a cached
run is fast to re-read, not a new measurement: pass ``refresh=True`` to measure again.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..baselines import KeywordRuleGate, NearestTicket, TfidfClassifier
from ..datasets import Dataset
from ..errors import RightsizeError
from ..registry import ModelInfo
from .cache import EvalCache, cache_key, header_summary, session_header
from .predictors import (
    ClassifierPredictor,
    ExtractionLLM,
    Predictor,
    RouterPredictor,
    RoutingLLM,
    TriageLLM,
)
from .records import EvalRun, ItemRecord

__all__ = ["DeterminismReport", "as_predictor", "check_fits", "determinism", "evaluate"]

_DEFAULT_MODES = {"triage": "grammar", "extraction": "free", "routing": "plain"}


def as_predictor(subject: Any, *, task: str, mode: str | None = None, prompt_version: int | None = None,
                 name: str | None = None, **options: Any) -> Predictor:
    """The predictor for a model name/alias, a :class:`ModelInfo`, a provider, a baseline
    classifier, a router, or a ready :class:`~rightsize.evals.predictors.Predictor`."""
    from ..providers import Provider

    if isinstance(subject, (KeywordRuleGate, TfidfClassifier, NearestTicket)):
        if task != "triage":
            raise RightsizeError(f"{type(subject).__name__} classifies triage tickets; it cannot do {task!r}")
        return ClassifierPredictor(subject, name=name)
    if isinstance(subject, (str, ModelInfo, Provider)):
        mode = mode or _DEFAULT_MODES.get(task)
        if task == "triage":
            return TriageLLM(subject, mode or "grammar", prompt_version=prompt_version, name=name, **options)
        if task == "extraction":
            return ExtractionLLM(subject, mode or "free", prompt_version=prompt_version, name=name, **options)
        if task == "routing":
            return RoutingLLM(subject, mode or "plain", prompt_version=prompt_version, name=name, **options)
        raise RightsizeError(f"unknown task {task!r}: use triage, extraction or routing")
    if isinstance(subject, Predictor):
        return subject
    if callable(getattr(subject, "complete", None)) and task == "routing":
        return RouterPredictor(subject, name=name, **options)
    raise RightsizeError(f"cannot evaluate a {type(subject).__name__}: pass a model name, a provider, a "
                         "KeywordRuleGate/TfidfClassifier, a router (routing set) or a Predictor")


def evaluate(
    subject: Any,
    dataset: Dataset[Any],
    *,
    task: str | None = None,
    mode: str | None = None,
    prompt_version: int | None = None,
    limit: int | None = None,
    cache: bool = True,
    refresh: bool = False,
    progress: bool = False,
    name: str | None = None,
    cache_store: EvalCache | None = None,
    **options: Any,
) -> EvalRun:
    """Run ``subject`` over ``dataset`` (its first ``limit`` items) and return an :class:`EvalRun`.

    ``subject`` is a model id or alias (``"local"``), a :class:`ModelInfo`, a provider, a
    classifier from :mod:`rightsize.baselines` (rule gate, TF-IDF, nearest ticket),
    a router (routing set only), or a predictor. ``task`` defaults to the dataset's name; ``mode``
    picks how an LLM is asked (triage: ``zero_shot``, ``grammar``, ``few_shot``; extraction:
    ``free``, ``grammar``). ``options`` go to the model (``max_tokens``...).

    With ``cache=True`` records are read from and written to the evaluation cache (see
    :mod:`rightsize.evals.cache`); ``refresh=True`` ignores cached records and measures again (the new
    records replace those of the same items in your cache; other items keep theirs). The predictor
    must fit the dataset (:func:`check_fits`): known labels, a schema the gold answers satisfy.
    """
    if not isinstance(dataset, Dataset):
        raise RightsizeError(f"evaluate() needs a Dataset from rightsize.datasets (load_triage(), ...), "
                             f"not {type(dataset).__name__}")
    if len(dataset) == 0:
        raise RightsizeError("the dataset is empty: nothing to evaluate")
    task = task or dataset.name
    if task != dataset.name:
        raise RightsizeError(f"the task is {task!r} but the dataset is {dataset.name!r}: load the matching dataset")
    predictor = as_predictor(subject, task=task, mode=mode, prompt_version=prompt_version, name=name, **options)
    items = dataset.head(limit).items
    check_fits(predictor, dataset, items)
    identity = predictor.identity() if cache else None
    store = cache_store or EvalCache()
    key = cache_key(identity, dataset.name, dataset.content_hash) if identity is not None else None
    hit = store.load(task, key) if key is not None and not refresh else None

    records: list[ItemRecord] = []
    fresh: list[ItemRecord] = []
    sources: Counter[str] = Counter()
    started = session_header()  # when and at what load the run began
    iterator: Any = items
    to_run = sum(1 for item in items if hit is None or item.id not in hit.records)
    if progress and to_run:  # a bar only when there is something to wait for (not for cached answers)
        from tqdm.auto import tqdm

        iterator = tqdm(items, desc=predictor.name, file=sys.stderr, leave=False)
    try:
        for item in iterator:
            cached = hit.records.get(item.id) if hit is not None else None
            if cached is not None and hit is not None:
                records.append(cached)
                sources[hit.sources[item.id]] += 1
                continue
            record = predictor.predict(item)
            records.append(record)
            fresh.append(record)
            sources["run"] += 1
    finally:
        if key is not None and fresh and identity is not None:
            header = {**started, "name": predictor.name, "identity": identity, "dataset": dataset.key}
            if refresh:  # the re-measured items replace their old records; other items keep theirs
                store.forget(task, key, [r.id for r in fresh])
            store.append(task, key, predictor.name, header, fresh)

    info = getattr(predictor, "info", None)
    prompt = getattr(predictor, "prompt", None)
    source = next(iter(sources)) if len(sources) == 1 else "mixed: " + ", ".join(f"{n} {s}" for s, n in sources.items())
    from_cache = [r.id for r in records if hit is not None and r.id in hit.records]
    measured = (hit.meta_of(from_cache) if hit is not None else []) + ([header_summary(started, "run")] if fresh else [])
    meta: dict[str, Any] = {"source": source, "sources": dict(sources), "cache_key": key,
                            "measured": [{k: m.get(k) for k in ("measured_at", "cpu", "cores", "load_average_1m",
                                                                 "source") if k in m} for m in measured]}
    labels = list(getattr(predictor, "labels", None) or dataset.labels or []) or None
    return EvalRun(
        name=predictor.name, model=predictor.model_id, task=task, mode=predictor.mode, dataset=dataset.key,
        split=dataset.split, records=records, prompt_id=prompt.id if prompt else None,
        prompt_version=prompt.version if prompt else None, labels=labels,
        price_read_on=str(info.price.read_on) if info is not None else None,
        price_note=info.price.source if info is not None else "runs on your CPU: no per-request price",
        meta=meta,
    )


def check_fits(predictor: Predictor, dataset: Dataset[Any], items: Sequence[Any] | None = None) -> None:
    """Refuse, with a clear error, a predictor that cannot be graded fairly on ``dataset``.

    - triage: every label the predictor may answer must be one the dataset defines, and every
      gold label of the items must be one the predictor can answer (else it could never be right);
    - extraction: every expected answer must match the schema the predictor asks the model for
      (else a correct extraction would fail validation).
    """
    items = dataset.items if items is None else items
    labels = getattr(predictor, "labels", None)
    if dataset.name == "triage" and labels:
        defined = list(dataset.labels)
        unknown = [label for label in labels if defined and label not in defined]
        if unknown:
            raise RightsizeError(f"{predictor.name} may answer the label(s) {', '.join(map(repr, unknown))}, which "
                                 f"the dataset does not define (its labels: {', '.join(defined)}); fix the labels")
        missing = sorted({str(item.category) for item in items} - set(labels))
        if missing:
            raise RightsizeError(f"the dataset has items labelled {', '.join(map(repr, missing))}, but {predictor.name} "
                                 f"can only answer {', '.join(labels)}: give it every label of the dataset")
    schema = getattr(predictor, "schema", None)
    if dataset.name == "extraction" and isinstance(schema, Mapping):
        from ..structured import validate

        for item in items:
            errors = validate(dict(item.expected), schema)
            if errors:
                raise RightsizeError(f"schema mismatch: the expected answer of item {item.id!r} does not match the "
                                     f"schema {predictor.name} asks for ({errors[0]}); use the dataset's schema, "
                                     "rightsize.datasets.extraction_schema(), or a compatible one")


@dataclass(frozen=True)
class DeterminismReport:
    """The answers to one prompt sent ``n`` times, and how many were different."""

    model: str
    n: int
    temperature: float | None
    answers: tuple[str, ...]
    latencies: tuple[float, ...]

    @property
    def distinct(self) -> int:
        return len(set(self.answers))

    @property
    def identical(self) -> bool:
        """True when every answer was the same, character for character."""
        return self.distinct == 1

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.answers)

    def __str__(self) -> str:
        verdict = "all identical" if self.identical else f"{self.distinct} different answers"
        at = "its default temperature" if self.temperature is None else f"temperature {self.temperature:g}"
        return f"{self.model} at {at}: {self.n} runs, {verdict}"


def determinism(model: Any, prompt: str | list[dict[str, str]], *, n: int = 5, temperature: float | None = 0.0,
                system: str | None = None, **options: Any) -> DeterminismReport:
    """Send the same prompt ``n`` times and compare the answers character by character.

    At temperature 0 the local model decodes greedily, so its answers should be identical; cloud
    models often are not quite, even at 0 (batching and floating-point order on their servers).
    """
    from ..providers import Provider, connect

    if n < 2:
        raise RightsizeError(f"a determinism check needs at least 2 runs, not {n}")
    provider = model if isinstance(model, Provider) else connect(model)
    options.setdefault("max_tokens", 48)
    answers, latencies = [], []
    for _ in range(n):
        chosen = {} if temperature is None else {"temperature": temperature}  # None: the model's own default
        response = provider.complete(prompt, system=system, **chosen, **options)
        answers.append(response.text)
        latencies.append(float(response.end_to_end or 0.0))
    return DeterminismReport(provider.model.id, n, temperature, tuple(answers), tuple(latencies))
