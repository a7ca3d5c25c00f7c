"""Every lesson, end to end: built, executed live offline, and autograded from its recordings.

Per lesson (``rightsize.course.check.check_lesson``): the instructor version runs live once on the
local model and the lab server (every model answer recorded), then the autograder grades, in its
sandbox and from those recordings, the solution (full marks) and the unmodified student notebook
(zero, and no failing cell outside its tests cells); then the fresh student notebook is run as a
newcomer's "Run all" and must reach the end. The committed ``lessons/`` must be what the build makes
from ``solutions/`` and the quiz bank.

Each newcomer's run is rendered into ``build/site/`` (``rightsize.course.site``): the suite builds
the course's read-before-you-run site as it goes, so CI has one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
pytestmark = pytest.mark.slow

from rightsize.course.build import check_lessons_fresh, solution_notebooks
from rightsize.course.check import check_lesson
from rightsize.course.site import SitePage, page_title, render_page, write_index

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = solution_notebooks(ROOT / "solutions")
EXPECTED = [f"{n:02d}" for n in range(11)]
SITE = ROOT / "build" / "site"
PAGES: dict[str, tuple[SitePage, int]] = {}  # lesson -> its page and how many plots its run drew
KEY_PATTERN = re.compile(r"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}")


def test_every_lesson_has_a_source_and_a_student_notebook() -> None:
    numbers = [nb.name[:2] for nb in SOLUTIONS]
    assert numbers == EXPECTED, f"lesson sources in solutions/: {numbers}"
    for nb in SOLUTIONS:
        assert (ROOT / "lessons" / nb.name).is_file(), f"lessons/{nb.name} is missing: run `rightsize course build`"


def test_lessons_are_built_from_their_sources() -> None:
    assert check_lessons_fresh(ROOT) == []


@pytest.mark.parametrize("notebook", SOLUTIONS + sorted((ROOT / "lessons").glob("*.ipynb")), ids=lambda p: p.parent.name + "/" + p.name)
def test_notebooks_are_clean_in_git(notebook: Path) -> None:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {index} keeps outputs"
            assert cell.get("execution_count") is None, f"cell {index} keeps an execution count"
        text = "".join(cell["source"])
        # real OpenAI/Anthropic keys are "sk-" or "sk-ant-" and dozens of characters; a quiz may show "sk-..."
        assert not KEY_PATTERN.search(text), f"cell {index} holds what looks like an API key"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_lesson_runs_live_and_grades(solution: Path, lab_server: str, tmp_path: Path) -> None:
    result = check_lesson(solution, tmp_path / solution.stem, repo_root=ROOT, env={"RIGHTSIZE_LAB_URL": lab_server})
    print(result.summary())
    if result.student_notebook is not None:  # the newcomer's run, kept as the site's page
        import nbformat

        executed = nbformat.read(str(result.student_notebook), as_version=4)
        plots = sum("image/png" in o.get("data", {}) for c in executed.cells for o in c.get("outputs", []))
        page = render_page(executed, SITE / f"{solution.stem}.html", solution.stem)
        PAGES[solution.stem] = (SitePage(solution.stem, page_title(solution), page, result.student_run_seconds,
                                         [p for p in result.problems if p.startswith("a newcomer")]), plots)
    assert result.problems == []
    assert result.graded_cells >= 4  # at least three exercises' tests and the quiz
    assert result.max_score > 0 and result.solution_score == result.max_score
    assert result.student_score == 0


def test_the_site_has_every_lesson_as_a_newcomer_ran_it() -> None:
    assert sorted(PAGES) == [nb.stem for nb in SOLUTIONS], "run the whole module: the lesson checks make the pages"
    index = write_index(SITE, [page for page, _ in PAGES.values()],
                        how="Model answers were replayed from the instructor run's recordings on the same machine.")
    listing = index.read_text(encoding="utf-8")
    for page, plots in PAGES.values():
        assert f"href='{page.path.name}'" in listing and not page.problems
        text = page.path.read_text(encoding="utf-8")
        assert page.title and page.title in text
        assert text.count('src="data:image/png;base64,') == plots  # every plot the run drew, inline
    assert sum(plots > 0 for _, plots in PAGES.values()) >= 5  # where a person would rather look than read
