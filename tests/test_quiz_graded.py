"""The graded quiz cells: nbgrader metadata, the released student cells, the visible form checks,
and the grader reading answers from the answer cells' text (right, wrong, malformed and cheating
answers). Cells run with plain ``exec``; nbgrader's own ClearSolutions and ClearHiddenTests
preprocessors make the student version, in-process."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from rightsize.quiz.graded import CODE_STUB, answer_key, graded_cells, is_graded_quiz_marker, variable_name

nbgrader_pre = pytest.importorskip("nbgrader.preprocessors")

LESSON = '''\
lesson: "03"
title: Under load
questions:
  - id: l03-knee
    objective: Read the knee of a concurrency sweep
    type: single
    difficulty: medium
    tags: [percentiles]
    scenario: true
    stem: |
      Throughput flattens past concurrency 8 while p95 TTFT climbs. What is happening?
    choices:
      - text: The model decodes faster
        correct: false
        why: KNEE-A-WHY it does not.
      - text: The server is saturated and requests queue
        correct: true
        why: KNEE-B-WHY queueing adds latency, not throughput.
      - text: The client is the bottleneck
        correct: false
        why: KNEE-C-WHY then latency would not climb.
      - text: Nothing notable
        correct: false
        why: KNEE-D-WHY the knee is the point.
  - id: l03-goodput-misses
    objective: Count the misses for goodput
    type: multiple
    difficulty: medium
    tags: [rate-limits]
    scenario: false
    stem: |
      Which requests count as misses? Select all that apply.
    choices:
      - text: A request refused with 429
        correct: true
        why: MISS-A-WHY no answer reached the user.
      - text: A complete answer within the SLO
        correct: false
        why: MISS-B-WHY it met every objective.
      - text: A stream cut off halfway
        correct: true
        why: MISS-C-WHY half an answer is not an answer.
  - id: l03-first-letter
    objective: Know the closed loop
    type: single
    difficulty: easy
    tags: [percentiles]
    scenario: false
    stem: |
      What does a closed-loop test keep fixed?
    choices:
      - text: The number of requests in flight
        correct: true
        why: LOOP-A-WHY a new request starts when one finishes.
      - text: The arrival rate
        correct: false
        why: LOOP-B-WHY that is an open loop.
      - text: The prompt length
        correct: false
        why: LOOP-C-WHY both loops can use any prompt.
'''

SINGLE, MULTIPLE, SINGLE_A = "q_l03_knee", "q_l03_goodput_misses", "q_l03_first_letter"


class AlwaysEqual(str):
    """The cheat from NBGRADER.md: a str subclass that equals everything."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    (tmp_path / "lesson03.yaml").write_text(LESSON)
    return tmp_path


@pytest.fixture
def cells(bank: Path) -> list[nbformat.NotebookNode]:
    return graded_cells(3, quiz_dir=bank, points_per_question=2)


