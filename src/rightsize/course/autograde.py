"""``rightsize course autograde``: grade a class in parallel sandboxes, with nbgrader's own steps.

nbgrader's ``autograde`` does, per submission: bookkeeping (student, submission, timestamp, the
instructor's data files), a *sanitize* pass (clear outputs, restore locked and deleted tests
cells from the gradebook), execution, then an *autograde* pass (drop warnings, limit output,
save grades, late penalties). This module runs those same nbgrader classes, configured by the
course's ``nbgrader_config.py``, in the trusted parent process, and replaces only the execution:

- each notebook runs in its own sandbox (:mod:`rightsize.course.sandbox`): no network, nothing
  of the course folder visible, unprivileged, resource-limited, one fresh kernel;
- ``workers`` sandboxes run at once, and each worker boots the next sandbox (kernel included)
  while the current one runs, so kernel start-up overlaps with execution;
- only the parent touches the gradebook: the sandbox sends back cell outputs and nothing else,
  and the parent pastes them onto its own sanitized copy of the notebook before grading, so
  student code can change what a cell printed, never which cells are graded or for how much.

A notebook that is not valid JSON, or that nbgrader cannot sanitize, scores 0 with the reason
recorded; a sandbox that cannot start is retried once, then the submission is reported as an
error and left for the next run. A per-submission status file (``<course>/.rightsize/autograde/``)
records what was graded from which files, so an interrupted batch resumes where it stopped
(``force=True`` regrades everything).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import queue
import re
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RightsizeError
from ._nbgrader import (
    course_directory,
    default_course_dir,
    find_repo_root,
    load_config,
    nbgrader_logger,
    shared_gradebook_engine,
    tools_on_path,
)
from ._pool import Job, JobResult, Pool
from .sandbox import Limits, Sandbox, _force_rmtree, detect_mode

__all__ = ["NotebookOutcome", "SubmissionOutcome", "autograde", "read_statuses", "recordings_folder", "status_dir"]


@dataclass
class NotebookOutcome:
    """How one notebook of a submission went."""

    name: str
    status: str = "graded"  # graded | invalid | missing | error
    reason: str = ""
    score: float = 0.0
    max_score: float = 0.0


@dataclass
class SubmissionOutcome:
    """How one student's submission went (``status``: graded, invalid, error or skipped)."""

    student: str
    assignment: str
    status: str = "graded"
    reason: str = ""
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    notebooks: dict[str, NotebookOutcome] = field(default_factory=dict)


@dataclass
class _Pending:
    outcome: SubmissionOutcome
    fingerprint: str
    notebooks: dict[str, tuple[Any, dict[str, Any]]] = field(default_factory=dict)
    waiting: int = 0
    run_seconds: float = 0.0
    infra_errors: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ status files
def status_dir(course_dir: Path, assignment: str) -> Path:
    """Where the per-submission status files of an assignment live."""
    return course_dir / ".rightsize" / "autograde" / assignment


def read_statuses(course_dir: Path, assignment: str) -> dict[str, dict[str, Any]]:
    """The recorded status of every graded submission of an assignment, by student."""
    out: dict[str, dict[str, Any]] = {}
    folder = status_dir(course_dir, assignment)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        out[str(data.get("student", path.stem))] = data
    return out


