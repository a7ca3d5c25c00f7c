"""The autograder end to end: build, a hostile synthetic class, autograde, export, feedback.

One module-scoped build and grading run is shared by the tests that inspect it (scores, hostile
attempts, CSV, feedback, plain nbgrader commands); the resume and interruption tests come last
because they change the class. The synthetic assignment, quiz bank and students live in
tests/fixtures/autograder/synthetic_class.py, with the exact score each student must get.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("nbgrader")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "autograder"))

import synthetic_class as sc  # noqa: E402

from rightsize.course.autograde import autograde, read_statuses  # noqa: E402
from rightsize.course.build import build_course, check_lessons_fresh  # noqa: E402
from rightsize.course.export import QUESTION_COLUMNS, TOTAL_COLUMNS, export_grades  # noqa: E402
from rightsize.course.feedback import generate_feedback, hidden_lines  # noqa: E402
from rightsize.course.sandbox import detect_mode  # noqa: E402

TIMEOUT = 3  # seconds per cell: the infinite loops cost this much



def _interruptible() -> None:
    """Let the child take Ctrl-C even when this run started with SIGINT ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def _sandbox_mode() -> str | None:
    try:
        return detect_mode()
    except Exception:
        return None


needs_sandbox = pytest.mark.skipif(_sandbox_mode() is None,
                                   reason="no sandbox here: apt-get install bubblewrap (or run as root)")


