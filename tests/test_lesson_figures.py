"""Every figure a lesson states in prose is computed from the course's own data, here.

A lesson's Markdown says things like "the registry's prices span 62 times" or "Opus passes $100 a
month near 500 requests a day". Each such figure is listed in ``tests/lesson_figures/lNN.py`` with
the code that computes it from the package's data (the registry, the shipped recordings, the
evaluation cache, the golden sets): the test renders the phrase with the computed value and checks
that the lesson's Markdown holds exactly that phrase. When the data change, or the text is edited
without the data, the test fails and names the phrase, so text and data cannot drift apart.

To add a figure: write the sentence in the lesson, then add a ``Figure`` to the lesson's module
with the phrase (``{}`` where the number goes, with its format), and a function computing it.
"""

from __future__ import annotations

import importlib
import json
from functools import cache
from pathlib import Path

import pytest

from lesson_figures import Figure

ROOT = Path(__file__).resolve().parent.parent
LESSONS = [f"{n:02d}" for n in range(11)]
FIGURES: list[Figure] = [f for n in LESSONS for f in importlib.import_module(f"lesson_figures.l{n}").FIGURES]


@cache
def markdown(lesson: str) -> str:
    """The lesson's Markdown cells, joined, with line breaks folded (phrases may wrap)."""
    (path,) = sorted((ROOT / "solutions").glob(f"{lesson}-*.ipynb"))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return " ".join(text.split())


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f"{f.lesson}: {f.phrase[:50]}")
def test_the_lesson_states_the_figure_its_data_give(figure: Figure) -> None:
    expected = " ".join(figure.expected().split())
    assert expected in markdown(figure.lesson), (
        f"lesson {figure.lesson} should say {expected!r} (computed from the course's data); "
        "update the text, or the figure's computation if the text changed on purpose")


def test_the_figures_cover_every_lesson_that_states_numbers() -> None:
    covered = {f.lesson for f in FIGURES}
    assert covered >= {"00", "01", "02", "03", "04", "06", "08", "09", "10"}, sorted(covered)