def _write_status(course_dir: Path, outcome: SubmissionOutcome, fingerprint: str, mode: str) -> None:
    folder = status_dir(course_dir, outcome.assignment)
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "student": outcome.student, "assignment": outcome.assignment, "status": outcome.status,
        "reason": _one_line(outcome.reason), "score": outcome.score, "max_score": outcome.max_score,
        "seconds": round(outcome.seconds, 3), "fingerprint": fingerprint, "sandbox": mode,
        "graded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "notebooks": {name: {"status": nb.status, "reason": _one_line(nb.reason), "score": nb.score,
                             "max_score": nb.max_score} for name, nb in outcome.notebooks.items()},
    }
    tmp = folder / f".{outcome.student}.json.tmp"
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, folder / f"{outcome.student}.json")


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# ------------------------------------------------------------------------------ the grader
class _Grader:
    """The trusted side: nbgrader bookkeeping and grading, one submission after another."""

    def __init__(self, course_dir: Path, assignment: str, timeout: float | None, verbose: bool) -> None:
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.converters import Autograde

        self.course_dir = course_dir
        self.assignment = assignment
        self.config = load_config(course_dir)
        self.coursedir = course_directory(course_dir, self.config)
        self.coursedir.assignment_id = assignment
        self.converter = Autograde(coursedir=self.coursedir, config=self.config)
        self.converter.log = nbgrader_logger(verbose)
        execute = self.config.get("Execute", {})
        self.timeout = float(timeout if timeout is not None else execute.get("timeout", 30) or 30)
        self.timeout_error = dict(execute.get("error_on_timeout", {}) or {
            "ename": "CellTimeoutError", "evalue": "",
            "traceback": ["\x1b[0;31mCellTimeoutError\x1b[0m: No reply from kernel before timeout"]})
        self._clears_metadata = bool(self.config.get("ClearMetadataPreprocessor", {}).get("enabled", False))
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                gb.find_assignment(assignment)
            except MissingEntry:
                raise RightsizeError(f"assignment {assignment!r} is not in the gradebook of {course_dir}: "
                                     "run `rightsize course build` first (assignments are named after "
                                     "solutions/NN-*.ipynb)") from None

    # -- discovery ---------------------------------------------------------------------
    def submissions(self) -> dict[str, Path]:
        cd = self.coursedir
        pattern = re.compile(cd.format_path(cd.submitted_directory, "(?P<student>[^/]+)", self.assignment,
                                            escape=True) + "$")
        excluded = set(filter(None, cd.student_id_exclude.split(",")))
        found: dict[str, Path] = {}
        for path in sorted(Path(cd.root).glob(os.path.relpath(
                cd.format_path(cd.submitted_directory, "*", self.assignment), cd.root))):
            match = pattern.match(str(path))
            if path.is_dir() and match and match.group("student") not in excluded:
                found[match.group("student")] = path
        return found

    def autograded_dir(self, student: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment))

    # -- before execution ----------------------------------------------------------------
    def prepare(self, student: str, folder: Path, fingerprint: str) -> tuple[_Pending, list[Job]]:
        """nbgrader's bookkeeping and sanitize pass; returns the jobs to execute."""
        import nbformat
        from nbgrader.converters.base import NbGraderException

        pending = _Pending(SubmissionOutcome(student, self.assignment), fingerprint)
        dest = self.autograded_dir(student)
        if dest.exists():
            _force_rmtree(dest)
        converter = self.converter
        converter._sanitizing = True
        converter.notebooks = sorted(str(p) for p in folder.glob("*.ipynb"))
        known = self._notebook_names()
        try:
            converter.init_assignment(self.assignment, student)
        except NbGraderException:
            # nothing of the assignment was submitted: zero every notebook
            for name in known:
                self._zero(student, name, "no notebook of this name was submitted")
                pending.outcome.notebooks[name] = NotebookOutcome(name, "missing", "not submitted")
            return pending, []
        submitted = {Path(p).stem for p in converter.notebooks}
        for name in known:
            if name not in submitted:  # nbgrader already scored it 0
                pending.outcome.notebooks[name] = NotebookOutcome(name, "missing", "not submitted")
        jobs = []
        for path in converter.notebooks:
            name = Path(path).stem
            try:
                nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
            except Exception as exc:
                reason = f"not a valid notebook file ({type(exc).__name__}: {_short(exc)})"
                self._zero(student, name, reason)
                pending.outcome.notebooks[name] = NotebookOutcome(name, "invalid", reason)
                continue
            resources = converter.init_single_notebook_resources(path)
            try:
                for preprocessor in map(_resolve, converter.sanitize_preprocessors):
                    nb, resources = preprocessor(parent=converter)(nb, resources)
            except Exception as exc:
                reason = f"nbgrader could not read the notebook's cells ({type(exc).__name__}: {_short(exc)})"
                self._zero(student, name, reason)
                pending.outcome.notebooks[name] = NotebookOutcome(name, "invalid", reason)
                continue
            _ensure_cell_ids(nb)
            cells = [{"index": i, "source": cell.source} for i, cell in enumerate(nb.cells)
                     if cell.cell_type == "code"]
            pending.notebooks[name] = (nb, resources)
            jobs.append(Job(student, name, dest, cells, self.timeout))
        pending.waiting = len(jobs)
        return pending, jobs

    def _notebook_names(self) -> list[str]:
        from nbgrader.api import Gradebook

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            return [nb.name for nb in gb.find_assignment(self.assignment).notebooks]

    def _zero(self, student: str, notebook: str, reason: str) -> None:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                gb.update_or_create_student(student)
                try:
                    submission = gb.find_submission_notebook(notebook, self.assignment, student)
                except MissingEntry:
                    gb.update_or_create_submission(self.assignment, student)
                    submission = gb.find_submission_notebook(notebook, self.assignment, student)
            except MissingEntry:
                return
            for grade in submission.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            for comment in submission.comments:
                comment.auto_comment = f"Not graded: {reason}"
            gb.db.commit()

    # -- after execution -----------------------------------------------------------------
    def finish_notebook(self, pending: _Pending, result: JobResult) -> None:
        import nbformat
        from nbconvert.preprocessors import ExecutePreprocessor
        from nbgrader.preprocessors import CheckCellMetadata

        name = result.job.notebook
        nb, resources = pending.notebooks.pop(name)
        outcome = pending.outcome
        pending.run_seconds += result.seconds
        if result.infra_error and not result.started:
            pending.infra_errors.append(f"{name}: {result.infra_error}")
            outcome.notebooks[name] = NotebookOutcome(name, "error", result.infra_error)
            return
        try:
            self._apply(nb, result)
            for preprocessor in map(_resolve, self.converter.autograde_preprocessors):
                # execution happened in the sandbox; the cell metadata was checked when sanitizing
                # and nothing since can change it (unless ClearMetadataPreprocessor is on)
                if issubclass(preprocessor, ExecutePreprocessor) or (
                        issubclass(preprocessor, CheckCellMetadata) and not self._clears_metadata):
                    continue
                nb, resources = preprocessor(parent=self.converter)(nb, resources)
            dest = self.autograded_dir(outcome.student)
            dest.mkdir(parents=True, exist_ok=True)
            target = dest / f"{name}.ipynb"
            if target.exists():
                target.unlink()
            nbformat.write(nb, str(target))  # type: ignore[no-untyped-call]
            note = result.stop_reason
            outcome.notebooks[name] = NotebookOutcome(name, "graded", note)
        except Exception as exc:
            reason = f"grading failed ({type(exc).__name__}: {_short(exc)})"
            self._zero(outcome.student, name, reason)
            outcome.notebooks[name] = NotebookOutcome(name, "invalid", reason)

    def _apply(self, nb: Any, result: JobResult) -> None:
        """Paste the sandbox's outputs onto the parent's own copy of the notebook."""
        from nbformat import from_dict
        from nbformat.v4 import new_output

        def error(ename: str, evalue: str, traceback: list[str] | None = None) -> Any:
            return new_output("error", ename=ename, evalue=evalue,  # type: ignore[no-untyped-call]
                              traceback=traceback or [f"{ename}: {evalue}"])

        stop = result.stop_reason or "the notebook stopped before this cell ran"
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            record = result.records.get(index)
            if record is None:
                cell.outputs = [error("NotExecuted", stop)]
                cell.execution_count = None
                continue
            outputs = [from_dict(o) for o in record.get("outputs", [])  # type: ignore[no-untyped-call]
                       if isinstance(o, dict) and "output_type" in o]
            if record.get("timed_out"):
                timeout_error = {"output_type": "error", **self.timeout_error}
                outputs.append(from_dict(timeout_error))  # type: ignore[no-untyped-call]
            status = record.get("status")
            if status == "error":
                ename = str(record.get("ename", "Error"))
                if not any(o.output_type == "error" and o.get("ename") == ename for o in outputs):
                    outputs.append(error(ename, str(record.get("evalue", "")),
                                         list(record.get("traceback") or []) or None))
            elif status == "unresponsive" and not record.get("timed_out"):
                outputs.append(error("CellTimeoutError", stop))
            elif status in ("dead", "no-reply"):
                outputs.append(error("KernelDied", stop))
            cell.outputs = outputs
            cell.execution_count = record.get("execution_count")

    def finish_submission(self, pending: _Pending) -> SubmissionOutcome:
        from nbgrader.api import Gradebook, MissingEntry

        outcome = pending.outcome
        outcome.seconds = pending.run_seconds
        if pending.infra_errors:
            outcome.status, outcome.reason = "error", "; ".join(pending.infra_errors)
            return outcome
        self.converter.set_permissions(self.assignment, outcome.student)
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                submission = gb.find_submission(self.assignment, outcome.student)
                outcome.score, outcome.max_score = float(submission.score), float(submission.max_score)
                for nb_outcome in outcome.notebooks.values():
                    try:
                        sub_nb = gb.find_submission_notebook(nb_outcome.name, self.assignment, outcome.student)
                        nb_outcome.score, nb_outcome.max_score = float(sub_nb.score), float(sub_nb.max_score)
                    except MissingEntry:
                        pass
            except MissingEntry:
                pass
        bad = [nb for nb in outcome.notebooks.values() if nb.status in ("invalid", "missing")]
        notes = [f"{nb.name}: {nb.reason}" for nb in outcome.notebooks.values() if nb.reason]
        outcome.reason = "; ".join(notes)
        outcome.status = "invalid" if bad and len(bad) == len(outcome.notebooks) else "graded"
        return outcome