def _outside_ips() -> list[str]:
    """127.0.0.1 and, if the machine has one, an address of a real interface."""
    hosts = ["127.0.0.1"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent; this picks the outgoing interface
            ip = probe.getsockname()[0]
            if not ip.startswith("127."):
                hosts.append(ip)
        except OSError:
            pass
    return hosts


@pytest.fixture(scope="module")
def listener() -> Iterator[SimpleNamespace]:
    """A TCP server on every interface that records each connection it accepts."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    accepted: list[Any] = []

    def accept() -> None:
        while True:
            try:
                conn, address = server.accept()
            except OSError:
                return
            accepted.append(address)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield SimpleNamespace(port=server.getsockname()[1], accepted=accepted, hosts=_outside_ips())
    server.close()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = sc.write_repo(tmp_path_factory.mktemp("autograder") / "repo")
    build_course(root, root / "autograder" / "course", root / "quizzes", root / "lessons")
    return root


@pytest.fixture(scope="module")
def graded(repo: Path, listener: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    if _sandbox_mode() is None:
        pytest.skip("no sandbox here: apt-get install bubblewrap (or run as root)")
    import rightsize

    course = repo / "autograder" / "course"
    outside = tmp_path_factory.mktemp("outside")
    package_file = Path(rightsize.__file__).parent / "pwned-by-autograder-test.txt"
    secret_reads = [course / "gradebook.db", course / "source" / sc.ASSIGNMENT / sc.NOTEBOOK,
                    course / "submitted" / "all-correct" / sc.ASSIGNMENT / sc.NOTEBOOK,
                    repo / "solutions" / sc.NOTEBOOK, repo / "quizzes" / "lesson01.yaml"]
    writes = [course / "pwned.txt", outside / "pwned.txt", package_file,
              course / "submitted" / "snooper" / sc.ASSIGNMENT / "pwned.txt", Path("/etc/pwned-by-test")]
    fill = {
        "network_attempt": sc.NETWORK_ATTEMPT.format(hosts=listener.hosts, port=listener.port),
        "snoop_attempt": sc.SNOOP_ATTEMPT.format(reads=[str(p) for p in secret_reads],
                                                 writes=[str(p) for p in writes],
                                                 lists=[str(course), str(course / "submitted")]),
    }
    students = sc.make_class(course, list(sc.KINDS), fill)
    started = time.monotonic()
    try:
        outcomes = autograde(sc.ASSIGNMENT, course, workers=2, timeout=TIMEOUT,
                             hide=[repo / "solutions", repo / "quizzes"])
    finally:
        leaked_package_file = package_file.exists()
        if leaked_package_file:
            package_file.unlink()
    return SimpleNamespace(course=course, repo=repo, students=students, seconds=time.monotonic() - started,
                           outcomes={o.student: o for o in outcomes}, outside=outside, writes=writes,
                           leaked_package_file=leaked_package_file)


def _autograded(course: Path, student: str) -> dict[str, Any]:
    path = course / "autograded" / student / sc.ASSIGNMENT / sc.NOTEBOOK
    return json.loads(path.read_text(encoding="utf-8"))


def _cell_outputs(nb: dict[str, Any], grade_id: str) -> list[dict[str, Any]]:
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return list(cell.get("outputs", []))
    raise AssertionError(f"no cell {grade_id}")


def _text(outputs: list[dict[str, Any]]) -> str:
    parts = []
    for out in outputs:
        parts.append(out.get("text", "") if isinstance(out.get("text"), str) else "".join(out.get("text", [])))
        parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
    return "\n".join(parts)


# ------------------------------------------------------------------------------ build
def test_build_makes_student_versions_without_solutions_or_hidden_tests(repo: Path) -> None:
    course = repo / "autograder" / "course"
    source = (course / "source" / sc.ASSIGNMENT / sc.NOTEBOOK).read_text(encoding="utf-8")
    secrets = ["math.ceil(0.95 * len(ordered))", "tokens_out * price_out) / 1_000_000",
               "P95-HIDDEN-CODE", "COST-HIDDEN-INPUT-250000", "expect=95", "literal_answer(",
               "BEGIN SOLUTION", "BEGIN HIDDEN TESTS"]
    for secret in secrets:
        assert secret in source, f"the source should hold {secret!r}"
    for student_version in (course / "release" / sc.ASSIGNMENT / sc.NOTEBOOK, repo / "lessons" / sc.NOTEBOOK):
        text = student_version.read_text(encoding="utf-8")
        for secret in secrets:
            assert secret not in text, f"{student_version} shows {secret!r}"
        nb = json.loads(text)
        grade_ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in nb["cells"]]
        assert [g for g in grade_ids if g and g.endswith("-test")] == list(sc.QUESTIONS)
        assert not any(c["cell_type"] == "markdown" and "rightsize:graded-quiz" in c["source"] for c in nb["cells"])
        assert all(c.get("outputs", []) == [] for c in nb["cells"])
        assert "None  # YOUR ANSWER HERE" in text


def test_build_computes_references_from_the_solution(repo: Path) -> None:
    from rightsize.course.references import load_references

    refs = load_references(repo / "autograder" / "course", sc.ASSIGNMENT)
    cells = refs.notebooks[sc.ASSIGNMENT].cells
    assert {g: s.kind for g, s in cells.items()} == {"p95-test": "probes", "cost-test": "probes",
                                                      sc.Q1_TEST: "literal", sc.Q2_TEST: "literal"}
    assert [(p["label"], p["value"]) for p in cells["p95-test"].probes] == [
        ("one to a hundred", 95), ("twenty values", 19), ("one value", 4.25)]
    assert [p["value"] for p in cells["cost-test"].probes] == [90.0, 0.0]
    assert (cells[sc.Q1_TEST].answer, cells[sc.Q2_TEST].answer) == ("b", ["a", "c"])
    # what a student's kernel runs: the inputs, never an expected value, never a comment
    for spec in (cells["p95-test"], cells["cost-test"]):
        assert "probe(" in spec.driver and "expect" not in spec.driver and "HIDDEN" not in spec.driver


def test_a_wrong_expect_or_a_missing_probe_fails_the_build(repo: Path, tmp_path: Path) -> None:
    import nbformat

    from rightsize.errors import RightsizeError

    def rebuild_with(grade_id: str, change: Any) -> None:
        copy = tmp_path / f"repo-{grade_id}-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(repo, copy, ignore=shutil.ignore_patterns("course"))
        solution = copy / "solutions" / sc.NOTEBOOK
        nb = nbformat.read(str(solution), as_version=4)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        cell.source = change(cell.source)
        nbformat.write(nb, str(solution))
        build_course(copy, copy / "autograder" / "course", copy / "quizzes", copy / "lessons")

    with pytest.raises(RightsizeError, match="one to a hundred.*not what expect="):
        rebuild_with("p95-test", lambda src: src.replace("expect=95", "expect=96"))
    with pytest.raises(RightsizeError, match="cost-test.*calls no probe"):
        rebuild_with("cost-test", lambda src: src.split("### BEGIN HIDDEN TESTS")[0]
                     + "### BEGIN HIDDEN TESTS\nassert daily_cost(0, 1, 1, 1, 1) == 0\n### END HIDDEN TESTS")
    with pytest.raises(RightsizeError, match="no hidden checks"):
        rebuild_with("cost-test", lambda src: src.split("### BEGIN HIDDEN TESTS")[0])


def test_lessons_are_reproducible_and_staleness_is_detected(repo: Path) -> None:
    quizzes = repo / "quizzes"
    # opening and saving a lesson in Jupyter (outputs, counts, editor state) is not staleness
    lesson = repo / "lessons" / sc.NOTEBOOK
    original_lesson = lesson.read_text(encoding="utf-8")
    nb = json.loads(original_lesson)
    nb["metadata"]["language_info"]["version"] = "3.11.7"
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    nb["cells"][1]["execution_count"] = 3
    nb["cells"][1]["metadata"]["scrolled"] = True
    lesson.write_text(json.dumps(nb), encoding="utf-8")
    solution = repo / "solutions" / sc.NOTEBOOK
    original_solution = solution.read_text(encoding="utf-8")
    try:
        assert check_lessons_fresh(repo, quizzes) == []
        solution.write_text(original_solution.replace("Write `p95`.", "Write `p95` (nearest rank)."),
                            encoding="utf-8")
        problems = check_lessons_fresh(repo, quizzes)
        assert len(problems) == 1 and "stale" in problems[0] and sc.NOTEBOOK in problems[0]
    finally:
        solution.write_text(original_solution, encoding="utf-8")
        lesson.write_text(original_lesson, encoding="utf-8")


def test_repository_lessons_are_fresh() -> None:
    """The committed lessons/ match solutions/ and quizzes/ (trivially true while there are none)."""
    problems = check_lessons_fresh(ROOT, ROOT / "quizzes")
    assert problems == [], "\n".join(problems)


# ------------------------------------------------------------------------------ autograde
@needs_sandbox
def test_every_score_is_exactly_the_expected_one(graded: SimpleNamespace) -> None:
    from nbgrader.api import Gradebook

    assert set(graded.outcomes) == set(sc.KINDS), "the batch must grade every submission"
    wrong = {s: (o.score, sc.expected_total(s)) for s, o in graded.outcomes.items()
             if o.score != sc.expected_total(s) or o.max_score != sc.TOTAL}
    assert not wrong, f"(got, expected): {wrong}"
    with Gradebook(f"sqlite:///{graded.course / 'gradebook.db'}", "rightsize") as gb:
        for student, kind in graded.students.items():
            notebook = gb.find_submission_notebook(sc.ASSIGNMENT, sc.ASSIGNMENT, student)
            got = {g.name: g.score for g in notebook.grades}
            assert got == sc.KINDS[kind]["expect"], f"{student}: {got}"
    statuses = read_statuses(graded.course, sc.ASSIGNMENT)
    assert statuses["invalid-json"]["status"] == "invalid"
    assert "not a valid notebook" in statuses["invalid-json"]["reason"]
    assert statuses["wrong-name"]["status"] == "invalid" and "not submitted" in statuses["wrong-name"]["reason"]
    assert all(statuses[s]["status"] == "graded" for s in sc.KINDS if s not in ("invalid-json", "wrong-name"))
    assert graded.seconds < 120, f"the class took {graded.seconds:.0f} s"


@needs_sandbox
def test_hostile_attempts_fail(graded: SimpleNamespace, listener: SimpleNamespace) -> None:
    assert listener.accepted == [], "a sandboxed notebook reached the grading machine's network"
    network = _text(_cell_outputs(_autograded(graded.course, "network"), "p95-answer"))
    assert "CONNECTED" not in network
    assert network.count(": blocked") == len(listener.hosts)

    snoop = _text(_cell_outputs(_autograded(graded.course, "snooper"), "p95-answer"))
    assert "READ-OK" not in snoop, snoop
    assert snoop.count("read blocked") == 5
    assert "gradebook.db" not in snoop and "all-correct" not in snoop, snoop
    for path in graded.writes:
        assert not path.exists(), f"student code wrote {path}"
    assert not graded.leaked_package_file

    asks = _text(_cell_outputs(_autograded(graded.course, "asks-input"), "cost-answer"))
    assert "StdinNotImplementedError" in asks
    loop = _verdict(_autograded(graded.course, "infinite-loop"), "cost-test")
    assert "0 of 2 pass" in loop and f"ran longer than {TIMEOUT:g} s" in loop
    # the cell that never gave the kernel back was left out of a second run; everything else counted
    stuck = _cell_outputs(_autograded(graded.course, "uninterruptible"), "l01-drill-signals-answer")
    assert [o.get("ename") for o in stuck] == ["KernelStopped"]
    assert "could not be read" in _verdict(_autograded(graded.course, "uninterruptible"), sc.Q2_TEST)
    assert "3 of 3 pass" in _verdict(_autograded(graded.course, "uninterruptible"), "p95-test")
    # the correct answer that warned: its stderr was dropped, not scored 0
    warned = _cell_outputs(_autograded(graded.course, "warns"), "p95-test")
    assert not any(o.get("name") == "stderr" for o in warned)
    # the str subclass equal to everything is read as the text it holds, and a class is no literal
    assert "not computed" in _verdict(_autograded(graded.course, "eq-cheat"), sc.Q1_TEST)


def _verdict(nb: dict[str, Any], grade_id: str) -> str:
    """The grader's verdict line of a tests cell."""
    lines = ["".join(o["data"]["text/plain"]) for o in _cell_outputs(nb, grade_id)
             if o.get("output_type") == "display_data" and o.get("metadata", {}).get("rightsize-verdict")]
    assert len(lines) == 1, lines
    return str(lines[0])


# ------------------------------------------------------------------------------ export and feedback
@needs_sandbox
def test_export_writes_per_question_grades_and_totals(graded: SimpleNamespace, tmp_path: Path) -> None:
    report = export_grades(graded.course, tmp_path / "grades.csv")
    with open(report.questions_csv, newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == QUESTION_COLUMNS
    got = {(r[0], r[2]): (float(r[3]), float(r[4])) for r in rows[1:]}
    expected = {(student, q): (float(sc.KINDS[kind]["expect"][q]), float(sc.MAX[q]))
                for student, kind in graded.students.items() for q in sc.QUESTIONS}
    assert got == expected
    assert [r[2] for r in rows[1:5]] == list(sc.QUESTIONS), "questions in notebook order"
    with open(report.totals_csv, newline="") as f:
        totals = list(csv.DictReader(f))
    assert tuple(totals[0]) == TOTAL_COLUMNS
    by_student = {t["student"]: t for t in totals}
    assert {s: float(t["points"]) for s, t in by_student.items()} == {s: sc.expected_total(k)
                                                                       for s, k in graded.students.items()}
    assert by_student["invalid-json"]["status"] == "invalid"
    assert "not a valid notebook" in by_student["invalid-json"]["reason"]
    assert by_student["all-correct"]["status"] == "graded" and by_student["all-correct"]["max"] == f"{sc.TOTAL:g}"
    # the same gradebook exports to the same bytes
    again = export_grades(graded.course, tmp_path / "again.csv")
    assert again.questions_csv.read_bytes() == report.questions_csv.read_bytes()


@needs_sandbox
def test_feedback_never_shows_hidden_tests_or_keys(graded: SimpleNamespace) -> None:
    report = generate_feedback(sc.ASSIGNMENT, graded.course)
    pages = {p.parent.parent.name: p.read_text(encoding="utf-8") for p in report.files}
    assert set(pages) == set(sc.KINDS)
    source = json.loads((graded.course / "source" / sc.ASSIGNMENT / sc.NOTEBOOK).read_text(encoding="utf-8"))
    secrets = [line for cell in source["cells"] for line in hidden_lines("".join(cell["source"]))]
    assert len(secrets) >= 6
    import html

    for student, page in pages.items():
        text = " ".join(html.unescape(page).split())
        for secret in secrets + ["HIDDEN-CODE", "BEGIN HIDDEN TESTS", "range(1, 101)", "literal_answer"]:
            assert secret not in text, f"{student}'s feedback shows {secret!r}"
    all_wrong = " ".join(html.unescape(pages["all-wrong"]).split())
    # max() is right for one value only
    assert "Hidden checks: 1 of 3 pass. Not passing: one to a hundred, twenty values. Score: 0 of 2." in all_wrong
    assert "1000 requests of 500 in / 200 out cost $0.90" in all_wrong
    assert "Your answer 'a' is not right." in all_wrong
    assert "Hidden checks: 3 of 3 pass" in html.unescape(pages["all-correct"])
    assert "could not be graded" in pages["invalid-json"]
    assert report.problems == []


@needs_sandbox
def test_plain_nbgrader_commands_work_on_the_course(graded: SimpleNamespace) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    commands = [["generate_feedback", sc.ASSIGNMENT, "--student", "all-wrong", "--force"],
                ["export", "--to", "nbgrader-grades.csv"]]
    running = [subprocess.Popen([str(bin_dir / "nbgrader"), *cmd], cwd=graded.course, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for cmd in commands]
    for proc in running:
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output[-2000:]
    page = (graded.course / "feedback" / "all-wrong" / sc.ASSIGNMENT / f"{sc.ASSIGNMENT}.html").read_text()
    assert "HIDDEN-CODE" not in page and "range(1, 101)" not in page and "1 of 3 pass" in page
    with open(graded.course / "nbgrader-grades.csv", newline="") as f:
        scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f) if r["assignment"] == sc.ASSIGNMENT}
    assert scores == {s: sc.expected_total(k) for s, k in graded.students.items()}


# ------------------------------------------------------------------------------ resume
@needs_sandbox
def test_a_second_run_skips_graded_submissions_and_regrades_changed_ones(graded: SimpleNamespace) -> None:
    course = graded.course
    again = {o.student: o for o in autograde(sc.ASSIGNMENT, course, workers=2, timeout=TIMEOUT)}
    assert {o.status for o in again.values()} == {"skipped"}
    assert {s: o.score for s, o in again.items()} == {s: o.score for s, o in graded.outcomes.items()}
    # the student resubmits a fixed notebook: only that one is graded again
    released = course / "release" / sc.ASSIGNMENT / sc.NOTEBOOK
    sc.make_submission(released, course / "submitted" / "partly-right" / sc.ASSIGNMENT, "all-correct")
    third = {o.student: o for o in autograde(sc.ASSIGNMENT, course, workers=2, timeout=TIMEOUT)}
    assert [s for s, o in third.items() if o.status != "skipped"] == ["partly-right"]
    assert third["partly-right"].score == sc.TOTAL


@needs_sandbox
def test_an_interrupted_batch_resumes(repo: Path, tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(repo / "autograder" / "course", course, ignore=shutil.ignore_patterns(
        "submitted", "autograded", "feedback", "autograde"))  # keeps .rightsize/references
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(repo / 'autograder' / 'nbgrader_config.py')!r})\n")
    # the infinite loops run until the cell timeout, so the batch is still busy when it is interrupted
    kinds = ["all-correct", "all-wrong", "infinite-loop", "partly-right", "eq-cheat"]
    students = sc.make_class(course, kinds, copies=2)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(
        preexec_fn=_interruptible, args=[sys.executable, "-m", "rightsize", "course", "autograde", sc.ASSIGNMENT,
                             "--course-dir", str(course), "--timeout", str(TIMEOUT)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status_dir = course / ".rightsize" / "autograde" / sc.ASSIGNMENT
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(status_dir.glob("*.json"))) < 2 and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    done_before = {p.stem for p in status_dir.glob("*.json")}
    assert 2 <= len(done_before) < len(students), output
    outcomes = {o.student: o for o in autograde(sc.ASSIGNMENT, course, workers=2, timeout=TIMEOUT)}
    assert {s for s, o in outcomes.items() if o.status == "skipped"} == done_before
    assert {s: o.score for s, o in outcomes.items()} == {s: sc.expected_total(k) for s, k in students.items()}


# ------------------------------------------------------------------------------ small pieces
def test_collect_puts_submissions_in_the_nbgrader_layout(repo: Path, tmp_path: Path) -> None:
    from rightsize.course.collect import collect_submissions

    course = tmp_path / "course"
    shutil.copytree(repo / "autograder" / "course", course, ignore=shutil.ignore_patterns("submitted", "autograded"))
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(repo / 'autograder' / 'nbgrader_config.py')!r})\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    released = course / "release" / sc.ASSIGNMENT / sc.NOTEBOOK
    shutil.copy(released, inbox / "ada.ipynb")
    (inbox / "grace").mkdir()
    shutil.copy(released, inbox / "grace" / sc.NOTEBOOK)
    (inbox / "grace" / "data.csv").write_text("a,b\n")
    # every file claims to be from 2001, and grace sends a timestamp.txt of her own
    for path in [inbox / "ada.ipynb", *(inbox / "grace").iterdir()]:
        os.utime(path, (978307200, 978307200))
    (inbox / "grace" / "timestamp.txt").write_text("2001-01-01 00:00:00 UTC")
    before = time.time()
    report = collect_submissions(sc.ASSIGNMENT, inbox, course)
    assert report.students == ["ada", "grace"] and report.refused == {}
    import datetime as dt

    from nbgrader.utils import parse_utc

    for student in ("ada", "grace"):
        folder = course / "submitted" / student / sc.ASSIGNMENT
        assert (folder / sc.NOTEBOOK).read_bytes() == released.read_bytes()
        recorded = parse_utc((folder / "timestamp.txt").read_text()).replace(tzinfo=dt.timezone.utc).timestamp()
        assert before - 1 <= recorded <= time.time() + 1, "the time of collection, never the files' mtimes"
    assert (course / "submitted" / "grace" / sc.ASSIGNMENT / "data.csv").exists()
    deadline_day = dt.datetime(2030, 5, 1, 17, 0, tzinfo=dt.timezone.utc)
    collect_submissions(sc.ASSIGNMENT, inbox, course, timestamp=deadline_day)
    assert (course / "submitted" / "ada" / sc.ASSIGNMENT / "timestamp.txt").read_text().startswith("2030-05-01 17:00")


