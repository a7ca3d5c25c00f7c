"""End-of-lesson quizzes: one YAML bank, a self-paced widget and graded nbgrader cells.

* :mod:`~rightsize.quiz.bank` loads ``quizzes/lessonNN.yaml`` and validates it against
  ``quizzes/FORMAT.md`` (:func:`validate_bank`, :func:`check_bank`);
* :mod:`~rightsize.quiz.widget` is the self-paced quiz in a notebook (:func:`show`);
* :mod:`~rightsize.quiz.graded` makes the nbgrader cells of the graded quiz (:func:`graded_cells`);
* :mod:`~rightsize.quiz.variants` regenerates the numbers of variant questions, checks every variant
  and makes the seeded graded quiz (:func:`seeded_quiz`); :mod:`~rightsize.quiz.formulas` evaluates
  their formulas safely;
* :mod:`~rightsize.quiz.sections` checks each question's ``section`` against the lesson notebooks;
* :mod:`~rightsize.quiz.text` prints a quiz without its answers;
* :mod:`~rightsize.quiz.cli` adds ``rightsize quiz validate`` and ``rightsize quiz show``.

The widget (ipywidgets) and graded (nbformat) parts are imported on first use, so the command
line and the validator stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .bank import (
    COVERAGE_TAGS,
    Choice,
    LessonQuiz,
    Problem,
    Question,
    QuizBankError,
    Variable,
    check_bank,
    load_bank,
    load_lesson,
    quiz_dir,
    validate_bank,
)
from .text import quiz_markdown, quiz_text

if TYPE_CHECKING:
    from .graded import (
        CODE_STUB,
        GRADED_QUIZ_MARKER,
        answer_key,
        check_form,
        graded_cells,
        graded_quiz,
        is_graded_quiz_marker,
        variable_name,
    )
    from .variants import SeededQuiz, check_variants, find_variant_seed, seeded_quiz
    from .widget import Feedback, QuizWidget, Score, show

__all__ = [
    "CODE_STUB",
    "COVERAGE_TAGS",
    "Choice",
    "Feedback",
    "GRADED_QUIZ_MARKER",
    "LessonQuiz",
    "Problem",
    "Question",
    "QuizBankError",
    "QuizWidget",
    "Score",
    "SeededQuiz",
    "Variable",
    "answer_key",
    "check_bank",
    "check_form",
    "check_variants",
    "find_variant_seed",
    "graded_cells",
    "graded_quiz",
    "is_graded_quiz_marker",
    "load_bank",
    "load_lesson",
    "quiz_dir",
    "quiz_markdown",
    "quiz_text",
    "seeded_quiz",
    "show",
    "validate_bank",
    "variable_name",
]

_LAZY = {
    "CODE_STUB": "graded", "GRADED_QUIZ_MARKER": "graded", "answer_key": "graded", "check_form": "graded",
    "graded_cells": "graded", "graded_quiz": "graded", "is_graded_quiz_marker": "graded", "variable_name": "graded",
    "SeededQuiz": "variants", "check_variants": "variants", "find_variant_seed": "variants",
    "seeded_quiz": "variants",
    "Feedback": "widget", "QuizWidget": "widget", "Score": "widget", "show": "widget",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
