"""Structured outputs: parse a model's JSON leniently, validate it, and retry with the error.

Models asked for JSON break it in a few usual ways: a Markdown code fence around it, a sentence
before or after it, a trailing comma, single quotes, Python's ``True``/``None``, typographic
("smart") quotes, or an answer cut off by ``max_tokens``. The measures, cheapest first:

1. :func:`lenient_parse` repairs those breakages and **says which repairs it made** (a repair is
   a guess; the lesson counts how often each was needed);
2. :func:`validate` checks the value against a JSON Schema or a pydantic model and returns
   readable errors (``quantity: 'three' is not of type 'integer'``);
3. :func:`complete_structured` sends the request, and when the answer does not validate, sends it
   back with the validation errors and asks again (``retries`` times), recording what fixed it;
4. with ``grammar=True`` a model that supports it (the local model does) is constrained to the
   schema while decoding, so its answer is JSON of the right shape by construction, unless it is
   cut off by ``max_tokens``.

:func:`measure_table` turns a list of outcomes into parse and schema success rates before and
after each measure, the numbers lesson 07 is about.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from .errors import RightsizeError

if TYPE_CHECKING:
    import pandas as pd

    from .providers.base import Provider, Response

__all__ = [
    "Attempt",
    "ParseResult",
    "SchemaLike",
    "StructuredOutcome",
    "StructuredResult",
    "complete_structured",
    "feedback_message",
    "grammar_schema",
    "json_schema_of",
    "lenient_parse",
    "measure_table",
    "parse_and_validate",
    "strict_parse",
    "validate",
]

SchemaLike = Mapping[str, Any] | type[BaseModel]

# repair names, as reported in ParseResult.repairs
FENCE = "removed a Markdown code fence"
LEADING = "removed prose before the JSON"
TRAILING = "removed prose after the JSON"
SMART = "replaced typographic quotes with plain quotes"
SINGLE = "turned single-quoted strings into double-quoted ones"
PYTHON = "turned Python literals (True/False/None) into JSON (true/false/null)"
COMMAS = "removed trailing commas"
CLOSED = "closed brackets left open (the answer was cut off)"
STRING_CLOSED = "closed a string left open (the answer was cut off)"

_SMART_DOUBLE = dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"), '"')
_SMART_SINGLE = dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032"), "'")
_FENCE = re.compile(r"```[ \t]*(?:json|JSON|json5|javascript|js|python)?[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
_MAX_STARTS = 20  # candidate positions of "{" or "[" tried before giving up


@dataclass(frozen=True)
class ParseResult:
    """What :func:`lenient_parse` made of a text: the value, the repairs it needed, or an error."""

    value: Any
    repairs: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when a JSON value was read (``value`` may still be ``None`` for a JSON ``null``)."""
        return self.error is None

    @property
    def repaired(self) -> bool:
        return bool(self.repairs)


def strict_parse(text: str) -> ParseResult:
    """``json.loads`` and nothing else: what a program without repairs would get."""
    try:
        return ParseResult(json.loads(text))
    except (json.JSONDecodeError, TypeError) as exc:
        return ParseResult(None, (), f"not valid JSON: {exc}")


def _scan(text: str, start: int) -> tuple[str, int, set[str]] | None:
    """Rewrite the JSON-ish value that opens at ``text[start]`` into JSON.

    Returns the rewritten text, the index just after the value in ``text`` (len(text) when the
    value was cut off) and the repairs made; None when ``text[start]`` does not open a value.
    The scanner knows strings, so a comma or ``True`` inside a string is left alone.
    """
    if text[start] not in "{[":
        return None
    out: list[str] = []
    stack: list[str] = []
    repairs: set[str] = set()
    i, n = start, len(text)
    while i < n:
        char = text[i]
        if char in "\"'":
            j = i + 1
            while j < n and text[j] != char:
                j += 2 if text[j] == "\\" else 1
            body = text[i + 1 : min(j, n)]
            if char == "'":
                repairs.add(SINGLE)
                body = re.sub(r'(?<!\\)"', r'\\"', body.replace("\\'", "'"))
            out.append('"' + body + '"')
            if j >= n:
                repairs.add(STRING_CLOSED)
            i = j + 1
            continue
        if char in "{[":
            stack.append("}" if char == "{" else "]")
            out.append(char)
        elif char in "}]":
            _drop_trailing_comma(out, repairs)
            if not stack or stack[-1] != char:
                return "".join(out) + char, i + 1, repairs  # mismatched: let json.loads report it
            stack.pop()
            out.append(char)
            if not stack:
                return "".join(out), i + 1, repairs
        elif char.isalpha() or char == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            if word in _PYTHON_WORDS:
                repairs.add(PYTHON)
                word = _PYTHON_WORDS[word]
            out.append(word)
            i = j
            continue
        else:
            out.append(char)
        i += 1
    # the text ended inside the value: close what is open
    _drop_trailing_comma(out, repairs)
    while out and out[-1].strip() in (":", ""):
        out.pop()
    if stack:
        repairs.add(CLOSED)
        out.extend(reversed(stack))
    return "".join(out), n, repairs


