"""``rightsize course feedback``: an HTML report per student that never shows hidden tests or keys.

nbgrader's feedback is the autograded notebook as HTML, and in an autograded notebook every
tests cell holds its hidden tests again (they are restored before grading), so plain
``nbgrader generate_feedback`` shows them (NBGRADER.md, trap 9). Worse, a failing hidden
``assert`` shows its own line in the traceback. :class:`RedactHiddenTests`, listed in the
course's ``GenerateFeedback.preprocessors`` (so the plain nbgrader command uses it too), makes
each tests cell with hidden tests show:

- its visible lines, with the hidden region replaced by a one-line note;
- for an error raised on a visible line: the error's name and message, no traceback;
- for an error raised on a hidden line (or anywhere it cannot tell): "a hidden test failed" and
  the error's name, nothing else;
- no printed output or values (student code called by a hidden test could echo its inputs).

:func:`generate_feedback` runs nbgrader's converter with that configuration, then reads every
HTML file it wrote and refuses (deleting the file) if any hidden-test line survived.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbgrader.preprocessors import NbGraderPreprocessor

from ..errors import RightsizeError

__all__ = ["FeedbackReport", "RedactHiddenTests", "generate_feedback", "hidden_lines"]

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
HIDDEN_NOTE = "# (hidden tests are not shown)"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"(?:Cell In\s*\[\d*\]|<ipython-input-[^>]*>|<cell line: \d+>)\D*?line (\d+)")
_ARROW_LINE = re.compile(r"^-+>\s*(\d+)\s")


def _hidden_region(source: str) -> tuple[list[str], set[int]]:
    """The visible lines (with a note where the hidden region was) and the hidden line numbers (1-based)."""
    visible: list[str] = []
    hidden: set[int] = set()
    inside = False
    for number, line in enumerate(source.split("\n"), 1):
        if BEGIN in line:
            inside = True
            hidden.add(number)
            visible.append(line[: len(line) - len(line.lstrip())] + HIDDEN_NOTE)
        elif END in line:
            inside = False
            hidden.add(number)
        elif inside:
            hidden.add(number)
        else:
            visible.append(line)
    return visible, hidden


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
    if cell.get("cell_type") != "code" or BEGIN not in cell.get("source", ""):
        return False
    visible, hidden = _hidden_region(cell["source"])
    cell["source"] = "\n".join(visible)
    outputs = []
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        ename = _ANSI.sub("", str(output.get("ename", "Error")))
        line = _error_line(list(output.get("traceback", [])))
        if line is not None and line not in hidden and ename not in ("CellTimeoutError", "NotExecuted"):
            evalue = _ANSI.sub("", str(output.get("evalue", "")))
            text = f"{ename}: {evalue}" if evalue else ename
        elif ename in ("CellTimeoutError", "NotExecuted", "KeyboardInterrupt"):
            text = f"{ename}: {_ANSI.sub('', str(output.get('evalue', '')))}".rstrip(": ")
        else:
            ename, text = ename, f"A hidden test failed ({ename}); the hidden tests are not shown."
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
    _, hidden = _hidden_region(source)
    lines = source.split("\n")
    out = []
    for number in sorted(hidden):
        text = " ".join(lines[number - 1].split())
        if len(text) >= min_chars and BEGIN not in text and END not in text:
            out.append(text)
    return out


def _visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    return " ".join(text.split())


@dataclass
class FeedbackReport:
    """What :func:`generate_feedback` wrote."""

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def generate_feedback(
    assignment: str,
    course_dir: Path | None = None,
    *,
    student: str | None = None,
    verbose: bool = False,
) -> FeedbackReport:
    """Write ``feedback/<student>/<assignment>/*.html`` for every autograded submission, leak-checked."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.converters import GenerateFeedback
    from traitlets.config import Config

    from ._nbgrader import course_directory, default_course_dir, load_config, nbgrader_logger, tools_on_path
    from .autograde import read_statuses

    tools_on_path()
    course_dir = (course_dir or default_course_dir()).resolve()
    config = load_config(course_dir)
    configured = config.GenerateFeedback.get("preprocessors", [])
    if not any(p == _DOTTED or (isinstance(p, type) and issubclass(p, RedactHiddenTests)) for p in configured):
        raise RightsizeError("the course config does not redact hidden tests in feedback: keep "
                             "RedactHiddenTests in c.GenerateFeedback.preprocessors (autograder/nbgrader_config.py)")
    extra = Config()
    extra.HTMLExporter.template_name = "feedback"
    config.merge(extra)
    coursedir = course_directory(course_dir, config)
    coursedir.assignment_id = assignment
    if student:
        coursedir.student_id = student
    converter = GenerateFeedback(coursedir=coursedir, config=config)
    converter.log = nbgrader_logger(verbose)
    converter.force = True
    autograded = Path(coursedir.format_path(coursedir.autograded_directory, student or "*", assignment))
    report = FeedbackReport()
    if list(autograded.parent.parent.glob(f"{student or '*'}/{assignment}/*.ipynb")):
        try:
            converter.start()
        except Exception as exc:
            raise RightsizeError(f"nbgrader could not write the feedback for {assignment}: {exc}; "
                                 "rerun with --verbose for nbgrader's log") from exc

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            notebooks = gb.find_assignment(assignment).notebooks
        except MissingEntry:
            raise RightsizeError(f"assignment {assignment!r} is not in the gradebook: run "
                                 "`rightsize course build` and `rightsize course autograde` first") from None
        secrets = [line for nb in notebooks for cell in nb.source_cells for line in hidden_lines(cell.source)]
        notebook_names = [nb.name for nb in notebooks]

    feedback_root = Path(coursedir.root) / coursedir.feedback_directory
    statuses = read_statuses(course_dir, assignment)
    for student_id, status in sorted(statuses.items()):
        if student and student_id != student:
            continue
        for name in notebook_names:
            page = feedback_root / student_id / assignment / f"{name}.html"
            problem = status.get("notebooks", {}).get(name, {}).get("reason")
            if not page.exists() and problem:
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(_problem_page(student_id, assignment, name, problem), encoding="utf-8")
                report.notes.append(f"{student_id}: {name} was not graded ({problem})")
    for page in sorted(feedback_root.glob(f"{student or '*'}/{assignment}/*.html")):
        text = _visible_text(page.read_text(encoding="utf-8", errors="replace"))
        leaked = [line for line in secrets if line in text]
        if leaked:
            page.unlink()
            raise RightsizeError(f"{page} showed a hidden test ({leaked[0][:60]!r}...) and was deleted; "
                                 "check c.GenerateFeedback.preprocessors in autograder/nbgrader_config.py")
        report.files.append(page)
    return report


_DOTTED = "rightsize.course.feedback.RedactHiddenTests"


def _problem_page(student: str, assignment: str, notebook: str, reason: str) -> str:
    body = html.escape(f"{notebook}.ipynb of {student} for {assignment} could not be graded: {reason}. "
                       "It scored 0. Ask your instructor if you think this is wrong.")
    title = html.escape(f"{assignment}: {notebook} ({student})")
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{body}</p></body></html>\n")
