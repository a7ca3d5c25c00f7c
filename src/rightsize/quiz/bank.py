"""The quiz bank: load the lesson YAML files and check them against ``quizzes/FORMAT.md``.

The bank is one YAML file per lesson (``quizzes/lessonNN.yaml``). The self-paced widget
(:mod:`rightsize.quiz.widget`) and the graded nbgrader cells (:mod:`rightsize.quiz.graded`) are
both made from it, so a mistake here reaches learners twice; :func:`validate_bank` therefore
reports *every* problem it finds, each naming the file, the question id and what to fix.

Which folder is the bank (:func:`quiz_dir`), in this order:

1. the ``quiz_dir`` argument (``--quiz-dir`` on the command line);
2. the environment variable ``RIGHTSIZE_QUIZ_DIR`` (an instructor's private bank);
3. the first ``quizzes/`` folder holding ``lesson*.yaml`` files, walking up from the current
   working directory (a notebook in ``lessons/`` finds the repository's bank);
4. the ``quizzes/`` folder of the repository this package was installed from (editable install).

Two layers of rules:

* per file (schema, 3-5 choices, a ``why`` on every choice, the number of correct choices, id
  prefix, lesson field, banned "all of the above" choices): :func:`load_lesson` and
  :func:`load_bank` refuse a file that breaks them, because the widget and grader cannot work
  with it;
* bank policy (minimum counts, answer-position balance, coverage tags, section tags checked against
  the lesson notebooks, every variant of every variant question): only :func:`validate_bank` /
  :func:`check_bank` check them, and each can be relaxed with a parameter so tests and
  half-written private banks can be checked too.

A variant question (``variables`` set) is stored as written, with templates; the per-file rules
also check its formulas and its default variant (:mod:`rightsize.quiz.variants`).
:meth:`LessonQuiz.public` is the quiz as learners see it in the widget.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from ..errors import RightsizeError
from ..yamlconfig import LocatedDocument, parse_located, unknown_key_hint
from ..yamlconfig import Path as KeyPath

__all__ = [
    "COVERAGE_TAGS",
    "Choice",
    "LETTERS",
    "LessonQuiz",
    "MAX_POSITION_SHARE",
    "MIN_PER_LESSON",
    "MIN_TOTAL",
    "Problem",
    "QUIZ_DIR_ENV",
    "Question",
    "QuizBankError",
    "Variable",
    "check_bank",
    "is_banned_choice",
    "lesson_files",
    "lesson_key",
    "load_bank",
    "load_lesson",
    "position_counts",
    "quiz_dir",
    "validate_bank",
]

QUIZ_DIR_ENV = "RIGHTSIZE_QUIZ_DIR"
LETTERS = "abcde"
MIN_CHOICES, MAX_CHOICES = 3, 5
MIN_PER_LESSON = 12
MIN_TOTAL = 110
MAX_POSITION_SHARE = 0.35
COVERAGE_TAGS: tuple[str, ...] = (
    "latency-budget", "cost-at-volume", "quality-bar", "accuracy-vs-cost", "model-tiers",
    "frontier-worth-it", "privacy-self-hosting", "fine-tuning", "routing", "cascades",
    "provider-agnostic", "golden-datasets", "structured-output", "fallback-chains", "rate-limits",
    "caching", "prompt-sensitivity", "hard-coded-model-ids", "migration-rollout", "percentiles",
)

_FILE_NAME = re.compile(r"^lesson(\d\d)\.yaml$")
_ID = re.compile(r"^l(\d\d)-[a-z0-9]+(?:-[a-z0-9]+)*$")


# --------------------------------------------------------------------------------------------
# The format, as pydantic models
# --------------------------------------------------------------------------------------------

class _Strict(BaseModel):
    # strict: `correct: "yes"` or `lesson: 2` is a mistake to report, not a value to coerce
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Choice(_Strict):
    """One answer option of a question; its letter is its position (a, b, c, ...)."""

    text: str = Field(description="What the learner reads next to the letter.")
    correct: bool = Field(description="Whether picking this option is right.")
    why: str = Field(description="Why this option is right or wrong; shown after checking.")
    value: str | None = Field(default=None, description=(
        "Variant questions: a formula for the number this choice states; right when it equals `answer`."))
    holds: str | None = Field(default=None, description=(
        "Variant questions: a condition over the variables; the choice is right when it holds."))


Number = int | float


class Variable(_Strict):
    """One variable of a variant question: a list of ``choices`` or a ``min``..``max`` range by ``step``."""

    default: Number = Field(description="The value of the public variant (the widget and the unseeded build).")
    choices: list[Number] | None = Field(default=None, description="The values it may take.")
    min: Number | None = Field(default=None, description="The smallest value of a range.")
    max: Number | None = Field(default=None, description="The largest value of a range.")
    step: Number | None = Field(default=None, description="The step of a range (default 1).")


class Question(_Strict):
    """One question of a lesson quiz."""

    id: str = Field(description="Unique across the bank: l<NN>-<slug>, lower case and hyphens.")
    objective: str = Field(description="The learning objective this question checks.")
    type: Literal["single", "multiple"] = Field(
        description="single: exactly one correct choice; multiple: select all that apply (>= 2).")
    difficulty: Literal["easy", "medium", "hard"] = Field(description="How hard it is meant to be.")
    tags: list[str] = Field(description="Coverage tags (see COVERAGE_TAGS) and free tags.")
    scenario: bool = Field(description="True when the answer is worked out from numbers in the stem.")
    stem: str = Field(description="The question text (Markdown).")
    choices: list[Choice] = Field(description="3 to 5 options, in the order shown (a, b, c, ...).")
    section: str | None = Field(default=None, description=(
        'The lesson section the question is answerable from: a heading of this lesson\'s notebook, '
        'or "lesson NN: heading" for an earlier lesson.'))
    graded_only: bool = Field(default=False, description=(
        "Kept out of the self-paced widget; seeded graded quizzes draw it in place of a concept question."))
    variables: dict[str, Variable] | None = Field(default=None, description=(
        "Variant questions: the variables the numbers are made from; stem, texts and whys become templates."))
    let: dict[str, str] = Field(default_factory=dict, description="Derived values: name -> formula, in order.")
    where: list[str] = Field(default_factory=list, description="Conditions every variant must satisfy.")
    answer: str | None = Field(default=None, description="The formula of the right value, for choices with `value`.")

    @property
    def letters(self) -> list[str]:
        """The letters of the choices, in order: ``["a", "b", "c", "d"]``."""
        return list(LETTERS[: len(self.choices)])

    @property
    def correct_letters(self) -> list[str]:
        """The letters of the correct choices, in order."""
        return [LETTERS[i] for i, c in enumerate(self.choices) if c.correct]

    def choice(self, letter: str) -> Choice:
        """The choice with this letter; a clear error for a letter the question does not have."""
        if letter not in self.letters:
            raise ValueError(f"question {self.id} has choices {', '.join(self.letters)}; "
                             f"{letter!r} is not one of them")
        return self.choices[LETTERS.index(letter)]


class LessonQuiz(_Strict):
    """The quiz of one lesson: the contents of one ``lessonNN.yaml`` file."""

    lesson: str = Field(description='Two digits in quotes, matching the file name: "02".')
    title: str = Field(description="The lesson's title.")
    questions: list[Question] = Field(description="The questions, in the order shown.")

    def public(self) -> LessonQuiz:
        """The quiz as the self-paced widget shows it: no graded-only questions, and every variant
        question at its default numbers. The unseeded graded quiz is this quiz too."""
        from .variants import render_default

        if not any(q.graded_only or q.variables for q in self.questions):
            return self
        shown = [render_default(q) for q in self.questions if not q.graded_only]
        return self.model_copy(update={"questions": shown})


# --------------------------------------------------------------------------------------------
# Problems and the error that carries them
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong with the bank: which file, which question (if any) and what to fix.

    ``str(problem)`` is one line: ``FILE: ID: what is wrong (line N)``.
    """

    file: str
    message: str
    question_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.question_id}: " if self.question_id else f"{self.file}: "
        line = f" (line {self.line})" if self.line is not None and "line " not in self.message else ""
        return f"{where}{self.message}{line}"


