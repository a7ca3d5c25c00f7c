"""The course's autograder on nbgrader: build, autograde in sandboxes, export, feedback.

* :mod:`~rightsize.course.build` makes the nbgrader course and ``lessons/`` from ``solutions/``
  and the quiz bank (:func:`build_course`, :func:`check_lessons_fresh`);
* :mod:`~rightsize.course.autograde` grades a class in parallel sandboxes with nbgrader's own
  preprocessors (:func:`autograde`); :mod:`~rightsize.course.sandbox` is the isolation;
* :mod:`~rightsize.course.export` writes per-question grades and totals as CSV;
* :mod:`~rightsize.course.feedback` writes per-student HTML without hidden tests;
* :mod:`~rightsize.course.collect` puts gathered submissions into nbgrader's layout;
* :mod:`~rightsize.course.cli` adds the ``rightsize course`` commands.

nbgrader is imported on first use, so ``rightsize --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "autograde",
    "build_course",
    "check_lessons_fresh",
    "collect_submissions",
    "export_grades",
    "generate_feedback",
]

_WHERE = {
    "autograde": "autograde",
    "build_course": "build",
    "check_lessons_fresh": "build",
    "collect_submissions": "collect",
    "export_grades": "export",
    "generate_feedback": "feedback",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
