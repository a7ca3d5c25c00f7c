"""``rightsize course build``: from ``solutions/`` and the quiz bank to the nbgrader course and ``lessons/``.

For each ``solutions/NN-*.ipynb`` (an nbgrader *source* notebook: solution regions, hidden tests;
the assignment is named after the file, e.g. ``02-profiling-one-request``):

1. copy it to ``<course>/source/<assignment>/``, replacing the Markdown cell that holds
   ``<!-- rightsize:graded-quiz -->`` with the lesson's graded quiz cells
   (:func:`rightsize.quiz.graded.graded_cells`; lesson = the two leading digits): the public bank,
   or variants of it when the build has a variant seed (``--variant-seed``);
2. run nbgrader's ``generate_assignment`` (Python API) on it: the gradebook learns the
   assignment and ``<course>/release/<assignment>/`` gets the student version;
3. copy the student version to ``lessons/``, normalized (no outputs, no volatile metadata), so a
   rebuild gives byte-identical files and :func:`check_lessons_fresh` can tell when the committed
   ``lessons/`` fall behind their sources;
4. compute the references the grader compares submissions with
   (:func:`rightsize.course.references.build_references`): each solution runs once under grading
   conditions, in the sandbox, and what its hidden probes observe is kept in the course folder.
   Reused while the sources and the course package are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RightsizeError

if TYPE_CHECKING:
    from ..quiz.variants import SeededQuiz
from ._nbgrader import (
    CONFIG_NAME,
    course_directory,
    default_course_dir,
    find_repo_root,
    load_config,
    nbgrader_logger,
    require_nbgrader,
    shared_gradebook_engine,
    tools_on_path,
)

__all__ = ["BuildReport", "build_course", "check_lessons_fresh", "normalize_notebook", "solution_notebooks"]

SOLUTION_GLOB = "[0-9][0-9]-*.ipynb"
# cell metadata worth keeping in a student notebook; everything else is editor state
_KEEP_CELL_METADATA = ("nbgrader", "deletable", "editable", "tags", "slideshow", "jupyter")


@dataclass
class BuildReport:
    """What a build produced (``referenced``: assignments whose references were recomputed).

    ``seeded``: whether the graded quizzes are variants; then ``regenerated``, ``shuffled`` and
    ``drawn`` count the questions with new numbers, with shuffled choices and drawn from the
    graded-only pool, over all lessons.
    """

    course_dir: Path
    assignments: list[str] = field(default_factory=list)
    lessons: list[Path] = field(default_factory=list)
    referenced: list[str] = field(default_factory=list)
    seeded: bool = False
    regenerated: int = 0
    shuffled: int = 0
    drawn: int = 0


def solution_notebooks(solutions_dir: Path) -> list[Path]:
    """The lesson source notebooks, ``NN-name.ipynb``, in order."""
    return sorted(solutions_dir.glob(SOLUTION_GLOB)) if solutions_dir.is_dir() else []


def _course_config_text(repo_root: Path, course_dir: Path) -> str:
    shared = (repo_root / "autograder" / CONFIG_NAME).resolve()
    try:
        where = os.path.relpath(shared, course_dir.resolve())
    except ValueError:  # another drive (Windows)
        where = str(shared)
    return (
        "# Written by `rightsize course build`: edit the shared settings in\n"
        f"# {shared}\n"
        "# (this file only loads them, so `nbgrader ...` run here uses the same settings).\n"
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({where!r})  # noqa: F821\n"
    )


def _stable_ids(nb: Any) -> None:
    """Give every cell a deterministic id (nbformat would invent random ones on write)."""
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell_id = cell.get("id")
        if not cell_id or cell_id in seen:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            digest = hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()[:8]
            cell_id = (grade_id or f"cell-{index:03d}-{digest}")[:64]
            if cell_id in seen:
                cell_id = f"cell-{index:03d}-{digest}"
            cell["id"] = cell_id
        seen.add(cell_id)
    nb.nbformat, nb.nbformat_minor = 4, max(5, int(nb.get("nbformat_minor", 5)))


def insert_graded_quiz(nb: Any, lesson: str, quiz_dir: Path | None, source: Path,
                       variant_seed: str | None = None) -> SeededQuiz | None:
    """Replace the graded-quiz marker cell with the lesson's quiz cells; returns the quiz put there
    (None when the notebook has no marker). ``variant_seed``: see :func:`rightsize.quiz.graded.graded_quiz`."""
    from ..quiz.graded import graded_quiz, is_graded_quiz_marker, quiz_cells

    markers = [i for i, cell in enumerate(nb.cells) if is_graded_quiz_marker(cell)]
    if not markers:
        return None
    if len(markers) > 1:
        raise RightsizeError(f"{source} has {len(markers)} graded-quiz marker cells; keep exactly one")
    chosen = graded_quiz(lesson, quiz_dir, variant_seed)
    index = markers[0]
    nb.cells[index:index + 1] = quiz_cells(chosen.quiz.questions, variants=variant_seed is not None)
    return chosen


def normalize_notebook(nb: Any) -> dict[str, Any]:
    """The parts of a student notebook that matter, as plain JSON: sources and nbgrader metadata.

    Outputs, execution counts, editor state and the Python version in ``language_info`` are
    dropped, so opening and saving a lesson in Jupyter does not make it look stale.
    """
    data = json.loads(json.dumps(nb))
    metadata = data.get("metadata", {})
    language = metadata.get("language_info", {})
    out_meta: dict[str, Any] = {}
    if "kernelspec" in metadata:
        out_meta["kernelspec"] = metadata["kernelspec"]
    if language.get("name"):
        out_meta["language_info"] = {"name": language["name"]}
    cells = []
    for cell in data.get("cells", []):
        source = cell.get("source", "")
        item: dict[str, Any] = {
            "cell_type": cell.get("cell_type"),
            "id": cell.get("id"),
            "metadata": {k: v for k, v in cell.get("metadata", {}).items() if k in _KEEP_CELL_METADATA},
            "source": "".join(source) if isinstance(source, list) else source,
        }
        if item["cell_type"] == "code":
            item["execution_count"] = None
            item["outputs"] = []
        elif cell.get("attachments"):
            item["attachments"] = cell["attachments"]
        cells.append(item)
    return {"cells": cells, "metadata": out_meta, "nbformat": 4, "nbformat_minor": 5}


def _as_saved_by_jupyter(nb: dict[str, Any]) -> dict[str, Any]:
    """Sources as lists of lines, the way Jupyter writes them (small diffs when a lesson changes)."""
    for cell in nb["cells"]:
        cell["source"] = cell["source"].splitlines(keepends=True)
    return nb


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _generate(course_dir: Path, assignment: str, verbose: bool) -> None:
    from nbgrader.converters import GenerateAssignment
    from traitlets.config import Config

    config = load_config(course_dir)
    extra = Config()
    extra.CourseDirectory.assignment_id = assignment
    config.merge(extra)
    coursedir = course_directory(course_dir, config)
    coursedir.assignment_id = assignment
    converter = GenerateAssignment(coursedir=coursedir, config=config)
    converter.log = nbgrader_logger(verbose)
    converter.force = True
    converter.create_assignment = True
    try:
        converter.start()
    except Exception as exc:  # nbgrader raises bare Exceptions with its reasons in the log
        raise RightsizeError(f"nbgrader could not generate the student version of {assignment}: {exc}; "
                             "rerun with --verbose for nbgrader's log") from exc


def build_course(
    repo_root: Path | None = None,
    course_dir: Path | None = None,
    quiz_dir: Path | None = None,
    lessons_dir: Path | None = None,
    *,
    solutions_dir: Path | None = None,
    verbose: bool = False,
    references: bool = True,
    recordings: Path | None = None,
    workers: int = 2,
    variant_seed: str | None = None,
) -> BuildReport:
    """Build the nbgrader course and the student notebooks (see the module docstring).

    ``references=False`` skips step 4 (enough to check ``lessons/``; grading needs it).
    ``recordings`` is the folder of recorded model answers the solutions replay, as in grading.
    ``variant_seed`` makes each graded quiz from variants (new numbers, shuffled choices,
    graded-only questions; :func:`rightsize.quiz.graded.graded_quiz`); the same seed gives the same
    course. A seeded build writes its student notebooks to ``<course>/lessons`` unless
    ``lessons_dir`` says otherwise: the repository's ``lessons/`` stays built from the public bank.
    """
    require_nbgrader()
    tools_on_path()
    repo_root = (repo_root or find_repo_root()).resolve()
    course_dir = (course_dir or default_course_dir(repo_root)).resolve()
    if lessons_dir is None and variant_seed:
        lessons_dir = course_dir / "lessons"
    lessons_dir = (lessons_dir or repo_root / "lessons").resolve()
    solutions_dir = (solutions_dir or repo_root / "solutions").resolve()
    if quiz_dir is None and os.environ.get("RIGHTSIZE_QUIZ_DIR"):
        quiz_dir = Path(os.environ["RIGHTSIZE_QUIZ_DIR"])
    if quiz_dir is None and (repo_root / "quizzes").is_dir():
        quiz_dir = repo_root / "quizzes"
    _warm_matplotlib_cache()
    with shared_gradebook_engine():
        report = _build(repo_root, course_dir, quiz_dir, lessons_dir, solutions_dir, verbose, variant_seed or None)
    if references and report.assignments:
        report.referenced = _references(course_dir, report.assignments, recordings, workers, variant_seed or None)
    return report


def _references(course_dir: Path, assignments: list[str], recordings: Path | None, workers: int,
                seed: str | None) -> list[str]:
    """Run the solutions in a sandbox like a submission (no sandbox here: in a plain process; they are trusted)."""
    from .autograde import _sandbox
    from .references import build_references
    from .sandbox import Limits, detect_mode

    box = _sandbox(course_dir, detect_mode(unsafe=True), (), Limits(), recordings)
    try:
        # the seed is part of the references' cache key: another seed recomputes them
        return build_references(course_dir, assignments, sandbox=box, workers=workers, seed=seed)
    finally:
        box.close()


def _warm_matplotlib_cache() -> None:
    """Make matplotlib's font cache once: grading sandboxes start from a copy of it."""
    import subprocess
    import sys

    env = os.environ.get("MPLCONFIGDIR")
    cache = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib"
    if cache.is_dir() and any(cache.glob("fontlist-*.json")):
        return
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], capture_output=True, check=False)