class QuizBankError(RightsizeError):
    """The quiz bank is missing or breaks the rules of ``quizzes/FORMAT.md``."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems = list(problems)
        if self.problems:
            listed = "\n".join(f"  {p}" for p in self.problems)
            message = f"{message}\n{listed}"
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Where the bank is
# --------------------------------------------------------------------------------------------

def _has_lessons(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("lesson*.yaml"))


def quiz_dir(explicit: str | Path | None = None) -> Path:
    """The folder holding the bank's ``lessonNN.yaml`` files (see the module docstring for the order).

    Raises :class:`QuizBankError` when the folder given does not exist or none is found.
    """
    return _find_quiz_dir(explicit)


def _find_quiz_dir(explicit: str | Path | None) -> Path:
    # the public functions take a parameter named quiz_dir, which hides quiz_dir() inside them
    for given, source in ((explicit, "quiz_dir"), (os.environ.get(QUIZ_DIR_ENV) or None, QUIZ_DIR_ENV)):
        if given is not None:
            folder = Path(given).expanduser()
            if not folder.is_dir():
                raise QuizBankError(f"the quiz folder {str(folder)!r} (from {source}) does not exist; "
                                    "point it at the folder that holds lessonNN.yaml")
            return folder.resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if _has_lessons(folder / "quizzes"):
            return folder / "quizzes"
    # an editable install: src/rightsize/quiz/bank.py -> the repository's quizzes/
    repo_bank = Path(__file__).resolve().parents[3] / "quizzes"
    if repo_bank.is_dir():
        return repo_bank
    raise QuizBankError(
        "no quiz bank found: pass quiz_dir=... (or --quiz-dir), set the environment variable "
        f"{QUIZ_DIR_ENV} to the folder holding lessonNN.yaml, or run from the course repository")


def lesson_key(lesson: str | int) -> str:
    """The two-digit key of a lesson: ``2``, ``"2"``, ``"02"``, ``"lesson02"`` -> ``"02"``."""
    text = str(lesson).strip().lower()
    text = text.removesuffix(".yaml").removeprefix("lesson").removeprefix("l")
    if not text.isdigit() or not 0 <= int(text) <= 99:
        raise ValueError(f"{lesson!r} is not a lesson number: use a number such as 2 or \"02\"")
    return f"{int(text):02d}"


def lesson_files(folder: Path) -> list[Path]:
    """The lesson files of a bank folder, sorted (``lesson*.yaml`` and ``lesson*.yml``)."""
    return sorted([*folder.glob("lesson*.yaml"), *folder.glob("lesson*.yml")])


def _shown(path: Path) -> str:
    """A path as problems show it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Reading one file
