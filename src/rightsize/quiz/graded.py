'''Graded quiz cells for nbgrader, made from the quiz bank.

A lesson's source notebook holds one Markdown cell containing :data:`GRADED_QUIZ_MARKER`
(``<!-- rightsize:graded-quiz -->``); the autograder build finds it with
:func:`is_graded_quiz_marker` and puts :func:`graded_cells` in its place. Per question, in the
instructor (source) form:

1. a read-only Markdown cell (``<qid>-text``): the stem, the lettered choices and what to set;
2. an autograded answer cell (``<qid>-answer``) whose value is the solution region::

       # Question 3: one letter in quotes, for example "a"
       q_l02_ttft_definition = (
           ### BEGIN SOLUTION
           "b"
           ### END SOLUTION
       )

3. a tests cell (``<qid>-test``, N points): a visible check of the answer's *form*
   (:func:`check_form`: one line, never an error) and, inside ``### BEGIN HIDDEN TESTS``, one
   ``literal_answer(...)`` call holding the key. The autograder reads the answer from the answer
   cell's text and scores it in its own process; it never runs these cells.

The code stub (how the student cell reads). nbgrader replaces a solution region, line by line,
with ``ClearSolutions.code_stub`` for the notebook's language; the default
``# YOUR CODE HERE / raise NotImplementedError()`` would be a syntax error inside the
parentheses. The build must therefore set::

    c.ClearSolutions.code_stub = {"python": rightsize.quiz.graded.CODE_STUB}

with ``CODE_STUB = "None  # YOUR ANSWER HERE"
#: points per graded quiz question: the exercises carry most of a lesson's points (at least 60%)
POINTS_PER_QUESTION = 0.5``, and the released cell reads::

    # Question 3: one letter in quotes, for example "a"
    q_l02_ttft_definition = (
        None  # YOUR ANSWER HERE
    )

It runs without error, sets the variable to ``None``, and its check cell says "not done yet";
the grader reads ``None``: 0 points. The stub is also a valid statement, so other
exercise cells whose solution region is a function body still parse (they return ``None``
instead of raising ``NotImplementedError``). Forgetting the setting fails loudly (a syntax error
in every released answer cell), never silently. Nothing outside the solution region depends on
the answer: every released answer cell is the same text apart from the question number and the
variable name.

Which questions: without a variant seed, the public quiz (what the self-paced widget shows, with
the same letters). With one (``rightsize course build --variant-seed``), :func:`graded_quiz` draws
new numbers for variant questions, shuffles every question's choices and brings in graded-only
questions, so the widget's answers cannot be copied; the seed appears in no cell.

The grade never depends on this cell running: a ``str`` subclass whose ``__eq__`` always returns
True, a patched ``type`` or an event hook cannot change what the grader reads from the text.
'''

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError
from .bank import Question, load_lesson
from .text import question_markdown

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from .variants import SeededQuiz

__all__ = [
    "CODE_STUB",
    "GRADED_QUIZ_MARKER",
    "answer_key",
    "answer_source",
    "check_form",
    "graded_cells",
    "graded_quiz",
    "is_graded_quiz_marker",
    "quiz_cells",
    "tests_source",
    "variable_name",
]

CODE_STUB = "None  # YOUR ANSWER HERE"
#: points per graded quiz question: the exercises carry most of a lesson's points (at least 60%)
POINTS_PER_QUESTION = 0.5
GRADED_QUIZ_MARKER = "<!-- rightsize:graded-quiz -->"
_SCHEMA_VERSION = 3


def variable_name(question_id: str) -> str:
    """The answer variable of a question: ``l02-ttft-definition`` -> ``q_l02_ttft_definition``."""
    name = "q_" + re.sub(r"[^0-9a-z_]", "_", question_id.lower())
    if not name.isidentifier() or keyword.iskeyword(name):  # pragma: no cover - ids are [a-z0-9-]
        raise ValueError(f"cannot make a Python variable name from the question id {question_id!r}")
    return name