def _resolve(preprocessor: Any) -> Any:
    """A preprocessor class from the config, given as a class or as its dotted name."""
    if isinstance(preprocessor, str):
        from traitlets.utils.importstring import import_item

        return import_item(preprocessor)
    return preprocessor


def _ensure_cell_ids(nb: Any) -> None:
    """Cells nbgrader put back (deleted tests cells) have no id; give them their grade id."""
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        return
    seen = {cell.get("id") for cell in nb.cells}
    for index, cell in enumerate(nb.cells):
        if not cell.get("id"):
            base = str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell-{index}")[:56]
            candidate, n = base, 0
            while candidate in seen:
                n += 1
                candidate = f"{base}-{n}"
            cell["id"] = candidate
            seen.add(candidate)


def recordings_folder(explicit: Path | None = None) -> Path | None:
    """Recorded model answers to mount read-only for the lessons' model calls, if any.

    In order: ``explicit`` (``--recordings``), ``RIGHTSIZE_RECORDINGS``, ``RIGHTSIZE_RESPONSES_DIR``,
    then the instructor's own recordings (``<RIGHTSIZE_CACHE or ~/.cache/rightsize>/responses``,
    written by running the solutions with ``RIGHTSIZE_RESPONSES=record``) when that folder exists.
    """
    for given, source in ((explicit, "--recordings"), (os.environ.get("RIGHTSIZE_RECORDINGS"), "RIGHTSIZE_RECORDINGS"),
                          (os.environ.get("RIGHTSIZE_RESPONSES_DIR"), "RIGHTSIZE_RESPONSES_DIR")):
        if given:
            folder = Path(given).expanduser()
            if not folder.is_dir():
                raise RightsizeError(f"the recordings folder {folder} (from {source}) does not exist")
            return folder.resolve()
    cache = Path(os.environ.get("RIGHTSIZE_CACHE") or Path.home() / ".cache" / "rightsize").expanduser()
    default = cache / "responses"
    return default.resolve() if default.is_dir() else None


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------ entry point
def autograde(
    assignment: str,
    course_dir: Path | None = None,
    *,
    workers: int = 2,
    timeout: float | None = None,
    force: bool = False,
    students: Iterable[str] | None = None,
    unsafe: bool = False,
    sandbox: str | None = None,
    limits: Limits | None = None,
    recordings: Path | None = None,
    hide: Iterable[Path] = (),
    prewarm: bool = True,
    verbose: bool = False,
    progress: Callable[[SubmissionOutcome], None] | None = None,
) -> list[SubmissionOutcome]:
    """Grade every submission of ``assignment`` (see the module docstring); returns one outcome each.

    ``timeout`` is per cell (default: ``Execute.timeout`` of the course config). ``sandbox``
    forces ``"bwrap"``, ``"unshare"`` or ``"none"`` (the last needs ``unsafe=True``).
    ``recordings`` (default: ``$RIGHTSIZE_RECORDINGS``) is a folder of recorded model answers
    mounted read-only for the lessons' model calls. Already graded, unchanged submissions are
    skipped (``skipped`` outcomes) unless ``force``.
    """
    from ._nbgrader import require_nbgrader

    require_nbgrader()
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings(), shared_gradebook_engine():
        # nbgrader's own gradebook code trips SQLAlchemy's autoflush warnings; they are harmless
        warnings.simplefilter("ignore", SAWarning)
        return _autograde(assignment, course_dir, workers=workers, timeout=timeout, force=force,
                          students=students, unsafe=unsafe, sandbox=sandbox, limits=limits,
                          recordings=recordings, hide=hide, prewarm=prewarm, verbose=verbose,
                          progress=progress)