# --------------------------------------------------------------------------------------------

def _describe_type_error(err: ErrorDetails, model: type[BaseModel]) -> str:
    kind, value = err["type"], err.get("input")
    shown = f" (got {value!r})" if not isinstance(value, (dict, list)) else ""
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":  # the same "did you mean" as every other config file
        return (f"is not a field of the format{unknown_key_hint(model, tuple(err['loc']))}; "
                "check the spelling against quizzes/FORMAT.md")
    if kind.startswith("string"):
        return f"must be text{shown}; put it in quotes if YAML read it as something else"
    if kind.startswith("bool"):
        return f"must be true or false{shown}"
    if kind.startswith("list"):
        return f"must be a list{shown}"
    if kind.startswith(("dict", "model")):
        return f"must be a mapping of fields{shown}"
    return f"{err['msg'].lower()}{shown}"


def _schema_problems(exc: ValidationError, shown: str, qid: str | None, model: type[BaseModel],
                     doc: LocatedDocument, base: KeyPath = ()) -> list[Problem]:
    """One problem per pydantic error of ``model`` validated at ``base`` in the file, each at the
    line of the key it is about (a missing key: the line of the mapping that lacks it)."""
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        line = doc.line_of((*base, *loc))
        if len(loc) >= 2 and loc[0] == "choices" and isinstance(loc[1], int):
            index = loc[1]
            letter = LETTERS[index] if index < len(LETTERS) else str(index + 1)
            rest = ".".join(str(p) for p in loc[2:])
            where = f"choice {letter}: `{rest}`" if rest else f"choice {letter}"
        elif loc:
            where = "`" + ".".join(str(p) for p in loc) + "`"
        else:
            where = "the question" if qid else "the file"
        problems.append(Problem(shown, f"{where} {_describe_type_error(err, model)}", qid, line))
    return problems


