"""The figures each lesson states in prose, with the code that computes them (see tests/test_lesson_figures.py).

One module per lesson, ``lNN.py``, each with a ``FIGURES`` list of :class:`Figure`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """A figure a lesson states: ``phrase.format(compute())`` must appear in its Markdown.

    ``compute`` returns one value, or a tuple for a phrase with several ``{}``; format specs go in
    the phrase (``"about {:,.0f} requests a day"``).
    """

    lesson: str
    phrase: str
    compute: Callable[[], Any]
    note: str = ""

    def expected(self) -> str:
        value = self.compute()
        return self.phrase.format(*value) if isinstance(value, tuple) else self.phrase.format(value)
