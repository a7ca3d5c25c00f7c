"""Variant questions and the seeded graded quiz.

A small synthetic bank (one lesson: a variant question, three concept questions and a graded-only
one) checks the format, the validator's per-variant checks and the seeded quiz; the course's own
bank is checked for its variants, and the unseeded graded quiz against the committed ``lessons/``.
Builds go to temporary folders, never to the repository's ``lessons/``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from rightsize.quiz import QuizBankError, graded_cells, load_lesson, validate_bank
from rightsize.quiz.bank import LETTERS, Question
from rightsize.quiz.formulas import Formula, FormulaError, Template
from rightsize.quiz.graded import graded_quiz, variable_name
from rightsize.quiz.variants import (
    SEED_ENV,
    SEED_FILE,
    check_variants,
    find_variant_seed,
    render_default,
    seeded_quiz,
    space_size,
)

ROOT = Path(__file__).resolve().parent.parent
REPO_QUIZZES = ROOT / "quizzes"
SEED = "a-test-seed-9f3c1d"

VARIANT = {
    "id": "l03-closed-loop",
    "objective": "Relate concurrency, latency and throughput",
    "type": "single", "difficulty": "medium", "tags": ["throughput"], "scenario": True,
    "section": "What the lesson teaches",
    "variables": {"slots": {"default": 8, "choices": [4, 8, 16]},
                  "latency": {"default": 2.0, "min": 2.0, "max": 5.0, "step": 1.0}},
    "where": ["slots / latency >= 1"],
    "let": {"rate": "slots / latency"},
    "answer": "rate",
    "stem": "A closed loop keeps {slots} requests in flight; each takes {latency:.1f} s. Throughput?\n",
    "choices": [
        {"text": "{slots * latency:g} requests/s", "value": "slots * latency", "correct": False,
         "why": "{slots} x {latency:g} is request-seconds, not a rate."},
        {"text": "{rate:g} requests/s", "value": "rate", "correct": True,
         "why": "{slots} / {latency:g} = {rate:g} requests per second."},
        {"text": "{1 / latency:g} requests/s", "value": "1 / latency", "correct": False,
         "why": "That is one slot's rate; there are {slots}."},
    ],
}


def concept(n: int, graded_only: bool = False) -> dict[str, Any]:
    kind = "pool" if graded_only else "concept"
    question: dict[str, Any] = {
        "id": f"l03-{kind}-{n}", "objective": "Know the idea", "type": "single", "difficulty": "easy",
        "tags": ["idea"], "scenario": False, "section": "What the lesson teaches",
        "stem": f"{kind.title()} question {n}?\n",
        "choices": [{"text": f"{kind} {n} choice {x}", "correct": x == "b", "why": f"Because {x}."}
                    for x in "abcd"],
    }
    if graded_only:
        question["graded_only"] = True
    return question


def write_lesson(folder: Path, questions: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"lesson": "03", "title": "Under load", "questions": questions}
    (folder / "lesson03.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


RELAXED: dict[str, Any] = {"min_per_lesson": 0, "min_total": 0, "require_coverage": False,
                           "max_position_share": None, "require_sections": False}


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    return write_lesson(tmp_path / "quizzes",
                        [concept(1), json.loads(json.dumps(VARIANT)), concept(2), concept(3), concept(4, True)])


def with_variant(tmp_path: Path, change: Any) -> Path:
    """A bank holding only the variant question, changed by ``change(question)``."""
    question = json.loads(json.dumps(VARIANT))
    change(question)
    return write_lesson(tmp_path / "changed", [question])


def problems_of(folder: Path) -> list[str]:
    return [str(p) for p in validate_bank(folder, **RELAXED)]


# --------------------------------------------------------------------------------------------
# Formulas and templates: evaluated without eval
# --------------------------------------------------------------------------------------------

def test_formulas_compute_and_templates_format() -> None:
    assert Formula("(e2e - ttft) / (tokens - 1)").evaluate({"e2e": 3000, "ttft": 600, "tokens": 121}) == 20
    assert Formula("ceil(x / 3) if x > 2 else max(x, 1)").evaluate({"x": 7}) == 3
    assert Template("{e2e:,} ms, {tpot:.1f} ms, {{literal}}").render({"e2e": 3000, "tpot": 19.83}) == \
        "3,000 ms, 19.8 ms, {literal}"


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "x.__class__", "open('f')",
                                  "'a' * 3", "[x for x in y]", "x[0]", "lambda: 1"])
def test_formulas_refuse_anything_but_arithmetic(text: str) -> None:
    with pytest.raises(FormulaError):
        Formula(text).evaluate({"x": 1, "y": [1]})


def test_formula_errors_say_what_failed() -> None:
    with pytest.raises(FormulaError, match="divides by zero"):
        Formula("1 / (a - b)").evaluate({"a": 2, "b": 2})
    with pytest.raises(FormulaError, match="reads missing, which is not defined"):
        Formula("a + missing").check_names(["a"])
    with pytest.raises(FormulaError, match="conversion"):
        Template("{a!r}")


# --------------------------------------------------------------------------------------------
# The format and the validator
# --------------------------------------------------------------------------------------------

def test_a_valid_variant_bank_has_no_problems(bank: Path) -> None:
    assert problems_of(bank) == []
    raw = next(q for q in load_lesson(3, bank).questions if q.variables)
    assert space_size(raw) == 12
    result = check_variants(raw)
    assert result.exhaustive and result.checked == 11 and result.problems == []  # slots=4, latency=5 excluded


def test_the_public_quiz_shows_defaults_and_hides_graded_only(bank: Path) -> None:
    public = load_lesson(3, bank).public()
    assert [q.id for q in public.questions] == ["l03-concept-1", "l03-closed-loop", "l03-concept-2", "l03-concept-3"]
    shown = public.questions[1]
    assert shown.stem == "A closed loop keeps 8 requests in flight; each takes 2.0 s. Throughput?\n"
    assert [c.text for c in shown.choices] == ["16 requests/s", "4 requests/s", "0.5 requests/s"]
    assert shown.choices[1].why == "8 / 2 = 4 requests per second."
    assert shown.variables is None and all(c.value is None for c in shown.choices)


def test_a_wrong_claimed_answer_is_caught_naming_question_and_values(tmp_path: Path) -> None:
    def claim_the_distractor(q: dict[str, Any]) -> None:
        q["choices"][0]["correct"], q["choices"][1]["correct"] = True, False
    problems = problems_of(with_variant(tmp_path, claim_the_distractor))
    assert problems, "a wrong claim must be a problem"
    first = problems[0]
    assert "lesson03.yaml: l03-closed-loop:" in first and "slots=8, latency=2.0" in first
    assert "choice a is marked correct, but its value 16 != the answer 4" in first


def test_an_answer_that_is_right_only_for_the_defaults_is_caught(tmp_path: Path) -> None:
    # 8 / 2 happens to equal 8 - 4: right for the defaults, wrong for every other variant
    problems = problems_of(with_variant(tmp_path, lambda q: q["choices"][1].update(value="slots - 4")))
    joined = "\n".join(problems)
    assert "l03-closed-loop" in joined and "with slots=4, latency=2.0" in joined
    assert "choice b is marked correct, but its value 0 != the answer 2" in joined
    assert "more failing variant" in joined  # the rest are counted, not listed


def test_a_division_by_zero_names_the_values(tmp_path: Path) -> None:
    problems = problems_of(with_variant(tmp_path, lambda q: q["let"].update(rate="slots / (latency - 3)")))
    assert any("l03-closed-loop" in p and "latency=3.0" in p and "divides by zero" in p for p in problems)


def test_coinciding_distractors_are_caught(tmp_path: Path) -> None:
    same_as_a = "{slots * latency:g} requests/s"
    problems = problems_of(with_variant(tmp_path, lambda q: q["choices"][2].update(text=same_as_a)))
    assert any("l03-closed-loop" in p and "2 choices have the same text '16 requests/s'" in p for p in problems)


@pytest.mark.parametrize(("change", "message"), [
    (lambda q: q["let"].update(rate="slots / latncy"), "let rate: 'slots / latncy' reads latncy"),
    (lambda q: q.update(stem="{slots} and {unknown}?"), "stem: 'unknown' reads unknown"),
    (lambda q: q["choices"][0].pop("value"), "choice a needs exactly one of `value`"),
    (lambda q: q["variables"]["slots"].update(default=5), "the default 5 is not one of its values"),
    (lambda q: q.update(scenario=False), "set scenario: true"),
    (lambda q: q["variables"].update(max={"default": 1, "choices": [1]}), "variable max: not a valid"),
    (lambda q: q["choices"][1].update(text="{rate:d} requests/s"), "cannot format"),
])
def test_broken_variant_fields_are_reported_when_the_file_is_read(tmp_path: Path, change: Any, message: str) -> None:
    folder = with_variant(tmp_path, change)
    problems = problems_of(folder)
    assert any("l03-closed-loop" in p and message in p for p in problems), "\n".join(problems)
    with pytest.raises(QuizBankError, match="l03-closed-loop"):
        load_lesson(3, folder)


def test_variant_fields_without_variables_are_refused(tmp_path: Path) -> None:
    question = concept(1)
    question["choices"][0]["value"] = "1"
    problems = [str(p) for p in validate_bank(write_lesson(tmp_path / "q", [question]), **RELAXED)]
    assert any("choice a value only mean something in a variant question" in p for p in problems)


# --------------------------------------------------------------------------------------------
# The course's bank
# --------------------------------------------------------------------------------------------

def test_every_variant_of_the_course_bank_validates() -> None:
    checked: list[Any] = []
    problems = validate_bank(REPO_QUIZZES, variant_checks=checked)
    assert problems == []
    per_lesson: dict[str, int] = {}
    for result in checked:
        assert result.exhaustive and result.checked >= 4, result.question_id
        per_lesson[result.question_id[1:3]] = per_lesson.get(result.question_id[1:3], 0) + 1
    assert per_lesson == {f"{n:02d}": per_lesson.get(f"{n:02d}", 0) for n in range(11)}
    assert min(per_lesson.values()) >= 2, per_lesson


def test_the_unseeded_graded_quiz_is_the_committed_one() -> None:
    """Variant questions keep their old numbers as defaults: the lessons' graded quiz text is unchanged."""
    for lesson in sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb")):
        committed = {c["id"]: "".join(c["source"]) for c in json.loads(lesson.read_text())["cells"]}
        built = [c for c in graded_cells(lesson.name[:2]) if c.cell_type == "markdown"]
        assert built, lesson.name
        for cell in built:
            assert committed.get(cell.id) == cell.source, f"{lesson.name}: {cell.id} differs from lessons/"