# "all of the above" and its variants, as whole choices (a longer sentence that merely starts with
# "None of these requests ..." is a real claim and allowed). Letter combinations such as "A and B"
# are allowed on purpose: scenario questions name models A, B and C.
_QUANTIFIER = r"(?:all|none|both|neither|any|either|each|every)"
_REFERENCE = (r"(?:(?:the|these|those)\s+)?(?:(?:other|previous|preceding|remaining|listed)\s+)?"
              r"(?:above|below|these|those|them|others|ones?\s+above|"
              r"(?:options?|answers?|choices?|statements?|responses?)(?:\s+(?:above|listed|given|shown))?)")
_VERDICT = r"(?:\s+(?:is|are|apply|applies)(?:\s+(?:correct|true|right|valid|wrong|false|incorrect))?)?"
_BANNED = re.compile(
    r"^[\s\"'(*_]*(?:"
    rf"{_QUANTIFIER}(?:\s+(?:of\s+)?{_REFERENCE})?"                   # all of the above, none, all these
    rf"|{_QUANTIFIER}\s+(?:two|three|four|five)(?:\s+(?:of\s+)?{_REFERENCE})?"  # all three (options)
    rf"|{_QUANTIFIER}\s+(?:one|answer|option|choice|statement)s?"      # every option (is correct)
    rf"|no\s+(?:correct\s+)?(?:answer|option|choice|statement)s?(?:\s+(?:of\s+)?{_REFERENCE})?"
    r"|there\s+is\s+no\s+(?:correct|right)\s+(?:answer|option|choice)"
    rf"){_VERDICT}[\s.!\"')*_]*$",
    re.IGNORECASE,
)


def is_banned_choice(text: str) -> bool:
    """Whether a choice is "all/none/both of the above" or a variant ("All of these", "None")."""
    return bool(_BANNED.match(" ".join(text.split())))


def _question_problems(q: Question, shown: str, key: str | None, line: int | None) -> list[Problem]:
    """The per-question rules of FORMAT.md (everything but uniqueness and bank policy)."""
    problems: list[Problem] = []

    def add(message: str) -> None:
        problems.append(Problem(shown, message, q.id, line))

    match = _ID.match(q.id)
    if not match:
        add(f"the id must look like l{key or 'NN'}-short-slug (lower-case letters, digits, hyphens)")
    elif key is not None and match.group(1) != key:
        add(f"the id starts with l{match.group(1)}- but this is lesson {key}: "
            f"start it with l{key}-")
    for name in ("objective", "stem"):
        if not getattr(q, name).strip():
            add(f"the {name} is empty")
    n = len(q.choices)
    if not MIN_CHOICES <= n <= MAX_CHOICES:
        add(f"{n} choices; a question has {MIN_CHOICES} to {MAX_CHOICES}")
    for i, choice in enumerate(q.choices):
        letter = LETTERS[i] if i < len(LETTERS) else str(i + 1)
        if not choice.text.strip():
            add(f"choice {letter} has no text")
        if not choice.why.strip():
            add(f"choice {letter} has an empty `why`; every choice explains why it is right or wrong")
        if is_banned_choice(choice.text):
            add(f"choice {letter} ({choice.text.strip()!r}) is an all/none-of-the-above choice; "
                "replace it with a concrete claim")
    texts = [" ".join(c.text.lower().split()) for c in q.choices]
    for text, count in Counter(texts).items():
        if count > 1 and text:
            add(f"{count} choices have the same text {text!r}")
    correct = sum(c.correct for c in q.choices)
    if q.type == "single" and correct != 1:
        add(f"a single question has exactly one correct choice; this one has {correct} "
            "(use type: multiple for select-all-that-apply)")
    if q.type == "multiple" and correct < 2:
        add(f"a multiple question has at least two correct choices; this one has {correct} "
            "(use type: single for one right answer)")
    if q.section is not None and not q.section.strip():
        add("the section is empty; name the heading the question is answerable from")
    if q.variables is not None or q.let or q.where or q.answer is not None or \
            any(c.value is not None or c.holds is not None for c in q.choices):
        from .variants import structure_problems  # imported here: variants builds on this module

        for message in structure_problems(q):
            add(message)
    return problems


