"""Router configs (errors name the key and the line), rule/complexity/budget routers and their log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsize.providers import Delta, Provider, Request
from rightsize.registry import get_model
from rightsize.routing import (
    BudgetExceededError,
    BudgetRouter,
    ComplexityClassifier,
    ComplexityRouter,
    DecisionLog,
    FixedRouter,
    RouterConfigError,
    RouteRequest,
    RuleRouter,
    SpendBudget,
    build_router,
    example_config,
    load_router,
    load_router_config,
    parse_router_config,
)
from rightsize.routing.rules import Rule


def problems(text: str) -> list[str]:
    with pytest.raises(RouterConfigError) as info:
        parse_router_config(text, source="router.yaml")
    return [str(p) for p in info.value.problems]


# -- bad input names the key and the line ---------------------------------------------------------
def test_misspelled_key_names_key_line_and_suggestion() -> None:
    text = """version: 1
router: rules
default: tiny
routes:
  - pattern: "def "
    model: frontier
  - modle: small
    max_chars: 100
"""
    found = problems(text)
    assert "router.yaml line 7: routes[1].modle: unknown key (did you mean 'model'?)" in found
    assert "router.yaml line 7: routes[1]: missing key 'model'" in found


def test_unknown_model_alias_names_alias_and_line() -> None:
    found = problems("router: fixed\ndefault: tiny\nfallback:\n  models:\n    - small\n    - gtp-4o\n")
    assert found == [("router.yaml line 6: fallback.models[1].model: unknown model 'gtp-4o' (did you mean "
                      "'gpt-4o'?); use a registry id or alias (list them with: rightsize models)")]


def test_retired_model_is_refused_with_its_replacement() -> None:
    found = problems("router: fixed\ndefault: claude-3-5-sonnet-20241022\n")
    assert found[0].startswith("router.yaml line 2: default: model 'claude-3-5-sonnet-20241022' was retired")
    assert "claude-sonnet-4-5" in found[0]


def test_bad_values_name_their_lines() -> None:
    text = """router: rules
default: tiny
routes:
  - {keywords: [code], model: frontier}
budget:
  limit_usd: -1
  period: weekly
  on_exceed: dwongrade
cascade:
  tiers:
    - {model: tiny, threshold: 1.5}
    - {model: frontier}
"""
    found = problems(text)
    assert "router.yaml line 6: budget.limit_usd: Input should be greater than 0 (got -1)" in found
    assert "router.yaml line 7: budget.period: use hour, day, month or a number of seconds (got 'weekly')" in found
    assert "router.yaml line 8: budget.on_exceed: Input should be 'block' or 'downgrade' (got 'dwongrade')" in found
    assert any(p.startswith("router.yaml line 11: cascade.tiers[0].threshold: Input should be less than")
               for p in found)
    assert [p.split(":")[0] for p in found] == sorted((p.split(":")[0] for p in found),
                                                      key=lambda w: int(w.split()[-1]))


def test_unknown_top_level_key_lists_what_is_allowed() -> None:
    found = problems("router: fixed\ndefault: tiny\nroutez: []\n")
    assert found == ["router.yaml line 3: routez: unknown key (did you mean 'routes'?)"]
    found = problems("router: fixed\ndefault: tiny\nbudget: {limit_usd: 1, xyz: 2}\n")
    assert found[0].startswith("router.yaml line 3: budget.xyz: unknown key (allowed: downgrade_to, limit_usd")


def test_checks_across_keys_name_their_lines() -> None:
    text = """router: rules
default: tiny
routes:
  - {max_chars: 3, model: tiny}
  - {model: small}
  - {pattern: "([a-z", model: small}
cascade:
  tiers:
    - {model: haiku, threshold: 0.5}
    - {model: frontier, threshold: 0.2}
