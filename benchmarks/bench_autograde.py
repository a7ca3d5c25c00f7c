#!/usr/bin/env python3
"""Grade one synthetic class with plain ``nbgrader autograde`` and with ``rightsize course autograde``.

    python benchmarks/bench_autograde.py [--students 40] [--workers 2] [--repeat 1] [--keep DIR]

Both runs start from the same course (built once by ``rightsize course build`` from the synthetic
assignment in tests/fixtures/autograder/) and the same submitted class, each in its own copy of
the course folder, and both are timed as the command an instructor would type (a fresh process:
imports and start-up included). rightsize runs with its sandbox (bubblewrap when available).
The class mixes right, wrong, partly right, edited, cheating and warning submissions (no
infinite loops: both graders would spend the same timeout on them). It prints both throughputs,
the ratio, and checks that both graders gave every student the same score.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "autograder"))

import synthetic_class as sc  # noqa: E402

KINDS = ["all-correct", "all-wrong", "partly-right", "deleted-test", "edited-test", "eq-cheat",
         "warns", "asks-input"]


def scores(course: Path) -> dict[str, float]:
    """Total score per student, straight from the gradebook."""
    con = sqlite3.connect(course / "gradebook.db")
    rows = con.execute(
        "SELECT submitted_assignment.student_id, SUM(COALESCE(grade.manual_score, grade.auto_score, 0)) "
        "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "GROUP BY submitted_assignment.student_id").fetchall()
    con.close()
    return {student: float(score) for student, score in rows}


def run(cmd: list[str], cwd: Path) -> float:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):  # nbgrader exits 1 when a submission fails (the invalid one)
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40, help="class size (default 40)")
    parser.add_argument("--workers", type=int, default=2, help="rightsize workers (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each grader, alternating (default 1)")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="rightsize-bench-"))
    try:
        from rightsize.course.build import build_course

        repo = sc.write_repo(work / "repo")
        base = repo / "autograder" / "course"
        started = time.perf_counter()
        build_course(repo, base, repo / "quizzes", repo / "lessons")
        copies = -(-args.students // len(KINDS))
        students = sc.make_class(base, KINDS, copies=copies)
        for extra in sorted(students)[args.students:]:
            shutil.rmtree(base / "submitted" / extra)
            del students[extra]
        print(f"built the course and a class of {len(students)} submissions in {time.perf_counter() - started:.1f} s "
              f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")

        timings: dict[str, list[float]] = {"nbgrader": [], "rightsize": []}
        results: dict[str, dict[str, float]] = {}
        for round_ in range(args.repeat):
            order = ["nbgrader", "rightsize"] if round_ % 2 == 0 else ["rightsize", "nbgrader"]
            for grader in order:
                course = repo / "autograder" / f"course-{grader}"
                if course.exists():
                    shutil.rmtree(course)
                shutil.copytree(base, course)
                if grader == "nbgrader":
                    cmd = [str(Path(sys.executable).parent / "nbgrader"), "autograde", sc.ASSIGNMENT, "--force"]
                else:
                    cmd = [sys.executable, "-m", "rightsize", "course", "autograde", sc.ASSIGNMENT,
                           "--course-dir", str(course), "--workers", str(args.workers), "--force"]
                seconds = run(cmd, course)
                timings[grader].append(seconds)
                results[grader] = scores(course)
                print(f"  {grader:<10} run {round_ + 1}: {seconds:6.1f} s  "
                      f"({len(students) / seconds:.2f} submissions/s)", flush=True)

        expected = {s: sc.expected_total(kind) for s, kind in students.items()}
        for grader, got in results.items():
            wrong = {s: (got.get(s), e) for s, e in expected.items() if got.get(s, 0.0) != e}
            if wrong:
                print(f"  {grader} gave unexpected scores (got, expected): {wrong}")
        plain, ours = statistics.median(timings["nbgrader"]), statistics.median(timings["rightsize"])
        print(f"\nplain nbgrader autograde : {len(students) / plain:.2f} submissions/s ({plain:.1f} s)")
        print(f"rightsize course autograde: {len(students) / ours:.2f} submissions/s ({ours:.1f} s, "
              f"{args.workers} workers, sandboxed)")
        print(f"ratio: {plain / ours:.2f}x the throughput of plain nbgrader")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
