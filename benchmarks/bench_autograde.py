#!/usr/bin/env python3
"""Grade a class of real-lesson submissions with plain ``nbgrader autograde`` and with ``rightsize course autograde``.

    python benchmarks/bench_autograde.py [--lessons 01 04 06] [--per-lesson 14] [--workers 2] [--keep DIR]

For each lesson: its solution runs live once, recording every model answer (as ``check-lesson``
does); the course is built from those recordings (references included); then a class is made
from the released student version: the solution's answers, the untouched notebook, half the
exercises done, the quiz only, forgeries (event hooks, the ``%%live`` trick) and an honest
pasted-cell duplicate, cycled to ``--per-lesson`` submissions. Both graders then grade the same
class, each in its own copy of the course folder, timed as the command an instructor would type
(a fresh process: imports and start-up included). rightsize runs in its sandbox (bubblewrap when
available); plain nbgrader runs in-process, as it does.

It prints both throughputs, seconds per submission and the ratio, and checks rightsize's scores
(the solution full marks, the untouched and forged notebooks zero). Plain nbgrader cannot grade
this course (the hidden probes refuse to run in the student's kernel), so its scores are not
compared: the comparison is of the work of grading a class.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "autograder"))

import hostile_class as hc  # noqa: E402

KINDS = ["solution", "untouched", "half-done", "quiz-only", "forge-hooks", "forge-live-magic", "duplicate-cell"]


def scores(course: Path, assignment: str) -> dict[str, float]:
    """Total score per student of one assignment, straight from the gradebook."""
    con = sqlite3.connect(course / "gradebook.db")
    rows = con.execute(
        "SELECT submitted_assignment.student_id, SUM(COALESCE(grade.manual_score, grade.auto_score, 0)) "
        "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "JOIN assignment ON submitted_assignment.assignment_id = assignment.id "
        "WHERE assignment.name = ? GROUP BY submitted_assignment.student_id", (assignment,)).fetchall()
    con.close()
    return {student: float(score) for student, score in rows}


def max_score(course: Path, assignment: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "rightsize") as gb:
        return float(gb.find_assignment(assignment).max_score)


def make_submission(kind: str, released: Any, answers: dict[str, str]) -> Any:
    """One student's notebook of ``kind`` from the released version and the solution's answers."""
    import nbformat
    from nbformat.v4 import new_code_cell

    nb = nbformat.from_dict(json.loads(json.dumps(released)))
    exercises = [gid for gid in answers if gid.startswith("ex-")]
    quiz = [gid for gid in answers if not gid.startswith("ex-")]
    fill = {"solution": list(answers), "half-done": exercises[: len(exercises) // 2] + quiz,
            "quiz-only": quiz, "duplicate-cell": list(answers)}.get(kind, [])
    copied = None
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in fill:
            cell.source = answers[gid]
        if kind == "duplicate-cell" and copied is None and gid and gid.endswith("-tests"):
            copied = cell
    if copied is not None:
        clone = nbformat.from_dict(json.loads(json.dumps(copied)))
        clone["id"] = f"{copied['id']}-copy"
        nb.cells.insert(nb.cells.index(copied) + 1, clone)
    if kind == "forge-hooks":
        nb.cells.insert(2, new_code_cell(hc.FORGE_HOOKS))
    if kind == "forge-live-magic":
        nb.cells.insert(2, new_code_cell(hc.FORGE_LIVE_MAGIC))
    return nb


def solution_answers(source: Path) -> dict[str, str]:
    import nbformat

    nb = nbformat.read(str(source), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: "\n".join(
        line for line in c.source.split("\n") if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
        for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):  # nbgrader exits 1 when a submission fails
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="+", default=["01", "04", "06"], help="lesson numbers (default 01 04 06)")
    parser.add_argument("--per-lesson", type=int, default=14, help="submissions per lesson (default 14)")
    parser.add_argument("--workers", type=int, default=2, help="rightsize workers (default 2)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    import nbformat

    from rightsize.course.build import build_course, solution_notebooks
    from rightsize.course.check import execute_notebook

    work = args.keep or Path(tempfile.mkdtemp(prefix="rightsize-bench-"))
    bin_dir = str(Path(sys.executable).parent)
    try:
        solutions = work / "solutions"
        solutions.mkdir(parents=True, exist_ok=True)
        chosen = [nb for nb in solution_notebooks(ROOT / "solutions") if nb.name[:2] in args.lessons]
        for nb in chosen:
            shutil.copy(nb, solutions / nb.name)
        base, recordings = work / "course", work / "recordings"
        recordings.mkdir(exist_ok=True)
        started = time.perf_counter()
        build_course(ROOT, base, ROOT / "quizzes", work / "lessons", solutions_dir=solutions, references=False)
        for nb in chosen:
            execute_notebook(base / "source" / nb.stem / nb.name,
                             env={"RIGHTSIZE_RESPONSES": "record", "RIGHTSIZE_RESPONSES_DIR": str(recordings)})
        build_course(ROOT, base, ROOT / "quizzes", work / "lessons", solutions_dir=solutions, recordings=recordings)
        students: dict[str, dict[str, str]] = {}
        for nb in chosen:
            released = nbformat.read(str(base / "release" / nb.stem / nb.name), as_version=4)
            answers = solution_answers(base / "source" / nb.stem / nb.name)
            students[nb.stem] = {}
            for i in range(args.per_lesson):
                kind = KINDS[i % len(KINDS)]
                student = f"{kind}-{i:02d}"
                folder = base / "submitted" / student / nb.stem
                folder.mkdir(parents=True)
                nbformat.write(make_submission(kind, released, answers), str(folder / nb.name))
                (folder / "timestamp.txt").write_text("2030-01-01 00:00:00.000000 UTC")
                students[nb.stem][student] = kind
        total = sum(len(s) for s in students.values())
        print(f"lessons {', '.join(args.lessons)}: recorded, built and a class of {total} submissions made in "
              f"{time.perf_counter() - started:.1f} s ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")

        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               "RIGHTSIZE_RESPONSES_DIR": str(recordings), "RIGHTSIZE_RECORDINGS": str(recordings)}
        seconds = {"nbgrader": 0.0, "rightsize": 0.0}
        for grader in ("nbgrader", "rightsize"):
            course = work / f"course-{grader}"
            shutil.rmtree(course, ignore_errors=True)
            shutil.copytree(base, course)
            (course / "nbgrader_config.py").write_text(
                f"c = get_config()\nload_subconfig({str(ROOT / 'autograder' / 'nbgrader_config.py')!r})\n")
            for assignment in students:
                if grader == "nbgrader":
                    cmd = [str(Path(bin_dir) / "nbgrader"), "autograde", assignment, "--force"]
                else:
                    cmd = [sys.executable, "-m", "rightsize", "course", "autograde", assignment,
                           "--course-dir", str(course), "--workers", str(args.workers), "--force"]
                took = run(cmd, course, env)
                seconds[grader] += took
                print(f"  {grader:<10} {assignment:<28} {len(students[assignment]):3d} submissions in {took:6.1f} s",
                      flush=True)
            if grader == "rightsize":
                for assignment, kinds in students.items():
                    got, full = scores(course, assignment), max_score(course, assignment)
                    expect = {"solution": full, "duplicate-cell": full, "untouched": 0.0, "forge-hooks": 0.0,
                              "forge-live-magic": 0.0}
                    wrong = {s: got.get(s) for s, k in kinds.items() if k in expect and got.get(s) != expect[k]}
                    print(f"  rightsize scores of {assignment}: " + ("as expected (solution "
                          f"{full:g}/{full:g}, untouched and forged 0)" if not wrong else f"UNEXPECTED {wrong}"))
        plain, ours = seconds["nbgrader"], seconds["rightsize"]
        print(f"\nplain nbgrader autograde  : {total / plain:.2f} submissions/s, {plain / total:.2f} s per submission "
              f"({plain:.1f} s)")
        print(f"rightsize course autograde: {total / ours:.2f} submissions/s, {ours / total:.2f} s per submission "
              f"({ours:.1f} s, {args.workers} workers, sandboxed)")
        print(f"ratio: {plain / ours:.2f}x the throughput of plain nbgrader")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
