"""Structured outputs: the lenient parser repairs and reports, validation explains, retries feed errors back."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from rightsize.errors import RightsizeError
from rightsize.evals.scripted import ScriptedProvider
from rightsize.structured import (
    CLOSED,
    COMMAS,
    FENCE,
    LEADING,
    PYTHON,
    SINGLE,
    SMART,
    TRAILING,
    StructuredOutcome,
    complete_structured,
    lenient_parse,
    measure_table,
    parse_and_validate,
    strict_parse,
    validate,
)

ORDER = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "quantity": {"type": "integer", "minimum": 1},
        "date": {"type": ["string", "null"], "format": "date"},
    },
    "required": ["name", "quantity", "date"],
    "additionalProperties": False,
}
GOOD = {"name": "Ann", "quantity": 2, "date": None}


class Order(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1)


# -- lenient parsing ----------------------------------------------------------------------------------


def test_valid_json_needs_no_repair() -> None:
    result = lenient_parse('{"name": "Ann", "quantity": 2, "date": null}')
    assert result.ok and result.value == GOOD and result.repairs == ()


@pytest.mark.parametrize(("text", "repairs"), [
    ('```json\n{"name": "Ann", "quantity": 2, "date": null}\n```', [FENCE]),
    ('```\n{"name": "Ann", "quantity": 2, "date": null}', [FENCE]),  # fence never closed
    ('Sure! Here is the order: {"name": "Ann", "quantity": 2, "date": null}', [LEADING]),
    ('{"name": "Ann", "quantity": 2, "date": null}\nLet me know if you need more.', [TRAILING]),
    ('{"name": "Ann", "quantity": 2, "date": null,}', [COMMAS]),
    ("{'name': 'Ann', 'quantity': 2, 'date': None}", [SINGLE, PYTHON]),
    ('{\u201cname\u201d: \u201cAnn\u201d, \u201cquantity\u201d: 2, \u201cdate\u201d: null}', [SMART]),
    ('{"name": "Ann", "quantity": 2, "date": null', [CLOSED]),
    ('Answer:\n```json\n{"name": "Ann", "quantity": 2, "date": null,}\n```\nDone.', [FENCE, LEADING, TRAILING, COMMAS]),
])
def test_each_breakage_is_repaired_and_reported(text: str, repairs: list[str]) -> None:
    result = lenient_parse(text)
    assert result.ok, result.error
    assert result.value == GOOD
    assert sorted(result.repairs) == sorted(repairs)
    assert not strict_parse(text).ok  # json.loads alone fails on every one of them


def test_python_literals_and_commas_inside_strings_are_left_alone() -> None:
    result = lenient_parse("Result: {'note': 'True, None, and a comma,]', 'ok': True,}")
    assert result.value == {"note": "True, None, and a comma,]", "ok": True}
    assert set(result.repairs) == {LEADING, SINGLE, PYTHON, COMMAS}


def test_typographic_apostrophe_inside_valid_json_is_content() -> None:
    text = '{"name": "Ryan O\u2019Connor", "quantity": 1, "date": null}'
    assert lenient_parse(text).value["name"] == "Ryan O\u2019Connor"


@pytest.mark.parametrize(("text", "error"), [
    ("", "empty"),
    ("I'm sorry, I cannot help with that.", "no JSON object"),
    ('{"name": Ann}', "not valid JSON"),
])
def test_unreadable_answers_say_why(text: str, error: str) -> None:
    result = lenient_parse(text)
    assert not result.ok and result.value is None and error in (result.error or "")


# -- validation ------------------------------------------------------------------------------------


def test_json_schema_errors_name_the_field() -> None:
    assert validate(GOOD, ORDER) == []
    errors = validate({"name": "", "quantity": "three", "date": "2026-02-30", "extra": 1}, ORDER)
    text = "\n".join(errors)
    assert "quantity: 'three' is not of type 'integer'" in text
    assert "date: '2026-02-30' is not a 'date'" in text  # formats are checked
    assert "name:" in text and "Additional properties" in text


def test_pydantic_models_validate_too() -> None:
    assert validate({"name": "Ann", "quantity": 2}, Order) == []
    errors = validate({"name": "Ann", "quantity": 0}, Order)
    assert len(errors) == 1 and errors[0].startswith("quantity:")


def test_an_invalid_schema_is_reported_as_such() -> None:
    with pytest.raises(RightsizeError, match="not valid JSON Schema"):
        validate({}, {"type": "objekt"})
    with pytest.raises(RightsizeError, match="JSON Schema dict or a pydantic model"):
        validate({}, "schema.json")  # type: ignore[arg-type]


def test_parse_and_validate_combines_both() -> None:
    ok = parse_and_validate('```json\n{"name": "Ann", "quantity": 2, "date": null}\n```', ORDER)
    assert ok.ok and ok.repairs == (FENCE,)
    strict = parse_and_validate('```json\n{"name": "Ann", "quantity": 2, "date": null}\n```', ORDER, lenient=False)
    assert not strict.parse_ok
    bad = parse_and_validate('{"name": "Ann", "quantity": 0, "date": null}', ORDER)
    assert bad.parse_ok and not bad.schema_ok and "quantity" in bad.errors[0]


# -- retry with the error fed back -----------------------------------------------------------------


def test_retry_feeds_the_validation_error_back() -> None:
    fake = ScriptedProvider(['{"name": "Ann", "quantity": "two", "date": null}',
                             '{"name": "Ann", "quantity": 2, "date": null}'])
    outcome = complete_structured(fake, "Extract: Ann wants two.", ORDER, retries=1)
    assert outcome.stage == "retry" and outcome.value == GOOD and fake.calls == 2
    retry = fake.requests[1].messages
    assert retry[0] == {"role": "user", "content": "Extract: Ann wants two."}
    assert retry[1] == {"role": "assistant", "content": '{"name": "Ann", "quantity": "two", "date": null}'}
    assert retry[2]["role"] == "user" and "quantity: 'two' is not of type 'integer'" in retry[2]["content"]
    assert not outcome.raw_schema_ok and not outcome.lenient_schema_ok and outcome.final_schema_ok
    assert outcome.latency_s >= 0 and outcome.output_tokens > 0


def test_lenient_parse_fixes_before_any_retry() -> None:
    fake = ScriptedProvider(['Here: {"name": "Ann", "quantity": 2, "date": null,}'])
    outcome = complete_structured(fake, "x", ORDER, retries=2)
    assert outcome.stage == "lenient" and fake.calls == 1 and set(outcome.repairs) == {LEADING, COMMAS}
    assert outcome.raw_parse_ok is False and outcome.lenient_parse_ok is True


def test_valid_answer_is_raw_and_grammar_sends_the_schema() -> None:
    fake = ScriptedProvider(['{"name": "Ann", "quantity": 2}'])
    outcome = complete_structured(fake, "x", Order, grammar=True)
    assert outcome.stage == "raw" and outcome.grammar
    assert fake.requests[0].options.json_schema == Order.model_json_schema()


def test_failure_after_the_retries_keeps_the_errors() -> None:
    fake = ScriptedProvider(["no", "still no"])
    outcome = complete_structured(fake, "x", ORDER, retries=1)
    assert outcome.stage == "failed" and not outcome.valid and fake.calls == 2
    assert outcome.errors and "no JSON object" in outcome.errors[0]
    zero = complete_structured(ScriptedProvider(["no"]), "x", ORDER, retries=0)
    assert zero.stage == "failed" and len(zero.attempts) == 1
    with pytest.raises(RightsizeError, match="retries must be 0 or more"):
        complete_structured(fake, "x", ORDER, retries=-1)


def test_grammar_on_a_model_without_schema_support_is_a_clear_error() -> None:
    fake = ScriptedProvider(["{}"], json_schema=False)
    with pytest.raises(RightsizeError, match="does not take a JSON schema"):
        complete_structured(fake, "x", ORDER, grammar=True)


def test_measure_table_counts_before_and_after() -> None:
    outcomes: list[StructuredOutcome] = []
    for replies in (['{"name": "Ann", "quantity": 2, "date": null}'],  # raw
                    ['```json\n{"name": "Ann", "quantity": 2, "date": null}\n```'],  # lenient
                    ["nope", '{"name": "Ann", "quantity": 2, "date": null}'],  # retry
                    ["nope", "nope"]):  # failed
        outcomes.append(complete_structured(ScriptedProvider(replies), "x", ORDER, retries=1))
    table = measure_table({"free text": outcomes}).set_index("measure")
    assert table.loc["as returned (json.loads)", "parse_ok"] == 0.25
    assert table.loc["+ lenient parse", "schema_ok"] == 0.5
    assert table.loc["+ retry with the errors", "schema_ok"] == 0.75
    assert table.loc["+ retry with the errors", "calls_per_item"] == 1.5
    with pytest.raises(RightsizeError, match="no outcomes"):
        measure_table({"empty": []})


def test_grammar_schema_spells_nullable_unions_as_any_of() -> None:
    from rightsize.structured import grammar_schema

    rewritten = grammar_schema(ORDER)
    date = rewritten["properties"]["date"]
    assert date == {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]}
    currency = grammar_schema({"type": ["string", "null"], "enum": ["USD", "EUR", None]})
    assert currency == {"anyOf": [{"type": "string", "enum": ["USD", "EUR"]}, {"type": "null"}]}
    for value in (GOOD, {**GOOD, "date": "2026-02-30"}, {**GOOD, "date": 5}, {**GOOD, "quantity": 0}):
        assert bool(validate(value, ORDER)) == bool(validate(value, rewritten))  # same verdicts
    fake = ScriptedProvider(['{"name": "Ann", "quantity": 2, "date": null}'] * 2)
    complete_structured(fake, "x", ORDER, grammar=True)
    complete_structured(fake, "x", ORDER, grammar=True, rewrite_for_grammar=False)
    assert fake.requests[0].options.json_schema == rewritten
    assert fake.requests[1].options.json_schema == ORDER