def by_id(cells: list[nbformat.NotebookNode], grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def release(cells: list[nbformat.NotebookNode], code_stub: str = CODE_STUB) -> list[nbformat.NotebookNode]:
    """The student version, as ``nbgrader generate_assignment`` makes it."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb, resources = nbgrader_pre.ClearSolutions(code_stub={"python": code_stub}).preprocess(nb, {})
    nb, _ = nbgrader_pre.ClearHiddenTests().preprocess(nb, resources)
    return list(nb.cells)


def run(source: str, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    namespace = {} if namespace is None else namespace
    exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102 - our own generated cells
    return namespace


# --------------------------------------------------------------------------------------------
# Shape and metadata
# --------------------------------------------------------------------------------------------

def test_an_intro_then_three_cells_per_question_with_nbgrader_metadata(cells: list[nbformat.NotebookNode]) -> None:
    assert [c.cell_type for c in cells] == ["markdown"] + ["markdown", "code", "code"] * 3
    intro = cells[0]
    assert "nbgrader" not in intro.metadata and "This is the quiz that counts" in intro.source
    assert "the practice quiz's questions" in intro.source
    for qid in ("l03-knee", "l03-goodput-misses", "l03-first-letter"):
        text, answer, tests = (by_id(cells, f"{qid}-{kind}").metadata["nbgrader"]
                               for kind in ("text", "answer", "test"))
        assert text == {"grade": False, "grade_id": f"{qid}-text", "locked": True,
                        "schema_version": 3, "solution": False, "task": False}
        assert answer == {"grade": False, "grade_id": f"{qid}-answer", "locked": False,
                          "schema_version": 3, "solution": True, "task": False}
        assert tests == {"grade": True, "grade_id": f"{qid}-test", "locked": True, "points": 2,
                         "schema_version": 3, "solution": False, "task": False}
        # the check cell's code is collapsed in JupyterLab: the student sees its one line of output
        assert by_id(cells, f"{qid}-test").metadata["jupyter"] == {"source_hidden": True}
    assert len({c.id for c in cells}) == len(cells)


def test_nbgrader_accepts_the_metadata(cells: list[nbformat.NotebookNode]) -> None:
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.v4.new_notebook(cells=cells)
    MetadataValidator().validate_nb(nb)
    nbformat.validate(nb)


def test_the_text_cell_shows_the_question_not_the_answer(cells: list[nbformat.NotebookNode]) -> None:
    single = by_id(cells, "l03-knee-text").source
    assert "Throughput flattens past concurrency 8" in single
    assert "- **b)** The server is saturated and requests queue" in single
    assert f"set `{SINGLE}` to one letter in quotes" in single and "2 points" in single
    multiple = by_id(cells, "l03-goodput-misses-text").source
    assert 'a list of letters in quotes, for example ["a", "c"]' in multiple
    for cell in cells:
        if cell.cell_type == "markdown":
            assert "WHY" not in cell.source and "correct" not in cell.source.lower()


def test_variable_names_and_the_answer_key(bank: Path) -> None:
    assert variable_name("l02-ttft-definition") == "q_l02_ttft_definition"
    assert answer_key("03", quiz_dir=bank) == {SINGLE: "b", MULTIPLE: ["a", "c"], SINGLE_A: "a"}


def test_the_marker_cell_is_recognised() -> None:
    marker = nbformat.v4.new_markdown_cell("## Graded quiz\n\n<!-- rightsize:graded-quiz -->\n")
    assert is_graded_quiz_marker(marker)
    assert is_graded_quiz_marker({"cell_type": "markdown", "source": ["intro\n", "<!-- rightsize:graded-quiz -->"]})
    assert not is_graded_quiz_marker(nbformat.v4.new_code_cell("# <!-- rightsize:graded-quiz -->"))
    assert not is_graded_quiz_marker(nbformat.v4.new_markdown_cell("## Quiz"))


# --------------------------------------------------------------------------------------------
# The instructor version runs and passes
# --------------------------------------------------------------------------------------------

def test_the_source_notebook_passes_its_own_tests(cells: list[nbformat.NotebookNode],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {}
    for cell in cells:
        if cell.cell_type == "code":
            run(cell.source, namespace)
    assert (namespace[SINGLE], namespace[MULTIPLE], namespace[SINGLE_A]) == ("b", ["a", "c"], "a")
    assert capsys.readouterr().out.count("the form of your answer is fine") == 3


def test_the_answer_is_only_inside_the_solution_region(cells: list[nbformat.NotebookNode]) -> None:
    source = by_id(cells, "l03-knee-answer").source
    outside = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", source, flags=re.DOTALL)
    assert '"b"' not in outside and '"b"' in source


# --------------------------------------------------------------------------------------------
# The student version
# --------------------------------------------------------------------------------------------

def test_the_released_answer_cell_runs_and_sets_none(cells: list[nbformat.NotebookNode]) -> None:
    student = release(cells)
    answer = by_id(student, "l03-knee-answer").source
    assert "BEGIN SOLUTION" not in answer and '"b"' not in answer
    assert answer == ('# Question 1: one letter in quotes, for example "a"\n'
                      f"{SINGLE} = (\n"
                      "    None  # YOUR ANSWER HERE\n"
                      ")")
    assert run(answer)[SINGLE] is None
    assert run(by_id(student, "l03-goodput-misses-answer").source)[MULTIPLE] is None


def test_released_answer_cells_do_not_depend_on_the_answer(cells: list[nbformat.NotebookNode]) -> None:
    student = release(cells)
    knee = by_id(student, "l03-knee-answer").source        # answer b
    first = by_id(student, "l03-first-letter-answer").source  # answer a
    assert knee.replace(SINGLE, "VAR").replace("Question 1", "Q") == \
        first.replace(SINGLE_A, "VAR").replace("Question 3", "Q")


def test_released_tests_hide_the_key_and_say_not_done(cells: list[nbformat.NotebookNode],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    student = release(cells)
    tests = by_id(student, "l03-knee-test").source
    assert "HIDDEN" not in tests and "literal_answer" not in tests and '"b"' not in tests
    namespace = run(by_id(student, "l03-knee-answer").source)
    run(tests, namespace)  # never raises: "Run all" goes on
    assert "Question 1: not done yet" in capsys.readouterr().out
    assert "literal_answer" not in by_id(student, "l03-goodput-misses-test").source


def test_the_default_nbgrader_stub_fails_loudly(cells: list[nbformat.NotebookNode]) -> None:
    """Why the build must set ClearSolutions.code_stub to CODE_STUB: never a silent mis-grade."""
    student = release(cells, code_stub="# YOUR CODE HERE\nraise NotImplementedError()")
    with pytest.raises(SyntaxError):
        run(by_id(student, "l03-knee-answer").source)


# --------------------------------------------------------------------------------------------
# Grading: the answer is read from the answer cell's text, in the grader's process
# --------------------------------------------------------------------------------------------

def score(cells: list[nbformat.NotebookNode], qid: str, answer_source: str) -> Any:
    """Score a question whose answer cell holds ``answer_source``, as the autograder does."""
    from rightsize.course.references import read_spec
    from rightsize.course.scoring import score_literal

    student = release(cells)
    by_id(student, f"{qid}-answer").source = answer_source
    spec = read_spec(by_id(cells, f"{qid}-test"), "test")
    assert spec.kind == "literal" and spec.points == 2
    return score_literal(nbformat.v4.new_notebook(cells=student), spec)


@pytest.mark.parametrize("source", [f'{SINGLE} = "b"', f"{SINGLE} = (\n    'b'  # my pick\n)",
                                    f'{SINGLE} = "a"\n{SINGLE} = "b"  # changed my mind'])
def test_single_right_answer_scores(cells: list[nbformat.NotebookNode], source: str) -> None:
    result = score(cells, "l03-knee", source)
    assert (result.points, result.message) == (2, "Your answer 'b' is right.")


@pytest.mark.parametrize(("source", "message"), [
    (f'{SINGLE} = "a"', "Your answer 'a' is not right."),
    (f'{SINGLE} = "B"', "Your answer 'B' is not right."),
    (f'{SINGLE} = " b"', "Your answer ' b' is not right."),
    (f'{SINGLE} = ["b"]', "Your answer a value that is not one letter is not right."),
    (f"{SINGLE} = 2", "Your answer a value that is not one letter is not right."),
    (f"{SINGLE} = (\n    None  # YOUR ANSWER HERE\n)", "Not answered"),
    (f'class AlwaysEqual(str):\n    __eq__ = lambda s, o: True\n{SINGLE} = AlwaysEqual("b")', "not computed"),
    (f'{SINGLE} = "".join(["b"])', "not computed"),
    (f'{SINGLE} = "b"\nimport builtins; builtins.sorted = lambda x: ["a", "c"]', "right"),  # text, not effects
    (f'{SINGLE} = "b', "syntax error on line 1"),
    ('answer = "b"', f"does not set {SINGLE}"),
])
def test_single_answers_are_read_from_the_text(cells: list[nbformat.NotebookNode], source: str, message: str) -> None:
    result = score(cells, "l03-knee", source)
    assert message in result.message
    assert result.points == (2 if message == "right" else 0)


@pytest.mark.parametrize("value", [["a", "c"], ["c", "a"]])
def test_multiple_right_answers_score_in_any_order(cells: list[nbformat.NotebookNode], value: list[str]) -> None:
    assert score(cells, "l03-goodput-misses", f"{MULTIPLE} = {value!r}").points == 2


@pytest.mark.parametrize("value", [["a"], ["a", "b", "c"], ["a", "c", "c"], [], "a", ("a", "c"), ["a", "C"], None])
def test_multiple_wrong_or_malformed_answers_score_zero(cells: list[nbformat.NotebookNode], value: Any) -> None:
    assert score(cells, "l03-goodput-misses", f"{MULTIPLE} = {value!r}").points == 0


# --------------------------------------------------------------------------------------------
# The visible form check: one line of help, never an error
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "message"), [
    ("b", "the form of your answer is fine"),
    ("a", "the form of your answer is fine"),   # the form only: right or wrong is for the grader
    ("B", "must be one of"),
    ("e", "must be one of"),
    (AlwaysEqual("b"), "not a AlwaysEqual"),
    (["b"], "must be one letter in quotes"),
    (2, "must be one letter in quotes"),
    (None, "not done yet"),
])
def test_the_single_form_check(cells: list[nbformat.NotebookNode], capsys: pytest.CaptureFixture[str],
                               value: Any, message: str) -> None:
    run(by_id(release(cells), "l03-knee-test").source, {SINGLE: value})
    assert message in capsys.readouterr().out


@pytest.mark.parametrize(("value", "message"), [
    (["c", "a"], "the form of your answer is fine"),
    (["a", "c", "c"], "more than once"),
    ([], "at least one letter"),
    ("a", "must be a list of letters"),
    (("a", "c"), "must be a list of letters"),
    ([AlwaysEqual("a"), "c"], "every item"),
    (["a", "d"], "must be one of"),
    (None, "not done yet"),
])
def test_the_multiple_form_check(cells: list[nbformat.NotebookNode], capsys: pytest.CaptureFixture[str],
                                 value: Any, message: str) -> None:
    run(by_id(release(cells), "l03-goodput-misses-test").source, {MULTIPLE: value})
    assert message in capsys.readouterr().out


def test_the_real_bank_makes_cells_for_every_lesson() -> None:
    for lesson in range(10):
        try:
            cells = graded_cells(lesson)
            key = answer_key(lesson)
        except Exception as exc:  # noqa: BLE001 - the content may still be in progress
            pytest.skip(f"lesson {lesson:02d} of the course bank does not load yet: {exc}")
        namespace: dict[str, Any] = {}
        for cell in cells:
            if cell.cell_type == "code":
                run(cell.source, namespace)  # the source notebook passes its own tests
        assert {name: namespace[name] for name in key} == key


# --------------------------------------------------------------------------------------------
# A seeded graded quiz: same questions, shuffled letters, the key follows, graded the same way
# --------------------------------------------------------------------------------------------

SEED = "graded-test-seed-51b7"


def test_without_a_seed_the_graded_quiz_has_the_widgets_letters(bank: Path) -> None:
    from rightsize.quiz import load_lesson
    from rightsize.quiz.graded import graded_quiz

    assert graded_quiz(3, bank).quiz == load_lesson(3, bank).public()
    assert graded_cells(3, quiz_dir=bank) == graded_cells(3, quiz_dir=bank, variant_seed=None)


def test_a_seeded_quiz_moves_the_letters_and_the_key_follows(bank: Path) -> None:
    cells = graded_cells(3, quiz_dir=bank, points_per_question=2, variant_seed=SEED)
    key = answer_key("03", quiz_dir=bank, variant_seed=SEED)
    public_key = answer_key("03", quiz_dir=bank)
    assert key != public_key  # copying the self-paced widget's letters does not pass
    text = by_id(cells, "l03-knee-text").source
    right_letter = key[SINGLE]
    assert f"- **{right_letter})** The server is saturated and requests queue" in text
    for cell in cells:
        assert SEED not in cell.source
    # graded like any quiz: the seeded key scores, the public key does not (for a moved answer)
    assert score(cells, "l03-knee", f'{SINGLE} = "{right_letter}"').points == 2
    assert score(cells, "l03-knee", f'{SINGLE} = "b"').points == (2 if right_letter == "b" else 0)
    assert score(cells, "l03-goodput-misses", f"{MULTIPLE} = {key[MULTIPLE]!r}").points == 2


def test_a_seeded_quiz_is_the_same_for_the_same_seed(bank: Path) -> None:
    assert graded_cells(3, quiz_dir=bank, variant_seed=SEED) == graded_cells(3, quiz_dir=bank, variant_seed=SEED)


def test_hands_on_work_carries_most_of_every_lessons_points() -> None:
    """Exercises and the manually graded memo carry at least 60% of each released lesson's points."""
    import json

    lessons = sorted((Path(__file__).resolve().parent.parent / "lessons").glob("[0-9][0-9]-*.ipynb"))
    assert len(lessons) >= 11
    for path in lessons:
        graded = [c["metadata"]["nbgrader"] for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                  if "points" in c.get("metadata", {}).get("nbgrader", {})]
        quiz = sum(m["points"] for m in graded if re.match(r"l\d\d-", m["grade_id"]))
        total = sum(m["points"] for m in graded)
        assert quiz > 0 and (total - quiz) / total >= 0.6, (path.name, total - quiz, quiz)
