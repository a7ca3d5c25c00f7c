"""``rightsize course autograde``: grade a class in sandboxes; the student's kernel never decides a score.

Per submission, in the trusted grading process:

1. **intake** (:mod:`rightsize.course.intake`): the submission is copied in, regular files only,
   within caps; links, FIFOs and devices are refused with a reason and never followed. nbgrader's
   own steps only ever see this staged copy;
2. nbgrader's bookkeeping and *sanitize* pass (the submission and its ``timestamp.txt``, outputs
   cleared, edited or deleted tests cells restored from the gradebook), after a copied graded
   cell (same grade id twice) is resolved to the one in its released place;
3. **execution** in a sandbox (:mod:`rightsize.course.sandbox`): the student's cells, with each
   tests cell reduced to its visible checks, then the hidden probes
   (:mod:`rightsize.course.probes`), which send back plain observations and nothing else;
4. **scoring** (:mod:`rightsize.course.scoring`): quiz answers read from the answer cells' text,
   probe observations compared with the references computed from the solutions at build time
   (:mod:`rightsize.course.references`); the verdicts become the tests cells' outputs and nbgrader's
   own ``SaveAutoGrades`` writes them to the gradebook, with late penalties as usual.

``workers`` sandboxes run at once, each booting the next while one runs; ``scheduler`` sends the
sandboxed runs to a Dask cluster instead (:mod:`rightsize.course._dask`). A notebook that cannot
be read scores 0 with the reason recorded; a sandbox that cannot start is retried once, then the
submission is reported as an error and left for the next run. A status file per submission
(``<course>/.rightsize/autograde/``) records what was graded from which files, so an interrupted
batch resumes where it stopped (``force=True`` regrades everything).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import queue
import re
import shutil
import tempfile
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
from .intake import Intake, IntakeLimits, Refusal, stage
from .probes import MIME_TYPE, parse_payload
from .references import is_tests_cell, load_references, plan_notebook, sources_digest
from .sandbox import Limits, Sandbox, _force_rmtree, detect_mode
from .scoring import score_literal, score_probes, verdict_outputs

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
    notes: list[str] = field(default_factory=list)
    # per notebook: cells and probes left out of a rerun because they stopped the kernel, and why
    skipped_cells: dict[str, dict[int, str]] = field(default_factory=dict)
    skipped_drivers: dict[str, dict[str, str]] = field(default_factory=dict)


MAX_RERUNS = 2  # a notebook whose kernel dies or hangs runs again without the cell that did it, twice at most


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


# ------------------------------------------------------------------------------ the grader
class _Grader:
    """The trusted side: intake, nbgrader bookkeeping and scoring, one submission after another."""

    def __init__(self, course_dir: Path, assignment: str, timeout: float | None, verbose: bool,
                 intake_limits: IntakeLimits | None = None) -> None:
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.converters import Autograde

        self.course_dir = course_dir
        self.assignment = assignment
        self.config = load_config(course_dir)
        self.coursedir = course_directory(course_dir, self.config)
        self.coursedir.assignment_id = assignment
        self.submitted_root = Path(self.coursedir.root) / self.coursedir.submitted_directory
        self.converter = Autograde(coursedir=self.coursedir, config=self.config)
        self.converter.log = nbgrader_logger(verbose)
        execute = self.config.get("Execute", {})
        self.timeout = float(timeout if timeout is not None else execute.get("timeout", 30) or 30)
        self._clears_metadata = bool(self.config.get("ClearMetadataPreprocessor", {}).get("enabled", False))
        self.intake_limits = intake_limits or IntakeLimits()
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                gb.find_assignment(assignment)
            except MissingEntry:
                raise RightsizeError(f"assignment {assignment!r} is not in the gradebook of {course_dir}: "
                                     "run `rightsize course build` first (assignments are named after "
                                     "solutions/NN-*.ipynb)") from None
        self.references = load_references(course_dir, assignment)
        source = Path(self.coursedir.format_path(self.coursedir.source_directory, ".", assignment))
        if self.references.sources != sources_digest(sorted(source.glob("*.ipynb"))):
            raise RightsizeError(f"the references of {assignment} were computed from other source notebooks: run "
                                 "`rightsize course build` again before grading")

    # -- discovery ---------------------------------------------------------------------
    def submissions(self) -> dict[str, Path]:
        """Every ``submitted/<student>/<assignment>`` entry (links included: intake refuses them)."""
        excluded = set(filter(None, self.coursedir.student_id_exclude.split(",")))
        found: dict[str, Path] = {}
        if not self.submitted_root.is_dir():
            return found
        for student in sorted(os.listdir(self.submitted_root)):
            folder = self.submitted_root / student
            if student in excluded or student.startswith(".") or not _STUDENT_ID.match(student):
                continue
            if not folder.is_symlink() and folder.is_dir() and os.path.lexists(folder / self.assignment):
                found[student] = folder / self.assignment
            elif folder.is_symlink():
                found[student] = folder / self.assignment  # refused at intake, with the reason
        return found

    def autograded_dir(self, student: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment))

    def _notebook_names(self) -> list[str]:
        from nbgrader.api import Gradebook

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            return [nb.name for nb in gb.find_assignment(self.assignment).notebooks]

    def stage(self, student: str, folder: Path, scratch: Path) -> tuple[Path, Intake]:
        """A safe copy of the submission (regular files only) in ``scratch``, and what was refused."""
        staged_root = scratch / "staged"
        staged = staged_root / student / self.assignment
        if folder.parent.is_symlink():
            staged.mkdir(parents=True)
            return staged_root, Intake(refused=[Refusal(".", "the student's folder is a symbolic link")],
                                       fingerprint="refused:link")
        intake = stage(folder, staged, self.intake_limits, first=[f"{n}.ipynb" for n in self._notebook_names()])
        timestamp = staged / "timestamp.txt"
        if timestamp.is_file():
            try:
                from nbgrader.utils import parse_utc

                parse_utc(timestamp.read_text(encoding="utf-8", errors="replace").strip()[:100])
            except (ValueError, OverflowError):
                timestamp.unlink()
                intake.refused.append(Refusal("timestamp.txt", "not a readable time: no submission time recorded"))
        return staged_root, intake

    # -- before execution ----------------------------------------------------------------
    def prepare(self, student: str, staged_root: Path, intake: Intake) -> tuple[_Pending, list[Job]]:
        """nbgrader's bookkeeping and sanitize pass on the staged copy; returns the jobs to execute."""
        pending = _Pending(SubmissionOutcome(student, self.assignment), intake.fingerprint)
        pending.notes += [f"not taken: {line}" for line in intake.summary()]
        dest = self.autograded_dir(student)
        if dest.exists():
            _force_rmtree(dest)
        converter = self.converter
        converter._sanitizing = True
        original = self.coursedir.submitted_directory
        self.coursedir.submitted_directory = str(staged_root)  # nbgrader reads the staged copy only
        try:
            return self._prepare(pending, staged_root, intake, dest)
        finally:
            self.coursedir.submitted_directory = original

    def _prepare(self, pending: _Pending, staged_root: Path, intake: Intake, dest: Path
                 ) -> tuple[_Pending, list[Job]]:
        import nbformat
        from nbgrader.converters.base import NbGraderException

        student, converter = pending.outcome.student, self.converter
        staged = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, self.assignment))
        converter.notebooks = sorted(str(p) for p in staged.glob("*.ipynb"))
        known = self._notebook_names()
        try:
            converter.init_assignment(self.assignment, student)
        except NbGraderException:
            # nothing of the assignment was submitted: zero every notebook
            for name in known:
                reason = self._missing_reason(intake, name)
                self._zero(student, name, reason)
                pending.outcome.notebooks[name] = NotebookOutcome(name, "missing", reason)
            return pending, []
        submitted = {Path(p).stem for p in converter.notebooks}
        for name in known:
            if name not in submitted:  # nbgrader already scored it 0
                pending.outcome.notebooks[name] = NotebookOutcome(name, "missing", self._missing_reason(intake, name))
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
            spec = self.references.notebooks.get(name)
            if spec is None:
                continue
            pending.notes += resolve_duplicates(nb, spec.order)
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
            cells, drivers = plan_notebook(nb, spec.cells)
            pending.notebooks[name] = (nb, resources)
            jobs.append(Job(student, name, dest, cells, self.timeout, drivers,
                            {"observations_mime": MIME_TYPE}))
        pending.waiting = len(jobs)
        return pending, jobs

    @staticmethod
    def _missing_reason(intake: Intake, name: str) -> str:
        refusal = intake.refused_notebook(f"{name}.ipynb")
        return f"{name}.ipynb was refused: {refusal.reason}" if refusal else "not submitted"

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
    def rerun(self, pending: _Pending, result: JobResult) -> Job | None:
        """A new run of the notebook without the cell (or probe) that stopped the kernel, if worth one.

        A kernel that dies or ignores a timeout interrupt would otherwise cost the student every
        exercise graded after it (the probes run last). The culprit scores what it scores (its
        own exercise, usually nothing); the rest of the notebook gets a fair run.
        """
        job = result.job
        reruns = int(job.extra.get("reruns", 0))
        if not result.started or not result.stop_reason or reruns >= MAX_RERUNS:
            return None
        index = result.stop_index
        if index is None:
            index = next((c["index"] for c in job.cells if c["index"] not in result.records), None)
        reason = f"{result.stop_reason}; it was left out when the notebook ran again"
        pending.notes.append(f"{job.notebook}: " + (f"cell {index + 1}: " if index is not None else "hidden checks: ")
                             + reason)
        if index is not None:
            pending.skipped_cells.setdefault(job.notebook, {})[index] = reason
            cells, drivers = [c for c in job.cells if c["index"] != index], job.drivers
        else:
            culprit = next((d["id"] for d in job.drivers if d["id"] not in result.drivers), None)
            if culprit is None:
                return None
            pending.skipped_drivers.setdefault(job.notebook, {})[culprit] = "the hidden checks stopped the kernel"
            cells, drivers = job.cells, [d for d in job.drivers if d["id"] != culprit]
        return Job(job.student, job.notebook, job.files_dir, cells, job.timeout, drivers,
                   {**job.extra, "reruns": reruns + 1})

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
            self._apply(nb, result, pending.skipped_cells.get(name, {}))
            self._score(nb, name, result, pending.skipped_drivers.get(name, {}))
            if pending.notes:
                nb.cells.insert(0, _notes_cell(pending.notes))
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
            if target.exists() or target.is_symlink():
                target.unlink()
            nbformat.write(nb, str(target))  # type: ignore[no-untyped-call]
            outcome.notebooks[name] = NotebookOutcome(name, "graded", result.stop_reason)
        except Exception as exc:
            reason = f"grading failed ({type(exc).__name__}: {_short(exc)})"
            self._zero(outcome.student, name, reason)
            outcome.notebooks[name] = NotebookOutcome(name, "invalid", reason)

    def _apply(self, nb: Any, result: JobResult, skipped: dict[int, str]) -> None:
        """Paste the sandbox's outputs onto the parent's own copy of the notebook (tests cells aside)."""
        from nbformat import from_dict

        stop = result.stop_reason or "the notebook stopped before this cell ran"
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if index in skipped:
                cell.outputs = [from_dict(_error_output("KernelStopped", skipped[index]))]  # type: ignore[no-untyped-call]
                cell.execution_count = None
                continue
            record = result.records.get(index)
            if is_tests_cell(cell):
                # a tests cell shows only what its visible checks printed; its score is the grader's
                kept = [o for o in (record or {}).get("outputs", []) if _shown_in_tests_cell(o)]
                cell.outputs = [from_dict(_plain_output(o)) for o in kept]  # type: ignore[no-untyped-call]
                cell.execution_count = (record or {}).get("execution_count")
                continue
            if record is None:
                cell.outputs = [from_dict(_error_output("NotExecuted", stop))]  # type: ignore[no-untyped-call]
                cell.execution_count = None
                continue
            outputs = [from_dict(o) for o in record.get("outputs", [])  # type: ignore[no-untyped-call]
                       if isinstance(o, dict) and o.get("output_type") in _OUTPUT_TYPES]
            status = record.get("status")
            if record.get("timed_out"):
                outputs.append(from_dict(_error_output("CellTimeoutError",  # type: ignore[no-untyped-call]
                                                       f"the cell ran longer than {self.timeout:g} s")))
            elif status == "unresponsive":
                outputs.append(from_dict(_error_output("CellTimeoutError", stop)))  # type: ignore[no-untyped-call]
            elif status in ("dead", "no-reply"):
                outputs.append(from_dict(_error_output("KernelDied", stop)))  # type: ignore[no-untyped-call]
            cell.outputs = outputs
            ecount = record.get("execution_count")
            cell.execution_count = ecount if type(ecount) is int else None

    def _score(self, nb: Any, name: str, result: JobResult, skipped: dict[str, str]) -> None:
        """Decide every tests cell's score here, from the answer cells' text and the probes' observations."""
        from nbformat import from_dict

        specs = self.references.notebooks[name].cells
        for cell in nb.cells:
            if not is_tests_cell(cell):
                continue
            gid = str(cell.metadata["nbgrader"].get("grade_id"))
            spec = specs.get(gid)
            if spec is None:
                continue
            if spec.kind == "literal":
                score = score_literal(nb, spec)
            else:
                event = result.drivers.get(gid)
                problem = ""
                if gid in skipped:
                    problem = skipped[gid]
                elif event is None:
                    problem = result.stop_reason or "the hidden checks did not run"
                elif event.get("timed_out"):
                    problem = f"the hidden checks ran longer than {self.timeout:g} s and were stopped"
                observations, well_formed = parse_payload((event or {}).get("payload"), gid)
                score = score_probes(spec, observations, well_formed or event is None, problem)
            cell.outputs += [from_dict(o) for o in verdict_outputs(score, spec.partial)]  # type: ignore[no-untyped-call]
            cell.metadata["rightsize"] = {"graded": True}

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
        notes = [f"{nb.name}: {nb.reason}" for nb in outcome.notebooks.values() if nb.reason] + pending.notes
        outcome.reason = "; ".join(notes)
        outcome.status = "invalid" if bad and len(bad) == len(outcome.notebooks) else "graded"
        return outcome


