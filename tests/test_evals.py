"""The evaluation harness: metrics by hand, predictors on scripted models, the cache, cascades, plots."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from rightsize.baselines import KeywordRuleGate, TfidfClassifier
from rightsize.datasets import Dataset, load_extraction, load_routing, load_triage
from rightsize.errors import RightsizeError
from rightsize.evals import (
    EvalRun,
    ExtractionLLM,
    HumanReview,
    TriageLLM,
    build_cascade,
    compare,
    determinism,
    evaluate,
    paired_comparison,
    pareto_plot,
)
from rightsize.evals.cache import EvalCache
from rightsize.evals.compare import format_latency, pareto_front
from rightsize.evals.metrics import (
    accuracy,
    confusion_matrix,
    expected_calibration_error,
    field_matches,
    per_class_report,
    percentile,
)
from rightsize.evals.predictors import label_confidence, parse_label
from rightsize.evals.records import ItemRecord
from rightsize.evals.scripted import ScriptedProvider
from rightsize.evals.suites import extraction_table
from rightsize.stats import paired_test, wilson_interval

LABELS = ["billing", "technical", "account", "shipping", "refund", "feedback"]


@pytest.fixture
def store(tmp_path: Path) -> EvalCache:
    return EvalCache(tmp_path / "user", tmp_path / "shipped", use_shipped=True)


# -- metrics, checked by hand ---------------------------------------------------------------------------


def test_accuracy_confusion_and_per_class_on_a_handmade_example() -> None:
    gold = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", None, "a"]
    assert accuracy(gold, pred) == pytest.approx(3 / 6)
    matrix = confusion_matrix(gold, pred, ["a", "b", "c"])
    assert list(matrix.columns) == ["a", "b", "c", "(none)"]
    assert matrix.loc["a"].tolist() == [2, 1, 0, 0]
    assert matrix.loc["b"].tolist() == [0, 1, 0, 1]
    assert matrix.loc["c"].tolist() == [1, 0, 0, 0]
    report = per_class_report(gold, pred, ["a", "b", "c"])
    # a: predicted 3 times, 2 right -> P 2/3; 3 gold, 2 found -> R 2/3
    assert report.loc["a", "precision"] == pytest.approx(2 / 3) and report.loc["a", "recall"] == pytest.approx(2 / 3)
    # b: predicted 2, right 1 -> P 1/2; gold 2, found 1 -> R 1/2; F1 1/2
    assert report.loc["b", "f1"] == pytest.approx(0.5)
    assert report.loc["c", "precision"] == 0 and report.loc["c", "f1"] == 0  # never predicted
    assert report.loc["macro avg", "recall"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    with pytest.raises(ValueError, match="3 gold answers but 2"):
        accuracy(["a", "b", "c"], ["a", "b"])


def test_percentiles_interpolate_and_skip_missing_values() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    assert percentile([None, 5.0], 50) == 5.0
    assert math.isnan(percentile([], 50))


def test_field_matches_follows_the_dataset_readme() -> None:
    expected = {"customer_name": "Chloé Martin", "product": "ceramic mugs", "quantity": 3, "unit_price": 12.5,
                "currency": "EUR", "delivery_date": None, "express": False}
    got = {"customer_name": " chloé martin", "product": "Ceramic Mugs", "quantity": 3.0, "unit_price": 12.504,
           "currency": "EUR", "delivery_date": "2026-01-01", "express": 0}
    result = field_matches(expected, got)
    assert result == {"customer_name": True, "product": True, "quantity": True, "unit_price": True,
                      "currency": True, "delivery_date": False, "express": False}  # 0 is not false
    assert not any(field_matches(expected, "not an object").values())


def test_calibration_error_of_a_perfect_and_an_overconfident_model() -> None:
    assert expected_calibration_error([0.5] * 4, [True, False, True, False]) == pytest.approx(0)
    assert expected_calibration_error([0.9] * 4, [True, False, False, False]) == pytest.approx(0.65)


# -- reading an LLM's label and its confidence -----------------------------------------------------------


def test_parse_label_prefers_json_then_the_first_label_word() -> None:
    assert parse_label('{"category": "refund"}', LABELS)[0] == "refund"
    label, span, was_json = parse_label("I would say Billing, not refund.", LABELS)
    assert label == "billing" and span == (12, 19) and not was_json
    assert parse_label("The answer is: bricklace", LABELS) == (None, None, False)


def test_label_confidence_multiplies_the_label_tokens_probabilities() -> None:
    fake = ScriptedProvider([[('{"category": "', -0.1), ("bill", math.log(0.5)), ("ing", math.log(0.8)), ('"}', -0.01)]],
                            logprobs=True)
    response = fake.complete("x", logprobs=True)
    label, span, _ = parse_label(response.text, LABELS)
    assert label == "billing"
    assert label_confidence(response, span) == pytest.approx(0.4)
    assert label_confidence(response, None) is None


# -- predictors and the cache ---------------------------------------------------------------------------


def _triage_fake(labels: list[str]) -> ScriptedProvider:
    return ScriptedProvider([[('{"category": "', -0.1), (label, -0.2), ('"}', -0.01)] for label in labels],
                            logprobs=True, price=(1.0, 2.0))


def test_evaluate_a_scripted_model_on_triage(store: EvalCache) -> None:
    data = load_triage("dev").head(4)
    answers = [data[0].category, data[1].category, "feedback" if data[2].category != "feedback" else "billing",
               data[3].category]
    fake = _triage_fake(answers)
    run = evaluate(fake, data, mode="grammar", cache_store=store)
    assert run.accuracy == pytest.approx(0.75) and run.n_correct == 3 and len(run) == 4
    assert run.prompt_id == "triage/v2/default/json"  # a cloud-like model gets the default variant
    assert fake.requests[0].options.json_schema["properties"]["category"]["enum"] == LABELS
    record = run.records[0]
    assert record.confidence == pytest.approx(math.exp(-0.2)) and record.parse_ok
    # cost from the (made-up) list price: $1 / $2 per million input / output tokens
    assert record.cost_usd == pytest.approx((record.input_tokens * 1 + record.output_tokens * 2) / 1e6)
    assert run.cost_per_10k == pytest.approx(run.cost_per_request * 10_000)
    assert run.meta["source"] == "run" and run.price_read_on == "2026-01-01"
    assert run.confusion().values.sum() == 4 and "macro avg" in run.per_class().index
    assert set(run.accuracy_by("difficulty").index) <= {"easy", "ambiguous", "adversarial"}


def test_a_cache_hit_makes_no_model_call(store: EvalCache) -> None:
    data = load_triage("dev").head(3)
    first = evaluate(_triage_fake([i.category for i in data]), data, mode="grammar", cache_store=store)
    idle = _triage_fake([])  # raises if it is asked anything
    again = evaluate(idle, data, mode="grammar", cache_store=store)
    assert idle.calls == 0 and again.meta["source"] == "cache"
    assert [r.to_json() for r in again.records] == [r.to_json() for r in first.records]
    # one more item runs only that item
    more = _triage_fake([load_triage("dev")[3].category])
    evaluate(more, load_triage("dev").head(4), mode="grammar", cache_store=store)
    assert more.calls == 1
    # refresh measures again
    fresh = _triage_fake([i.category for i in data])
    assert evaluate(fresh, data, mode="grammar", cache_store=store, refresh=True).meta["source"] == "run"
    assert fresh.calls == 3


def test_the_cache_key_follows_prompt_options_and_mode(store: EvalCache) -> None:
    data = load_triage("dev").head(1)
    evaluate(_triage_fake([data[0].category]), data, mode="grammar", cache_store=store)
    other = _triage_fake([data[0].category, data[0].category])
    evaluate(other, data, mode="grammar", cache_store=store, max_tokens=20)  # other options
    evaluate(other, data, mode="zero_shot", cache_store=store)  # other mode and prompt
    assert other.calls == 2


def test_the_shipped_cache_is_read_but_never_written(tmp_path: Path) -> None:
    data = load_triage("dev").head(2)
    shipped = EvalCache(tmp_path / "shipped", tmp_path / "none", use_shipped=False)
    evaluate(_triage_fake([i.category for i in data]), data, mode="grammar", cache_store=shipped)
    before = {p: p.read_text() for p in (tmp_path / "shipped").rglob("*.jsonl")}
    user = EvalCache(tmp_path / "user", tmp_path / "shipped", use_shipped=True)
    idle = _triage_fake([])
    run = evaluate(idle, data, mode="grammar", cache_store=user)
    assert idle.calls == 0 and run.meta["source"] == "shipped"
    assert {p: p.read_text() for p in (tmp_path / "shipped").rglob("*.jsonl")} == before
    assert run.meta["measured"] and "cpu" in run.meta["measured"][0]
    ignoring = EvalCache(tmp_path / "user", tmp_path / "shipped", use_shipped=False)
    with pytest.raises(RightsizeError, match="no scripted reply"):
        evaluate(_triage_fake([]), data, mode="grammar", cache_store=ignoring)


def test_cache_files_are_recordings_a_header_then_records(store: EvalCache) -> None:
    data = load_triage("dev").head(2)
    evaluate(_triage_fake([i.category for i in data]), data, mode="grammar", cache_store=store)
    (path,) = list((store.user_dir / "triage").glob("*.jsonl"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    head = lines[0]
    assert (head["type"], head["kind"], head["format"]) == ("header", "evaluation", 2)
    assert head["identity"]["model"] == "scripted-model" and head["machine"]["cores"] >= 1
    assert [line["type"] for line in lines[1:]] == ["record", "record"]


def test_classifiers_are_evaluated_without_the_cache(store: EvalCache) -> None:
    data = load_triage("dev").head(10)
    run = evaluate(KeywordRuleGate(), data, cache_store=store)
    assert run.meta["source"] == "run" and run.cost_per_10k == 0 and 0 <= run.coverage <= 1
    assert not (store.user_dir / "triage").exists()
    assert all(r.e2e is not None and r.e2e >= 0 for r in run.records)


def test_few_shot_sends_retrieved_train_examples_as_turns(store: EvalCache) -> None:
    train = load_triage("train")
    retriever = TfidfClassifier(folds=2).fit([t.text for t in train][:60], [t.category for t in train][:60])
    item = load_triage("dev").head(1)
    fake = _triage_fake([item[0].category])
    predictor = TriageLLM(fake, "few_shot", k=3, retriever=retriever)
    run = evaluate(predictor, item, cache_store=store)
    messages = fake.requests[0].messages
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3 + ["user"]
    assert json.loads(messages[1]["content"])["category"] in LABELS
    assert run.records[0].extra["retrieval_s"] >= 0 and run.records[0].correct


def test_extraction_records_each_stage_and_the_retry(store: EvalCache) -> None:
    data = load_extraction("dev").head(2)
    good = [json.dumps(dict(item.expected)) for item in data]
    fake = ScriptedProvider(["I cannot do that.", good[0], "```json\n" + good[1] + "\n```"])
    run = evaluate(ExtractionLLM(fake, "free"), data, cache_store=store)
    first, second = run.records
    assert first.extra["stage"] == "retry" and first.extra["calls"] == 2 and first.correct
    assert first.extra["stages"]["raw"]["parse_ok"] is False and first.extra["stages"]["final"]["exact"] is True
    assert second.extra["stage"] == "lenient" and second.extra["repairs"] == ["removed a Markdown code fence"]
    table = extraction_table([run]).set_index("measure")
    assert table.loc["as returned (json.loads)", "parse_ok"] == 0
    assert table.loc["+ lenient parse", "schema_ok"] == 0.5
    assert table.loc["+ 1 retry with the errors", "schema_ok"] == 1.0
    assert table.loc["+ 1 retry with the errors", "calls_per_item"] == 1.5
    assert run.field_accuracy().min() == 1.0


def test_routing_answers_are_graded_by_their_checks(store: EvalCache) -> None:
    data = load_routing("dev").head(2)  # r001 Paris, r002 7 + 5
    run = evaluate(ScriptedProvider(["Paris.", "13"]), data, cache_store=store)
    assert [r.correct for r in run.records] == [True, False]


def test_bad_input_is_a_clear_error(store: EvalCache) -> None:
    data = load_triage("dev").head(2)
    with pytest.raises(RightsizeError, match="needs a Dataset"):
        evaluate(KeywordRuleGate(), [1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(RightsizeError, match="the task is 'extraction' but the dataset is 'triage'"):
        evaluate(KeywordRuleGate(), data, task="extraction")
    with pytest.raises(RightsizeError, match="unknown triage mode 'chain_of_thought'"):
        evaluate(_triage_fake([]), data, mode="chain_of_thought", cache_store=store)
    with pytest.raises(RightsizeError, match="cannot evaluate a int"):
        evaluate(42, data)
    empty = Dataset("triage", (), data.path, data.content_hash)
    with pytest.raises(RightsizeError, match="empty"):
        evaluate(KeywordRuleGate(), empty)
    with pytest.raises(RightsizeError, match="no items"):
        EvalRun("x", "m", "triage", "m", "d", None, [])


def test_determinism_counts_distinct_answers() -> None:
    same = determinism(ScriptedProvider(["ok"] * 3), "hi", n=3)
    assert same.identical and same.distinct == 1 and "all identical" in str(same)
    different = determinism(ScriptedProvider(["a", "b", "a"]), "hi", n=3)
    assert not different.identical and different.counts["a"] == 2
    with pytest.raises(RightsizeError, match="at least 2"):
        determinism(ScriptedProvider(["a"]), "hi", n=1)


# -- comparing, plotting, cascades ------------------------------------------------------------------------


def _run(name: str, answers: list[tuple[str, str, float | None]], *, latency: float = 0.01, cost: float = 0.0,
         split: str = "test") -> EvalRun:
    records = [ItemRecord(id=f"i{k}", gold=gold, predicted=pred, raw_text=None, parse_ok=None, schema_ok=None,
                          correct=pred == gold, ttft=None, e2e=latency, input_tokens=None, output_tokens=None,
                          cost_usd=cost, confidence=conf) for k, (gold, pred, conf) in enumerate(answers)]
    return EvalRun(name, name, "triage", "test", f"triage:{split}@x", split, records, labels=["a", "b"])


def test_compare_and_the_pareto_plot() -> None:
    cheap = _run("cheap", [("a", "a", 0.9), ("b", "a", 0.6)], latency=0.001)
    strong = _run("strong", [("a", "a", 0.9), ("b", "b", 0.9)], latency=2.0, cost=0.001)
    worse = _run("worse", [("a", "b", 0.9), ("b", "a", 0.9)], latency=3.0, cost=0.002)
    frame = compare([cheap, strong, worse])
    assert frame.loc["strong", "accuracy"] == 1.0 and frame.loc["strong", "cost_per_10k"] == pytest.approx(10.0)
    assert pareto_front([(0, 0.5), (10, 1.0), (20, 0.0)]) == [0, 1]
    ax = pareto_plot([cheap, strong, worse], x="cost_per_10k")
    assert "USD" in ax.get_xlabel() and "accuracy" in ax.get_ylabel()
    assert "(s)" in pareto_plot([cheap, strong], x="p95_latency").get_xlabel()
    with pytest.raises(RightsizeError, match="x must be one of"):
        pareto_plot([cheap], x="vibes")
    assert format_latency(0.0123) == "12.3 ms" and format_latency(1.5) == "1.50 s" and format_latency(3600) == "60.0 min"


def test_compare_gives_each_accuracy_its_interval_and_pairs_runs_on_the_same_items() -> None:
    gold = ["a", "b"] * 10
    # reference right on 16; the other right on 10 of those plus 2 the reference misses
    reference = _run("reference", [(g, g if k < 16 else ("b" if g == "a" else "a"), 0.9) for k, g in enumerate(gold)])
    other = _run("other", [(g, g if k < 10 or k >= 18 else ("b" if g == "a" else "a"), 0.9)
                           for k, g in enumerate(gold)])
    frame = compare([reference, other])
    assert frame.loc["reference", "n_correct"] == 16 and frame.loc["other", "n_correct"] == 12
    ci = wilson_interval(12, 20)
    assert (frame.loc["other", "accuracy_low"], frame.loc["other", "accuracy_high"]) == (ci.low, ci.high)
    assert "p_value" not in frame.columns  # only with against=
    paired = compare([reference, other], against="reference")
    assert paired.attrs["against"] == "reference"
    # only the reference is right on items 10-15 (6), only the other on items 18-19 (2): 2 * P(X <= 2), X ~ B(8, 1/2)
    row = paired.loc["other"]
    assert (row["only_this_right"], row["only_reference_right"]) == (2, 6)
    assert row["p_value"] == pytest.approx(2 * (1 + 8 + 28) / 256) and row["accuracy_diff"] == pytest.approx(-0.2)
    assert row["diff_low"] < -0.2 < row["diff_high"]
    assert math.isnan(paired.loc["reference", "p_value"])
    # the same items listed in another order pair by id, not by position
    shuffled = reference.subset([r.id for r in reversed(reference.records)])
    assert paired_comparison(other, shuffled) == paired_test([r.correct for r in other.records],
                                                             [r.correct for r in reference.records])
    with pytest.raises(RightsizeError, match="no run is named 'nope'"):
        compare([reference, other], against="nope")
    with pytest.raises(RightsizeError, match="not graded on the same items"):
        paired_comparison(other, reference.subset(["i0", "i1"]))


def test_cascade_thresholds_come_from_dev_and_review_is_charged_per_item() -> None:
    # tier 1 is right when confident (>= 0.8) on dev; on test it answers two items and escalates two
    dev = _run("t1", [("a", "a", 0.9), ("b", "b", 0.8), ("a", "b", 0.5), ("b", "a", 0.4)], split="dev")
    test = _run("t1", [("a", "a", 0.95), ("b", "b", 0.85), ("a", "b", 0.3), ("b", None, None)])
    review = HumanReview(cost_per_item=0.5, latency_s=600)
    cascade = build_cascade([(dev, test)], review=review, target_accuracy=1.0, names=["t1"])
    assert cascade.thresholds == {"t1": 0.8}
    assert cascade.accuracy == 1.0  # the reviewer fixes the two escalated items
    assert cascade.share_by_tier == {"t1": 0.5, "human review": 0.5}
    assert cascade.cost_per_request == pytest.approx(0.25) and cascade.cost_per_10k == pytest.approx(2500)
    assert cascade.latency_p50 == pytest.approx(300.01)  # half the items waited for the review
    assert compare([test, cascade]).loc[cascade.name, "accuracy"] == 1.0
    # the reviewer turned t1's two wrong test items into right ones: 2 discordant, both for the cascade
    versus = paired_comparison(cascade, test)
    assert (versus.only_a, versus.only_b, versus.p_value) == (2, 0, pytest.approx(0.5))
    assert cascade.correct_by_item() == {"i0": True, "i1": True, "i2": True, "i3": True}
    assert compare([test, cascade]).loc[cascade.name, "accuracy_low"] == pytest.approx(wilson_interval(4, 4).low)


def test_a_tier_that_never_reaches_the_target_accepts_nothing() -> None:
    dev = _run("weak", [("a", "b", 0.9), ("b", "a", 0.8)], split="dev")
    test = _run("weak", [("a", "a", 0.9), ("b", "a", 0.8)])
    cascade = build_cascade([(dev, test)], target_accuracy=0.9, names=["weak"])
    assert math.isinf(cascade.thresholds["weak"]) and cascade.notes
    assert cascade.share_by_tier["weak"] == 0 and cascade.accuracy == 1.0


# -- the real local model, on a handful of items -------------------------------------------------------------


@pytest.mark.slow
def test_local_model_grammar_mode_answers_a_label_with_a_confidence(store: EvalCache) -> None:
    run = evaluate("local", load_triage("dev").head(2), mode="grammar", cache_store=store)
    for record in run.records:
        assert record.predicted in LABELS and record.parse_ok
        assert record.confidence is not None and 0 < record.confidence <= 1
        assert record.e2e is not None and record.e2e > 0 and record.cost_usd == 0


@pytest.mark.slow
def test_local_model_extraction_with_grammar_is_valid_json(store: EvalCache) -> None:
    run = evaluate("local", load_extraction("dev").head(1), mode="grammar", cache_store=store, max_tokens=200)
    record = run.records[0]
    assert record.extra["stages"]["lenient"]["parse_ok"]  # the grammar makes it JSON (unless cut off)


# -- refresh, provenance, and what each tier is called -----------------------------------------------


def test_refresh_replaces_only_the_items_it_measures_and_keeps_their_provenance(store: EvalCache) -> None:
    dev, test = load_triage("dev").head(2), load_triage("test").head(2)
    evaluate(_triage_fake([i.category for i in dev]), dev, mode="grammar", cache_store=store)
    evaluate(_triage_fake([i.category for i in test]), test, mode="grammar", cache_store=store)
    # both splits share one cache file (the key is the dataset's content); refreshing test keeps dev
    fresh = _triage_fake([i.category for i in test])
    evaluate(fresh, test, mode="grammar", cache_store=store, refresh=True)
    idle = _triage_fake([])
    again = evaluate(idle, dev, mode="grammar", cache_store=store)
    assert idle.calls == 0 and again.meta["source"] == "cache"
    (path,) = list((store.user_dir / "triage").glob("*.jsonl"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sum(line["type"] == "record" for line in lines) == 4  # no item twice, none lost
    assert [line["dataset"] for line in lines if line["type"] == "header"] == [dev.key, test.key]
    # a run names only the sessions that measured its own items
    assert len(again.meta["measured"]) == 1
    assert evaluate(_triage_fake([]), test, mode="grammar", cache_store=store).meta["measured"][0]["source"] == "cache"


def test_tiers_are_named_for_what_they_are() -> None:
    from rightsize.evals.suites import mode_label, tier_label
    from rightsize.providers import endpoint_model

    assert tier_label("local") == "local LLM" and mode_label("local", "grammar") == "grammar (JSON enum)"
    assert tier_label("lab") == "local LLM via the lab server"
    assert tier_label("haiku") == "Claude Haiku 4.5 (cloud, anthropic, mid tier)"
    assert mode_label("haiku", "few_shot") == "few-shot k=4, JSON answer (no schema enforced)"
    assert tier_label("opus") == "Claude Opus 4.5 (cloud, anthropic, frontier tier)"
    assert mode_label("gpt-4o-mini", "grammar") == "JSON schema (JSON enum)"
    assert tier_label(endpoint_model("qwen", "http://gpu:8000/v1")) == "qwen (self-hosted endpoint)"


def test_triage_suite_escalates_to_a_cloud_tier_and_charges_its_list_price(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cloud model as the cascade's escalation tier (a scripted stand-in: no key here)."""
    from rightsize.evals import run_triage_suite

    monkeypatch.setenv("RIGHTSIZE_CACHE", str(tmp_path))
    test, dev = load_triage("test").head(10), load_triage("dev").head(10)
    # the suite runs the model on the test items, then on the dev items (to calibrate)
    cloud = ScriptedProvider([f'{{"category": "{i.category}"}}' for i in [*test, *dev]],
                             model_id="scripted-cloud", provider="openai", price=(1.0, 2.0))
    suite = run_triage_suite(models=[cloud], modes=["few_shot"], limit=10, target_accuracy=1.0)
    assert cloud.calls == 20
    name = "scripted-cloud (scripted replies) (cloud, openai, small tier)"
    (llm,) = [r for r in suite.runs if r.name.startswith(name)]
    assert llm.accuracy == 1.0 and llm.cost_per_request > 0
    to_cloud = next(c for c in suite.cascades if c.name == f"cascade: TF-IDF -> {name} few-shot")
    cost_by_item = [r.cost_usd for r in llm.records]
    escalated = [r.index for r in to_cloud.run.records if r.answered_by.startswith(name)]
    assert 0 < len(escalated) < 10  # TF-IDF keeps the tickets it is sure of, the cloud tier gets the rest
    assert to_cloud.cost_per_request == pytest.approx(sum(cost_by_item[i] for i in escalated) / 10)
    assert to_cloud.accuracy == 1.0
    assert to_cloud.tiers == ["TF-IDF", f"{name} few-shot"]
    report = suite.report()
    assert name in report and "local LLM" not in report


