"""The local model adapted to triage (rightsize.evals.embeddings): the shipped run, the head's
data discipline, and a fresh computation with the real model against the shipped records."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rightsize.datasets import load_triage
from rightsize.errors import RightsizeError
from rightsize.evals import evaluate
from rightsize.evals.cache import EvalCache, shipped_cache_dir
from rightsize.evals.compare import format_latency
from rightsize.evals.embeddings import (
    FIT_SPLITS,
    EmbeddingClassifier,
    EmbeddingHead,
    EmbeddingPredictor,
    get_embedder,
    triage_vectors,
)
from rightsize.evals.records import EvalRun

TEST = load_triage("test")


@pytest.fixture
def store(tmp_path: Path) -> EvalCache:
    """An empty user cache in front of the shipped one."""
    return EvalCache(user_dir=tmp_path, use_shipped=True)


@pytest.fixture
def shipped_run(store: EvalCache) -> tuple[EmbeddingPredictor, EvalRun]:
    predictor = EmbeddingPredictor(cache_store=store)
    return predictor, evaluate(predictor, TEST, cache_store=store)


def test_the_shipped_run_is_read_offline_and_matches_the_shipped_report(
        shipped_run: tuple[EmbeddingPredictor, EvalRun]) -> None:
    predictor, run = shipped_run
    assert run.meta["sources"] == {"shipped": len(TEST)}  # every test ticket, none measured now
    assert predictor._classifier is None  # so neither the model nor the vectors were loaded
    (measured,) = run.meta["measured"]
    assert {"measured_at", "cpu", "cores", "load_average_1m"} <= set(measured)
    for record in run.records:
        assert record.e2e == pytest.approx(record.extra["embed_s"] + record.extra["head_s"])
        assert record.extra["embed_s"] > record.extra["head_s"] > 0
        probabilities = record.extra["probabilities"]
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert record.predicted == max(probabilities, key=probabilities.__getitem__)
        assert record.confidence == probabilities[record.predicted] and record.cost_usd == 0
    assert run.cost_per_10k == 0
    # the table shipped beside the records (and quoted in the README) shows these same numbers
    report = (shipped_cache_dir() / "triage" / "report.txt").read_text(encoding="utf-8")
    row = next(line for line in report.splitlines()  # the tier table comes before the paired one
               if re.match(rf"{re.escape(run.name)}\s{{2}}", line))
    for shown in (f"{run.accuracy:.3f}", f"{run.n_correct}/{len(run)}", format_latency(run.latency_p50),
                  format_latency(run.latency_p95)):
        assert shown in row, (shown, row)


def test_the_suite_adds_the_adapted_tier_only_beside_the_local_model() -> None:
    from rightsize.evals import run_triage_suite

    suite = run_triage_suite(models=["local"], modes=[], limit=12)
    (adapted,) = [run for run in suite.runs if run.name == EmbeddingClassifier.name]
    assert len(adapted) == 12 and adapted.meta["source"] == "shipped"
    assert EmbeddingClassifier.name in suite.report()
    assert EmbeddingClassifier.name not in [run.name for run in run_triage_suite(models=[], modes=[], limit=12).runs]


def _spy_on_fitting(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Record every array the head's pipelines are fitted on and scored on."""
    seen: dict[str, list[Any]] = {"fit": [], "scored": []}
    build = EmbeddingHead._build

    def spying_build(self: EmbeddingHead, C: float) -> Any:
        pipeline = build(self, C)
        fit, score = pipeline.fit, pipeline.predict_proba

        def spy_fit(X: np.ndarray, y: list[str]) -> Any:
            seen["fit"].append((np.array(X), list(y)))
            return fit(X, y)

        def spy_score(X: np.ndarray) -> Any:
            seen["scored"].append(np.array(X))
            return score(X)

        pipeline.fit, pipeline.predict_proba = spy_fit, spy_score
        return pipeline

    monkeypatch.setattr(EmbeddingHead, "_build", spying_build)
    return seen


