"""The cost model, checked against sums done by hand (prices from rightsize/models.yaml)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from rightsize import cost
from rightsize.errors import RightsizeError
from rightsize.providers import endpoint_model
from rightsize.providers.base import Response, Usage
from rightsize.registry import get_model


def test_request_cost_by_hand() -> None:
    # Claude Haiku 4.5 at $1 / $5 per million: 800 * 1e-6 + 200 * 5e-6 = 0.0008 + 0.0010
    c = cost.request_cost("haiku", Usage(800, 200))
    assert c.usd == pytest.approx(0.0018) and float(c) == pytest.approx(0.0018)
    assert c.price_read_on == dt.date(2025, 12, 1) and "second-hand" in c.price_source
    assert "2025-12-01" in str(c)
    # GPT-4o mini at $0.15 / $0.60: 1000 * 0.15e-6 + 500 * 0.6e-6 = 0.00015 + 0.0003
    assert cost.request_cost("gpt-4o-mini", (1000, 500)).usd == pytest.approx(0.00045)
    assert cost.request_cost("sonnet", {"input_tokens": 1_000_000, "output_tokens": 0}).usd == pytest.approx(3.0)
    response = Response("m", "p", True, 0.0, 0.0, usage=Usage(2000, 100))
    assert cost.request_cost("opus", response).usd == pytest.approx(2000 * 5e-6 + 100 * 25e-6)


def test_missing_or_bad_usage_is_an_error() -> None:
    with pytest.raises(RightsizeError, match="no token counts"):
        cost.request_cost("haiku", Usage(10, None))
    with pytest.raises(RightsizeError, match="negative"):
        cost.request_cost("haiku", (-1, 5))


def test_cost_table_by_hand() -> None:
    table = cost.cost_table(["haiku", "sonnet", "local"], input_tokens=800, output_tokens=200, requests_per_day=10_000)
    haiku = table.set_index("model").loc["claude-haiku-4-5"]
    assert haiku["per_request"] == pytest.approx(0.0018)
    assert haiku["per_1k_requests"] == pytest.approx(1.8)
    assert haiku["per_10k_requests"] == pytest.approx(18.0)
    assert haiku["per_day"] == pytest.approx(18.0)
    assert haiku["per_month"] == pytest.approx(540.0)  # 18 a day for 30 days
    sonnet = table.set_index("model").loc["claude-sonnet-4-5"]
    assert sonnet["per_request"] == pytest.approx(800 * 3e-6 + 200 * 15e-6)  # 0.0054
    assert {"price_read_on", "price_source", "price_known"} <= set(table.columns)
    assert list(table["price_read_on"]) == ["2025-12-01", "2025-12-01", "2026-11-22"]
    assert table.set_index("model").loc["smollm2-135m-instruct", "per_month"] == 0.0
    assert table.attrs["days_per_month"] == 30


def test_models_without_a_price_are_flagged_not_free() -> None:
    mine = endpoint_model("my-llama", "http://localhost:8000/v1")
    assert not cost.price_known(mine)
    c = cost.request_cost(mine, (100, 100))
    assert c.usd is None and not c.known and "unknown" in str(c)
    with pytest.raises(RightsizeError, match="unknown"):
        float(c)
    row = cost.cost_table([mine, "haiku"], 100, 100).iloc[0]
    assert not row["price_known"] and pd.isna(row["per_request"]) and pd.isna(row["per_month"])
    assert pd.isna(row["price_read_on"]) and row["price_source"] == "no known price"
    with pytest.raises(RightsizeError, match="no known price"):
        cost.break_even(500, mine, 100, 100)


def test_break_even_by_hand() -> None:
    # Sonnet: 800 in + 200 out = $0.0054 a request; a $600/month server pays above 600 / 0.0054 requests
    even = cost.break_even(600, "sonnet", 800, 200)
    assert even.cost_per_request == pytest.approx(0.0054)
    assert even.requests_per_month == pytest.approx(111_111.11, rel=1e-6)
    assert even.requests_per_day == pytest.approx(3703.70, rel=1e-5)
    assert even.requests_per_second == pytest.approx(111_111.11 / (30 * 86400), rel=1e-6)
    assert even.api_cost(even.requests_per_month) == pytest.approx(600)
    assert "2025-12-01" in str(even) and "111,111 requests/month" in str(even)
    assert even.within_capacity is None
    tight = cost.break_even(600, "gpt-4o-mini", 800, 200, server_capacity_rps=0.5)
    assert tight.requests_per_second == pytest.approx(2_500_000 / (30 * 86400))  # 0.96/s: above 0.5
    assert tight.within_capacity is False and "cannot carry" in str(tight)
    with pytest.raises(RightsizeError, match="costs nothing per token"):
        cost.break_even(600, "local", 800, 200)
    with pytest.raises(RightsizeError, match="non-negative"):
        cost.break_even(-1, "sonnet", 800, 200)


def test_monthly_cost() -> None:
    month = cost.monthly_cost("gpt-4o", 1000, 1000, requests_per_day=100)
    assert month.usd == pytest.approx((1000 * 2.5e-6 + 1000 * 10e-6) * 100 * 30)  # 37.5
    assert month.price_read_on == dt.date(2025, 12, 1)


# -- hidden reasoning tokens, billed as output ------------------------------------------------------
def test_a_planned_request_adds_the_models_stated_reasoning_assumption() -> None:
    assumed = get_model("gpt-5-mini").reasoning.assumed_tokens_per_request
    assert assumed > 0
    c = cost.request_cost("gpt-5-mini", (600, 150))
    # GPT-5 mini at $0.25 / $2.00: the reasoning is billed at the output price
    assert c.usd == pytest.approx(600 * 0.25e-6 + (150 + assumed) * 2e-6)
    assert (c.output_tokens, c.reasoning_tokens, c.billed_output_tokens) == (150, assumed, 150 + assumed)
    assert c.reasoning_basis == "assumed" and "hidden reasoning (assumed)" in str(c)
    # a model that does not reason adds nothing
    plain = cost.request_cost("gpt-4o-mini", (600, 150))
    assert (plain.reasoning_tokens, plain.reasoning_basis) == (0, "none") and "reasoning" not in str(plain)


def test_the_real_reasoning_count_replaces_the_assumption() -> None:
    c = cost.request_cost("gpt-5-mini", (600, 150), reasoning_tokens=1_200)
    assert c.usd == pytest.approx(600 * 0.25e-6 + 1_350 * 2e-6) and c.reasoning_basis == "given"
    assert cost.request_cost("gpt-5-mini", (600, 150), reasoning_tokens=0).usd == pytest.approx(
        600 * 0.25e-6 + 150 * 2e-6)
    with pytest.raises(RightsizeError, match="negative"):
        cost.request_cost("gpt-5-mini", (600, 150), reasoning_tokens=-5)


def test_a_measured_usage_already_holds_its_reasoning() -> None:
    measured = Usage(600, 650, reasoning_tokens=500)  # what the OpenAI adapter reads off the server
    c = cost.request_cost("gpt-5-mini", measured)
    assert c.usd == pytest.approx(600 * 0.25e-6 + 650 * 2e-6)  # nothing added on top
    assert (c.output_tokens, c.reasoning_tokens, c.reasoning_basis) == (150, 500, "reported")
    unsplit = cost.request_cost("gpt-5-mini", Usage(600, 650))
    assert unsplit.usd == c.usd and (unsplit.reasoning_tokens, unsplit.reasoning_basis) == (None, "measured")
    response = Response("gpt-5-mini", "openai", True, 0.0, 0.0, usage=measured)
    assert cost.request_cost("gpt-5-mini", response).usd == c.usd
    with pytest.raises(RightsizeError, match="already counts its reasoning"):
        cost.request_cost("gpt-5-mini", measured, reasoning_tokens=100)
    with pytest.raises(RightsizeError, match="must include them"):
        cost.request_cost("gpt-5-mini", Usage(600, 100, reasoning_tokens=500))


def test_cost_table_shows_the_reasoning_and_where_it_came_from() -> None:
    table = cost.cost_table(["gpt-4o-mini", "gpt-5-mini", "haiku"], input_tokens=600, output_tokens=150,
                            requests_per_day=100_000).set_index("model")
    assert {"reasoning_tokens", "reasoning_basis", "reasoning_source"} <= set(table.columns)
    mini5 = table.loc["gpt-5-mini"]
    assumption = get_model("gpt-5-mini").reasoning
    assert mini5["reasoning_tokens"] == assumption.assumed_tokens_per_request
    assert mini5["reasoning_basis"] == "assumed"
    assert str(assumption.as_of) in mini5["reasoning_source"] and "assumption" in mini5["reasoning_source"]
    per_request = 600 * 0.25e-6 + (150 + assumption.assumed_tokens_per_request) * 2e-6
    assert mini5["per_request"] == pytest.approx(per_request)
    assert mini5["per_month"] == pytest.approx(per_request * 100_000 * 30)
    assert table.loc["gpt-4o-mini", "reasoning_tokens"] == 0 and table.loc["gpt-4o-mini", "reasoning_basis"] == "none"
    assert pd.isna(table.loc["claude-haiku-4-5", "reasoning_source"])
    assert "reasoning" in table.attrs["note"]
    assert set(table["reasoning_basis"]) <= set(table.attrs["reasoning_bases"])


def test_cost_table_takes_measured_reasoning_per_model() -> None:
    table = cost.cost_table(["gpt-5-mini", "gpt-5"], 600, 150, reasoning_tokens={"gpt-5-mini": 900}).set_index("model")
    assert table.loc["gpt-5-mini", "reasoning_tokens"] == 900 and table.loc["gpt-5-mini", "reasoning_basis"] == "given"
    assert table.loc["gpt-5-mini", "per_request"] == pytest.approx(600 * 0.25e-6 + 1_050 * 2e-6)
    assert table.loc["gpt-5", "reasoning_basis"] == "assumed"  # the other model keeps the assumption
    with pytest.raises(RightsizeError, match="not in this table"):
        cost.cost_table(["gpt-5"], 600, 150, reasoning_tokens={"gpt-5-mini": 900})


def test_monthly_cost_and_break_even_count_the_reasoning() -> None:
    assumed = get_model("gpt-5").reasoning.assumed_tokens_per_request
    month = cost.monthly_cost("gpt-5", 1000, 100, requests_per_day=10)
    assert month.usd == pytest.approx((1000 * 1.25e-6 + (100 + assumed) * 10e-6) * 10 * 30)
    assert month.reasoning_tokens == assumed
    given = cost.monthly_cost("gpt-5", 1000, 100, requests_per_day=10, reasoning_tokens=0)
    assert given.usd == pytest.approx((1000 * 1.25e-6 + 100 * 10e-6) * 10 * 30)
    assumed = get_model("gpt-5-mini").reasoning.assumed_tokens_per_request
    even = cost.break_even(600, "gpt-5-mini", 800, 200)
    assert even.cost_per_request == pytest.approx(800 * 0.25e-6 + (200 + assumed) * 2e-6)
    assert even.reasoning_tokens == assumed and f"{assumed} hidden reasoning tokens (assumed)" in str(even)
    assert "reasoning" not in str(cost.break_even(600, "haiku", 800, 200))


def test_reasoning_tokens_for_a_model_that_bills_none_is_an_error() -> None:
    with pytest.raises(RightsizeError, match=r"claude-haiku-4-5 bills no hidden reasoning"):
        cost.request_cost("claude-haiku-4-5", (600, 150), reasoning_tokens=300)
    # zero is no claim at all, and a model that reasons takes the count
    assert cost.request_cost("claude-haiku-4-5", (600, 150), reasoning_tokens=0).usd == pytest.approx(
        cost.request_cost("claude-haiku-4-5", (600, 150)).usd)