def test_evaluation_refuses_a_predictor_that_cannot_be_graded_fairly(store: EvalCache) -> None:
    data = load_triage("dev").head(4)
    with pytest.raises(RightsizeError, match="may answer the label\\(s\\) 'complaints', which the dataset does not"):
        evaluate(TriageLLM(_triage_fake([]), "grammar", labels=[*LABELS, "complaints"]), data, cache_store=store)
    few = [label for label in LABELS if label != data[0].category]
    with pytest.raises(RightsizeError, match=f"items labelled '{data[0].category}', but .* can only answer"):
        evaluate(TriageLLM(_triage_fake([]), "grammar", labels=few), data, cache_store=store)
    orders = load_extraction("dev").head(2)
    schema = {"type": "object", "properties": {"quantity": {"type": "string"}}, "required": ["quantity"]}
    with pytest.raises(RightsizeError, match=r"schema mismatch: the expected answer of item '\w+' does not match "
                                             r"the schema .* \(quantity: \d+ is not of type 'string'\)"):
        evaluate(ExtractionLLM(ScriptedProvider([]), "free", schema=schema), orders, cache_store=store)
    with pytest.raises(ValueError, match="gold label\\(s\\) 'c' not among the labels given \\(a, b\\)"):
        confusion_matrix(["a", "c"], ["a", "a"], ["a", "b"])
    with pytest.raises(ValueError, match="2 gold answers but 1 predictions"):
        per_class_report(["a", "b"], ["a"])