budget: {limit_usd: 1, on_exceed: downgrade}
"""
    found = problems(text)
    assert found[0].startswith("router.yaml line 5: routes[1]: a route needs a condition")
    assert found[1].startswith("router.yaml line 6: routes[2].pattern: not a valid regex")
    assert found[2].startswith("router.yaml line 9: cascade.tiers[0].model: 'haiku' does not return token logprobs")
    assert found[3] == ("router.yaml line 10: cascade.tiers[1].threshold: the last tier always answers, so it "
                        "takes no threshold; remove it")
    assert found[4].startswith("router.yaml line 11: budget.on_exceed: on_exceed: downgrade needs `downgrade_to:`")


def test_yaml_syntax_duplicates_and_shape() -> None:
    assert problems("router: rules\nrouter: fixed\n") == [
        "router.yaml line 2: router: duplicate key (first given on line 1); keep one"]
    syntax = problems("router: fixed\ndefault: [tiny\n")
    assert syntax[0].startswith("router.yaml line 3: (YAML syntax):")
    assert problems("- just\n- a list\n")[0].startswith("router.yaml line 1: (top level): a router config is a mapping")
    assert problems("default: tiny\n") == ["router.yaml line 1: (top level): missing key 'router'"]
    assert problems("router: rules\ndefault: tiny\n")[0].startswith("router.yaml line 1: router: router: rules needs")


def test_file_errors_use_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "my-router.yaml"
    path.write_text("router: fixed\ndefault: tiny\nbudget:\n  limt_usd: 3\n")
    with pytest.raises(RouterConfigError) as info:
        load_router_config(path)
    assert "my-router.yaml line 4: budget.limt_usd: unknown key (did you mean 'limit_usd'?)" in str(info.value)
    with pytest.raises(RouterConfigError, match="no such file"):
        load_router_config(tmp_path / "missing.yaml")


def test_example_config_is_valid_and_builds(tmp_path: Path) -> None:
    config = parse_router_config(example_config())
    assert config.router == "rules" and len(config.routes) == 3
    assert config.cascade is not None and config.cascade.tiers[0].threshold == 0.6
    assert config.fallback is not None and [m.label for m in config.fallback.models] == ["small", "haiku", "lab-backup"]
    path = tmp_path / "router.yaml"
    path.write_text(example_config())
    router = load_router(path)
    assert isinstance(router, BudgetRouter) and isinstance(router.inner, RuleRouter)


# -- routers ------------------------------------------------------------------------------------------
class EchoProvider(Provider):
    """Answers with the model id and fixed usage; counts calls."""

    api = "openai"

    def __init__(self, model: str, usage: tuple[int, int] = (1000, 500)) -> None:
        super().__init__(get_model(model), key="test-key")
        self.usage = usage
        self.calls = 0

    def _stream(self, request: Request) -> Iterator[Delta]:
        self.calls += 1
        yield Delta(text=self.model.id, finish_reason="stop", input_tokens=self.usage[0], output_tokens=self.usage[1])


RULES = """
router: rules
default: small
routes:
  - name: code
    pattern: 'def |print\\('
    model: frontier
  - name: vip
    metadata: {plan: [pro, team]}
    model: gpt-4o
  - name: short-fact
    max_chars: 60
    keywords: [capital, translate]
    model: tiny
