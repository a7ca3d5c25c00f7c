"""``rightsize course export``: per-question grades and totals from the gradebook, as CSV.

``nbgrader export`` gives one total per student and assignment (NBGRADER.md, trap 8); this
reads the gradebook through nbgrader's API and writes two files:

- ``grades.csv``: one row per student, assignment and question (a graded cell):
  ``student, assignment, question, points, max, notebook``;
- ``grades-totals.csv`` (next to it): one row per student and assignment:
  ``student, assignment, points, max, late_penalty, status, reason``, where ``status`` is
  ``graded``, ``invalid`` (scored 0, see ``reason``), ``error`` (not graded yet), ``missing``
  (nothing submitted) or ``autograded`` (graded by plain nbgrader, no rightsize record).

Points include manual grades when a grader gave them; ``points`` in the totals is after the
late penalty. Rows are sorted, and numbers are printed without a trailing ``.0``, so two exports
of the same gradebook are identical.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ._nbgrader import course_directory, default_course_dir, load_config, tools_on_path

__all__ = ["QUESTION_COLUMNS", "TOTAL_COLUMNS", "ExportReport", "export_grades"]

QUESTION_COLUMNS = ("student", "assignment", "question", "points", "max", "notebook")
TOTAL_COLUMNS = ("student", "assignment", "points", "max", "late_penalty", "status", "reason")


@dataclass
class ExportReport:
    """The files written and how many rows each holds."""

    questions_csv: Path
    totals_csv: Path
    question_rows: int
    total_rows: int


def _num(value: float | None) -> str:
    return f"{float(value or 0):g}"


def _question_order(course_dir: Path, source_dir: str, assignment: str, notebook: str) -> list[str]:
    """Grade ids in the order they appear in the source notebook (the gradebook keeps no order)."""
    path = course_dir / source_dir / assignment / f"{notebook}.ipynb"
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return []
    return [c["metadata"]["nbgrader"]["grade_id"] for c in cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def export_grades(
    course_dir: Path | None = None,
    out: Path = Path("grades.csv"),
    *,
    assignment: str | None = None,
) -> ExportReport:
    """Write the per-question and total CSV files (see the module docstring)."""
    from nbgrader.api import Gradebook, MissingEntry

    from .autograde import read_statuses

    tools_on_path()
    course_dir = (course_dir or default_course_dir()).resolve()
    config = load_config(course_dir)
    coursedir = course_directory(course_dir, config)
    totals_path = out.with_name(f"{out.stem}-totals{out.suffix or '.csv'}")
    question_rows: list[tuple[str, ...]] = []
    total_rows: list[tuple[str, ...]] = []
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        assignments = sorted(a.name for a in gb.assignments)
        if assignment is not None:
            if assignment not in assignments:
                from ..errors import RightsizeError

                raise RightsizeError(f"assignment {assignment!r} is not in the gradebook; it has: "
                                     f"{', '.join(assignments) or 'none'}")
            assignments = [assignment]
        students = sorted(s.id for s in gb.students)
        for name in assignments:
            statuses = read_statuses(course_dir, name)
            notebooks = sorted(nb.name for nb in gb.find_assignment(name).notebooks)
            orders = {nb: _question_order(course_dir, coursedir.source_directory, name, nb) for nb in notebooks}
            for student in students:
                status = statuses.get(student, {})
                try:
                    submission = gb.find_submission(name, student)
                except MissingEntry:
                    total_rows.append((student, name, "0", _num(gb.find_assignment(name).max_score), "0",
                                       status.get("status", "missing"), status.get("reason", "nothing submitted")))
                    continue
                for nb_name in notebooks:
                    try:
                        notebook = gb.find_submission_notebook(nb_name, name, student)
                    except MissingEntry:
                        continue
                    order = orders[nb_name]
                    grades = sorted(notebook.grades, key=lambda g: (order.index(g.name) if g.name in order
                                                                    else len(order), g.name))
                    for grade in grades:
                        question_rows.append((student, name, grade.name, _num(grade.score),
                                              _num(grade.max_score), nb_name))
                penalty = float(submission.late_submission_penalty or 0)
                total_rows.append((student, name, _num(max(0.0, float(submission.score) - penalty)),
                                   _num(submission.max_score), _num(penalty),
                                   status.get("status", "autograded"), status.get("reason", "")))
    question_rows.sort(key=lambda r: (r[1], r[0]))  # stable: question order kept within a student
    total_rows.sort(key=lambda r: (r[1], r[0]))
    for path, header, rows in ((out, QUESTION_COLUMNS, question_rows), (totals_path, TOTAL_COLUMNS, total_rows)):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
    return ExportReport(out, totals_path, len(question_rows), len(total_rows))