# -- intervals in the suite tables and in `rightsize eval` -------------------------------------------------


def test_the_triage_suite_frame_and_report_carry_intervals_and_paired_tests() -> None:
    from rightsize.evals import run_triage_suite

    suite = run_triage_suite(models=[], modes=[], limit=30)  # the classifiers and TF-IDF -> review only
    frame = suite.frame()
    for name, row in frame.iterrows():
        ci = wilson_interval(int(row["n_correct"]), int(row["items"]))
        assert (row["accuracy_low"], row["accuracy_high"]) == (ci.low, ci.high), name
        assert row["accuracy_low"] < row["accuracy"] <= row["accuracy_high"]
    assert {"accuracy", "p50_latency_s", "p95_latency_s", "cost_per_10k"} <= set(frame.columns)  # lessons use these
    paired = suite.frame(against="TF-IDF + logistic regression")
    gate = paired.loc["rule gate (keywords)"]
    runs = {run.name: run for run in suite.runs}
    assert gate["p_value"] == pytest.approx(
        paired_test([r.correct for r in runs["rule gate (keywords)"].records],
                    [r.correct for r in runs["TF-IDF + logistic regression"].records]).p_value)
    report = suite.report()
    assert "accuracy [95% CI]" in report and "p (McNemar)" in report
    tfidf = runs["TF-IDF + logistic regression"]
    assert re.search(rf"^TF-IDF \+ logistic regression +{re.escape(str(tfidf.accuracy_interval))} +{tfidf.n_correct}/30 ",
                     report, re.MULTILINE)


def test_rightsize_eval_prints_intervals_and_the_paired_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI as a student runs it; the local model's answers come from the shipped results."""
    from rightsize.cli import main

    assert main(["eval", "triage", "--modes", "grammar", "--limit", "12", "--quiet"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^(.+?)\s+(\d\.\d{3}) \[(\d\.\d\d), (\d\.\d\d)\]\s+(\d+)/(\d+)\s", out, re.MULTILINE)
    names = {name.strip() for name, *_ in rows}
    assert len(rows) >= 5 and names >= {"rule gate (keywords)", "local LLM grammar (JSON enum)"}
    for name, shown, low, high, k, n in rows:
        ci = wilson_interval(int(k), int(n))
        assert (shown, low, high) == (f"{ci.estimate:.3f}", f"{ci.low:.2f}", f"{ci.high:.2f}"), name
    assert "Paired with TF-IDF + logistic regression" in out and "p (McNemar)" in out
    assert main(["eval", "extraction", "--limit", "3", "--prompt-versions", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "exact match [95% CI]" in out and re.search(r"\d+% \[\d+%, \d+%\]", out)
