"""The model registry: lookups, errors, prices, and retirement dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rightsize import get_model, list_models
from rightsize.errors import RightsizeError, UnknownModelError
from rightsize.registry import (
    ModelInfo,
    OptionRule,
    Parameters,
    Reasoning,
    RegistryError,
    RetiredModelError,
    UnsupportedOptionError,
    load_registry,
)


def test_alias_and_id_give_the_same_entry() -> None:
    assert get_model("local") is get_model("smollm2-135m-instruct")
    assert get_model("haiku").id == "claude-haiku-4-5"
    assert get_model("small") is get_model("local") and get_model("small").tier == "small"
    assert get_model("mid").tier == "mid" and get_model("haiku").tier == "mid"
    assert get_model("frontier").tier == "frontier"


def test_one_tier_taxonomy_three_tiers_and_aliases_that_agree() -> None:
    """Every entry is small, mid or frontier (the sources' three tiers), and no alias names another tier."""
    from rightsize.registry import list_models

    tiers = {"small", "mid", "frontier"}
    for model in list_models(include_retired=True):
        assert model.tier in tiers
        for alias in model.aliases:
            named = {t for t in tiers if alias == t or alias.endswith(f"-{t}")}
            assert named <= {model.tier}, f"{model.id} is {model.tier} but its alias {alias!r} says {named}"


def test_unknown_model_lists_what_is_known() -> None:
    with pytest.raises(UnknownModelError) as info:
        get_model("gpt-7-ultra")
    message = str(info.value)
    assert "gpt-7-ultra" in message
    assert "claude-haiku-4-5" in message and "local" in message


def test_retired_model_names_its_replacement() -> None:
    with pytest.raises(RetiredModelError, match="claude-sonnet-4-5"):
        get_model("claude-3-5-sonnet-20241022")
    assert get_model("claude-3-5-sonnet-20241022", allow_retired=True).retired


def test_no_entry_is_past_retirement_without_being_marked_retired() -> None:
    overdue = load_registry().overdue(dt.date.today())
    assert not overdue, (
        "these models are past their retirement date: mark them retired (with replaced_by) and "
        "move their aliases: " + ", ".join(f"{m.id} ({m.retires_on})" for m in overdue)
    )


def test_overdue_check_catches_an_unmarked_retirement(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        "schema_version: 1\nmodels:\n"
        "  - {id: old-model, name: Old, provider: openai, api: openai, tier: small, context_window: 1000,\n"
        "     price: {input_per_mtok: 1, output_per_mtok: 2, read_on: 2025-01-01, source: test},\n"
        "     retires_on: 2025-06-01}\n"
    )
    registry = load_registry(path)
    assert [m.id for m in registry.overdue(dt.date(2025, 7, 1))] == ["old-model"]
    assert registry.overdue(dt.date(2025, 5, 1)) == []


def test_every_priced_model_has_a_date_and_source() -> None:
    for model in list_models(include_retired=True):
        assert model.price.read_on <= dt.date.today()
        assert len(model.price.source) > 10
        if model.provider in ("openai", "anthropic", "google"):
            assert model.price.output_per_mtok > 0
            assert model.key_env, f"{model.id} needs key_env"


def test_each_cloud_provider_has_a_mid_and_a_frontier_model_and_small_runs_locally() -> None:
    tiers = {(m.provider, m.tier) for m in list_models()}
    for provider in ("openai", "anthropic", "google"):
        assert (provider, "mid") in tiers and (provider, "frontier") in tiers
    assert {m.provider for m in list_models() if m.tier == "small"} <= {"local", "lab"}


def test_cost_uses_per_million_prices() -> None:
    haiku = get_model("claude-haiku-4-5")  # $1 in / $5 out per million
    assert haiku.cost(1_000_000, 0) == pytest.approx(1.0)
    assert haiku.cost(2000, 500) == pytest.approx(2000 / 1e6 * 1 + 500 / 1e6 * 5)


def test_bad_registry_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("schema_version: 1\nmodels:\n  - {id: x, name: X, provider: p, api: carrier-pigeon, "
                    "tier: small, context_window: 10, price: {input_per_mtok: 1, output_per_mtok: 1, "
                    "read_on: 2025-01-01, source: test}}\n")
    with pytest.raises(RightsizeError, match=r"models\[0\]\.api"):
        load_registry(path)


def test_duplicate_alias_is_an_error(tmp_path: Path) -> None:
    entry = ("{{id: {id}, name: X, provider: p, api: openai, aliases: [same], tier: small, context_window: 10, "
             "price: {{input_per_mtok: 1, output_per_mtok: 1, read_on: 2025-01-01, source: test}}}}")
    path = tmp_path / "models.yaml"
    path.write_text("schema_version: 1\nmodels:\n  - " + entry.format(id="a") + "\n  - " + entry.format(id="b") + "\n")
    with pytest.raises(RegistryError, match="same") as info:
        load_registry(path)
    [problem] = info.value.problems
    assert (problem.line, problem.path) == (4, "models[1].aliases[0]")  # the second entry, its alias
    assert "'a' and 'b'" in problem.message


def _block_entry(model_id: str, *extra: str, **fields: str) -> str:
    """One registry entry in block style, one key per line (7 lines), ``fields`` replacing values
    and ``extra`` lines appended."""
    values = {"name": "X", "provider": "p", "api": "openai", "tier": "small", "context_window": "10",
              "price": "{input_per_mtok: 1, output_per_mtok: 1, read_on: 2025-01-01, source: test}", **fields}
    lines = [f"id: {model_id}", *(f"{key}: {value}" for key, value in values.items()), *extra]
    return "  - " + "\n    ".join(lines) + "\n"


def test_a_misspelled_key_gets_did_you_mean_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("schema_version: 1\nmodels:\n" + _block_entry("a") + _block_entry("b", "aliasses: [bee]"))
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    [problem] = info.value.problems
    assert problem.line == 17 and problem.path == "models[1].aliasses"  # entry b is on lines 10-17
    assert "did you mean 'aliases'?" in problem.message
    assert str(problem).startswith("models.yaml line 17: models[1].aliasses: unknown key")


def test_every_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("schema_version: 1\nmodels:\n" + _block_entry("a", tier="huge")
                    + _block_entry("b", context_window="-5"))
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    found = [(p.line, p.path) for p in info.value.problems]
    assert found == [(7, "models[0].tier"), (15, "models[1].context_window")], str(info.value)
    assert "(got 'huge')" in str(info.value) and "greater than 0 (got -5)" in str(info.value)
    assert isinstance(info.value, RightsizeError)


# -- parameters and reasoning: how each model is called, as data ------------------------------------


def test_every_entry_states_its_parameters_and_reasoning() -> None:
    for model in list_models(include_retired=True):
        assert {"parameters", "reasoning"} <= model.model_fields_set, f"{model.id}: state parameters and reasoning"
        assert len(model.parameters.source) > 10, model.id
        if model.reasoning.billed:
            r = model.reasoning
            assert r.assumed_tokens_per_request > 0 and r.as_of is not None and r.as_of <= dt.date.today()
            assert "assumption" in (r.source or ""), f"{model.id}: say that the reasoning count is an assumption"


def test_token_limit_names_follow_the_api() -> None:
    limits = {m.id: m.parameters.token_limit for m in list_models(include_retired=True)}
    for model in list_models(include_retired=True):
        if model.provider == "openai":
            assert limits[model.id] == "max_completion_tokens", model.id
        else:  # compatible servers (lab, Gemini) and the Messages protocol
            assert limits[model.id] == "max_tokens", model.id


def test_the_gpt5_family_fixes_temperature_and_bills_reasoning() -> None:
    for name in ("gpt-5-mini", "gpt-5"):
        model = get_model(name)
        assert model.parameters.temperature == OptionRule(kind="fixed", fixed=1.0)
        assert model.parameters.stop.kind == "unsupported"
        assert model.reasoning.billed and "second-hand" in model.parameters.source
    for name in ("gpt-4o-mini", "gpt-4o"):
        assert get_model(name).parameters.temperature.kind == "accepted" and not get_model(name).reasoning.billed


def test_anthropic_models_take_no_temperature_and_the_lab_entries_take_it() -> None:
    for model in list_models(include_retired=True):
        if model.provider == "anthropic":
            assert model.parameters.temperature.kind == "unsupported", model.id
            assert model.parameters.seed.kind == "unsupported" and model.parameters.stop.kind == "accepted"
    for name in ("local", "lab", "lab-anthropic"):
        model = get_model(name)
        assert model.parameters.temperature.sent and model.parameters.stop.sent, name
        model.check_options({"temperature": 0})  # what the lessons send
    assert get_model("lab-anthropic").parameters.temperature.maximum == 1.0  # the Messages range


def test_rule_shorthands_read_as_written() -> None:
    assert OptionRule.model_validate("accepted") == OptionRule()
    assert OptionRule.model_validate({"fixed": 1}) == OptionRule(kind="fixed", fixed=1.0)
    assert OptionRule.model_validate({"maximum": 1}) == OptionRule(kind="accepted", maximum=1.0)
    assert OptionRule.model_validate({"unsupported": "no such knob"}) == OptionRule(kind="unsupported",
                                                                                   why="no such knob")
    assert OptionRule.model_validate("unsupported").why is None


_ENTRY = ("schema_version: 1\nmodels:\n  - {{id: x, name: X, provider: p, api: {api}, tier: small, "
          "context_window: 10, price: {{input_per_mtok: 1, output_per_mtok: 1, read_on: 2025-01-01, "
          "source: test}}, {extra}}}\n")


@pytest.mark.parametrize(("api", "extra", "where"), [
    ("openai", "parameters: {temperature: fixed}", r"models\[0\]\.parameters\.temperature"),
    ("openai", "parameters: {temperature: {fixed: 1, maximum: 2}}", r"models\[0\]\.parameters\.temperature"),
    ("openai", "parameters: {token_limit: max_output_tokens}", r"models\[0\]\.parameters\.token_limit"),
    ("openai", "parameters: {stop: {maximum: 3}}", "stop is a list of strings"),
    ("openai", "parameters: {temprature: accepted}", r"models\[0\]\.parameters\.temprature"),
    ("anthropic", "parameters: {token_limit: max_completion_tokens}", "Messages|anthropic protocol"),
    ("openai", "reasoning: {billed: true}", r"models\[0\]\.reasoning"),
    ("openai", "reasoning: {billed: false, assumed_tokens_per_request: 300}", r"models\[0\]\.reasoning"),
])
def test_bad_parameters_or_reasoning_name_the_field(tmp_path: Path, api: str, extra: str, where: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(_ENTRY.format(api=api, extra=extra))
    with pytest.raises(RightsizeError, match=where):
        load_registry(path)


def test_an_entry_without_rules_is_a_compatible_server(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(_ENTRY.format(api="openai", extra="note: mine"))
    model = load_registry(path).get("x")
    assert model.parameters == Parameters() and model.parameters.token_limit == "max_tokens"
    assert model.reasoning == Reasoning() and not model.reasoning.billed
    model.check_options({"temperature": 1.9, "seed": 4, "stop": ["x"]})


def test_check_options_refuses_only_what_the_model_does_not_take() -> None:
    strict = ModelInfo(id="strict", name="S", provider="p", api="openai", tier="small", context_window=10,
                       price={"input_per_mtok": 1, "output_per_mtok": 1, "read_on": "2025-01-01", "source": "test"},
                       parameters={"temperature": {"fixed": 1}, "seed": "unsupported"})
    strict.check_options({"temperature": 1, "seed": None, "stop": None})
    with pytest.raises(UnsupportedOptionError, match="strict accepts only the default temperature"):
        strict.check_options({"temperature": 0.5})
    with pytest.raises(UnsupportedOptionError, match="strict does not take seed: leave seed unset"):
        strict.check_options({"seed": 0})  # 0 is a value, not "unset"
    assert strict.accepts("temperature", 1.0) and not strict.accepts("temperature", 0.0)
    assert not strict.accepts("seed", 0) and strict.accepts("stop", ["x"])
    assert get_model("haiku").accepts("stop", ["x"]) and not get_model("haiku").accepts("temperature", 0)
