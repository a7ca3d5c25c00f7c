"""Variant questions: numbers regenerated from named variables, every variant checkable.

A scenario question may declare ``variables`` (each a list of ``choices`` or a ``min``/``max``/
``step`` range, and a ``default``), derived values under ``let``, constraints under ``where``, and
an ``answer`` formula; its stem, choice texts and ``why`` are then templates
(:class:`~rightsize.quiz.formulas.Template`), and each choice says how its correctness is computed:
``value`` (a formula; the choice is right when it equals ``answer``) or ``holds`` (a condition).
The ``correct`` flags written in the bank are the claim; :func:`variant_problems` checks them
against the formulas for one assignment of the variables, and :func:`check_variants` does so for
every variant (or a sample when the space is large). The defaults are the public variant: the
self-paced widget and the unseeded graded quiz show exactly them (:func:`render_default`).

:func:`seeded_quiz` makes the graded quiz of a build with a variant seed: new numbers for every
variant question, the choices of every question shuffled (the key follows), and, when the bank
marks questions ``graded_only``, some concept questions replaced by ones the widget never shows.
Each draw comes from a generator seeded with a SHA-256 of the seed, the lesson and the question
id, so the same seed gives the same quiz and adding a question does not move the others; the
seed itself is written nowhere.
"""

from __future__ import annotations

import hashlib
import itertools
import keyword
import math
import os
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bank import LETTERS, LessonQuiz, Number, Question, QuizBankError, Variable, _question_problems
from .formulas import FUNCTIONS, Formula, FormulaError, Template, format_values

__all__ = [
    "EXHAUSTIVE_LIMIT",
    "SAMPLES",
    "SEED_ENV",
    "SEED_FILE",
    "SeededQuiz",
    "VariantCheck",
    "check_variants",
    "find_variant_seed",
    "render",
    "render_default",
    "seeded_quiz",
    "space_size",
    "structure_problems",
    "values_of",
    "variant_problems",
]

SEED_ENV = "RIGHTSIZE_VARIANT_SEED"
SEED_FILE = "variant-seed.txt"
EXHAUSTIVE_LIMIT = 2000  # spaces up to this size are checked variant by variant
SAMPLES = 400            # variants checked in a larger space (the default is always one of them)
_MAX_REPORTED = 3        # failing variants reported per question; the rest are counted


# --------------------------------------------------------------------------------------------
# The space of variants
# --------------------------------------------------------------------------------------------

def values_of(variable: Variable) -> list[Number]:
    """Every value a variable can take, in order (a ``choices`` list, or ``min``..``max`` by ``step``)."""
    if variable.choices is not None:
        return list(variable.choices)
    assert variable.min is not None and variable.max is not None  # structure_problems checks it
    step = variable.step if variable.step is not None else 1
    count = math.floor((variable.max - variable.min) / step + 1e-9) + 1
    values = [variable.min + i * step for i in range(count)]
    if all(isinstance(x, int) for x in (variable.min, variable.max, step)):
        return values
    digits = max(_decimals(x) for x in (variable.min, step))
    return [round(x, digits) for x in values]


def _decimals(number: Number) -> int:
    text = repr(float(number))
    return len(text.split(".")[1].rstrip("0")) if "." in text and "e" not in text else 10


def default_values(question: Question) -> dict[str, Number]:
    """The default variant: every variable at its ``default``."""
    return {name: spec.default for name, spec in (question.variables or {}).items()}


def space_size(question: Question) -> int:
    """How many assignments of the variables there are (before ``where`` removes some)."""
    return math.prod(len(values_of(v)) for v in (question.variables or {}).values())


def _assignments(question: Question) -> Iterator[dict[str, Number]]:
    names = list(question.variables or {})
    for combo in itertools.product(*(values_of(question.variables[n]) for n in names)):  # type: ignore[index]
        yield dict(zip(names, combo))


def _random_assignment(question: Question, rng: random.Random) -> dict[str, Number]:
    return {name: rng.choice(values_of(spec)) for name, spec in (question.variables or {}).items()}


def _scope(question: Question, variables: Mapping[str, Number]) -> dict[str, Any]:
    """The variables and the ``let`` values computed from them, in order."""
    scope: dict[str, Any] = dict(variables)
    for name, text in question.let.items():
        try:
            scope[name] = Formula(text).evaluate(scope)
        except FormulaError as exc:
            raise FormulaError(f"let {name}: {exc}") from exc
    return scope


