"""``rightsize course site``: lessons run as a newcomer would, rendered to HTML with an index."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from rightsize.course.site import build_site

pytestmark = pytest.mark.slow


def _lesson(folder: Path, name: str, *cells: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name.title()}")]
                                  + [nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, str(folder / f"{name}.ipynb"))


def test_every_lesson_gets_a_page_with_its_plots_and_failures_are_reported(tmp_path: Path) -> None:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    _lesson(lessons, "01-a-plot", "import matplotlib.pyplot as plt",
            "plt.plot([1, 3, 2]); plt.show()", "print('after the plot')")
    _lesson(lessons, "02-a-broken-cell", "1 / 0", "print('Run all keeps going')")
    (lessons / "notes.ipynb").write_text("{}")  # not NN-name: not a lesson
    pages = build_site(lessons, tmp_path / "site", timeout=60)
    assert [p.lesson for p in pages] == ["01-a-plot", "02-a-broken-cell"]
    plot, broken = pages
    assert plot.problems == [] and plot.title == "01-A-Plot"
    text = plot.path.read_text(encoding="utf-8")
    assert text.count('src="data:image/png;base64,') == 1 and "after the plot" in text
    assert len(broken.problems) == 1 and "ZeroDivisionError" in broken.problems[0]
    assert "Run all keeps going" in broken.path.read_text(encoding="utf-8")
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "href='01-a-plot.html'" in index and "1 failing cell(s)" in index
    only = build_site(lessons, tmp_path / "one", only=["02"])
    assert [p.lesson for p in only] == ["02-a-broken-cell"]
