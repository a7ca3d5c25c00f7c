"""The model registry: lookups, errors, prices, and retirement dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rightsize import get_model, list_models
from rightsize.errors import RightsizeError, UnknownModelError
from rightsize.registry import RetiredModelError, load_registry


def test_alias_and_id_give_the_same_entry() -> None:
    assert get_model("local") is get_model("smollm2-135m-instruct")
    assert get_model("haiku").id == "claude-haiku-4-5"
    assert get_model("small").tier == "small"
    assert get_model("frontier").tier == "frontier"


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


def test_each_cloud_provider_has_a_small_and_a_frontier_model() -> None:
    tiers = {(m.provider, m.tier) for m in list_models()}
    for provider in ("openai", "anthropic", "google"):
        assert (provider, "small") in tiers and (provider, "frontier") in tiers


def test_cost_uses_per_million_prices() -> None:
    haiku = get_model("claude-haiku-4-5")  # $1 in / $5 out per million
    assert haiku.cost(1_000_000, 0) == pytest.approx(1.0)
    assert haiku.cost(2000, 500) == pytest.approx(2000 / 1e6 * 1 + 500 / 1e6 * 5)


def test_bad_registry_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("schema_version: 1\nmodels:\n  - {id: x, name: X, provider: p, api: carrier-pigeon, "
                    "tier: small, context_window: 10, price: {input_per_mtok: 1, output_per_mtok: 1, "
                    "read_on: 2025-01-01, source: test}}\n")
    with pytest.raises(RightsizeError, match=r"models\.0\.api"):
        load_registry(path)


def test_duplicate_alias_is_an_error(tmp_path: Path) -> None:
    entry = ("{{id: {id}, name: X, provider: p, api: openai, aliases: [same], tier: small, context_window: 10, "
             "price: {{input_per_mtok: 1, output_per_mtok: 1, read_on: 2025-01-01, source: test}}}}")
    path = tmp_path / "models.yaml"
    path.write_text("schema_version: 1\nmodels:\n  - " + entry.format(id="a") + "\n  - " + entry.format(id="b") + "\n")
    with pytest.raises(RightsizeError, match="same"):
        load_registry(path)