_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


def _shown_in_tests_cell(output: Any) -> bool:
    """Visible-check output worth showing that cannot sway nbgrader's scoring (no errors, no results)."""
    if not isinstance(output, dict):
        return False
    if output.get("output_type") == "stream":
        return output.get("name") == "stdout"
    return output.get("output_type") == "display_data" and isinstance(output.get("data"), dict)


def _plain_output(output: dict[str, Any]) -> dict[str, Any]:
    if output["output_type"] == "stream":
        return {"output_type": "stream", "name": "stdout", "text": str(output.get("text", ""))}
    return {"output_type": "display_data", "data": output["data"], "metadata": {}}


def _error_output(ename: str, evalue: str) -> dict[str, Any]:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def _notes_cell(notes: list[str]) -> Any:
    from nbformat.v4 import new_markdown_cell

    items = "\n".join(f"- {html.escape(note)}" for note in notes[:50])
    more = f"\n- ... and {len(notes) - 50} more" if len(notes) > 50 else ""
    return new_markdown_cell(f"**Notes from the autograder**\n\n{items}{more}")  # type: ignore[no-untyped-call]


def resolve_duplicates(nb: Any, released: list[str]) -> list[str]:
    """Keep one cell per grade id, the one in its released position; strip nbgrader metadata from copies.

    Jupyter copies a cell's nbgrader metadata with the cell, so a student who pasted a tests cell
    twice holds two cells with one grade id. The one whose neighbouring graded cells match the
    release counts (ties: the first); the others become ordinary cells. Returns a note per copy.
    """
    def gid(cell: Any) -> str | None:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        return str(meta["grade_id"]) if isinstance(meta, dict) and meta.get("grade_id") else None

    positions: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.cells):
        key = gid(cell)
        if key is not None:
            positions.setdefault(key, []).append(index)
    notes = []
    where = {key: i for i, key in enumerate(released)}
    for key, found in positions.items():
        if len(found) < 2:
            continue
        at = where.get(key)
        before = released[at - 1] if at not in (None, 0) else None
        after = released[at + 1] if at is not None and at + 1 < len(released) else None

        def neighbours(index: int) -> int:
            prev = next((gid(nb.cells[j]) for j in range(index - 1, -1, -1) if gid(nb.cells[j])), None)
            nxt = next((gid(nb.cells[j]) for j in range(index + 1, len(nb.cells)) if gid(nb.cells[j])), None)
            return int(prev == before) + int(nxt == after)

        keep = max(found, key=lambda i: (neighbours(i), -i))
        for index in found:
            if index != keep:
                nb.cells[index].metadata.pop("nbgrader", None)
                notes.append(f"cell {index + 1} is a copy of the graded cell '{key}' and was ignored "
                             f"(the cell in its original place, cell {keep + 1}, counts)")
    return notes