@dataclass
class _FileResult:
    """What reading one lesson file gave: the quiz (if it parsed), the problems, and per-question
    facts the bank-wide rules need even when part of the file is broken."""

    path: Path
    key: str | None
    quiz: LessonQuiz | None
    questions: list[tuple[Question, int | None]]
    problems: list[Problem]
    count: int = 0  # entries under questions:, valid or not (a broken one is reported once)


def _question_label(data: Any, key_path: KeyPath) -> str | None:
    """How problems name the question ``key_path`` is in: its id, else "question N" (None: not in one)."""
    if len(key_path) < 2 or key_path[0] != "questions" or not isinstance(key_path[1], int):
        return None
    questions = data.get("questions") if isinstance(data, dict) else None
    raw = questions[key_path[1]] if isinstance(questions, list) and key_path[1] < len(questions) else None
    qid = raw.get("id") if isinstance(raw, dict) else None
    return qid if isinstance(qid, str) and qid else f"question {key_path[1] + 1}"


def _read_file(path: Path) -> _FileResult:
    shown = _shown(path)
    result = _FileResult(path, None, None, [], [])
    problems = result.problems
    name_match = _FILE_NAME.match(path.name)
    if name_match:
        result.key = name_match.group(1)
    else:
        problems.append(Problem(shown, "the file name must be lessonNN.yaml with two digits, "
                                       "for example lesson02.yaml"))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, f"cannot read the file: {exc}"))
        return result
    try:
        doc = parse_located(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = " ".join(str(getattr(exc, "problem", None) or exc).split())
        if mark is not None:
            problems.append(Problem(shown, f"YAML syntax error at line {mark.line + 1}, column "
                                           f"{mark.column + 1}: {what}", line=mark.line + 1))
        else:
            problems.append(Problem(shown, f"YAML syntax error: {what}"))
        return result
    data = doc.data
    if doc.duplicates:  # PyYAML keeps the last value; which one the author meant is unknown
        for key_path, line, first in doc.duplicates:
            qid = _question_label(data, key_path)
            problems.append(Problem(shown, f"the key {key_path[-1]!r} appears twice in one mapping, at lines "
                                           f"{first} and {line}; keep one", qid, line))
        return result
    if not isinstance(data, dict):
        problems.append(Problem(shown, "the file must be a mapping with lesson, title and questions "
                                       "(see quizzes/FORMAT.md)"))
        return result

    raw_questions = data.get("questions")
    header = {k: v for k, v in data.items() if k != "questions"}
    try:
        LessonQuiz.model_validate({**header, "questions": []})
    except ValidationError as exc:
        problems.extend(_schema_problems(exc, shown, None, LessonQuiz, doc))
    lesson_field = data.get("lesson")
    if isinstance(lesson_field, str) and result.key is not None and lesson_field != result.key:
        problems.append(Problem(shown, f"lesson: {lesson_field!r} does not match the file name; "
                                       f"write lesson: \"{result.key}\""))
    if raw_questions is None:
        problems.append(Problem(shown, "questions is missing"))
        raw_questions = []
    elif not isinstance(raw_questions, list):
        problems.append(Problem(shown, "questions must be a list of questions", line=doc.line_of(("questions",))))
        raw_questions = []

    parsed: list[Question] = []
    result.count = len(raw_questions)
    for index, raw in enumerate(raw_questions):
        line = doc.line_of(("questions", index))
        label = _question_label(data, ("questions", index))
        try:
            question = Question.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_schema_problems(exc, shown, label, Question, doc, ("questions", index)))
            continue
        parsed.append(question)
        result.questions.append((question, line))
        problems.extend(_question_problems(question, shown, result.key, line))

    seen: dict[str, int | None] = {}
    for question, line in result.questions:
        if question.id in seen:
            problems.append(Problem(shown, f"the id is used twice in this file (first at line "
                                           f"{seen[question.id]}); ids are unique", question.id, line))
        seen.setdefault(question.id, line)

    if not problems:
        result.quiz = LessonQuiz.model_validate({**header, "questions": [q.model_dump() for q in parsed]})
    return result


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def load_lesson(lesson: str | int, quiz_dir: str | Path | None = None) -> LessonQuiz:
    """The quiz of one lesson (``2``, ``"02"``), checked against the per-file rules.

    Raises :class:`QuizBankError` listing every problem of the file, or naming the lessons the bank
    has when the file does not exist.
    """
    folder = _find_quiz_dir(quiz_dir)
    key = lesson_key(lesson)
    path = folder / f"lesson{key}.yaml"
    if not path.is_file():
        known = [p.stem.removeprefix("lesson") for p in lesson_files(folder)]
        raise QuizBankError(f"no quiz for lesson {key}: {_shown(path)} does not exist "
                            f"(the bank in {_shown(folder)} has lessons: {', '.join(known) or 'none'})")
    result = _read_file(path)
    if result.quiz is None:
        raise QuizBankError(f"{_shown(path)} breaks the quiz format (quizzes/FORMAT.md); fix these "
                            "and run `rightsize quiz validate`:", result.problems)
    return result.quiz