# --------------------------------------------------------------------------------------------
# The seeded graded quiz
# --------------------------------------------------------------------------------------------

def _texts(question: Question) -> list[str]:
    return [c.text for c in question.choices]


def test_a_seeded_quiz_differs_in_numbers_and_order_and_the_key_follows(bank: Path) -> None:
    raw = load_lesson(3, bank)
    public = {q.id: q for q in raw.public().questions}
    seeded = seeded_quiz(raw, SEED)
    variant = next(q for q in seeded.quiz.questions if q.id == "l03-closed-loop")
    assert variant.stem != public["l03-closed-loop"].stem
    assert seeded.regenerated == ["l03-closed-loop"]
    for question in seeded.quiz.questions:
        shown = public.get(question.id)
        if shown is not None:
            assert _texts(question) != _texts(shown)  # new numbers, or the same texts in another order
            if not question.variables and question.id != "l03-closed-loop":
                assert sorted(_texts(question)) == sorted(_texts(shown))
        right = question.choices[LETTERS.index(question.correct_letters[0])]
        assert right.text in {"concept 1 choice b", "concept 2 choice b", "concept 3 choice b",
                              "pool 4 choice b"} or "requests/s" in right.text
    # the key follows the text: the choice marked right states the right throughput for the new numbers
    found = re.search(r"keeps (\d+) requests in flight; each takes ([\d.]+) s", variant.stem)
    assert found is not None
    slots, latency = float(found.group(1)), float(found.group(2))
    stated = [float(t.split()[0]) for t in _texts(variant)]
    assert stated[LETTERS.index(variant.correct_letters[0])] == pytest.approx(slots / latency)