def _resolve(preprocessor: Any) -> Any:
    """A preprocessor class from the config, given as a class or as its dotted name."""
    if isinstance(preprocessor, str):
        from traitlets.utils.importstring import import_item

        return import_item(preprocessor)
    return preprocessor


def _ensure_cell_ids(nb: Any) -> None:
    """Every cell gets a unique id: restored tests cells have none, pasted cells may repeat one."""
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        return
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        if cell.get("id") and cell["id"] not in seen:
            seen.add(cell["id"])
            continue
        # no id (a restored tests cell) or a pasted cell's repeated one
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
    scheduler: str | None = None,
    intake_limits: IntakeLimits | None = None,
) -> list[SubmissionOutcome]:
    """Grade every submission of ``assignment`` (see the module docstring); returns one outcome each.

    ``timeout`` is per cell (default: ``Execute.timeout`` of the course config). ``sandbox``
    forces ``"bwrap"``, ``"unshare"`` or ``"none"`` (the last needs ``unsafe=True``).
    ``recordings`` (default: ``$RIGHTSIZE_RECORDINGS``) is a folder of recorded model answers
    mounted read-only for the lessons' model calls. Already graded, unchanged submissions are
    skipped (``skipped`` outcomes) unless ``force``. ``scheduler`` is the address of a Dask
    scheduler whose workers run the sandboxes; ``intake_limits`` caps what a submission may bring.
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
                          progress=progress, scheduler=scheduler, intake_limits=intake_limits)


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
    scheduler: str | None = None,
    intake_limits: IntakeLimits | None = None,
) -> list[SubmissionOutcome]:
    tools_on_path()
    if workers < 1:
        raise RightsizeError(f"--workers must be at least 1, not {workers}")
    course_dir = (course_dir or default_course_dir()).resolve()
    grader = _Grader(course_dir, assignment, timeout, verbose, intake_limits)
    found = grader.submissions()
    if students is not None:
        wanted = set(students)
        unknown = wanted - set(found)
        if unknown:
            raise RightsizeError(f"no submission of {assignment} from {', '.join(sorted(unknown))} in "
                                 f"{grader.submitted_root}")
        found = {s: p for s, p in found.items() if s in wanted}
    statuses = read_statuses(course_dir, assignment)
    outcomes: dict[str, SubmissionOutcome] = {}
    todo: deque[tuple[str, Path]] = deque(found.items())
    pool: Any = None
    box: Sandbox | None = None
    mode = ""
    pending: dict[str, _Pending] = {}
    outstanding = 0
    scratch = Path(tempfile.mkdtemp(prefix="rightsize-intake-"))
    os.chmod(scratch, 0o700)

    def report(outcome: SubmissionOutcome) -> None:
        outcomes[outcome.student] = outcome
        if progress:
            progress(outcome)

    try:
        while todo or outstanding:
            while todo and (pool is None or pool.jobs.qsize() < workers):
                student, folder = todo.popleft()
                staging = scratch / student
                try:
                    staged_root, intake = grader.stage(student, folder, staging)
                    old = statuses.get(student)
                    if (not force and old and old.get("fingerprint") == intake.fingerprint
                            and old.get("status") in ("graded", "invalid")):
                        report(SubmissionOutcome(student, assignment, "skipped", "already graded",
                                                 float(old.get("score", 0)), float(old.get("max_score", 0))))
                        continue
                    if pool is None:  # the first submission to grade: no sandbox is a batch error
                        mode = detect_mode(unsafe=unsafe, prefer=sandbox)
                        box = _sandbox(course_dir, mode, hide, limits, recordings)
                        pool = _make_pool(box, workers, prewarm, scheduler)
                    try:
                        item, jobs = grader.prepare(student, staged_root, intake)
                    except Exception as exc:  # a broken submission never stops the batch
                        report(SubmissionOutcome(student, assignment, "error",
                                                 f"could not prepare: {type(exc).__name__}: {_short(exc)}"))
                        continue
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
                if not jobs:
                    _finish(grader, item, outcomes, course_dir, mode, progress)
                    continue
                pending[student] = item
                for job in jobs:
                    pool.jobs.put(job)
                    outstanding += 1
            if pool is None:
                break
            if not todo:
                pool.more_coming.clear()
            try:
                result = pool.results.get(timeout=0.05 if todo else 1.0)
            except queue.Empty:
                continue
            outstanding -= 1
            item = pending[result.job.student]
            again = grader.rerun(item, result)
            if again is not None:
                pool.jobs.put(again)
                outstanding += 1
                continue
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
                    report(outcome)
            if item.waiting == 0:
                del pending[result.job.student]
    finally:
        if pool is not None:
            pool.close()
        if box is not None:
            box.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return [outcomes[s] for s in sorted(outcomes)]


def hidden_paths(course_dir: Path, hide: Iterable[Path] = ()) -> list[Path]:
    """What no sandbox may see: the course folder, the solutions, the quiz bank (public or private)."""
    hidden = [course_dir, *hide]
    if os.environ.get("RIGHTSIZE_QUIZ_DIR"):
        hidden.append(Path(os.environ["RIGHTSIZE_QUIZ_DIR"]))
    try:  # the repository's solutions and quiz bank hold the answers
        repo = find_repo_root(course_dir)
        hidden += [repo / "solutions", repo / "quizzes"]
    except RightsizeError:
        pass
    return hidden


def _sandbox(course_dir: Path, mode: str, hide: Iterable[Path], limits: Limits | None,
             recordings: Path | None) -> Sandbox:
    return Sandbox(mode=mode, hide=hidden_paths(course_dir, hide), limits=limits or Limits(),
                   recordings=recordings_folder(recordings))


def _make_pool(box: Sandbox, workers: int, prewarm: bool, scheduler: str | None) -> Any:
    if scheduler:
        from ._dask import DaskPool

        return DaskPool(box, scheduler)
    return Pool(box, workers, prewarm)


def _finish(grader: _Grader, item: _Pending, outcomes: dict[str, SubmissionOutcome], course_dir: Path,
            mode: str, progress: Callable[[SubmissionOutcome], None] | None) -> None:
    outcome = grader.finish_submission(item)
    if outcome.status != "error":
        _write_status(course_dir, outcome, item.fingerprint, mode)
    outcomes[outcome.student] = outcome
    if progress:
        progress(outcome)