def test_grading_refuses_to_run_unconfined(monkeypatch: pytest.MonkeyPatch) -> None:
    from rightsize.course import sandbox

    monkeypatch.setattr(sandbox, "_bwrap_usable", lambda: False)
    monkeypatch.setattr(sandbox, "_unshare_usable", lambda: False)
    with pytest.raises(sandbox.SandboxError, match="apt-get install bubblewrap"):
        sandbox.detect_mode()
    assert sandbox.detect_mode(unsafe=True) == "none"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="the fallback needs root")
def test_the_unshare_fallback_isolates_too() -> None:
    import tempfile

    from rightsize.course import sandbox

    if not sandbox._unshare_usable():
        pytest.skip("unshare does not work here")
    # outside /tmp (the sandbox gets a private /tmp anyway), so hiding it is what is tested
    secret = Path(tempfile.mkdtemp(prefix="rightsize-test-", dir="/var/tmp"))
    (secret / "gradebook.db").write_text("secret")
    box = sandbox.Sandbox(mode="unshare", hide=[secret])
    process = box.spawn()
    try:
        process.wait_ready(60)
        (process.input_dir / "data.txt").write_text("student data")
        process.send({"cells": [{"index": 0, "source": (
            "import os, socket\n"
            "try:\n"
            f"    open({str(secret / 'gradebook.db')!r}).read()\n"
            "    seen = 'READ'\n"
            "except OSError as exc:\n"
            "    seen = 'blocked'\n"
            "print(os.getuid(), open('data.txt').read(), seen)\n"
            "print(socket.socket().connect_ex(('8.8.8.8', 53)), socket.socket().connect_ex(('127.0.0.1', 22)))")}],
            "timeout": 10})
        events = list(process.events(time.monotonic() + 60))
    finally:
        process.dispose()
        box.close()
        shutil.rmtree(secret)
    cell = next(e for e in events if e["event"] == "cell")
    assert cell["status"] == "ok", cell
    first, second = cell["outputs"][0]["text"].splitlines()
    uid, rest = first.split(" ", 1)
    assert int(uid) != 0 and rest == "student data blocked"
    assert "0" not in second.split(), second