def load_bank(quiz_dir: str | Path | None = None) -> dict[str, LessonQuiz]:
    """Every lesson quiz of the bank, keyed by lesson (``"02"``), checked against the per-file rules.

    Bank policy (counts, balance, coverage) is not enforced here: see :func:`check_bank`.
    """
    folder = _find_quiz_dir(quiz_dir)
    results = [_read_file(p) for p in lesson_files(folder)]
    problems = [p for r in results for p in r.problems]
    if problems:
        raise QuizBankError(f"the quiz bank in {_shown(folder)} breaks the quiz format "
                            "(quizzes/FORMAT.md); fix these and run `rightsize quiz validate`:", problems)
    return {r.quiz.lesson: r.quiz for r in results if r.quiz is not None}


def validate_bank(
    quiz_dir: str | Path | None = None,
    *,
    min_per_lesson: int = MIN_PER_LESSON,
    min_total: int = MIN_TOTAL,
    require_coverage: bool = True,
    max_position_share: float | None = MAX_POSITION_SHARE,
    require_sections: bool = True,
    solutions_dir: str | Path | None = None,
    check_variants: bool = True,
    variant_checks: list[Any] | None = None,
) -> list[Problem]:
    """Every problem of the bank (an empty list when it follows every rule of FORMAT.md).

    The policy rules can be relaxed for partial or private banks: ``min_per_lesson=0``,
    ``min_total=0``, ``require_coverage=False``, ``max_position_share=None``,
    ``require_sections=False`` (no section tags needed, none checked against the notebooks).
    ``solutions_dir`` is where the lesson notebooks are (default: ``solutions/`` beside the bank,
    else the repository's). ``check_variants`` checks every variant of every variant question (or a
    sample of a large space, see :func:`rightsize.quiz.variants.check_variants`); pass a list as
    ``variant_checks`` to receive the result for each question.
    """
    folder = _find_quiz_dir(quiz_dir)
    shown_dir = _shown(folder)
    files = lesson_files(folder)
    if not files:
        return [Problem(shown_dir, "no lessonNN.yaml files in this folder; is it the quiz bank?")]
    results = [_read_file(p) for p in files]
    problems = [p for r in results for p in r.problems]

    # ids unique across the bank
    first_seen: dict[str, str] = {}
    for r in results:
        for question, line in r.questions:
            other = first_seen.get(question.id)
            if other is not None and other != _shown(r.path):
                problems.append(Problem(_shown(r.path), f"the id is also used in {other}; ids are "
                                                        "unique across the bank", question.id, line))
            first_seen.setdefault(question.id, _shown(r.path))

    # counts
    total = sum(r.count for r in results)
    for r in results:
        if r.count < min_per_lesson:
            problems.append(Problem(_shown(r.path), f"only {r.count} questions; a lesson file needs at "
                                                    f"least {min_per_lesson}"))
    if total < min_total:
        problems.append(Problem(shown_dir, f"only {total} questions in the bank; it needs at least "
                                           f"{min_total}"))

    # where the correct answer of single questions sits
    if max_position_share is not None:
        problems.extend(_position_problems(results, shown_dir, max_position_share))

    if require_sections:
        problems.extend(_section_problems(results, folder, solutions_dir))
    if check_variants:
        problems.extend(_all_variant_problems(results, variant_checks))

    # coverage tags
    if require_coverage:
        tagged = {tag for r in results for q, _ in r.questions for tag in q.tags}
        for tag in COVERAGE_TAGS:
            if tag not in tagged:
                problems.append(Problem(shown_dir, f"no question has the coverage tag {tag!r}; add a "
                                                   "question on it (or the tag to one that tests it)"))
    return problems


