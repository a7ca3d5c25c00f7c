"""A hostile class, graded end to end: every attack fails safely and scores what the work deserves.

One module-scoped run grades the whole class of tests/fixtures/autograder/hostile_class.py (one or
more submissions per class of attack on the synthetic drill) in the default sandbox, then writes
the feedback and the exports. Each test reads that run: the exact score of every graded cell of
every student, the batch completing, and nothing from outside a submission (the instructor's
environment, the gradebook, the solutions, another student's notebook, files elsewhere on the
machine, the hidden tests) in an autograded notebook, a feedback page or an export. The unshare
fallback gets its own, smaller run; lesson 01 gets the forgeries on a real lesson.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("nbgrader")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "autograder"))

import hostile_class as hc  # noqa: E402
import synthetic_class as sc  # noqa: E402

from rightsize.course.autograde import autograde, read_statuses  # noqa: E402
from rightsize.course.build import build_course  # noqa: E402
from rightsize.course.export import export_grades  # noqa: E402
from rightsize.course.feedback import generate_feedback  # noqa: E402
from rightsize.course.sandbox import Limits, detect_mode  # noqa: E402
from rightsize.course.sanitize import audit_page  # noqa: E402

TIMEOUT = 3


def _mode() -> str | None:
    try:
        return detect_mode()
    except Exception:
        return None


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    if _mode() is None:
        pytest.skip("no sandbox here: apt-get install bubblewrap (or run as root)")
    base = tmp_path_factory.mktemp("hostile")
    repo = sc.write_repo(base / "repo")
    course = repo / "autograder" / "course"
    build_course(repo, course, repo / "quizzes", repo / "lessons")
    outside = base / "outside"
    outside.mkdir()
    outside_secret = outside / "instructor-notes.txt"
    outside_secret.write_text(hc.OUTSIDE_SECRET)
    tag = uuid.uuid4().hex[:10]
    ctx = {"course": course, "outside_secret": outside_secret, "tag": tag}
    students = hc.make_class(course, ctx)
    os.environ[hc.SECRET_ENV] = hc.SECRET_KEY  # the instructor's environment holds a key
    started = time.monotonic()
    try:
        outcomes = autograde(sc.ASSIGNMENT, course, workers=2, timeout=TIMEOUT,
                             limits=Limits(memory_bytes=1536 << 20),
                             hide=[repo / "solutions", repo / "quizzes", outside])
        seconds = time.monotonic() - started
        feedback = generate_feedback(sc.ASSIGNMENT, course)
        export = export_grades(course, base / "grades.csv")
    finally:
        os.environ.pop(hc.SECRET_ENV, None)
    yield SimpleNamespace(course=course, repo=repo, students=students, ctx=ctx, seconds=seconds,
                          outcomes={o.student: o for o in outcomes}, feedback=feedback, export=export, tag=tag)
    for folder in ("/dev/shm", "/tmp", "/var/tmp", "/run/lock"):
        Path(folder, f"rightsize-hostile-{tag}").unlink(missing_ok=True)


def _grades(course: Path, student: str) -> dict[str, float] | None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "rightsize") as gb:
        try:
            notebook = gb.find_submission_notebook(sc.ASSIGNMENT, sc.ASSIGNMENT, student)
        except MissingEntry:
            return None
        return {g.name: g.score for g in notebook.grades}


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _outputs_and_notes(nb: dict[str, Any]) -> str:
    """What a graded notebook adds to its source: every output, and the grader's notes cell."""
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and "Notes from the autograder" in _text(cell["source"]):
            parts.append(_text(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append(json.dumps(output))
    return "\n".join(parts)


def _everything_shown(run: SimpleNamespace) -> dict[str, str]:
    """What the run produced for people to read: graded outputs, feedback pages and exports, by path.

    (An autograded notebook's *source* is the instructor's, hidden regions included, by nbgrader's
    design; it is never sent to a student. Its outputs and notes are what the run added.)"""
    shown = {}
    for path in (run.course / "autograded").rglob("*.ipynb"):
        if path.is_file() and not path.is_symlink():
            shown[str(path)] = _outputs_and_notes(json.loads(path.read_text(encoding="utf-8")))
    for path in (run.course / "feedback").rglob("*"):
        if path.is_file() and not path.is_symlink():
            shown[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    for path in (run.export.questions_csv, run.export.totals_csv):
        shown[str(path)] = path.read_text(encoding="utf-8")
    return shown


# ------------------------------------------------------------------------------ every class
def test_the_batch_completes_and_every_cell_scores_exactly_what_it_should(hostile: SimpleNamespace) -> None:
    assert set(hostile.outcomes) == set(hc.KINDS), "every submission gets an outcome"
    assert all(o.status in ("graded", "invalid") for o in hostile.outcomes.values()), \
        {s: (o.status, o.reason[:200]) for s, o in hostile.outcomes.items() if o.status not in ("graded", "invalid")}
    wrong = {}
    for student, spec in hc.KINDS.items():
        got = _grades(hostile.course, student) or {q: 0.0 for q in sc.QUESTIONS}
        if got != {q: float(v) for q, v in spec["expect"].items()}:
            wrong[student] = got
    assert not wrong, f"got, per student: {wrong}"
    with open(hostile.export.totals_csv, newline="") as f:
        totals = {row["student"]: float(row["points"]) for row in csv.DictReader(f)}
    assert totals == {s: float(sum(spec["expect"].values())) for s, spec in hc.KINDS.items()}


def test_one_student_costs_the_class_nothing_but_their_own_time(hostile: SimpleNamespace) -> None:
    # the stopped worker was killed by the idle watchdog; without it the class would wait the wall limit
    stopped = hostile.outcomes["hurt-sigstop-worker"]
    assert "sent nothing" in stopped.reason and "left out when the notebook ran again" in stopped.reason
    assert hostile.seconds < 240, f"the class took {hostile.seconds:.0f} s"
    many = hostile.outcomes["hurt-twenty-thousand-files"]
    assert "over the limit of 200 files" in many.reason or "entries" in many.reason
    assert "FIFO" in hostile.outcomes["hurt-fifo-notebook"].reason
    statuses = read_statuses(hostile.course, sc.ASSIGNMENT)
    assert statuses["hurt-fifo-notebook"]["status"] == "invalid"
    huge = hostile.course / "autograded" / "hurt-huge-outputs" / sc.ASSIGNMENT / sc.NOTEBOOK
    assert huge.stat().st_size < 8 << 20, f"{huge.stat().st_size} bytes of graded notebook"
    page = hostile.course / "feedback" / "hurt-huge-outputs" / sc.ASSIGNMENT / f"{sc.ASSIGNMENT}.html"
    assert page.stat().st_size < 8 << 20


def test_the_forgeries_score_zero_on_untouched_exercises(hostile: SimpleNamespace) -> None:
    for student, spec in hc.KINDS.items():
        if spec["group"] == "forge" and student != "forge-quiz-not-literal":
            grades = _grades(hostile.course, student)
            assert grades is not None and grades["p95-test"] == 0 and grades["cost-test"] == 0, (student, grades)
    nb = json.loads((hostile.course / "autograded" / "forge-quiz-not-literal" / sc.ASSIGNMENT / sc.NOTEBOOK).read_text())
    verdicts = ["".join(o["data"]["text/plain"]) for c in nb["cells"] for o in c.get("outputs", [])
                if o.get("metadata", {}).get("rightsize-verdict")]
    verdicts = [v for v in verdicts if "answer" in v]
    assert len(verdicts) == 2 and all("not computed" in v for v in verdicts), verdicts


# ------------------------------------------------------------------------------ reading
def test_nothing_outside_a_submission_reaches_outputs_feedback_or_exports(hostile: SimpleNamespace) -> None:
    source = (hostile.course / "source" / sc.ASSIGNMENT / sc.NOTEBOOK).read_text()
    gradebook_head = (hostile.course / "gradebook.db").read_bytes()[:16].decode("latin-1")
    forbidden = [hc.SECRET_KEY, hc.OUTSIDE_SECRET, "root:", gradebook_head, "rank = math.ceil(0.95 * len(ordered))",
                 *hc.HIDDEN_INPUTS, "literal_answer", "expect="]
    assert "rank = math.ceil(0.95" in source
    for path, text in _everything_shown(hostile).items():
        for secret in forbidden:
            assert secret not in text, f"{path} holds {secret!r}"
    # what the links pointed at was refused, named, and never opened
    for student in ("read-link-shadow", "read-link-environ", "read-link-gradebook", "read-link-outside"):
        assert "data.csv: a symbolic link" in hostile.outcomes[student].reason, student
    assert "weights.bin: a symbolic link" in hostile.outcomes["hurt-proc-mem-link"].reason
    assert "data: a symbolic link" in hostile.outcomes["read-link-folder"].reason
    assert "notes.txt: a hard link" in hostile.outcomes["read-hard-link"].reason
    for student in ("read-notebook-is-solution", "read-notebook-is-other-student"):
        assert "refused: a symbolic link" in hostile.outcomes[student].reason
        assert not (hostile.course / "autograded" / student / sc.ASSIGNMENT / sc.NOTEBOOK).exists()
    assert "the student's folder is a symbolic link" in hostile.outcomes["read-student-folder-is-link"].reason
    assert (hostile.course / "source" / sc.ASSIGNMENT / sc.NOTEBOOK).read_text() == source


def test_no_sandbox_left_a_file_on_the_host(hostile: SimpleNamespace) -> None:
    nb = json.loads((hostile.course / "autograded" / "hurt-write-everywhere" / sc.ASSIGNMENT / sc.NOTEBOOK).read_text())
    printed = "".join(_text(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])
                      if o["output_type"] == "stream")
    assert "rightsize-hostile" in printed or printed.strip() == "[]", printed  # it ran
    for folder in ("/dev/shm", "/tmp", "/var/tmp", "/run/lock", "/dev/mqueue", str(Path.home()), "/", "/etc",
                   os.path.dirname(os.__file__)):
        assert not Path(folder, f"rightsize-hostile-{hostile.tag}").exists(), f"a sandbox wrote into {folder}"


# ------------------------------------------------------------------------------ hidden tests
def test_hidden_tests_never_come_back(hostile: SimpleNamespace) -> None:
    for student in ("leak-history-and-hooks", "leak-code-in-report"):
        for path, text in _everything_shown(hostile).items():
            if f"/{student}/" in path:
                for hidden in hc.HIDDEN_INPUTS:
                    assert hidden not in text, f"{path} shows {hidden!r}"


# ------------------------------------------------------------------------------ feedback markup
def test_feedback_pages_hold_nothing_executable(hostile: SimpleNamespace) -> None:
    pages = {p.parent.parent.name: p.read_text(encoding="utf-8") for p in hostile.feedback.files}
    assert set(hc.KINDS) - set(pages) == set(), "every student gets a page"
    assert hostile.feedback.problems == [], hostile.feedback.problems
    for student, page in pages.items():
        assert audit_page(page) == [], (student, audit_page(page))
    markup = pages["markup-everywhere"]
    assert "Content-Security-Policy" in markup and "default-src 'none'" in markup
    # the student's content is there, inert: the heading text, the HTML output's text, the image's fallback
    assert "My notes" in markup and "hi" in markup and "an image" in markup
    assert "base64,AAAA" not in markup and "<title>01-grading-drill" in markup


def test_an_honest_duplicate_is_resolved_not_fatal(hostile: SimpleNamespace) -> None:
    outcome = hostile.outcomes["honest-duplicate-cell"]
    assert outcome.score == sc.TOTAL
    assert "a copy of the graded cell 'p95-test' and was ignored" in outcome.reason
    assert "a copy of the graded cell 'cost-answer' and was ignored" in outcome.reason
    page = (hostile.course / "feedback" / "honest-duplicate-cell" / sc.ASSIGNMENT / f"{sc.ASSIGNMENT}.html").read_text()
    assert "was ignored" in page


# ------------------------------------------------------------------------------ the unshare fallback
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="the fallback needs root")
def test_the_unshare_fallback_leaves_no_writable_host_path(tmp_path: Path) -> None:
    from rightsize.course import sandbox

    if not sandbox._unshare_usable():
        pytest.skip("unshare does not work here")
    repo = sc.write_repo(tmp_path / "repo")
    course = repo / "autograder" / "course"
    build_course(repo, course, repo / "quizzes", repo / "lessons")
    tag = uuid.uuid4().hex[:10]
    ctx = {"course": course, "outside_secret": tmp_path / "x", "tag": tag}
    released = course / "release" / sc.ASSIGNMENT / sc.NOTEBOOK
    for name in ("hurt-write-everywhere", "honest-duplicate-cell", "hurt-fork-bomb"):
        hc.KINDS[name]["build"](released, course / "submitted" / name / sc.ASSIGNMENT, ctx)
    try:
        outcomes = {o.student: o for o in autograde(sc.ASSIGNMENT, course, timeout=TIMEOUT, sandbox="unshare",
                                                     hide=[repo / "solutions", repo / "quizzes"])}
        assert {s: o.score for s, o in outcomes.items()} == {s: sc.TOTAL for s in outcomes}
        for folder in ("/dev/shm", "/tmp", "/var/tmp", "/run/lock", "/dev/mqueue", str(Path.home()), "/", "/etc",
                       os.path.dirname(os.__file__)):
            assert not Path(folder, f"rightsize-hostile-{tag}").exists(), f"the unshare sandbox wrote into {folder}"
    finally:
        for folder in ("/dev/shm", "/tmp", "/var/tmp", "/run/lock"):
            Path(folder, f"rightsize-hostile-{tag}").unlink(missing_ok=True)


# ------------------------------------------------------------------------------ one sandbox, one limit
def test_a_sandbox_counts_all_its_processes_against_one_memory_limit() -> None:
    from rightsize.course import _cgroup
    from rightsize.course.sandbox import Sandbox

    if _mode() is None or _cgroup.detect() is None:
        pytest.skip("no sandbox, or no control groups can be made here")
    box = Sandbox(mode=_mode() or "bwrap", limits=Limits(memory_bytes=600 << 20))
    assert box.whole_sandbox_limits
    process = box.spawn()
    # four fresh processes of 250 MB each: every one is within the per-process limit of 600 MB
    hog = ("import subprocess, sys\n"
           "grab = 'b = bytearray(250 << 20)\\nfor i in range(0, len(b), 4096): b[i] = 1\\nimport time; time.sleep(3)'\n"
           "kids = [subprocess.Popen([sys.executable, '-c', grab]) for _ in range(4)]\n"
           "print(sorted(k.wait() for k in kids))")
    try:
        process.wait_ready(60)
        process.send({"cells": [{"index": 0, "source": hog}], "timeout": 30})
        events = list(process.events(time.monotonic() + 90))
        oom = process.group is not None and process.group.oom_killed()
    finally:
        process.dispose()
        box.close()
    # 4 x 250 MB cannot all live in 600 MB: the group's OOM killer ended some of them (or the kernel)
    assert oom, events


# ------------------------------------------------------------------------------ a real lesson
REAL = "01-why-small-models-win"


@pytest.fixture(scope="module")
def real_lesson(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    if _mode() is None:
        pytest.skip("no sandbox here")
    work = tmp_path_factory.mktemp("real")
    solutions = work / "solutions"
    solutions.mkdir()
    shutil.copy(ROOT / "solutions" / f"{REAL}.ipynb", solutions)
    course = work / "course"
    build_course(ROOT, course, ROOT / "quizzes", work / "lessons", solutions_dir=solutions)
    return SimpleNamespace(course=course, released=course / "release" / REAL / f"{REAL}.ipynb",
                           source=course / "source" / REAL / f"{REAL}.ipynb")


def test_forgeries_on_a_real_lesson_score_what_the_work_deserves(real_lesson: SimpleNamespace) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell

    released = nbformat.read(str(real_lesson.released), as_version=4)
    forge = "\n".join([hc.FORGE_HOOKS, hc.FORGE_SETTRACE, hc.FORGE_PATCHED_LIBRARIES,
                       "import numpy\nnumpy.percentile = lambda *a, **k: 95.0"])

    def submit(student: str, nb: Any) -> None:
        folder = real_lesson.course / "submitted" / student / REAL
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{REAL}.ipynb"))

    # 1. the untouched lesson with every forgery in its first cell, and with the live-magic trick
    for student, code in (("forger", forge), ("live-magic", hc.FORGE_LIVE_MAGIC), ("transformers", hc.FORGE_TRANSFORMERS),
                          ("fake-reports", hc.FORGE_REPORTS)):
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        nb.cells.insert(2, new_code_cell(code))
        submit(student, nb)
    # 2. the solution's own answers, copied into the student version, with the same hooks installed
    source = nbformat.read(str(real_lesson.source), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    honest = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in honest.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = "\n".join(line for line in answers[gid].split("\n") if "### BEGIN SOLUTION" not in line
                                    and "### END SOLUTION" not in line)
    honest.cells.insert(2, new_code_cell(hc.FORGE_HOOKS))
    submit("honest-with-hooks", honest)
    outcomes = {o.student: o for o in autograde(REAL, real_lesson.course, workers=2)}
    assert {s: o.score for s, o in outcomes.items()} == {
        "forger": 0.0, "live-magic": 0.0, "transformers": 0.0, "fake-reports": 0.0,
        "honest-with-hooks": outcomes["honest-with-hooks"].max_score}, {s: (o.score, o.reason[:300]) for s, o in outcomes.items()}
    points = sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in released.cells)
    assert points >= 12 and outcomes["honest-with-hooks"].max_score == pytest.approx(points)  # every part counted