def test_cli_has_the_course_commands() -> None:
    from rightsize.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["course", "autograde", sc.ASSIGNMENT, "--workers", "3", "--timeout", "5"])
    assert args.workers == 3 and args.timeout == 5 and callable(args.handler)
    for command in (["course", "build"], ["course", "export"], ["course", "feedback", "x"],
                    ["course", "collect", "x", "folder"], ["course", "check-lessons"]):
        assert callable(parser.parse_args(command).handler)


@needs_sandbox
def test_a_dask_cluster_grades_the_same_class(repo: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    course = tmp_path / "course"
    shutil.copytree(repo / "autograder" / "course", course, ignore=shutil.ignore_patterns(
        "submitted", "autograded", "feedback", "autograde"))
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nload_subconfig({str(repo / 'autograder' / 'nbgrader_config.py')!r})\n")
    kinds = ["all-correct", "partly-right", "kernel-exit", "all-wrong"]
    students = sc.make_class(course, kinds)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        outcomes = {o.student: o for o in autograde(sc.ASSIGNMENT, course, timeout=TIMEOUT,
                                                     scheduler=cluster.scheduler_address,
                                                     hide=[repo / "solutions", repo / "quizzes"])}
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "rightsize") as gb:
        for student, kind in students.items():
            grades = {g.name: g.score for g in gb.find_submission_notebook(sc.ASSIGNMENT, sc.ASSIGNMENT, student).grades}
            assert grades == sc.KINDS[kind]["expect"], (student, grades, outcomes[student].reason)