def admissible(question: Question, variables: Mapping[str, Number]) -> bool:
    """Whether an assignment satisfies every ``where`` condition (raises FormulaError if one fails)."""
    scope = _scope(question, variables)
    for text in question.where:
        try:
            if not Formula(text).evaluate(scope):
                return False
        except FormulaError as exc:
            raise FormulaError(f"where: {exc}") from exc
    return True


# --------------------------------------------------------------------------------------------
# One variant
# --------------------------------------------------------------------------------------------

def _close(a: Any, b: Any) -> bool:
    return bool(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12))


def _computed_correct(question: Question, scope: Mapping[str, Any]) -> list[tuple[bool, str]]:
    """Per choice: whether the formulas make it right, and what they computed (for messages)."""
    answer = Formula(question.answer).evaluate(scope) if question.answer is not None else None
    out = []
    for choice in question.choices:
        if choice.value is not None:
            value = Formula(choice.value).evaluate(scope)
            out.append((_close(value, answer), f"its value {value:g} {'=' if _close(value, answer) else '!='} "
                                               f"the answer {answer:g}"))
        else:
            holds = Formula(choice.holds or "").evaluate(scope)
            out.append((bool(holds), f"its condition {choice.holds!r} is {bool(holds)}"))
    return out


def render(question: Question, variables: Mapping[str, Number]) -> Question:
    """The concrete question of one variant: templates filled in, the variant fields dropped.

    Raises :class:`FormulaError` when a formula or template fails for these values.
    """
    if not question.variables:
        return question
    scope = _scope(question, variables)

    def fill(template: str, what: str) -> str:
        try:
            return Template(template).render(scope)
        except FormulaError as exc:
            raise FormulaError(f"{what}: {exc}") from exc

    choices = [{"text": fill(c.text, f"choice {LETTERS[i]} text"), "correct": c.correct,
                "why": fill(c.why, f"choice {LETTERS[i]} why")} for i, c in enumerate(question.choices)]
    data = question.model_dump(exclude={"variables", "let", "where", "answer", "choices", "stem"})
    return Question.model_validate({**data, "stem": fill(question.stem, "stem"), "choices": choices})


def render_default(question: Question) -> Question:
    """The public variant of a question (itself when it has no variables)."""
    return render(question, default_values(question)) if question.variables else question


def variant_problems(question: Question, variables: Mapping[str, Number]) -> list[str]:
    """What is wrong with one variant: formulas that fail, claims the formulas contradict, and the
    per-question rules of FORMAT.md applied to the rendered question. Empty when it is fine."""
    try:
        scope = _scope(question, variables)
        computed = _computed_correct(question, scope)
        concrete = render(question, variables)
    except FormulaError as exc:
        return [str(exc)]
    problems = []
    for i, (choice, (right, how)) in enumerate(zip(question.choices, computed)):
        if right != choice.correct:
            claim = "marked correct" if choice.correct else "marked wrong"
            problems.append(f"choice {LETTERS[i]} is {claim}, but {how}")
    problems += [p.message for p in _question_problems(concrete, "", None, None)]
    return problems


# --------------------------------------------------------------------------------------------
# The structure of a variant question (checked when a file is read)
# --------------------------------------------------------------------------------------------

def structure_problems(question: Question) -> list[str]:
    """Problems with the variant fields themselves: names, ranges, formulas, templates, the default.

    A question without ``variables`` must not use the other variant fields.
    """
    used = [name for name in ("let", "where", "answer") if getattr(question, name)]
    used += [f"choice {LETTERS[i]} {f}" for i, c in enumerate(question.choices)
             for f in ("value", "holds") if getattr(c, f) is not None]
    if not question.variables:
        return [f"{', '.join(used)} only mean something in a variant question; add `variables` or remove "
                "them"] if used else []
    problems: list[str] = []
    if not question.scenario:
        problems.append("a question with variables works numbers out from the stem: set scenario: true")
    known: list[str] = []
    for name, spec in question.variables.items():
        problems += _variable_problems(name, spec, known)
        known.append(name)
    for name, text in question.let.items():
        if name in known or not name.isidentifier() or keyword.iskeyword(name) or name in FUNCTIONS:
            problems.append(f"let {name}: the name is taken or not a valid name; pick another")
        problems += _formula_problems(text, known, f"let {name}")
        known.append(name)
    for text in question.where:
        problems += _formula_problems(text, known, "where")
    if question.answer is not None:
        problems += _formula_problems(question.answer, known, "answer")
    for i, choice in enumerate(question.choices):
        letter = LETTERS[i] if i < len(LETTERS) else str(i + 1)
        if (choice.value is None) == (choice.holds is None):
            problems.append(f"choice {letter} needs exactly one of `value` (compared with `answer`) or "
                            "`holds` (a condition), so every variant knows whether it is right")
        if choice.value is not None:
            if question.answer is None:
                problems.append(f"choice {letter} has a `value` but the question has no `answer` to "
                                "compare it with")
            problems += _formula_problems(choice.value, known, f"choice {letter} value")
        if choice.holds is not None:
            problems += _formula_problems(choice.holds, known, f"choice {letter} holds")
        problems += _template_problems(choice.text, known, f"choice {letter} text")
        problems += _template_problems(choice.why, known, f"choice {letter} why")
    problems += _template_problems(question.stem, known, "stem")
    if problems:
        return problems
    if space_size(question) < 2:
        problems.append("the variables allow only one variant; give some variable more values")
    default = default_values(question)
    try:
        if not admissible(question, default):
            return problems + [f"the default variant ({format_values(default)}) breaks a `where` condition"]
    except FormulaError as exc:
        return problems + [f"with the defaults {format_values(default)}: {exc}"]
    problems += [f"with the defaults {format_values(default)}: {p}" for p in variant_problems(question, default)]
    return problems