def _drop_trailing_comma(out: list[str], repairs: set[str]) -> None:
    k = len(out) - 1
    while k >= 0 and out[k].isspace():
        k -= 1
    if k >= 0 and out[k] == ",":
        del out[k]
        repairs.add(COMMAS)


def lenient_parse(text: str) -> ParseResult:
    """Read a JSON object or array from a model's answer, repairing the usual breakage.

    Handles, and reports in ``repairs``: Markdown code fences, prose before or after the JSON,
    typographic quotes, single-quoted strings, Python ``True``/``False``/``None``, trailing
    commas, and an answer cut off mid-object (open brackets and strings are closed). A text
    that is valid JSON already comes back with no repairs. When nothing readable is found,
    ``error`` says why and ``value`` is None.
    """
    if text is None or not str(text).strip():
        return ParseResult(None, (), "the answer is empty")
    text = str(text)
    first = strict_parse(text)
    if first.ok:
        return first
    repairs: list[str] = []
    body = text
    fence = _FENCE.search(body)
    if fence and fence.group(1).strip():
        if body[: fence.start()].strip():
            repairs.append(LEADING)
        if body[fence.end() :].strip():
            repairs.append(TRAILING)
        body = fence.group(1)
        repairs.insert(0, FENCE)
    attempt = strict_parse(body.strip())
    if attempt.ok:
        return ParseResult(attempt.value, tuple(repairs))
    smart = body.translate(_SMART_DOUBLE).translate(_SMART_SINGLE)
    if smart != body:  # only now: a typographic apostrophe inside valid JSON is content, not breakage
        repairs.append(SMART)
        body = smart
        attempt = strict_parse(body.strip())
        if attempt.ok:
            return ParseResult(attempt.value, tuple(repairs))
    starts = [m.start() for m in re.finditer(r"[{\[]", body)][:_MAX_STARTS]
    if not starts:
        return ParseResult(None, tuple(repairs), "no JSON object or array in the answer")
    first_error: str | None = None
    for start in starts:
        scanned = _scan(body, start)
        if scanned is None:
            continue
        rewritten, end, made = scanned
        try:
            value = json.loads(rewritten)
        except json.JSONDecodeError as exc:
            first_error = first_error or f"not valid JSON even after repairs: {exc}"
            continue
        found = list(repairs)
        if body[:start].strip() and LEADING not in found:
            found.append(LEADING)
        if body[end:].strip() and TRAILING not in found:
            found.append(TRAILING)
        found.extend(r for r in (SINGLE, PYTHON, COMMAS, STRING_CLOSED, CLOSED) if r in made)
        return ParseResult(value, tuple(found))
    return ParseResult(None, tuple(repairs), first_error or "no JSON object or array in the answer")


# -- validation ----------------------------------------------------------------------------------


def json_schema_of(schema: SchemaLike) -> dict[str, Any]:
    """The JSON Schema of a schema dict (itself) or of a pydantic model class."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    if isinstance(schema, Mapping):
        return dict(schema)
    raise RightsizeError(f"a schema must be a JSON Schema dict or a pydantic model class, not {type(schema).__name__}")


_NESTED = ("properties", "patternProperties", "$defs", "definitions")


def grammar_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The same schema with every nullable union spelled ``anyOf``, for grammar-constrained decoding.

    ``{"type": ["string", "null"], "pattern": ...}`` and ``{"anyOf": [{"type": "string",
    "pattern": ...}, {"type": "null"}]}`` accept the same values, but llama.cpp's schema-to-grammar
    converter drops ``pattern``, ``format`` and ``enum`` from the first form and keeps them in the
    second (measured: with the first, the local model wrote ``"delivery_date": "13-11-2026"``
    under the grammar). Validation still uses the original schema.
    """

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, Mapping):
            return node
        out = {k: convert(v) if k in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "not") else v
               for k, v in node.items()}
        for key in _NESTED:
            if isinstance(node.get(key), Mapping):
                out[key] = {name: convert(sub) for name, sub in node[key].items()}
        types = node.get("type")
        if isinstance(types, list) and "null" in types and len(types) > 1:
            keep = {k: v for k, v in out.items() if k not in ("type", "description", "title", "enum")}
            enum = [v for v in node.get("enum", []) if v is not None] if "enum" in node else None
            branches: list[dict[str, Any]] = []
            for kind in types:
                if kind == "null":
                    continue
                branch = {"type": kind, **keep}
                if enum is not None:
                    branch["enum"] = enum
                branches.append(branch)
            out = {k: out[k] for k in ("description", "title") if k in out}
            out["anyOf"] = [*branches, {"type": "null"}]
        return out

    converted: dict[str, Any] = convert(json_schema_of(schema))
    return converted