def test_the_same_seed_gives_the_same_quiz_and_another_seed_another(bank: Path) -> None:
    raw = load_lesson(3, bank)
    assert seeded_quiz(raw, SEED).quiz == seeded_quiz(raw, SEED).quiz
    others = {seeded_quiz(raw, f"{SEED}-{n}").quiz.model_dump_json() for n in range(5)}
    assert len(others) > 1


def test_graded_only_questions_replace_concept_questions_in_seeded_quizzes_only(bank: Path) -> None:
    unseeded = graded_quiz(3, bank)
    assert "l03-pool-4" not in [q.id for q in unseeded.quiz.questions]
    seeded = seeded_quiz(load_lesson(3, bank), SEED)
    ids = [q.id for q in seeded.quiz.questions]
    assert seeded.drawn == ["l03-pool-4"] and "l03-pool-4" in ids
    assert len(ids) == 4 and ids[1] == "l03-closed-loop"  # same length; the scenario keeps its place
    assert sum(i.startswith("l03-concept") for i in ids) == 2


def test_graded_cells_hold_no_seed_and_answer_the_seeded_key(bank: Path) -> None:
    cells = graded_cells(3, bank, variant_seed=SEED)
    assert not any(SEED in cell.source for cell in cells)
    key = {variable_name(q.id): q.correct_letters[0] for q in seeded_quiz(load_lesson(3, bank), SEED).quiz.questions}
    tests = {c.metadata["nbgrader"]["grade_id"]: c.source for c in cells if c.metadata.get("nbgrader", {}).get("grade")}
    for var, letter in key.items():
        assert any(f"'{var}', '{letter}')" in source for source in tests.values()), var