def _variable_problems(name: str, spec: Variable, known: list[str]) -> list[str]:
    where = f"variable {name}"
    problems = []
    if not name.isidentifier() or keyword.iskeyword(name) or name in FUNCTIONS or name in known:
        problems.append(f"{where}: not a valid, unused name (letters, digits and _, not a function name)")
    ranged = spec.min is not None or spec.max is not None or spec.step is not None
    if (spec.choices is not None) == ranged:
        return problems + [f"{where}: give either `choices` or `min` and `max` (with an optional `step`)"]
    if spec.choices is not None:
        if len(spec.choices) < 1 or len(set(spec.choices)) != len(spec.choices):
            problems.append(f"{where}: `choices` must be a list of distinct numbers")
    else:
        if spec.min is None or spec.max is None:
            return problems + [f"{where}: a range needs both `min` and `max`"]
        if spec.max < spec.min or (spec.step is not None and spec.step <= 0):
            return problems + [f"{where}: the range needs min <= max and a positive step"]
        if len(values_of(spec)) > 10_000:
            problems.append(f"{where}: the range has more than 10,000 values; use a larger step")
    if not any(_close(spec.default, x) for x in values_of(spec)):
        problems.append(f"{where}: the default {spec.default!r} is not one of its values")
    return problems


def _formula_problems(text: str, known: list[str], where: str) -> list[str]:
    try:
        Formula(text).check_names(known)
    except FormulaError as exc:
        return [f"{where}: {exc}"]
    return []


def _template_problems(text: str, known: list[str], where: str) -> list[str]:
    try:
        for formula in Template(text).formulas:
            formula.check_names(known)
    except FormulaError as exc:
        return [f"{where}: {exc}"]
    return []


# --------------------------------------------------------------------------------------------
# Every variant
# --------------------------------------------------------------------------------------------

@dataclass
class VariantCheck:
    """The result of checking a question's variants: how many, and what failed (one line each)."""

    question_id: str
    space: int
    checked: int = 0
    exhaustive: bool = True
    problems: list[str] = field(default_factory=list)


def check_variants(question: Question, *, exhaustive_limit: int = EXHAUSTIVE_LIMIT,
                   samples: int = SAMPLES) -> VariantCheck:
    """Check every variant of a question (or the default plus ``samples`` random ones when the space
    is larger than ``exhaustive_limit``). Each problem names the variable values that caused it."""
    size = space_size(question)
    result = VariantCheck(question.id, size, exhaustive=size <= exhaustive_limit)
    if result.exhaustive:
        candidates: Iterator[dict[str, Number]] = _assignments(question)
    else:
        rng = random.Random(f"rightsize-validate\0{question.id}")  # fixed: the same sample every run
        candidates = itertools.chain([default_values(question)],
                                     (_random_assignment(question, rng) for _ in range(samples)))
    failing = 0
    admitted = 0
    for variables in candidates:
        try:
            if not admissible(question, variables):
                continue
        except FormulaError as exc:
            found = [str(exc)]
        else:
            admitted += 1
            found = variant_problems(question, variables)
        result.checked += 1
        if found:
            failing += 1
            if failing <= _MAX_REPORTED:
                result.problems.append(f"with {format_values(variables)}: {'; '.join(found)}")
    if failing > _MAX_REPORTED:
        result.problems.append(f"... and {failing - _MAX_REPORTED} more failing variant(s) of "
                               f"{result.checked} checked")
    if admitted < 2 and not result.problems:
        result.problems.append("the `where` conditions leave fewer than two variants; widen the variables")
    return result