def _section_problems(results: list[_FileResult], folder: Path, solutions_dir: str | Path | None) -> list[Problem]:
    from .sections import find_solutions_dir, lesson_sections, section_problem

    notebooks = find_solutions_dir(folder, solutions_dir)
    if notebooks is None or not any(notebooks.glob("[0-9][0-9]-*.ipynb")):
        where = f"{solutions_dir}" if solutions_dir is not None else "solutions/ beside the bank"
        return [Problem(_shown(folder), f"cannot check the section tags: no lesson notebooks in {where}; "
                                        "pass --solutions-dir (or --partial to skip the check)")]
    sections = lesson_sections(notebooks)
    problems = []
    for r in results:
        for question, line in r.questions:
            lesson = r.key or question.id[1:3]
            if question.section is None:
                problems.append(Problem(_shown(r.path), "no section: name the heading of the lesson it is "
                                                        "answerable from (section: \"...\")", question.id, line))
                continue
            message = section_problem(question.section, lesson, sections)
            if message is not None:
                problems.append(Problem(_shown(r.path), message, question.id, line))
    return problems


def _all_variant_problems(results: list[_FileResult], out: list[Any] | None) -> list[Problem]:
    from .variants import check_variants, structure_problems

    problems = []
    for r in results:
        for question, line in r.questions:
            if not question.variables or structure_problems(question):
                continue  # reported with the file's own problems
            result = check_variants(question)
            if out is not None:
                out.append(result)
            problems.extend(Problem(_shown(r.path), message, question.id, line) for message in result.problems)
    return problems


def position_counts(questions: Iterable[Question]) -> Counter[str]:
    """How many ``single`` questions have their correct answer at each letter."""
    counts: Counter[str] = Counter()
    for q in questions:
        if q.type == "single" and len(q.correct_letters) == 1:
            counts[q.correct_letters[0]] += 1
    return counts


def _position_problems(results: list[_FileResult], shown_dir: str, max_share: float) -> list[Problem]:
    per_file = {_shown(r.path): position_counts(q for q, _ in r.questions) for r in results}
    counts: Counter[str] = sum(per_file.values(), Counter())
    total = sum(counts.values())
    problems = []
    for letter in LETTERS:
        if total and counts[letter] / total > max_share:
            heavy = sorted(((c[letter], f) for f, c in per_file.items() if c[letter]), reverse=True)
            where = ", ".join(f"{f} ({n})" for n, f in heavy[:5])
            problems.append(Problem(
                shown_dir,
                f"position {letter} holds {counts[letter]} of the {total} single-answer keys "
                f"({counts[letter] / total:.0%}, more than {max_share:.0%}); move the correct choice "
                f"of some questions elsewhere, most are in: {where}"))
    return problems


def check_bank(
    quiz_dir: str | Path | None = None,
    *,
    min_per_lesson: int = MIN_PER_LESSON,
    min_total: int = MIN_TOTAL,
    require_coverage: bool = True,
    max_position_share: float | None = MAX_POSITION_SHARE,
    require_sections: bool = True,
    solutions_dir: str | Path | None = None,
) -> dict[str, LessonQuiz]:
    """Validate the bank and return it; raise :class:`QuizBankError` listing every problem."""
    problems = validate_bank(quiz_dir, min_per_lesson=min_per_lesson, min_total=min_total,
                             require_coverage=require_coverage, max_position_share=max_position_share,
                             require_sections=require_sections, solutions_dir=solutions_dir)
    if problems:
        raise QuizBankError(f"the quiz bank has {len(problems)} problem(s); fix them and run "
                            "`rightsize quiz validate`:", problems)
    return load_bank(quiz_dir)