def test_a_broken_drawn_variant_stops_the_build(bank: Path) -> None:
    raw = load_lesson(3, bank)
    index = next(i for i, q in enumerate(raw.questions) if q.variables)
    broken = raw.questions[index].model_copy(update={"where": [], "let": {"rate": "slots / (latency - 2)"}})
    bad = raw.model_copy(update={"questions": [*raw.questions[:index], broken, *raw.questions[index + 1:]]})
    with pytest.raises(QuizBankError, match="l03-closed-loop.*divides by zero"):
        for n in range(40):  # a few seeds: some draw latency=2.0 and divide by zero
            seeded_quiz(bad, f"{SEED}{n}")


def test_where_the_seed_comes_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SEED_ENV, raising=False)
    assert find_variant_seed(None, tmp_path) == (None, "no seed")
    (tmp_path / SEED_FILE).write_text("# the course's secret\n\nfrom-the-file\n")
    assert find_variant_seed(None, tmp_path) == ("from-the-file", str(tmp_path / SEED_FILE))
    monkeypatch.setenv(SEED_ENV, "from-the-environment")
    assert find_variant_seed(None, tmp_path) == ("from-the-environment", SEED_ENV)
    assert find_variant_seed("from-the-flag", tmp_path) == ("from-the-flag", "--variant-seed")
    with pytest.raises(QuizBankError, match="empty"):
        find_variant_seed("  ", tmp_path)


def test_render_default_is_the_identity_for_plain_questions(bank: Path) -> None:
    plain = load_lesson(3, bank).questions[0]
    assert render_default(plain) is plain


# --------------------------------------------------------------------------------------------
# The build (temporary folders only)
# --------------------------------------------------------------------------------------------

nbgrader = pytest.importorskip("nbgrader")