def _build(repo_root: Path, course_dir: Path, quiz_dir: Path | None, lessons_dir: Path, solutions_dir: Path,
           verbose: bool, variant_seed: str | None) -> BuildReport:
    import nbformat

    report = BuildReport(course_dir=course_dir, seeded=variant_seed is not None)
    course_dir.mkdir(parents=True, exist_ok=True)
    (course_dir / CONFIG_NAME).write_text(_course_config_text(repo_root, course_dir), encoding="utf-8")

    for solution in solution_notebooks(solutions_dir):
        assignment = solution.stem
        try:
            nb = nbformat.read(str(solution), as_version=4)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise RightsizeError(f"{solution} is not a readable notebook: {exc}") from exc
        chosen = insert_graded_quiz(nb, assignment[:2], quiz_dir, solution, variant_seed)
        if chosen is not None:
            report.regenerated += len(chosen.regenerated)
            report.shuffled += len(chosen.shuffled)
            report.drawn += len(chosen.drawn)
        _stable_ids(nb)
        source_dir = course_dir / "source" / assignment
        if source_dir.exists():
            shutil.rmtree(source_dir)
        source_dir.mkdir(parents=True)
        _write_json(source_dir / solution.name, json.loads(nbformat.writes(nb)))  # type: ignore[no-untyped-call]
        _generate(course_dir, assignment, verbose)
        released = course_dir / "release" / assignment / solution.name
        if not released.is_file():
            raise RightsizeError(f"nbgrader made no student version of {solution.name} in {released.parent}")
        student = nbformat.read(str(released), as_version=4)  # type: ignore[no-untyped-call]
        _check_student_version(student, released)
        lesson = lessons_dir / solution.name
        _write_json(lesson, _as_saved_by_jupyter(normalize_notebook(student)))
        report.assignments.append(assignment)
        report.lessons.append(lesson)
    return report