def _answer(question: Question) -> str | list[str]:
    letters = question.correct_letters
    return letters[0] if question.type == "single" else letters


def _quoted(letters: list[str]) -> str:
    return ", ".join(f'"{x}"' for x in letters)


def _form_hint(question: Question) -> str:
    if question.type == "single":
        return 'one letter in quotes, for example "a"'
    return 'a list of letters in quotes, for example ["a", "c"]'


def answer_source(question: Question, number: int) -> str:
    """The instructor form of the answer cell: the answer is only inside the solution region."""
    value = repr(_answer(question)).replace("'", '"')
    return (f"# Question {number}: {_form_hint(question)}\n"
            f"{variable_name(question.id)} = (\n"
            "    ### BEGIN SOLUTION\n"
            f"    {value}\n"
            "    ### END SOLUTION\n"
            ")")


def tests_source(question: Question, number: int) -> str:
    """The tests cell: a visible check of the answer's form, and the key for the grader only.

    The hidden region is one ``literal_answer(...)`` call: the autograder reads the answer from
    the answer cell's text, in its own process, and never runs this cell (see
    :mod:`rightsize.course.scoring`).
    """
    var = variable_name(question.id)
    letters = "".join(question.letters)
    return "\n".join([
        f"# Checks the form of your answer to question {number}; whether it is right is graded when you submit.",
        "from rightsize.quiz import check_form",
        f"check_form({number}, {var}, {question.type!r}, {letters!r})",
        "### BEGIN HIDDEN TESTS",
        "from rightsize.course.probes import literal_answer",
        f"literal_answer({question.id + '-answer'!r}, {var!r}, {_answer(question)!r})",
        "### END HIDDEN TESTS",
    ])


def check_form(number: int, answer: object, kind: str, letters: str) -> None:
    """The visible check of a graded quiz answer's form (one line of feedback, never an error)."""
    from ..checks import checks

    hint = 'one letter in quotes, for example "a"' if kind == "single" else \
        'a list of letters in quotes, for example ["a", "c"]'
    valid = ", ".join(f'"{x}"' for x in letters)
    with checks(f"Question {number}", passed="the form of your answer is fine; it is graded when you submit.") as check:
        check.done(answer, f"set the answer to {hint}")
        if kind == "single":
            check(type(answer) is str, f"the answer must be {hint}, not a {type(answer).__name__}")
            check(answer in tuple(letters), f"the answer must be one of {valid} (lower case), not {answer!r}")
        else:
            check(type(answer) is list, f"the answer must be {hint}, not a {type(answer).__name__}")
            items = list(answer)  # type: ignore[call-overload]
            check(len(items) > 0, 'pick at least one letter, for example ["a", "c"]')
            check(all(type(x) is str and x in tuple(letters) for x in items),
                  f"every item must be one of {valid} (lower case), not {answer!r}")
            check(len(set(items)) == len(items), "a letter is listed more than once")


def _text_source(question: Question, number: int, points: float) -> str:
    var = variable_name(question.id)
    worth = f"{points:g} point{'' if points == 1 else 's'}"
    return (f"{question_markdown(question, number)}\n\n"
            f"**Your answer** ({worth}): in the next cell set `{var}` to {_form_hint(question)}, "
            "then run the check cell below it.")


