"""``rightsize course check``: prove a lesson works, end to end, the way students and graders use it.

For one source notebook ``solutions/NN-name.ipynb``, in a scratch folder:

1. build it alone (:func:`~rightsize.course.build.build_course`): the graded quiz goes in, the
   student version comes out;
2. execute the instructor version (solutions and graded quiz filled in) live, offline, with
   nbclient, recording every model answer (``RIGHTSIZE_RESPONSES=record``); any cell that raises
   fails the check (hidden regions run too, so every ``expect=`` is asserted). This is the one
   live run: ``%%live`` cells run here. The executed notebook is kept as
   ``<work>/<assignment>.executed.ipynb`` for reading;
3. compute the references from those recordings, as ``rightsize course build`` does;
4. autograde, in the sandbox and from those recordings, two submissions: the instructor version
   (must score full marks) and the unmodified student version (must score zero, no cell may fail
   in it, and every visible check must say "not done yet");
5. "Run all" on the fresh student notebook as a newcomer would, outside the autograder: every
   cell runs, ``%%live`` ones included, and it must reach the end with no failing cell and every
   visible check saying "not done yet". Model answers the instructor run recorded are replayed
   (``RIGHTSIZE_RESPONSES=replay``; the notebook's own reports say so), any other request goes to
   the model. The executed notebook is kept as ``<work>/<assignment>.student.ipynb``: it is the
   page of the course's static site (:mod:`rightsize.course.site`).

The result says how long each step took, so a lesson's cost in CI and in grading is visible.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RightsizeError

__all__ = ["LessonCheck", "check_lesson", "execute_notebook", "failed_cells"]


@dataclass
class LessonCheck:
    """What :func:`check_lesson` found for one lesson; ``problems`` is empty when it passed."""

    assignment: str
    execute_seconds: float = 0.0
    reference_seconds: float = 0.0
    grade_seconds: float = 0.0
    student_run_seconds: float = 0.0
    student_notebook: Path | None = None
    solution_score: float = 0.0
    student_score: float = 0.0
    max_score: float = 0.0
    graded_cells: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        return (f"{self.assignment}: {verdict}; executed live in {self.execute_seconds:.0f} s; "
                f"references in {self.reference_seconds:.0f} s; graded 2 submissions in {self.grade_seconds:.0f} s; "
                f"a newcomer's Run all in {self.student_run_seconds:.0f} s; solution {self.solution_score:g}/"
                f"{self.max_score:g}, unmodified student {self.student_score:g}/{self.max_score:g} "
                f"over {self.graded_cells} graded cells")


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _source(cell: Any) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def failed_cells(nb: Any, *, skip_graded_tests: bool = False) -> list[str]:
    """One line per code cell of an executed notebook whose output holds an error."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if skip_graded_tests and meta.get("grade") and not meta.get("solution"):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first = _source(cell).strip().splitlines()[:1]
                problems.append(f"cell {index} ({meta.get('grade_id') or (first[0][:60] if first else '')}): "
                                f"{output.get('ename')}: {str(output.get('evalue'))[:300]}")
    return problems


POLL_SLICE_S = 1.0