# --------------------------------------------------------------------------------------------
# The seeded graded quiz
# --------------------------------------------------------------------------------------------

def _rng(seed: str, *parts: str) -> random.Random:
    digest = hashlib.sha256("\0".join(("rightsize-quiz-variants", seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))


@dataclass
class SeededQuiz:
    """A seeded graded quiz and what the seed changed in it."""

    quiz: LessonQuiz
    regenerated: list[str] = field(default_factory=list)  # ids whose numbers were drawn anew
    shuffled: list[str] = field(default_factory=list)     # ids whose choice order changed
    drawn: list[str] = field(default_factory=list)        # graded-only ids that replaced concept questions


def _admitted(question: Question, values: dict[str, Number], where: str) -> bool:
    try:
        return admissible(question, values)
    except FormulaError as exc:
        raise QuizBankError(f"{where}: with {format_values(values)}: {exc}; fix the question and run "
                            "`rightsize quiz validate`") from exc


def _draw_values(question: Question, rng: random.Random, where: str) -> dict[str, Number]:
    """A variant other than the default, uniformly among the admissible ones when they can be listed."""
    default = default_values(question)
    if space_size(question) <= EXHAUSTIVE_LIMIT:
        options = [v for v in _assignments(question) if v != default and _admitted(question, v, where)]
        return rng.choice(options) if options else default
    for _ in range(1000):
        values = _random_assignment(question, rng)
        if values != default and _admitted(question, values, where):
            return values
    raise QuizBankError(f"{where}: no admissible variant found in 1,000 draws; loosen its `where` conditions")


def _shuffle(question: Question, rng: random.Random) -> Question:
    order = list(range(len(question.choices)))
    while order == sorted(order):  # never the public order: copying the widget's letters must not work
        rng.shuffle(order)
    return question.model_copy(update={"choices": [question.choices[i] for i in order]})


def seeded_quiz(quiz: LessonQuiz, seed: str) -> SeededQuiz:
    """The graded quiz of a lesson for a variant seed (see the module docstring).

    The quiz keeps the public quiz's length and order: graded-only questions take the places of
    randomly chosen concept (non-scenario) questions, one each, as far as the pool reaches.
    Raises :class:`QuizBankError` if a drawn variant breaks a rule (run ``rightsize quiz validate``).
    """
    if not seed:
        raise ValueError("seeded_quiz needs a non-empty seed")
    public = [q for q in quiz.questions if not q.graded_only]
    pool = [q for q in quiz.questions if q.graded_only]
    result = SeededQuiz(quiz)
    chosen = list(public)
    concept_slots = [i for i, q in enumerate(public) if not q.scenario]
    count = min(len(pool), len(concept_slots))
    if count:
        lesson_rng = _rng(seed, quiz.lesson, "pool")
        for slot, extra in zip(lesson_rng.sample(concept_slots, count), lesson_rng.sample(pool, count)):
            chosen[slot] = extra
            result.drawn.append(extra.id)
    final = []
    for question in chosen:
        where = f"lesson {quiz.lesson}: {question.id}"
        if question.variables:
            values = _draw_values(question, _rng(seed, quiz.lesson, "values", question.id), where)
            problems = variant_problems(question, values)
            if problems:
                raise QuizBankError(f"{where}: the variant with {format_values(values)} breaks the quiz rules: "
                                    f"{'; '.join(problems)}; fix the question and run `rightsize quiz validate`")
            if values != default_values(question):
                result.regenerated.append(question.id)
            question = render(question, values)
        final.append(_shuffle(question, _rng(seed, quiz.lesson, "order", question.id)))
        result.shuffled.append(question.id)
    result.quiz = quiz.model_copy(update={"questions": final})
    return result


def find_variant_seed(explicit: str | None = None, bank: str | Path | None = None) -> tuple[str | None, str]:
    """The variant seed and where it came from, in this order: ``explicit`` (``--variant-seed``), the
    environment variable ``RIGHTSIZE_VARIANT_SEED``, the file ``variant-seed.txt`` in the bank folder
    (its first line that is neither blank nor a ``#`` comment). ``(None, reason)`` when there is none.
    """
    if explicit is not None:
        if not explicit.strip():
            raise QuizBankError("the variant seed is empty: pass a secret, for example the output of "
                                "python -c \"import secrets; print(secrets.token_urlsafe(24))\"")
        return explicit.strip(), "--variant-seed"
    from_env = os.environ.get(SEED_ENV, "").strip()
    if from_env:
        return from_env, SEED_ENV
    if bank is not None:
        path = Path(bank) / SEED_FILE
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    return line.strip(), str(path)
    return None, "no seed"