def _autograde(
    assignment: str,
    course_dir: Path | None,
    *,
    workers: int,
    timeout: float | None,
    force: bool,
    students: Iterable[str] | None,
    unsafe: bool,
    sandbox: str | None,
    limits: Limits | None,
    recordings: Path | None,
    hide: Iterable[Path],
    prewarm: bool,
    verbose: bool,
    progress: Callable[[SubmissionOutcome], None] | None,
) -> list[SubmissionOutcome]:
    tools_on_path()
    if workers < 1:
        raise RightsizeError(f"--workers must be at least 1, not {workers}")
    course_dir = (course_dir or default_course_dir()).resolve()
    grader = _Grader(course_dir, assignment, timeout, verbose)
    found = grader.submissions()
    if students is not None:
        wanted = set(students)
        unknown = wanted - set(found)
        if unknown:
            raise RightsizeError(f"no submission of {assignment} from {', '.join(sorted(unknown))} in "
                                 f"{Path(grader.coursedir.root) / grader.coursedir.submitted_directory}")
        found = {s: p for s, p in found.items() if s in wanted}
    statuses = read_statuses(course_dir, assignment)
    outcomes: dict[str, SubmissionOutcome] = {}
    todo: deque[tuple[str, Path, str]] = deque()
    for student, folder in found.items():
        fingerprint = _fingerprint(folder)
        old = statuses.get(student)
        if (not force and old and old.get("fingerprint") == fingerprint
                and old.get("status") in ("graded", "invalid")):
            outcomes[student] = SubmissionOutcome(student, assignment, "skipped", "already graded",
                                                  float(old.get("score", 0)), float(old.get("max_score", 0)))
            continue
        todo.append((student, folder, fingerprint))
    if not todo:
        return [outcomes[s] for s in sorted(outcomes)]

    mode = detect_mode(unsafe=unsafe, prefer=sandbox)
    recordings = recordings_folder(recordings)
    hidden = [course_dir, *hide]
    if os.environ.get("RIGHTSIZE_QUIZ_DIR"):
        hidden.append(Path(os.environ["RIGHTSIZE_QUIZ_DIR"]))
    try:  # the repository's solutions and quiz bank hold the answers
        repo = find_repo_root(course_dir)
        hidden += [repo / "solutions", repo / "quizzes"]
    except RightsizeError:
        pass
    box = Sandbox(mode=mode, hide=hidden, limits=limits or Limits(), recordings=recordings)
    pool = Pool(box, workers, prewarm)
    pending: dict[str, _Pending] = {}
    outstanding = 0
    try:
        while todo or outstanding:
            while todo and pool.jobs.qsize() < workers:
                student, folder, fingerprint = todo.popleft()
                try:
                    item, jobs = grader.prepare(student, folder, fingerprint)
                except Exception as exc:  # a broken submission never stops the batch
                    outcome = SubmissionOutcome(student, assignment, "error",
                                                f"could not prepare: {type(exc).__name__}: {_short(exc)}")
                    outcomes[student] = outcome
                    if progress:
                        progress(outcome)
                    continue
                if not jobs:
                    _finish(grader, item, outcomes, course_dir, mode, progress)
                    continue
                pending[student] = item
                for job in jobs:
                    pool.jobs.put(job)
                    outstanding += 1
            if not todo:
                pool.more_coming.clear()
            try:
                result = pool.results.get(timeout=0.05 if todo else 1.0)
            except queue.Empty:
                continue
            outstanding -= 1
            item = pending[result.job.student]
            item.waiting -= 1
            try:
                grader.finish_notebook(item, result)
                if item.waiting == 0:
                    _finish(grader, item, outcomes, course_dir, mode, progress)
            except Exception as exc:  # never stop the batch: report it, the next run retries
                item.infra_errors.append(f"grading failed: {type(exc).__name__}: {_short(exc)}")
                if item.waiting == 0:
                    outcome = item.outcome
                    outcome.status, outcome.reason = "error", "; ".join(item.infra_errors)
                    outcomes[outcome.student] = outcome
                    if progress:
                        progress(outcome)
            if item.waiting == 0:
                del pending[result.job.student]
    finally:
        pool.close()
        box.close()
    return [outcomes[s] for s in sorted(outcomes)]


def _finish(grader: _Grader, item: _Pending, outcomes: dict[str, SubmissionOutcome], course_dir: Path,
            mode: str, progress: Callable[[SubmissionOutcome], None] | None) -> None:
    outcome = grader.finish_submission(item)
    if outcome.status != "error":
        _write_status(course_dir, outcome, item.fingerprint, mode)
    outcomes[outcome.student] = outcome
    if progress:
        progress(outcome)