def _path(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the whole value)"


def validate(value: Any, schema: SchemaLike) -> list[str]:
    """Every way ``value`` breaks ``schema`` (a JSON Schema dict or a pydantic model class).

    Returns readable errors such as ``"quantity: 'three' is not of type 'integer'"``, sorted
    by where they are; an empty list means valid. JSON Schema formats (``date``...) are checked.
    An invalid schema is an error that says so.
    """
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            schema.model_validate(value)
        except PydanticValidationError as exc:
            return [f"{_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        return []
    if not isinstance(schema, Mapping):
        raise RightsizeError(f"a schema must be a JSON Schema dict or a pydantic model class, not {type(schema).__name__}")
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise RightsizeError(f"the schema itself is not valid JSON Schema: {exc.message} "
                             f"(at {_path(list(exc.path))})") from exc
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{_path(list(e.absolute_path))}: {e.message}" for e in errors]


@dataclass(frozen=True)
class StructuredResult:
    """A text read as JSON and checked: the value, the repairs needed, and what is still wrong."""

    value: Any
    parse_ok: bool
    schema_ok: bool
    repairs: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.parse_ok and self.schema_ok


def parse_and_validate(text: str, schema: SchemaLike, *, lenient: bool = True) -> StructuredResult:
    """Parse ``text`` (leniently, unless ``lenient=False``) and validate it against ``schema``."""
    parsed = lenient_parse(text) if lenient else strict_parse(text)
    if not parsed.ok:
        return StructuredResult(None, False, False, parsed.repairs, (parsed.error or "not JSON",))
    errors = validate(parsed.value, schema)
    return StructuredResult(parsed.value, True, not errors, parsed.repairs, tuple(errors))


# -- asking again ----------------------------------------------------------------------------------


def feedback_message(errors: Sequence[str], *, limit: int = 5) -> str:
    """The user message sent back after an invalid answer: what was wrong and what to do."""
    shown = "\n".join(f"- {e}" for e in list(errors)[:limit])
    more = f"\n(and {len(errors) - limit} more)" if len(errors) > limit else ""
    return ("Your answer was not valid:\n" f"{shown}{more}\n"
            "Reply with only the corrected JSON object, nothing else.")


@dataclass
class Attempt:
    """One request of a structured completion and what its answer was worth."""

    text: str
    strict: StructuredResult
    lenient: StructuredResult
    response: Response | None = None

    @property
    def latency_s(self) -> float:
        r = self.response
        return float(r.end_to_end or 0.0) if r is not None else 0.0


@dataclass
class StructuredOutcome:
    """The result of :func:`complete_structured`: every attempt and what fixed the answer.

    ``stage`` is where the answer first became valid: ``"raw"`` (valid as returned),
    ``"lenient"`` (valid after repairs), ``"retry"`` (valid after sending the errors back) or
    ``"failed"``. ``grammar`` says whether decoding was constrained by the schema.
    """

    attempts: list[Attempt]
    grammar: bool
    lenient: bool
    value: Any = None
    stage: str = "failed"
    repairs: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    retries_used: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.stage != "failed"

    # before/after flags, for measure_table
    @property
    def raw_parse_ok(self) -> bool:
        return self.attempts[0].strict.parse_ok

    @property
    def raw_schema_ok(self) -> bool:
        return self.attempts[0].strict.ok

    @property
    def lenient_parse_ok(self) -> bool:
        return self.attempts[0].lenient.parse_ok

    @property
    def lenient_schema_ok(self) -> bool:
        return self.attempts[0].lenient.ok

    @property
    def final_parse_ok(self) -> bool:
        last = self.attempts[-1]
        return (last.lenient if self.lenient else last.strict).parse_ok

    @property
    def final_schema_ok(self) -> bool:
        return self.valid

    @property
    def latency_s(self) -> float:
        """Seconds spent over all attempts (a retry is paid for in time)."""
        return sum(a.latency_s for a in self.attempts)

    @property
    def input_tokens(self) -> int:
        return sum((a.response.usage.input_tokens or 0) for a in self.attempts if a.response is not None)

    @property
    def output_tokens(self) -> int:
        return sum((a.response.usage.output_tokens or 0) for a in self.attempts if a.response is not None)


def _judge(text: str, schema: SchemaLike) -> tuple[StructuredResult, StructuredResult]:
    strict = parse_and_validate(text, schema, lenient=False)
    lenient = strict if strict.parse_ok else parse_and_validate(text, schema, lenient=True)
    return strict, lenient


def complete_structured(
    provider: Provider,
    messages: str | list[dict[str, str]],
    schema: SchemaLike,
    *,
    retries: int = 1,
    grammar: bool = False,
    lenient: bool = True,
    rewrite_for_grammar: bool = True,
    system: str | None = None,
    send: Callable[..., Response] | None = None,
    **options: Any,
) -> StructuredOutcome:
    """Ask ``provider`` for JSON matching ``schema``; repair, validate, and retry with the errors.

    Each answer is parsed strictly, then (with ``lenient=True``) leniently; when it still fails
    to validate, the answer and :func:`feedback_message` are appended to the conversation and the
    model is asked again, up to ``retries`` times. ``grammar=True`` passes the schema (rewritten by
    :func:`grammar_schema`) as ``json_schema=`` so decoding is constrained (only for models whose
    registry entry says ``json_schema``; ``rewrite_for_grammar=False`` sends the schema as written). ``options`` go to ``provider.complete`` (``max_tokens``, ``temperature``...).
    ``send`` replaces ``provider.complete`` (the evaluation harness passes a caching one).
    """
    if retries < 0:
        raise RightsizeError(f"retries must be 0 or more, not {retries}")
    conversation = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
    call = send or provider.complete
    if grammar:
        plain = json_schema_of(schema)
        options["json_schema"] = grammar_schema(plain) if rewrite_for_grammar else plain
    outcome = StructuredOutcome(attempts=[], grammar=grammar, lenient=lenient)
    for number in range(retries + 1):
        response = call(conversation, system=system, **options)
        text = response.text
        strict, loose = _judge(text, schema)
        outcome.attempts.append(Attempt(text, strict, loose, response))
        result = loose if lenient else strict
        outcome.value, outcome.repairs, outcome.errors = result.value, result.repairs, result.errors
        outcome.retries_used = number
        if result.ok:
            outcome.stage = "retry" if number else ("raw" if strict.ok else "lenient")
            return outcome
        if number < retries:
            conversation = [*conversation, {"role": "assistant", "content": text},
                            {"role": "user", "content": feedback_message(result.errors)}]
    outcome.stage = "failed"
    return outcome


# -- before/after metrics --------------------------------------------------------------------------


def measure_table(runs: Mapping[str, Sequence[StructuredOutcome]]) -> pd.DataFrame:
    """Parse and schema success before and after each measure, one row per measure.

    ``runs`` maps a run name to its outcomes, e.g. ``{"free text": outcomes, "grammar": ...}``.
    A free-text run with ``lenient=True`` and ``retries>=1`` gives three rows (as returned;
    after lenient parsing; after retrying with the errors); a grammar run gives its own rows.
    Rates are shares of items; ``calls_per_item`` shows what the retries cost.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for name, outcomes in runs.items():
        items = list(outcomes)
        if not items:
            raise RightsizeError(f"the run {name!r} has no outcomes to measure")
        n = len(items)
        steps: list[tuple[str, Callable[[StructuredOutcome], bool], Callable[[StructuredOutcome], bool]]] = [
            ("as returned (json.loads)", lambda o: o.raw_parse_ok, lambda o: o.raw_schema_ok)]
        if any(o.lenient for o in items):
            steps.append(("+ lenient parse", lambda o: o.lenient_parse_ok, lambda o: o.lenient_schema_ok))
        if any(len(o.attempts) > 1 for o in items) or any(o.extra.get("retries", 0) for o in items):
            steps.append(("+ retry with the errors", lambda o: o.final_parse_ok, lambda o: o.final_schema_ok))
        for step, parse_ok, schema_ok in steps:
            rows.append({
                "run": name, "measure": step,
                "parse_ok": sum(map(parse_ok, items)) / n,
                "schema_ok": sum(map(schema_ok, items)) / n,
                "items": n,
                "calls_per_item": sum(len(o.attempts) for o in items) / n if "retry" in step else 1.0,
            })
    return pd.DataFrame(rows)
