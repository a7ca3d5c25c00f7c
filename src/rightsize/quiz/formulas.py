"""Formulas and templates of variant questions, evaluated without Python's ``eval``.

A variant question (``quizzes/FORMAT.md``, "Variants") computes its answer and distractors from
named variables: ``(e2e - ttft) / (tokens - 1)``. Bank text is data, so it is never handed to
``eval``: :class:`Formula` parses it once with `simpleeval <https://pypi.org/project/simpleeval/>`_
(a maintained evaluator that walks the syntax tree itself and refuses attributes of private names,
imports, comprehensions and huge powers) and evaluates it against the variables of one variant,
with the arithmetic operators and the few functions in :data:`FUNCTIONS` only.

A :class:`Template` is text with ``{formula}`` or ``{formula:spec}`` fields (``{e2e:,}`` gives
``3,000``; ``{tpot:.1f}`` gives ``19.8``); ``{{`` and ``}}`` are literal braces. Fields are
evaluated as formulas and formatted with Python's format mini-language; nothing else of
``str.format`` (attribute or index lookup, ``!r``) is available.
"""

from __future__ import annotations

import ast
import math
import operator
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from simpleeval import InvalidExpression, SimpleEval

__all__ = ["FUNCTIONS", "Formula", "FormulaError", "Template", "format_values"]


# only these may appear in a formula: arithmetic, comparison, boolean logic and a few functions
FUNCTIONS: dict[str, Any] = {
    "abs": abs, "min": min, "max": max, "round": round, "int": int, "float": float,
    "ceil": math.ceil, "floor": math.floor, "sqrt": math.sqrt, "log10": math.log10,
}
_OPERATORS: dict[type, Any] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
# node types a formula may use; simpleeval would accept more (strings, subscripts, attributes)
_ALLOWED_NODES = (ast.Expression, ast.Expr, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
                  ast.Call, ast.Name, ast.Load, ast.Constant, ast.operator, ast.unaryop, ast.boolop,
                  ast.cmpop)


class FormulaError(ValueError):
    """A formula or template cannot be parsed, names an unknown variable, or fails to evaluate."""


def format_values(values: Mapping[str, Any]) -> str:
    """Variable values as problems show them: ``ttft=600, e2e=3000``."""
    return ", ".join(f"{name}={value!r}" for name, value in values.items())


@lru_cache(maxsize=4096)
def _parse(text: str) -> ast.AST:
    try:
        node = SimpleEval.parse(text)
    except SyntaxError as exc:
        raise FormulaError(f"{text!r} is not a formula: {exc.msg}") from exc
    except InvalidExpression as exc:
        raise FormulaError(f"{text!r} is not a formula: {exc}") from exc
    for child in ast.walk(node):
        if not isinstance(child, _ALLOWED_NODES):
            raise FormulaError(f"{text!r} uses {type(child).__name__}, which formulas do not allow; "
                               "use numbers, variables, + - * / // % **, comparisons, and/or/not, "
                               f"x if c else y and {', '.join(sorted(FUNCTIONS))}")
        if isinstance(child, ast.Constant) and not isinstance(child.value, (int, float)):
            raise FormulaError(f"{text!r} holds {child.value!r}; formulas use numbers only")
        if isinstance(child, ast.Call) and not (isinstance(child.func, ast.Name) and child.func.id in FUNCTIONS):
            raise FormulaError(f"{text!r} calls something that is not one of {', '.join(sorted(FUNCTIONS))}")
    return node


@dataclass(frozen=True)
class Formula:
    """One formula of the bank, parsed once; :meth:`evaluate` computes it for one variant."""

    text: str

    def __post_init__(self) -> None:
        _parse(self.text)  # raises FormulaError now, not at the first variant

    @property
    def names(self) -> set[str]:
        """The variable names the formula reads (function names excluded)."""
        node = _parse(self.text)
        called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in called}

    def check_names(self, known: Iterable[str]) -> None:
        """Raise :class:`FormulaError` naming any variable the formula reads that is not in ``known``."""
        unknown = sorted(self.names - set(known))
        if unknown:
            raise FormulaError(f"{self.text!r} reads {', '.join(unknown)}, which "
                               f"{'is' if len(unknown) == 1 else 'are'} not defined "
                               f"(known here: {', '.join(sorted(known)) or 'nothing'})")

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The formula's value for these variables; :class:`FormulaError` says why it failed."""
        evaluator = SimpleEval(operators=_OPERATORS, functions=FUNCTIONS, names=dict(values))
        try:
            result = evaluator.eval(self.text, previously_parsed=_parse(self.text))
        except ZeroDivisionError as exc:
            raise FormulaError(f"{self.text!r} divides by zero") from exc
        except (InvalidExpression, ArithmeticError, TypeError, ValueError) as exc:
            raise FormulaError(f"{self.text!r} fails: {exc}") from exc
        if isinstance(result, float) and not math.isfinite(result):
            raise FormulaError(f"{self.text!r} gives {result}, not a finite number")
        return result


@dataclass(frozen=True)
class _Field:
    formula: Formula
    spec: str


@lru_cache(maxsize=4096)
def _parse_template(text: str) -> tuple[tuple[str, _Field | None], ...]:
    parts: list[tuple[str, _Field | None]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise FormulaError(f"a template has unbalanced braces ({exc}); write {{{{ and }}}} for literal "
                           f"braces: {text[:60]!r}") from exc
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None))
            continue
        if not field.strip():
            raise FormulaError(f"a template has an empty {{}} field; put a formula inside: {text[:60]!r}")
        if conversion is not None:
            raise FormulaError(f"the field {{{field}!{conversion}}} uses a conversion; templates take "
                               "{formula} or {formula:spec} only ('!=' is not available in templates)")
        if spec and ("{" in spec or "}" in spec):
            raise FormulaError(f"the field {{{field}:{spec}}} nests braces in its format; write a plain spec")
        parts.append((literal, _Field(Formula(field.strip()), spec or "")))
    return tuple(parts)


@dataclass(frozen=True)
class Template:
    """Text with ``{formula}`` and ``{formula:spec}`` fields (see the module docstring)."""

    text: str

    def __post_init__(self) -> None:
        _parse_template(self.text)

    @property
    def formulas(self) -> list[Formula]:
        """The formulas of the template's fields, in order."""
        return [f.formula for _, f in _parse_template(self.text) if f is not None]

    def render(self, values: Mapping[str, Any]) -> str:
        """The text for one variant; :class:`FormulaError` names the field that failed."""
        out = []
        for literal, field in _parse_template(self.text):
            out.append(literal)
            if field is None:
                continue
            value = field.formula.evaluate(values)
            try:
                out.append(format(value, field.spec))
            except (ValueError, TypeError) as exc:
                raise FormulaError(f"the field {{{field.formula.text}:{field.spec}}} cannot format "
                                   f"{value!r}: {exc}") from exc
        return "".join(out)
