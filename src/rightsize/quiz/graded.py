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

3. a tests cell (``<qid>-test``, N points): visible checks of the answer's *form* with messages
   that say what to fix, and the key only inside ``### BEGIN HIDDEN TESTS``.

The code stub (how the student cell reads). nbgrader replaces a solution region, line by line,
with ``ClearSolutions.code_stub`` for the notebook's language; the default
``# YOUR CODE HERE / raise NotImplementedError()`` would be a syntax error inside the
parentheses. The build must therefore set::

    c.ClearSolutions.code_stub = {"python": rightsize.quiz.graded.CODE_STUB}

with ``CODE_STUB = "None  # YOUR ANSWER HERE"``, and the released cell reads::

    # Question 3: one letter in quotes, for example "a"
    q_l02_ttft_definition = (
        None  # YOUR ANSWER HERE
    )

It runs without error, sets the variable to ``None``, and its tests cell then fails the first
visible check ("it is still None"): 0 points. The stub is also a valid statement, so other
exercise cells whose solution region is a function body still parse (they return ``None``
instead of raising ``NotImplementedError``). Forgetting the setting fails loudly (a syntax error
in every released answer cell), never silently. Nothing outside the solution region depends on
the answer: every released answer cell is the same text apart from the question number and the
variable name.

The form checks use ``type(x) is str`` / ``type(x) is list``, never ``isinstance`` or ``==``
alone: a ``str`` subclass whose ``__eq__`` always returns True scored full marks elsewhere
(see /work/shared/NBGRADER.md).
'''

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError
from .bank import Question, load_lesson
from .text import question_markdown

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "CODE_STUB",
    "GRADED_QUIZ_MARKER",
    "answer_key",
    "answer_source",
    "graded_cells",
    "is_graded_quiz_marker",
    "tests_source",
    "variable_name",
]

CODE_STUB = "None  # YOUR ANSWER HERE"
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
    """The tests cell: visible form checks with helpful messages, the key in hidden tests."""
    var = variable_name(question.id)
    hint = _form_hint(question)
    valid = _quoted(question.letters)
    q = f"Question {number}"
    lines = [f"# Checks the form of your answer to question {number}; "
             "whether it is right is graded when you submit.",
             f"assert {var} is not None, '{q}: set {var} to {hint} (it is still None).'"]
    if question.type == "single":
        lines += [
            f"assert type({var}) is str, '{q}: {var} must be {hint}, not a ' + type({var}).__name__ + '.'",
            f"assert {var} in ({valid}), '{q}: {var} must be one of {valid} (lower case), not ' "
            f"+ repr({var}) + '.'",
        ]
        hidden = f'assert type({var}) is str and {var} == "{_answer(question)}", "{q}: not the right answer."'
    else:
        key = _quoted(question.correct_letters)
        lines += [
            f"assert type({var}) is list, '{q}: {var} must be {hint}, not a ' + type({var}).__name__ + '.'",
            f"assert len({var}) > 0, '{q}: pick at least one letter, for example [\"a\", \"c\"].'",
            f"assert all(type(letter) is str for letter in {var}), "
            f"'{q}: every item of {var} must be a letter in quotes, for example [\"a\", \"c\"].'",
            f"assert all(letter in ({valid}) for letter in {var}), "
            f"'{q}: every item of {var} must be one of {valid} (lower case), not ' + repr({var}) + '.'",
            f"assert len(set({var})) == len({var}), '{q}: {var} lists a letter more than once.'",
        ]
        hidden = (f"assert type({var}) is list and sorted({var}) == [{key}], "
                  f'"{q}: not the right set of answers."')
    lines += [f"print('{q}: the form of your answer is fine; it is graded when you submit.')",
              "### BEGIN HIDDEN TESTS",
              hidden,
              "### END HIDDEN TESTS"]
    return "\n".join(lines)


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


def graded_cells(lesson: str | int, quiz_dir: str | Path | None = None,
                 points_per_question: float = 1) -> list[NotebookNode]:
    """The nbgrader cells (instructor form) of a lesson's quiz: text, answer and tests per question.

    Cell ids equal the grade ids, so rebuilding a notebook gives the same file.
    """
    try:
        from nbformat.v4 import new_code_cell, new_markdown_cell
    except ImportError as exc:  # pragma: no cover - part of the course extra
        raise MissingDependencyError("nbformat", "building graded quiz cells") from exc
    if points_per_question <= 0:
        raise ValueError(f"points_per_question must be positive, not {points_per_question!r}")
    cells = []
    for number, question in enumerate(load_lesson(lesson, quiz_dir).questions, 1):
        qid = question.id
        text = new_markdown_cell(_text_source(question, number, points_per_question),  # type: ignore[no-untyped-call]
                                 metadata=_metadata(f"{qid}-text", grade=False, solution=False, locked=True))
        answer = new_code_cell(answer_source(question, number),  # type: ignore[no-untyped-call]
                               metadata=_metadata(f"{qid}-answer", grade=False, solution=True, locked=False))
        tests = new_code_cell(tests_source(question, number),  # type: ignore[no-untyped-call]
                              metadata=_metadata(f"{qid}-test", grade=True, solution=False, locked=True,
                                                 points=points_per_question))
        for cell, suffix in ((text, "text"), (answer, "answer"), (tests, "test")):
            cell.id = f"{qid}-{suffix}"[-64:]  # nbformat allows at most 64 characters
        cells += [text, answer, tests]
    return cells


def answer_key(lesson: str | int, quiz_dir: str | Path | None = None) -> dict[str, str | list[str]]:
    """The right answers of a lesson's graded quiz, by variable name: ``{"q_l02_x": "b", ...}``."""
    return {variable_name(q.id): _answer(q) for q in load_lesson(lesson, quiz_dir).questions}


def is_graded_quiz_marker(cell: Mapping[str, Any]) -> bool:
    """Whether a notebook cell is the Markdown cell marking where the graded quiz goes."""
    if cell.get("cell_type") != "markdown":
        return False
    source = cell.get("source", "")
    if isinstance(source, list):  # raw JSON keeps a cell's source as a list of lines
        source = "".join(source)
    return GRADED_QUIZ_MARKER in str(source)