"""


def test_rule_router_decides_in_order_with_reasons() -> None:
    router = build_router(parse_router_config(RULES))
    code = router.route("What does print(1+1) show?")
    assert code.model == "frontier" and code.reason.startswith("rule 0 'code' matched: pattern")
    assert router.route({"prompt": "Help me", "metadata": {"plan": "team"}}).model == "gpt-4o"
    assert router.route({"prompt": "Help me", "plan": "free"}).model == "small"
    fact = router.route(RouteRequest("What is the capital of Peru?", id="r1"))
    assert fact.model == "tiny" and "keyword 'capital'" in fact.reason and "chars <= 60" in fact.reason
    long_fact = router.route("What is the capital of Peru? " * 5)
    assert long_fact.model == "small" and long_fact.reason == "no rule matched: default small"
    assert router.route("Capitalize this").model == "small"  # keywords match whole words
    frame = router.log.to_frame()
    assert len(frame) == 6
    assert {"timestamp", "request_id", "model", "reason", "cost_usd", "latency_s"} <= set(frame.columns)
    assert frame.loc[3, "request_id"] == "r1" and frame.loc[3, "rule"] == "short-fact"


def test_rule_without_condition_is_refused() -> None:
    with pytest.raises(ValueError, match="has no condition"):
        Rule(model="tiny")


def test_complete_accounts_cost_and_latency_per_request() -> None:
    providers = {"frontier": EchoProvider("claude-opus-4-5"), "small": EchoProvider("gpt-4o-mini"),
                 "tiny": EchoProvider("gpt-4o-mini"), "gpt-4o": EchoProvider("gpt-4o")}
    router = build_router(parse_router_config(RULES), providers=providers)
    assert router.complete("def f(): pass", max_tokens=16).text == "claude-opus-4-5"
    router.complete("Hello there, how are you today my friend?", max_tokens=16)
    frame = router.log.to_frame()
    assert frame["cost_usd"].tolist() == pytest.approx([(1000 * 5 + 500 * 25) / 1e6, (1000 * 0.15 + 500 * 0.6) / 1e6])
    assert (frame["latency_s"] >= 0).all() and frame["ok"].all()
    assert providers["frontier"].calls == 1 and providers["small"].calls == 1


def test_budget_router_downgrades_then_blocks() -> None:
    now = [0.0]
    log = DecisionLog()
    providers = {"gpt-4o": EchoProvider("gpt-4o"), "openai-mid": EchoProvider("gpt-4o-mini")}
    # gpt-4o, 1000 in + 500 out = $0.0075 actual; the estimate uses max_tokens=500 as output
    downgrade = BudgetRouter(FixedRouter("gpt-4o", providers=providers, log=log),
                             SpendBudget(0.01, on_exceed="downgrade", downgrade_to="openai-mid",
                                         clock=lambda: now[0]))
    downgrade.complete("x" * 400, max_tokens=500)
    second = downgrade.route("x" * 400, max_tokens=500)
    assert second.model == "openai-mid" and "downgraded to openai-mid" in second.reason
    assert second.details["downgraded_from"] == "gpt-4o"
    block = BudgetRouter(FixedRouter("gpt-4o", providers=providers, log=log),
                         SpendBudget(0.01, on_exceed="block", clock=lambda: now[0]))
    block.complete("x" * 400, max_tokens=500)
    with pytest.raises(BudgetExceededError, match="would pass the \\$0.01 budget for this day"):
        block.complete("x" * 400, max_tokens=500)
    last = log.entries[-1]
    assert last.model is None and last.ok is False and "budget exceeded" in last.reason
    now[0] = 86_400.0
    assert block.route("x" * 400, max_tokens=500).model == "gpt-4o"  # a new day


def test_complexity_router_and_honest_classifier() -> None:
    classifier = ComplexityClassifier.train("dev")
    report = classifier.evaluate("test")
    # honest numbers on the held-out split (60 items, 20 per class): well above the 0.33 of
    # always guessing one class, far from perfect; see the module docstring
    assert report.n == 60 and report.majority_baseline == pytest.approx(1 / 3)
    assert 0.55 <= report.accuracy <= 0.8
    assert int(report.confusion.to_numpy().sum()) == 60
    router = ComplexityRouter({"simple": "tiny", "medium": "small", "complex": "frontier"}, classifier=classifier,
                              min_confidence=0.4, low_confidence_model="frontier")
    simple = router.route("What is the capital of Italy? Answer in one word.")
    assert simple.model == "tiny" and simple.reason.startswith("classifier: simple (p=")
    hard = router.route("A bus travels 90 km at 45 km/h and then 60 km at 30 km/h. Then it waits 30 minutes. "
                        "How many hours did the whole trip take? End with: ANSWER: <number>")
    assert hard.model in ("small", "frontier")
    assert router.log.to_frame()["predicted"].tolist()[0] == "simple"


def test_decision_log_writes_json_lines(tmp_path: Path) -> None:
    import json

    log = DecisionLog(path=tmp_path / "decisions.jsonl", clock=lambda: 1_700_000_000.0)
    router = FixedRouter("tiny", log=log, providers={"tiny": EchoProvider("gpt-4o-mini", usage=(10, 2))})
    router.complete(RouteRequest("hello", id="q1"))
    lines = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert lines[-1]["request_id"] == "q1" and lines[-1]["model"] == "tiny"
    assert lines[-1]["reason"] == "fixed: always tiny" and lines[-1]["cost_usd"] > 0
    assert str(log.to_frame().loc[0, "timestamp"]).startswith("2023-11-14")