def test_the_head_is_fitted_on_train_and_chosen_on_dev_only(
        store: EvalCache, shipped_run: tuple[EmbeddingPredictor, EvalRun], monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_fitting(monkeypatch)
    vectors = triage_vectors(cache_store=store)
    assert vectors.source == "shipped" and set(vectors.splits) == set(FIT_SPLITS) == {"train", "dev"}
    assert {"cpu", "cores", "load_average_1m", "wall_seconds"} <= set(vectors.meta)
    train, dev = vectors["train"], vectors["dev"]
    assert list(train.ids) == [t.id for t in load_triage("train")] and list(dev.ids) == [t.id for t in load_triage("dev")]
    assert not {t.id for t in TEST} & (set(train.ids) | set(dev.ids))  # no test ticket was even embedded

    classifier = EmbeddingClassifier.from_triage(cache_store=store)
    head = classifier.head
    assert len(seen["fit"]) == len(head.c_grid)  # one fit per candidate C, each on train alone
    for X, y in seen["fit"]:
        assert np.array_equal(X, train.vectors.astype(np.float32)) and y == train.labels()
    assert len(seen["scored"]) == len(head.c_grid)  # each candidate scored once, on dev alone
    for X in seen["scored"]:
        assert np.array_equal(X, dev.vectors.astype(np.float32))
    # the chosen C has the best dev accuracy, and that accuracy is what the kept head scores on dev
    assert head.C is not None
    assert head.dev_scores[head.C][0] == max(accuracy for accuracy, _ in head.dev_scores.values())
    predicted = np.array(head.classes_)[head.predict_proba(dev.vectors).argmax(axis=1)]
    assert np.mean(predicted == np.array(dev.labels())) == head.dev_scores[head.C][0]
    # the shipped run was made by this same procedure
    _, run = shipped_run
    assert {r.extra["C"] for r in run.records} == {head.C}


def test_the_head_refuses_what_it_cannot_fit() -> None:
    with pytest.raises(RightsizeError, match="at least one value of C"):
        EmbeddingHead(c_grid=())
    with pytest.raises(RightsizeError, match="dev has labels the train split lacks: \\['refund'\\]"):
        EmbeddingHead().fit(np.zeros((2, 3)), ["a", "b"], np.zeros((1, 3)), ["refund"])
    with pytest.raises(RightsizeError, match="unknown pooling 'max': use one of mean, last"):
        EmbeddingPredictor("max")
    with pytest.raises(RightsizeError, match="not trained yet"):
        EmbeddingHead().predict_proba(np.zeros((1, 3)))


@pytest.mark.slow
def test_fresh_embeddings_with_the_real_model_give_the_shipped_predictions(
        store: EvalCache, shipped_run: tuple[EmbeddingPredictor, EvalRun], monkeypatch: pytest.MonkeyPatch) -> None:
    """A handful of test tickets embedded and classified now, against the shipped records.

    On the machine that built the cache the vectors are bit-identical (llama.cpp's embedding pass
    is deterministic here, whatever the thread count); another CPU may round its quantized
    matrix products differently, so vectors are compared within 1% and probabilities within
    0.01, on tickets whose top two probabilities are at least 0.05 apart (a near tie could flip).
    """
    _, run = shipped_run
    records = {r.id: r for r in run.records}
    (chosen_C,) = {r.extra["C"] for r in run.records}

    def margin(probabilities: dict[str, float]) -> float:
        top, second = sorted(probabilities.values(), reverse=True)[:2]
        return top - second

    items = [t for t in TEST if margin(records[t.id].extra["probabilities"]) >= 0.05][:5]
    seen = _spy_on_fitting(monkeypatch)
    # the shipped head's C alone: the same fit as the full choice made, in a fraction of the time
    predictor = EmbeddingPredictor(cache_store=store, head=EmbeddingHead(c_grid=(chosen_C,)))
    for item in items:
        fresh = predictor.predict(item)
        shipped = records[item.id]
        assert fresh.predicted == shipped.predicted, item.id
        for label, p in shipped.extra["probabilities"].items():
            assert fresh.extra["probabilities"][label] == pytest.approx(p, abs=0.01), (item.id, label)
        assert fresh.e2e is not None and fresh.e2e > 0
    assert len(seen["fit"]) == 1  # trained once, before the first ticket; classifying never refits

    train = triage_vectors(cache_store=store)["train"]
    embedder = get_embedder()
    for row in (0, len(train.ids) - 1):
        vector, _ = embedder.embed_one(load_triage("train").by_id(train.ids[row]).text)
        np.testing.assert_allclose(vector.astype(np.float32), train.vectors[row].astype(np.float32),
                                   rtol=0.01, atol=0.01)
