"""Cascades: the offline simulation's accounting, threshold calibration, and the live cascade."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from rightsize.errors import OverloadedError
from rightsize.providers import Delta, Provider, Request
from rightsize.registry import get_model
from rightsize.routing import (
    Cascade,
    CascadeTier,
    ComplexityClassifier,
    DecisionLog,
    RouteRequest,
    calibrate_threshold,
    simulate_cascade,
    sweep_thresholds,
)
from rightsize.routing.cascade import (
    TierOutcome,
    classifier_tier,
    human_tier,
    logprob_confidence,
    provider_tier,
)

# three items; the small tier is right on 0 and 2, the big tier on all three
SMALL = [
    TierOutcome("small", "A", 0.9, True, 0.001, 0.2),
    TierOutcome("small", "x", 0.4, True, 0.001, 0.3),
    TierOutcome("small", "C", 0.95, False, 0.001, 0.1),  # confident but fails validation
]
BIG = [
    TierOutcome("big", "A", 0.99, True, 0.010, 1.0),
    TierOutcome("big", "B", 0.97, True, 0.010, 1.5),
    TierOutcome("big", "C", None, True, 0.010, 2.0),
]
TRUTH = ["A", "B", "C"]


def right(i: int, answer: object) -> bool:
    return answer == TRUTH[i]


def test_simulation_accounting_by_hand() -> None:
    run = simulate_cascade({"small": SMALL, "big": BIG}, ["small", "big"], {"small": 0.5}, right)
    # item 0: small accepts (0.9 >= 0.5); item 1: 0.4 < 0.5 escalates; item 2: invalid escalates
    assert [r.answered_by for r in run.records] == ["small", "big", "big"]
    assert [r.path for r in run.records] == [("small",), ("small", "big"), ("small", "big")]
    assert [r.cost_usd for r in run.records] == pytest.approx([0.001, 0.011, 0.011])
    assert [r.latency_s for r in run.records] == pytest.approx([0.2, 1.8, 2.1])
    assert run.accuracy == 1.0
    assert run.cost_per_request == pytest.approx(0.023 / 3)
    assert run.latency_p50 == pytest.approx(1.8)
    assert run.latency_p95 == pytest.approx(1.8 + 0.9 * 0.3)  # linear interpolation between 1.8 and 2.1
    assert run.share_by_tier == pytest.approx({"small": 1 / 3, "big": 2 / 3})
    assert run.escalation_rate == pytest.approx(2 / 3)
    assert run.records[1].reasons == ("small: confidence 0.400 < 0.5 -> escalate", "big: last tier answers")
    assert "failed validation" in run.records[2].reasons[0]
    assert run.to_frame().shape[0] == 3 and run.summary()["share_big"] == pytest.approx(2 / 3)


def test_threshold_extremes_and_missing_thresholds() -> None:
    outcomes = {"small": SMALL, "big": BIG}
    accept_all = simulate_cascade(outcomes, ["small", "big"], {"small": 0.0}, right)
    assert [r.answered_by for r in accept_all.records] == ["small", "small", "big"]  # invalid still escalates
    assert accept_all.accuracy == pytest.approx(2 / 3)
    never = simulate_cascade(outcomes, ["small", "big"], {"small": math.inf}, right)
    assert never.escalation_rate == 1.0 and never.cost_per_request == pytest.approx(0.011)
    # no threshold for a tier: it escalates on failed validation only
    no_threshold = simulate_cascade(outcomes, ["small", "big"], {}, right)
    assert [r.answered_by for r in no_threshold.records] == ["small", "small", "big"]
    # the last tier answers even when its own answer is invalid or unsure
    bad_last = [TierOutcome("big", None, 0.1, False, 0.01, 1.0)] * 3
    run = simulate_cascade({"small": SMALL, "big": bad_last}, ["small", "big"], {"small": 0.5, "big": 0.99}, right)
    assert run.share_by_tier["big"] == pytest.approx(2 / 3) and "last tier always answers" in run.records[2].reasons[-1]


def test_missing_confidence_with_a_threshold_escalates() -> None:
    unsure = [TierOutcome("small", "A", None, True, 0.0, 0.1)]
    run = simulate_cascade({"small": unsure, "big": BIG[:1]}, ["small", "big"], {"small": 0.5}, right)
    assert run.records[0].answered_by == "big" and "no confidence" in run.records[0].reasons[0]


def test_single_tier_and_three_tiers() -> None:
    one = simulate_cascade({"big": BIG}, ["big"], {}, right)
    assert one.escalation_rate == 0 and one.accuracy == 1.0
    human = [TierOutcome("human", t, 1.0, True, 0.5, 60.0) for t in TRUTH]
    three = simulate_cascade({"small": SMALL, "big": BIG, "human": human}, ["small", "big", "human"],
                             {"small": 0.5, "big": 0.98}, right)
    # item 1: big 0.97 < 0.98 -> human; item 2: big has no confidence -> human
    assert [r.answered_by for r in three.records] == ["small", "human", "human"]
    assert three.records[2].cost_usd == pytest.approx(0.511)
    assert three.share_by_tier == pytest.approx({"small": 1 / 3, "big": 0.0, "human": 2 / 3})


def test_simulation_input_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="aligned by index"):
        simulate_cascade({"small": SMALL, "big": BIG[:2]}, ["small", "big"], {}, right)
    with pytest.raises(ValueError, match=r"thresholds for tier\(s\) \['smal'\]"):
        simulate_cascade({"small": SMALL, "big": BIG}, ["small", "big"], {"smal": 0.5}, right)
    with pytest.raises(ValueError, match="no outcomes for tier"):
        simulate_cascade({"small": SMALL}, ["small", "big"], {}, right)


# -- calibration ------------------------------------------------------------------------------------
CONF = [0.9, 0.8, 0.7, 0.6, 0.5]
OK = [True, True, True, False, False]


def test_calibrate_for_target_accuracy_picks_the_lowest_threshold() -> None:
    assert calibrate_threshold(CONF, OK, target_accuracy=1.0) == 0.7  # accepts the three right ones
    assert calibrate_threshold(CONF, OK, target_accuracy=0.75) == 0.6  # 3 of 4 accepted are right
    assert calibrate_threshold(CONF, OK, target_accuracy=0.6) == 0.5  # everything: 3 of 5
    # the chosen threshold really gives that accuracy on the accepted items
    for target in (0.6, 0.7, 0.75, 0.9, 1.0):
        t = calibrate_threshold(CONF, OK, target_accuracy=target)
        accepted = [ok for c, ok in zip(CONF, OK) if c >= t]
        assert sum(accepted) / len(accepted) >= target


def test_calibrate_for_target_escalation_never_exceeds_it() -> None:
    assert calibrate_threshold(CONF, OK, target_escalation=0.4) == 0.7  # escalates 0.6 and 0.5: 40%
    assert calibrate_threshold(CONF, OK, target_escalation=0.5) == 0.7  # 60% would be over
    assert calibrate_threshold(CONF, OK, target_escalation=0.0) == 0.5
    assert calibrate_threshold(CONF, OK, target_escalation=1.0) == math.inf
    ties = [0.5, 0.5, 0.5, 0.9]
    assert calibrate_threshold(ties, [True] * 4, target_escalation=0.5) == 0.5  # 75% is over: escalate none
    for target in (0.1, 0.2, 0.3, 0.45, 0.8):
        t = calibrate_threshold(CONF, OK, target_escalation=target)
        assert sum(c < t for c in CONF) / len(CONF) <= target


def test_calibrate_errors_when_impossible_or_ambiguous() -> None:
    with pytest.raises(ValueError, match="no threshold reaches accuracy 0.90 .* the best is 0.80 at threshold 0.5"):
        calibrate_threshold(CONF, [False, True, True, True, True], target_accuracy=0.9)
    with pytest.raises(ValueError, match="exactly one of .* \\(got both\\)"):
        calibrate_threshold(CONF, OK, target_accuracy=0.9, target_escalation=0.2)
    with pytest.raises(ValueError, match="got neither"):
        calibrate_threshold(CONF, OK)
    with pytest.raises(ValueError, match="aligned"):
        calibrate_threshold(CONF, OK[:3], target_accuracy=0.9)
    with pytest.raises(ValueError, match="share in"):
        calibrate_threshold(CONF, OK, target_escalation=1.5)
    with pytest.raises(ValueError, match="NaN"):
        calibrate_threshold([0.5, math.nan], [True, False], target_accuracy=0.5)


def test_calibrated_on_dev_then_simulated_hits_the_target() -> None:
    dev_small = [TierOutcome("small", i % 3 != 0, c, True, 0.001, 0.1)
                 for i, c in enumerate([0.3, 0.9, 0.8, 0.35, 0.7, 0.95, 0.2, 0.85, 0.6, 0.4])]
    dev_big = [TierOutcome("big", True, 0.99, True, 0.01, 1.0)] * 10
    correct = [bool(o.answer) for o in dev_small]
    threshold = calibrate_threshold([o.confidence or 0 for o in dev_small], correct, target_accuracy=1.0)
    run = simulate_cascade({"small": dev_small, "big": dev_big}, ["small", "big"], {"small": threshold},
                           lambda i, a: bool(a))
    assert threshold == 0.6 and run.accuracy == 1.0 and run.escalation_rate == pytest.approx(0.4)
    t_esc = calibrate_threshold([o.confidence or 0 for o in dev_small], correct, target_escalation=0.25)
    run = simulate_cascade({"small": dev_small, "big": dev_big}, ["small", "big"], {"small": t_esc},
                           lambda i, a: bool(a))
    assert run.escalation_rate == pytest.approx(0.2)  # 0.3 was over


def test_sweep_traces_every_operating_point() -> None:
    runs = sweep_thresholds({"small": SMALL, "big": BIG}, ["small", "big"], right)
    assert len(runs) == 4  # three distinct confidences plus "escalate everything"
    rates = [r.escalation_rate for r in runs]
    assert rates == sorted(rates) and rates[-1] == 1.0


# -- live cascade -------------------------------------------------------------------------------------
class LogprobProvider(Provider):
    api = "openai"

    def __init__(self, text: str, logprobs: tuple[float, ...], fail: bool = False) -> None:
        super().__init__(get_model("gpt-4o-mini"), key="test-key")
        self.text, self.logprobs, self.fail = text, logprobs, fail

    def _stream(self, request: Request) -> Iterator[Delta]:
        if self.fail:
            raise OverloadedError("503", status=503)
        yield Delta(text=self.text, logprobs=self.logprobs, finish_reason="stop", input_tokens=100, output_tokens=10)


def test_logprob_confidence() -> None:
    assert logprob_confidence([math.log(0.5), math.log(0.5)]) == pytest.approx(0.5)
    assert logprob_confidence([0.0, math.log(0.25)]) == pytest.approx(0.5)  # geometric mean
    assert logprob_confidence([0.0, math.log(0.25)], "min") == pytest.approx(0.25)
    assert logprob_confidence([]) is None


def test_live_cascade_escalates_on_low_logprob_confidence_and_logs_why() -> None:
    log = DecisionLog()
    unsure = provider_tier(LogprobProvider("Paris", (math.log(0.3),)), name="small")
    sure = provider_tier(LogprobProvider("Paris", (math.log(0.95),)), name="small")
    reviewer = human_tier(lambda prompt: "Paris", cost_per_item=0.25, latency_s=120.0)
    cascade = Cascade([(unsure.name, unsure.run, 0.5), reviewer], log=log)
    result = cascade.run("Capital of France?")
    assert result.answered_by == "human" and result.escalated
    assert result.cost_usd == pytest.approx(get_model("gpt-4o-mini").cost(100, 10) + 0.25)
    assert result.latency_s >= 120.0
    assert result.reasons[0] == "small: confidence 0.300 < 0.5 -> escalate"
    calm = Cascade([sure, reviewer], thresholds={"small": 0.5}, log=log).run("Capital of France?")
    assert calm.answered_by == "small" and calm.answer == "Paris" and not calm.escalated
    frame = log.to_frame()
    assert frame["model"].tolist() == ["human", "small"] and frame["escalations"].tolist() == [1, 0]
    assert frame["cost_usd"].iloc[1] == pytest.approx(get_model("gpt-4o-mini").cost(100, 10))


def test_live_cascade_validation_errors_and_classifier_tier() -> None:
    validated = provider_tier(LogprobProvider("maybe", (0.0,)), name="small", validate=lambda t: t in ("yes", "no"))
    broken = provider_tier(LogprobProvider("", (), fail=True), name="broken")
    big = CascadeTier("big", lambda request: TierOutcome("big", "yes", None, True, 0.01, 0.5))
    result = Cascade([validated, big], thresholds={"small": 0.1}).run("Is it?")
    assert result.answered_by == "big" and "failed validation" in result.reasons[0]
    result = Cascade([broken, big], thresholds={"broken": 0.1}).run("Is it?")
    assert result.answered_by == "big" and "failed validation" in result.reasons[0]
    classifier = ComplexityClassifier.train("dev")
    tier = classifier_tier(lambda prompt: classifier.classify(prompt).probabilities, name="clf", threshold=0.6)
    outcome = tier.run(RouteRequest("What is the capital of Japan? Answer in one word."))
    assert outcome.answer == "simple" and outcome.confidence is not None and outcome.confidence > 0.5
    with pytest.raises(ValueError, match="unknown tier"):
        Cascade([big], thresholds={"bgi": 0.5})


def test_last_tier_error_is_raised_and_logged() -> None:
    log = DecisionLog()

    def down(request: object) -> TierOutcome:
        raise OverloadedError("503", status=503)

    with pytest.raises(OverloadedError):
        Cascade([CascadeTier("small", lambda r: TierOutcome("small", None, None, False, 0.0, 0.1)),
                 CascadeTier("big", down)], log=log).run("hello")
    assert log.entries[-1].ok is False and "overloaded error" in log.entries[-1].reason


def test_cascade_from_config() -> None:
    from rightsize.routing import parse_router_config

    config = parse_router_config("""
router: fixed
default: tiny
cascade:
  tiers:
    - {name: cheap, model: openai-mid, threshold: 0.8, max_tokens: 8}
    - {model: frontier, confidence: none}
""")
    assert config.cascade is not None
    providers = {"openai-mid": LogprobProvider("maybe", (math.log(0.5),)),
                 "frontier": LogprobProvider("surely", (0.0,))}
    cascade = Cascade.from_config(config.cascade, providers=providers)
    assert [t.name for t in cascade.tiers] == ["cheap", "frontier"]
    result = cascade.run("Is it?")
    assert result.answered_by == "frontier" and result.answer == "surely"
    assert result.reasons[0] == "cheap: confidence 0.500 < 0.8 -> escalate"