def _poll_in_slices(channel: Any) -> None:
    """Make ``channel.get_msg`` wait in slices of at most :data:`POLL_SLICE_S`.

    nbclient waits for a cell's reply in one poll as long as the cell's timeout. pyzmq's asyncio
    poller can miss the wake-up for a message that has arrived; the poll then returns it only when
    its timer fires, so the notebook sat idle for the whole timeout (300 s) with the reply in the
    socket (seen on lesson kernels, under ipykernel 6 and 7). A poll that ends every second looks
    at the socket again, so a missed wake-up costs a second instead.
    """
    from queue import Empty

    whole = channel.get_msg

    async def get_msg(timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await whole(timeout=min(POLL_SLICE_S, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


def _client(nb: Any, **options: Any) -> Any:
    """An nbclient ``NotebookClient`` whose waits for replies and outputs poll in short slices."""
    from nbclient import NotebookClient

    class SlicedPollClient(NotebookClient):  # type: ignore[misc]
        async def async_start_new_kernel_client(self) -> Any:
            kc = await super().async_start_new_kernel_client()
            _poll_in_slices(kc.shell_channel)
            _poll_in_slices(kc.iopub_channel)
            return kc

    return SlicedPollClient(nb, **options)


def execute_notebook(path: Path, *, timeout: float = 300, env: Mapping[str, str] | None = None) -> tuple[Any, float]:
    """Execute ``path`` in a fresh kernel (working directory: its folder), keeping going after errors.

    Returns the executed notebook and the seconds it took. ``env`` is added to the kernel's
    environment for the run.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    client = _client(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                     resources={"metadata": {"path": str(path.parent)}})
    started = time.monotonic()
    with _environment(dict(env or {})):
        client.execute()
    return nb, time.monotonic() - started


def check_lesson(solution: Path, work: Path, *, repo_root: Path | None = None, quiz_dir: Path | None = None,
                 timeout: float = 300, grade_timeout: float | None = None,
                 env: Mapping[str, str] | None = None) -> LessonCheck:
    """Run the three steps of the module docstring for ``solution``; scratch files go in ``work``."""
    import nbformat

    from .autograde import autograde
    from .build import build_course

    solution = Path(solution).resolve()
    if not solution.is_file():
        raise RightsizeError(f"no lesson source at {solution}")
    root = Path(repo_root) if repo_root else solution.parent.parent
    assignment = solution.stem
    result = LessonCheck(assignment)
    if work.exists():
        shutil.rmtree(work)
    sources = work / "solutions"
    sources.mkdir(parents=True)
    shutil.copy2(solution, sources / solution.name)
    course = work / "course"
    build_course(root, course, quiz_dir or root / "quizzes", work / "lessons", solutions_dir=sources,
                 references=False)

    recordings = work / "recordings"
    instructor = course / "source" / assignment / solution.name
    live_env = {"RIGHTSIZE_RESPONSES": "record", "RIGHTSIZE_RESPONSES_DIR": str(recordings), **(env or {})}
    executed, result.execute_seconds = execute_notebook(instructor, timeout=timeout, env=live_env)
    nbformat.write(executed, str(work / f"{assignment}.executed.ipynb"))  # type: ignore[no-untyped-call]
    result.problems += [f"instructor version, live run: {p}" for p in failed_cells(executed)]
    result.graded_cells = sum(1 for c in executed.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    if result.graded_cells < 1:
        result.problems.append("no graded cells: mark exercises and their tests for nbgrader")

    recordings.mkdir(exist_ok=True)
    started = time.monotonic()
    try:
        build_course(root, course, quiz_dir or root / "quizzes", work / "lessons", solutions_dir=sources,
                     recordings=recordings)
    except RightsizeError as exc:
        result.problems.append(f"references: {exc}")
        return result
    result.reference_seconds = time.monotonic() - started
    for student, notebook in (("instructor-solution", instructor),
                              ("unmodified-student", course / "release" / assignment / solution.name)):
        target = course / "submitted" / student / assignment
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, target / solution.name)
    started = time.monotonic()
    outcomes = {o.student: o for o in autograde(assignment, course, timeout=grade_timeout, recordings=recordings,
                                                   hide=[root / "solutions", quiz_dir or root / "quizzes"])}
    result.grade_seconds = time.monotonic() - started
    solved, fresh = outcomes.get("instructor-solution"), outcomes.get("unmodified-student")
    for name, outcome in (("instructor-solution", solved), ("unmodified-student", fresh)):
        if outcome is None or outcome.status != "graded":
            reason = "not graded" if outcome is None else f"{outcome.status}: {outcome.reason}"
            result.problems.append(f"autograde of {name}: {reason}")
    if solved is not None and fresh is not None:
        from .references import load_references

        # manually graded cells (a memo's prose) get their points from a person, not the autograder
        auto_max = sum(spec.points for nb in load_references(course, assignment).notebooks.values()
                       for spec in nb.cells.values())
        result.max_score = auto_max
        result.solution_score, result.student_score = solved.score, fresh.score
        if solved.score != auto_max:
            result.problems.append(f"the solution scored {solved.score:g} of the {auto_max:g} autograded points")
        if fresh.score != 0:
            result.problems.append(f"the unmodified student notebook scored {fresh.score:g}, not 0")
    for name in ("instructor-solution", "unmodified-student"):
        graded_nb = course / "autograded" / name / assignment / solution.name
        if graded_nb.is_file():
            nb = nbformat.read(str(graded_nb), as_version=4)  # type: ignore[no-untyped-call]
            result.problems += [f"{name} under the autograder: {p}" for p in failed_cells(nb, skip_graded_tests=True)]
            if name == "unmodified-student":
                result.problems += [f"unmodified student: {p}" for p in _not_done_problems(nb)]

    newcomer_env = {**live_env, "RIGHTSIZE_RESPONSES": "replay"}
    release = course / "release" / assignment / solution.name
    executed, result.student_run_seconds = execute_notebook(release, timeout=timeout, env=newcomer_env)
    result.student_notebook = work / f"{assignment}.student.ipynb"
    nbformat.write(executed, str(result.student_notebook))  # type: ignore[no-untyped-call]
    result.problems += [f"a newcomer's Run all: {p}" for p in failed_cells(executed)]
    result.problems += [f"a newcomer's Run all: {p}" for p in _not_done_problems(executed)]
    return result


def _not_done_problems(nb: Any) -> list[str]:
    """Every visible check of an untouched notebook must report "not done yet", never pass or crash."""
    from ..checks import status_of

    problems = []
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        reports = [r for r in map(status_of, cell.get("outputs", [])) if r]
        if "with checks(" in _source(cell) and not reports:
            problems.append(f"{gid}: its visible checks showed nothing (did the cell fail before them?)")
        for report in reports:
            if report.get("status") != "not-done":
                problems.append(f"{gid}: the visible check says {report.get('status')} "
                                f"({report.get('message')}) before anything was answered")
    return problems