@pytest.fixture(scope="module")
def one_lesson(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A solutions folder with lesson 02 only, so a build takes seconds."""
    folder = tmp_path_factory.mktemp("solutions")
    shutil.copy(ROOT / "solutions" / "02-profiling-one-request.ipynb", folder)
    return folder


def _build(tmp: Path, solutions: Path, seed: str | None, name: str) -> tuple[Any, Path]:
    from rightsize.course.build import build_course

    course = tmp / name
    report = build_course(ROOT, course, REPO_QUIZZES, None if seed else course / "lessons",
                          solutions_dir=solutions, references=False, variant_seed=seed)
    return report, course


def test_seeded_builds_are_reproducible_and_never_hold_the_seed(tmp_path: Path, one_lesson: Path) -> None:
    committed = (ROOT / "lessons" / "02-profiling-one-request.ipynb").read_bytes()
    first, course_a = _build(tmp_path, one_lesson, SEED, "a")
    second, course_b = _build(tmp_path, one_lesson, SEED, "b")
    plain, course_c = _build(tmp_path, one_lesson, None, "c")
    assert first.seeded and first.regenerated == 2 and first.shuffled == 14 and not plain.seeded
    assert first.lessons == [course_a / "lessons" / "02-profiling-one-request.ipynb"]  # not the repository's
    lesson_a, lesson_b = first.lessons[0].read_text(), second.lessons[0].read_text()
    assert lesson_a == lesson_b
    assert lesson_a != plain.lessons[0].read_text()
    seeded_cells = {c["id"]: "".join(c["source"]) for c in json.loads(lesson_a)["cells"]}
    public_cells = {c["id"]: "".join(c["source"]) for c in json.loads(committed)["cells"]}
    for qid in ("l02-tpot-from-e2e-and-ttft", "l02-max-tokens-for-e2e-budget"):  # the variant questions
        seeded_text, public_text = seeded_cells[f"{qid}-text"], public_cells[f"{qid}-text"]
        assert seeded_text.split("*(pick one)*")[0] != public_text.split("*(pick one)*")[0]  # new numbers
        assert seeded_text != public_text
    assert plain.lessons[0].read_bytes() == committed  # unseeded: the committed lesson, byte for byte
    assert (ROOT / "lessons" / "02-profiling-one-request.ipynb").read_bytes() == committed
    for folder in (course_a, course_b):
        for path in folder.rglob("*"):
            if path.is_file():
                assert SEED.encode() not in path.read_bytes(), path


def test_a_seeded_build_passes_its_seed_to_the_references(tmp_path: Path, one_lesson: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import rightsize.course.autograde as autograde
    import rightsize.course.references as references
    from rightsize.course.build import build_course

    seen: list[str | None] = []

    class Box:
        def close(self) -> None:
            pass

    monkeypatch.setattr(autograde, "_sandbox", lambda *args, **kwargs: Box())
    monkeypatch.setattr(references, "build_references",
                        lambda course_dir, assignments, **kwargs: seen.append(kwargs.get("seed")) or [])
    build_course(ROOT, tmp_path / "course", REPO_QUIZZES, tmp_path / "lessons", solutions_dir=one_lesson,
                 variant_seed=SEED)
    build_course(ROOT, tmp_path / "course", REPO_QUIZZES, tmp_path / "lessons", solutions_dir=one_lesson)
    assert seen == [SEED, None]


def test_the_build_command_says_which_quiz_it_made(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import rightsize.course.build as build
    from rightsize.cli import main

    calls: list[str | None] = []

    def fake_build(**kwargs: Any) -> Any:
        calls.append(kwargs["variant_seed"])
        return build.BuildReport(tmp_path, seeded=kwargs["variant_seed"] is not None, regenerated=20, shuffled=142)

    monkeypatch.setattr(build, "build_course", fake_build)
    monkeypatch.delenv(SEED_ENV, raising=False)
    assert main(["course", "build", "--course-dir", str(tmp_path), "--quiz-dir", str(REPO_QUIZZES)]) == 0
    assert "graded quiz = the public bank; pass --variant-seed for variants" in capsys.readouterr().out
    monkeypatch.setenv(SEED_ENV, SEED)
    assert main(["course", "build", "--course-dir", str(tmp_path), "--quiz-dir", str(REPO_QUIZZES)]) == 0
    out = capsys.readouterr().out
    assert f"variants from the seed in {SEED_ENV}: 20 questions with new numbers" in out and SEED not in out
    assert calls == [None, SEED]


def test_the_widget_shows_the_public_quiz(bank: Path) -> None:
    from rightsize.quiz import show

    widget = show(3, bank)
    assert widget is not None
    assert [view.question.id for view in widget.questions] == \
        ["l03-concept-1", "l03-closed-loop", "l03-concept-2", "l03-concept-3"]
    assert "keeps 8 requests in flight" in widget.questions[1].stem.value and "{" not in str(widget)
