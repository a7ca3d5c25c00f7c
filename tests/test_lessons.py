"""Every lesson, end to end: built, executed live offline, and autograded from its recordings.

Per lesson (``rightsize.course.check.check_lesson``): the instructor version runs live once on the
local model and the lab server (every model answer recorded), then the autograder grades, in its
sandbox and from those recordings, the solution (full marks) and the unmodified student notebook
(zero, and no failing cell outside its tests cells). The committed ``lessons/`` must be what the
build makes from ``solutions/`` and the quiz bank.
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

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = solution_notebooks(ROOT / "solutions")
EXPECTED = [f"{n:02d}" for n in range(10)]
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
    assert result.problems == []
    assert result.graded_cells >= 4  # at least three exercises' tests and the quiz
    assert result.max_score > 0 and result.solution_score == result.max_score
    assert result.student_score == 0