def _metadata(grade_id: str, *, grade: bool, solution: bool, locked: bool,
              points: float | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked,
                            "schema_version": _SCHEMA_VERSION, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def graded_quiz(lesson: str | int, quiz_dir: str | Path | None = None,
                variant_seed: str | None = None) -> SeededQuiz:
    """The questions of a lesson's graded quiz.

    Without a seed: the public quiz, exactly what the self-paced widget shows (no graded-only
    questions, variant questions at their default numbers). With a seed: new numbers for variant
    questions, shuffled choices and graded-only questions drawn in
    (:func:`rightsize.quiz.variants.seeded_quiz`).
    """
    from .variants import SeededQuiz, seeded_quiz

    quiz = load_lesson(lesson, quiz_dir)
    if variant_seed is None:
        return SeededQuiz(quiz.public())
    return seeded_quiz(quiz, variant_seed)


def graded_cells(lesson: str | int, quiz_dir: str | Path | None = None,
                 points_per_question: float = POINTS_PER_QUESTION, variant_seed: str | None = None
                 ) -> list[NotebookNode]:
    """The nbgrader cells (instructor form) of a lesson's quiz: text, answer and tests per question.

    Cell ids equal the grade ids, so rebuilding a notebook gives the same file (for the same
    ``variant_seed``; see :func:`graded_quiz`). The seed itself is written into no cell.
    """
    return quiz_cells(graded_quiz(lesson, quiz_dir, variant_seed).quiz.questions, points_per_question,
                      variants=variant_seed is not None)


def intro_cell(variants: bool = False) -> NotebookNode:
    """The one line that says what the graded quiz is, and how it relates to the practice quiz above."""
    from nbformat.v4 import new_markdown_cell

    same = ("variants of the practice quiz's questions (new numbers, choices in another order)" if variants
            else "the practice quiz's questions")
    cell = new_markdown_cell(  # type: ignore[no-untyped-call]
        f"## Graded quiz\n\nThis is the quiz that counts: {same}, answered in the cell under each one and "
        "graded when you submit (the line under each answer only checks its form). Practise above first: "
        "the practice quiz explains every choice.")
    cell.id = "graded-quiz-intro"
    return cell


def quiz_cells(questions: Iterable[Question], points_per_question: float = POINTS_PER_QUESTION,
               variants: bool = False) -> list[NotebookNode]:
    """The nbgrader cells of these (concrete) questions, numbered from 1, after a one-line intro
    (:func:`intro_cell`); see :func:`graded_cells`. Each check cell's code is collapsed: a student
    sees the question, the answer cell and one line."""
    try:
        from nbformat.v4 import new_code_cell, new_markdown_cell
    except ImportError as exc:  # pragma: no cover - part of the course extra
        raise MissingDependencyError("nbformat", "building graded quiz cells") from exc
    if points_per_question <= 0:
        raise ValueError(f"points_per_question must be positive, not {points_per_question!r}")
    cells = [intro_cell(variants)]
    for number, question in enumerate(questions, 1):
        qid = question.id
        text = new_markdown_cell(_text_source(question, number, points_per_question),  # type: ignore[no-untyped-call]
                                 metadata=_metadata(f"{qid}-text", grade=False, solution=False, locked=True))
        answer = new_code_cell(answer_source(question, number),  # type: ignore[no-untyped-call]
                               metadata=_metadata(f"{qid}-answer", grade=False, solution=True, locked=False))
        tests = new_code_cell(tests_source(question, number),  # type: ignore[no-untyped-call]
                              metadata={**_metadata(f"{qid}-test", grade=True, solution=False, locked=True,
                                                    points=points_per_question),
                                        "jupyter": {"source_hidden": True}})
        for cell, suffix in ((text, "text"), (answer, "answer"), (tests, "test")):
            cell.id = f"{qid}-{suffix}"[-64:]  # nbformat allows at most 64 characters
        cells += [text, answer, tests]
    return cells


def answer_key(lesson: str | int, quiz_dir: str | Path | None = None,
               variant_seed: str | None = None) -> dict[str, str | list[str]]:
    """The right answers of a lesson's graded quiz, by variable name: ``{"q_l02_x": "b", ...}``."""
    return {variable_name(q.id): _answer(q) for q in graded_quiz(lesson, quiz_dir, variant_seed).quiz.questions}


def is_graded_quiz_marker(cell: Mapping[str, Any]) -> bool:
    """Whether a notebook cell is the Markdown cell marking where the graded quiz goes."""
    if cell.get("cell_type") != "markdown":
        return False
    source = cell.get("source", "")
    if isinstance(source, list):  # raw JSON keeps a cell's source as a list of lines
        source = "".join(source)
    return GRADED_QUIZ_MARKER in str(source)

