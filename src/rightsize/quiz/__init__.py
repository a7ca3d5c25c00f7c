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

This package holds the names a notebook or an author uses; the rest lives in its module. The
widget (ipywidgets) and graded (nbformat) parts are imported on first use, so the command line and
the validator stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .bank import LessonQuiz, Question, QuizBankError, check_bank, load_bank, load_lesson, validate_bank
from .text import quiz_text

if TYPE_CHECKING:
    from .graded import check_form, graded_cells
    from .widget import QuizWidget, show

__all__ = [
    "LessonQuiz",
    "Question",
    "QuizBankError",
    "QuizWidget",
    "check_bank",
    "check_form",
    "graded_cells",
    "load_bank",
    "load_lesson",
    "quiz_text",
    "show",
    "validate_bank",
]

_LAZY = {"check_form": "graded", "graded_cells": "graded", "QuizWidget": "widget", "show": "widget"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
