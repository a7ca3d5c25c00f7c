"""``rightsize course feedback``: an HTML page per student that shows no hidden test, key or live markup.

nbgrader's feedback is the autograded notebook as HTML. In an autograded notebook every tests
cell holds its hidden region again (nbgrader restores tests cells before grading), so plain
``nbgrader generate_feedback`` would show it (NBGRADER.md, trap 9). The course config therefore
lists, in ``GenerateFeedback.preprocessors`` (so the plain nbgrader command uses them too):

- :class:`RedactHiddenTests`: each tests cell shows its visible lines, the hidden region replaced
  by a one-line note. Outputs of a cell graded by ``rightsize course autograde`` are the grader's
  own (the visible checks' lines and the verdict; the hidden probes' output never leaves the
  sandbox) and are kept. A tests cell graded by plain nbgrader, where hidden code ran in the
  student's kernel, keeps only its errors' names and messages, never a traceback or a print;
- :class:`~rightsize.course.sanitize.SanitizeStudentContent`: student-made content made inert.

:func:`generate_feedback` then works student by student: it renders each one's pages, reads every
page for a line of a hidden test and for anything executable (:func:`~rightsize.course.sanitize.audit_page`),
and replaces a failing page with a short notice. One student's failure is reported for that
student; every other page is still written.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbgrader.preprocessors import NbGraderPreprocessor

from ..errors import RightsizeError
from .regions import split
from .sanitize import audit_page

__all__ = ["FeedbackReport", "RedactHiddenTests", "generate_feedback", "hidden_lines"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"(?:Cell In\s*\[\d*\]|<ipython-input-[^>]*>|<cell line: \d+>)\D*?line (\d+)")
_ARROW_LINE = re.compile(r"^-+>\s*(\d+)\s")


def _error_line(traceback: list[str]) -> int | None:
    """The line of the tests cell where an error was raised (the outermost frame), if it can tell."""
    text = _ANSI.sub("", "\n".join(traceback))
    match = _CELL_LINE.search(text)
    if match:
        return int(match.group(1))
    for line in text.splitlines():
        arrow = _ARROW_LINE.match(line)
        if arrow:
            return int(arrow.group(1))
    return None


def redact_cell(cell: Any) -> bool:
    """Redact one tests cell in place; returns whether it had hidden tests."""
    source = cell.get("source", "")
    if cell.get("cell_type") != "code" or "BEGIN HIDDEN TESTS" not in source:
        return False
    regions = split(source)
    cell["source"] = regions.visible
    if cell.get("metadata", {}).get("rightsize", {}).get("graded"):
        return True  # outputs made by the grader: the hidden code never ran where they came from
    outputs = []
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        ename = _ANSI.sub("", str(output.get("ename", "Error")))
        line = _error_line(list(output.get("traceback", [])))
        if line is not None and line not in regions.hidden_lines and ename not in ("CellTimeoutError", "NotExecuted"):
            evalue = _ANSI.sub("", str(output.get("evalue", "")))
            text = f"{ename}: {evalue}" if evalue else ename
        elif ename in ("CellTimeoutError", "NotExecuted", "KeyboardInterrupt"):
            text = f"{ename}: {_ANSI.sub('', str(output.get('evalue', '')))}".rstrip(": ")
        else:
            text = f"A hidden test failed ({ename}); the hidden tests are not shown."
        output["ename"], output["evalue"], output["traceback"] = ename, "", [text]
        outputs.append(output)
    cell["outputs"] = outputs
    return True


class RedactHiddenTests(NbGraderPreprocessor):  # type: ignore[misc]
    """nbgrader feedback preprocessor: hide hidden tests and whatever could echo them."""

    def preprocess_cell(self, cell: Any, resources: Any, cell_index: int) -> tuple[Any, Any]:
        redact_cell(cell)
        return cell, resources


def hidden_lines(source: str, min_chars: int = 12) -> list[str]:
    """The lines inside hidden-test regions long enough to be recognisable in a report."""
    regions = split(source)
    lines = source.split("\n")
    out = []
    for number in sorted(regions.hidden_lines):
        text = " ".join(lines[number - 1].split())
        if len(text) >= min_chars and "HIDDEN TESTS" not in text:
            out.append(text)
    return out


def _visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    return " ".join(text.split())


@dataclass
class FeedbackReport:
    """What :func:`generate_feedback` wrote; ``problems`` lists students whose pages had to be replaced."""

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_DOTTED = "rightsize.course.feedback.RedactHiddenTests"


def generate_feedback(
    assignment: str,
    course_dir: Path | None = None,
    *,
    student: str | None = None,
    verbose: bool = False,
) -> FeedbackReport:
    """Write ``feedback/<student>/<assignment>/*.html`` for every autograded submission, checked page by page."""
    from nbgrader.api import Gradebook, MissingEntry

    from ._nbgrader import course_directory, default_course_dir, load_config, tools_on_path
    from .autograde import read_statuses

    tools_on_path()
    course_dir = (course_dir or default_course_dir()).resolve()
    config = load_config(course_dir)
    configured = config.GenerateFeedback.get("preprocessors", [])
    if not any(p == _DOTTED or (isinstance(p, type) and issubclass(p, RedactHiddenTests)) for p in configured):
        raise RightsizeError("the course config does not redact hidden tests in feedback: keep "
                             "RedactHiddenTests in c.GenerateFeedback.preprocessors (autograder/nbgrader_config.py)")
    coursedir = course_directory(course_dir, config)
    coursedir.assignment_id = assignment
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            notebooks = gb.find_assignment(assignment).notebooks
        except MissingEntry:
            raise RightsizeError(f"assignment {assignment!r} is not in the gradebook: run "
                                 "`rightsize course build` and `rightsize course autograde` first") from None
        secrets = [line for nb in notebooks for cell in nb.source_cells for line in hidden_lines(cell.source)]
        notebook_names = [nb.name for nb in notebooks]

    report = FeedbackReport()
    autograded_root = Path(coursedir.root) / coursedir.autograded_directory
    feedback_root = Path(coursedir.root) / coursedir.feedback_directory
    statuses = read_statuses(course_dir, assignment)
    graded = sorted(p.parent.name for p in autograded_root.glob(f"*/{assignment}")
                    if p.is_dir() and not p.is_symlink() and any(p.glob("*.ipynb")))
    for student_id in sorted(set(graded) | set(statuses)):
        if student and student_id != student:
            continue
        try:
            if student_id in graded:
                _render(config, course_dir, assignment, student_id, verbose)
        except Exception as exc:  # one student's page never stops the others
            report.problems.append(f"{student_id}: nbgrader could not write the feedback ({type(exc).__name__}: "
                                   f"{_short(exc)}); rerun with --verbose --student {student_id}")
        for name in notebook_names:
            page = feedback_root / student_id / assignment / f"{name}.html"
            problem = statuses.get(student_id, {}).get("notebooks", {}).get(name, {}).get("reason")
            if not page.exists() and problem:
                _write_notice(page, student_id, assignment, name, f"could not be graded: {problem}. It scored 0")
                report.notes.append(f"{student_id}: {name} was not graded ({problem})")
        for page in sorted((feedback_root / student_id / assignment).glob("*.html")):
            report.files.append(page)
            text = page.read_text(encoding="utf-8", errors="replace")
            leaked = [line for line in secrets if line in _visible_text(text)]
            unsafe = audit_page(text)
            if leaked or unsafe:
                why = "it showed a line of a hidden test" if leaked else f"it held {', '.join(unsafe[:3])}"
                _write_notice(page, student_id, assignment, page.stem,
                              "has no feedback page: the page made from it could not be made safe to show")
                report.problems.append(f"{student_id}: {page.name} was replaced with a notice because {why}")
    return report


def _render(config: Any, course_dir: Path, assignment: str, student: str, verbose: bool) -> None:
    from nbgrader.converters import GenerateFeedback

    from ._nbgrader import course_directory, nbgrader_logger

    coursedir = course_directory(course_dir, config)
    coursedir.assignment_id = assignment
    coursedir.student_id = student
    converter = GenerateFeedback(coursedir=coursedir, config=config)
    converter.log = nbgrader_logger(verbose)
    converter.force = True
    converter.start()


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _write_notice(page: Path, student: str, assignment: str, notebook: str, what: str) -> None:
    title = html.escape(f"{assignment}: {notebook} ({student})")
    body = html.escape(f"{notebook}.ipynb of {student} for {assignment} {what}. Ask your instructor.")
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title></head>"
                    f"<body><h1>{title}</h1><p>{body}</p></body></html>\n", encoding="utf-8")