def _check_student_version(nb: Any, path: Path) -> None:
    for cell in nb.cells:
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            if marker in cell.source:
                raise RightsizeError(f"the student version {path} still holds a '{marker}' region; "
                                     "check the delimiters in its source notebook")


def check_lessons_fresh(
    repo_root: Path | None = None,
    quiz_dir: Path | None = None,
    lessons_dir: Path | None = None,
) -> list[str]:
    """Rebuild into a temporary folder and compare with the committed ``lessons/``.

    Returns the problems found, one line each (empty when ``lessons/`` is up to date). With no
    solution notebooks there is nothing to compare.
    """
    repo_root = (repo_root or find_repo_root()).resolve()
    lessons_dir = (lessons_dir or repo_root / "lessons").resolve()
    sources = solution_notebooks(repo_root / "solutions")
    problems: list[str] = []
    expected_names = {s.name for s in sources}
    for stray in sorted(lessons_dir.glob(SOLUTION_GLOB)) if lessons_dir.is_dir() else []:
        if stray.name not in expected_names:
            problems.append(f"lessons/{stray.name} has no source solutions/{stray.name}; lessons are built "
                            "from solutions/ by `rightsize course build`")
    if not sources:
        return problems
    with tempfile.TemporaryDirectory(prefix="rightsize-build-check-") as tmp:
        fresh_dir = Path(tmp) / "lessons"
        build_course(repo_root, Path(tmp) / "course", quiz_dir, fresh_dir, references=False)
        for source in sources:
            fresh = normalize_notebook(json.loads((fresh_dir / source.name).read_text(encoding="utf-8")))
            committed_path = lessons_dir / source.name
            if not committed_path.is_file():
                problems.append(f"lessons/{source.name} is missing: run `rightsize course build`")
                continue
            try:
                committed = normalize_notebook(json.loads(committed_path.read_text(encoding="utf-8")))
            except ValueError as exc:
                problems.append(f"lessons/{source.name} is not valid JSON ({exc}): run `rightsize course build`")
                continue
            if committed != fresh:
                problems.append(f"lessons/{source.name} is stale against solutions/{source.name} or the quiz "
                                f"bank ({_first_difference(committed, fresh)}): run `rightsize course build`")
    return problems


def _first_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    if old["metadata"] != new["metadata"]:
        return "notebook metadata differs"
    for index, (a, b) in enumerate(zip(old["cells"], new["cells"])):
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            return f"cell {index} differs in {', '.join(keys)}"
    return f"{len(old['cells'])} cells committed, {len(new['cells'])} built"
