"""The non-LLM tiers: a keyword rule gate that abstains, and a calibrated TF-IDF classifier."""

from __future__ import annotations

import numpy as np
import pytest

from rightsize.baselines import (
    KeywordRule,
    KeywordRuleGate,
    TfidfClassifier,
    compute_cost,
)
from rightsize.datasets import load_triage, triage_labels
from rightsize.errors import RightsizeError
from rightsize.evals.metrics import expected_calibration_error


@pytest.fixture(scope="module")
def tfidf() -> TfidfClassifier:
    return TfidfClassifier.from_triage("train")


@pytest.mark.parametrize(("text", "label"), [
    ("I was charged twice for my subscription this month.", "billing"),
    ("I can't log in, the password reset email never arrives.", "account"),
    ("Where is my parcel? Tracking hasn't updated in five days.", "shipping"),
    ("I want a refund for the Hub I bought last week.", "refund"),
    ("The app crashes every time I open the energy dashboard.", "technical"),
    ("Please add a dark mode, that would be great!", "feedback"),
    # negated keyword: "not a refund request" must not make it a refund (labels.yaml, rule 0)
    ("This is not a refund request: I need a copy of my March invoice.", "billing"),
    # decision order: a locked-out customer asking for money back is account (rule 1 before rule 3)
    ("Locked out of my account since Monday, and I want a refund for this month.", "account"),
])
def test_rule_gate_on_hand_picked_tickets(text: str, label: str) -> None:
    prediction = KeywordRuleGate().predict_one(text)
    assert prediction.label == label
    assert 0 < prediction.confidence <= 1 and prediction.latency_s >= 0 and prediction.cost_usd == 0


def test_rule_gate_abstains_when_no_rule_fires() -> None:
    prediction = KeywordRuleGate().predict_one("Hello there, quick question.")
    assert prediction.abstained and prediction.label is None and prediction.confidence == 0


def test_rule_gate_confidence_is_the_share_of_agreeing_keywords() -> None:
    gate = KeywordRuleGate([KeywordRule("billing", "money", ("invoice",)), KeywordRule("technical", "bugs", ("error", "crash"))])
    prediction = gate.predict_one("The invoice page shows an error and then a crash.")
    assert prediction.label == "billing" and prediction.confidence == pytest.approx(1 / 3)
    assert gate.explain("invoice error") == [("billing", "money", 1), ("technical", "bugs", 1)]
    strict = KeywordRuleGate(gate.rules, abstain_below=0.5)
    assert strict.predict_one("The invoice page shows an error and then a crash.").abstained
    with pytest.raises(RightsizeError, match="at least one rule"):
        KeywordRuleGate([])


def test_tfidf_probabilities_sum_to_one_over_the_six_labels(tfidf: TfidfClassifier) -> None:
    assert sorted(tfidf.classes_) == sorted(triage_labels())
    texts = [item.text for item in load_triage("dev")][:20]
    proba = tfidf.predict_proba(texts)
    assert proba.shape == (20, 6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    prediction = tfidf.predict_one(texts[0])
    assert prediction.confidence == pytest.approx(max(prediction.probabilities.values()))
    assert prediction.label == tfidf.predict(texts[:1])[0] and prediction.latency_s > 0


def test_tfidf_beats_the_rule_gate_on_dev_and_is_roughly_calibrated(tfidf: TfidfClassifier) -> None:
    dev = load_triage("dev")
    gold = [item.category for item in dev]
    gate = KeywordRuleGate().predict([item.text for item in dev])
    predictions = tfidf.predict_with_confidence([item.text for item in dev])
    gate_accuracy = np.mean([p == g for p, g in zip(gate, gold)])
    tfidf_accuracy = np.mean([p.label == g for p, g in zip(predictions, gold)])
    assert tfidf_accuracy > gate_accuracy
    correct = [p.label == g for p, g in zip(predictions, gold)]
    assert expected_calibration_error([p.confidence for p in predictions], correct, bins=5) < 0.2


def test_tfidf_retrieves_similar_texts(tfidf: TfidfClassifier) -> None:
    candidates = ["my parcel is late", "refund my order please", "the app crashes on start"]
    assert tfidf.nearest("the app keeps crashing", candidates, k=1) == [2]
    assert len(tfidf.nearest("x", candidates, k=5)) == 3


def test_tfidf_errors_say_what_to_do() -> None:
    with pytest.raises(RightsizeError, match="not trained yet"):
        TfidfClassifier().predict(["x"])
    with pytest.raises(RightsizeError, match="aligned"):
        TfidfClassifier().fit(["a", "b"], ["billing"])
    with pytest.raises(RightsizeError, match="too few training examples"):
        TfidfClassifier().fit(["a", "b", "c"], ["billing", "billing", "refund"])


def test_compute_cost_of_cpu_time() -> None:
    assert compute_cost(0.036, 1.0) == pytest.approx(0.00001)


def test_nearest_ticket_answers_with_the_most_similar_label(tfidf: TfidfClassifier) -> None:
    from rightsize.baselines import NearestTicket

    nearest = NearestTicket(tfidf, ["my parcel is late", "the app crashes on start"], ["shipping", "technical"])
    prediction = nearest.predict_one("the app keeps crashing on start")
    assert prediction.label == "technical" and 0 < prediction.confidence <= 1
    with pytest.raises(RightsizeError, match="as many labels as texts"):
        NearestTicket(tfidf, ["a"], [])
