"""The quiz bank: the real bank follows FORMAT.md, and the validator catches each rule broken.

Most tests write a synthetic bank to a temporary folder (10 lessons x 12 questions, every
coverage tag, answer positions balanced, each question tagged with a section of a small lesson
notebook written beside it), break one rule, and check that the problem names the file and the
question id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rightsize.cli import main
from rightsize.errors import RightsizeError
from rightsize.quiz import QuizBankError, check_bank, load_bank, load_lesson
from rightsize.quiz.bank import COVERAGE_TAGS, quiz_dir
from rightsize.quiz.bank import Problem, is_banned_choice, lesson_key, validate_bank

REPO_QUIZZES = Path(__file__).resolve().parent.parent / "quizzes"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml keeps these tests fast
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# --------------------------------------------------------------------------------------------
# A synthetic bank
# --------------------------------------------------------------------------------------------

def _question(lesson: str, n: int, correct_at: int, tags: list[str], kind: str = "single") -> dict[str, Any]:
    choices = [{"text": f"Option {letter} of question {n}", "correct": False,
                "why": f"Because {letter} is how it is ({lesson}-{n})."} for letter in "abcd"]
    if kind == "single":
        choices[correct_at]["correct"] = True
    else:
        choices[0]["correct"] = choices[2]["correct"] = True
    return {"id": f"l{lesson}-question-{n}", "objective": "Check the idea", "type": kind,
            "difficulty": "easy", "tags": tags, "scenario": False, "section": SECTION,
            "stem": f"Synthetic stem {n} of lesson {lesson}?\n", "choices": choices}


SECTION = "What the lesson teaches"


def write_notebook(path: Path, *markdown: str) -> Path:
    """A lesson notebook holding these Markdown cells (and one code cell), as Jupyter saves it."""
    cells = [{"cell_type": "markdown", "id": f"md{i}", "metadata": {}, "source": text.splitlines(keepends=True)}
             for i, text in enumerate(markdown)]
    cells.append({"cell_type": "code", "id": "code", "metadata": {}, "execution_count": None, "outputs": [],
                  "source": ["# Not a heading: a comment in code\n"]})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def write_bank(folder: Path, lessons: int = 10, per_lesson: int = 12) -> Path:
    """A bank that follows every default rule: positions rotate a-d, one multiple per lesson; its
    lesson notebooks (``solutions/`` beside it) each have the heading every question names."""
    folder.mkdir(parents=True, exist_ok=True)
    for lesson_number in range(lessons):
        write_notebook(folder.parent / "solutions" / f"{lesson_number:02d}-lesson.ipynb",
                       f"# Lesson {lesson_number:02d}\n\nIntro.", f"## 1. {SECTION}\n\nText.",
                       "```python\n# 2. Inside a code block\n```\n\n### Exercise 1 · Try it (2 points)")
    position = 0
    tag_cycle = 0
    for lesson_number in range(lessons):
        lesson = f"{lesson_number:02d}"
        questions = []
        for n in range(per_lesson):
            tags = [COVERAGE_TAGS[tag_cycle % len(COVERAGE_TAGS)], "free-tag"]
            tag_cycle += 1
            kind = "multiple" if n == per_lesson - 1 else "single"
            questions.append(_question(lesson, n, position % 4, tags, kind))
            position += kind == "single"
        data = {"lesson": lesson, "title": f"Lesson {lesson}", "questions": questions}
        (folder / f"lesson{lesson}.yaml").write_text(yaml.dump(data, Dumper=_DUMPER, sort_keys=False))
    return folder


def edit(folder: Path, lesson: str, change: Any) -> None:
    """Load lessonNN.yaml, let ``change(data)`` modify it, write it back."""
    path = folder / f"lesson{lesson}.yaml"
    data = yaml.load(path.read_text(), Loader=_LOADER)
    change(data)
    path.write_text(yaml.dump(data, Dumper=_DUMPER, sort_keys=False))


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    return write_bank(tmp_path / "quizzes")


def all_correct(question: dict[str, Any]) -> None:
    for choice in question["choices"]:
        choice["correct"] = True


def only(problems: list[Problem], text: str) -> Problem:
    """The one problem whose message contains ``text`` (fails listing all problems otherwise)."""
    found = [p for p in problems if text in p.message]
    assert len(found) == 1, "\n".join(map(str, problems))
    return found[0]


# --------------------------------------------------------------------------------------------
# The real bank
# --------------------------------------------------------------------------------------------

def test_the_course_bank_follows_every_rule() -> None:
    lessons = check_bank(REPO_QUIZZES)  # the FORMAT.md defaults
    assert sorted(lessons) == [f"{n:02d}" for n in range(11)]


# --------------------------------------------------------------------------------------------
# A valid synthetic bank
# --------------------------------------------------------------------------------------------

def test_a_valid_bank_has_no_problems(bank: Path) -> None:
    assert validate_bank(bank) == []
    lessons = check_bank(bank)
    assert len(lessons) == 10 and len(lessons["03"].questions) == 12
    assert lessons["03"].questions[0].correct_letters == ["b"]  # 33rd single: 33 % 4 = 1


def test_load_lesson_accepts_numbers_and_names(bank: Path) -> None:
    for name in (3, "3", "03", "lesson03"):
        assert load_lesson(name, bank).lesson == "03"
    assert lesson_key("l07") == "07"
    with pytest.raises(ValueError, match="not a lesson number"):
        lesson_key("three")


def test_a_missing_lesson_names_the_lessons_there(tmp_path: Path) -> None:
    folder = write_bank(tmp_path / "q", lessons=2)
    with pytest.raises(QuizBankError, match=r"no quiz for lesson 05.*lessons: 00, 01"):
        load_lesson(5, folder)


# --------------------------------------------------------------------------------------------
# Each rule, broken once
# --------------------------------------------------------------------------------------------

def test_malformed_yaml_names_the_file_and_line(bank: Path) -> None:
    (bank / "lesson04.yaml").write_text('lesson: "04"\ntitle: Broken\nquestions:\n  - id: l04-x\n'
                                        "    stem: [unclosed\n    type: single\n")
    problem = only(validate_bank(bank), "YAML syntax error")
    assert problem.file.endswith("lesson04.yaml") and problem.line is not None
    assert "line" in str(problem)


def test_a_duplicate_key_is_an_error_with_its_line(bank: Path) -> None:
    path = bank / "lesson02.yaml"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "objective:" in line)
    lines.insert(at + 1, lines[at].replace("Check the idea", "Again"))
    path.write_text("\n".join(lines) + "\n")
    problem = only(validate_bank(bank), "appears twice")
    assert problem.file.endswith("lesson02.yaml") and "line" in problem.message
    assert (problem.question_id, problem.line) == ("l02-question-0", at + 2)  # the second one
    assert f"at lines {at + 1} and {at + 2}" in problem.message


def test_a_missing_why_names_file_question_and_choice(bank: Path) -> None:
    edit(bank, "03", lambda d: d["questions"][4]["choices"][1].pop("why"))
    problem = only(validate_bank(bank), "why")
    assert problem.file.endswith("lesson03.yaml")
    assert problem.question_id == "l03-question-4"
    assert "choice b" in problem.message and "missing" in problem.message
    assert str(problem).startswith(f"{problem.file}: l03-question-4: ")
    # the line of choice b, the mapping that lacks the key
    assert problem.line == line_of(bank / "lesson03.yaml", "- id: l03-question-4", "- text:", 2)


def line_of(path: Path, after: str, text: str, nth: int = 1) -> int:
    """The line (1-based) of the ``nth`` line starting with ``text``, after the line that is ``after``."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    start = lines.index(after)
    return [i for i, line in enumerate(lines) if i > start and line.startswith(text)][nth - 1] + 1


def test_a_schema_problem_has_the_line_of_its_key(bank: Path) -> None:
    edit(bank, "03", lambda d: d["questions"][4]["choices"][2].update(correct="yes"))
    problem = only(validate_bank(bank), "true or false")
    assert problem.question_id == "l03-question-4" and "choice c: `correct`" in problem.message
    path = bank / "lesson03.yaml"
    assert problem.line == line_of(path, "- id: l03-question-4", "correct:", 3)
    assert problem.line != line_of(path, "lesson: '03'", "- id: l03-question-4")  # not just the question's


def test_a_misspelled_key_gets_did_you_mean_at_its_line(bank: Path) -> None:
    def misspell(d: dict[str, Any]) -> None:
        d["titel"] = d.pop("title")
        question = d["questions"][2]
        question["objectve"] = question.pop("objective")
        question["choices"][1]["whyy"] = question["choices"][1].pop("why")

    edit(bank, "06", misspell)
    problems = validate_bank(bank)
    path = bank / "lesson06.yaml"
    header = only(problems, "`titel`")
    assert "did you mean 'title'?" in header.message and header.question_id is None
    assert header.line == line_of(path, "lesson: '06'", "titel:")
    objective = only(problems, "`objectve`")
    assert objective.message.startswith("`objectve` is not a field of the format (did you mean 'objective'?)")
    assert (objective.question_id, objective.line) == ("l06-question-2", line_of(path, "- id: l06-question-2",
                                                                                "objectve:"))
    why = only(problems, "`whyy`")
    assert "choice b: `whyy`" in why.message and "did you mean 'why'?" in why.message
    assert why.line == line_of(path, "- id: l06-question-2", "whyy:")
    assert "`objective` is missing" in str(only(problems, "`objective`"))


def test_an_empty_why_is_a_problem(bank: Path) -> None:
    edit(bank, "03", lambda d: d["questions"][2]["choices"][3].update(why="  "))
    problem = only(validate_bank(bank), "empty `why`")
    assert (problem.question_id, problem.file.endswith("lesson03.yaml")) == ("l03-question-2", True)


def test_two_correct_choices_on_a_single_question(bank: Path) -> None:
    edit(bank, "05", lambda d: all_correct(d["questions"][0]))
    problem = only(validate_bank(bank), "exactly one correct")
    assert problem.question_id == "l05-question-0" and problem.file.endswith("lesson05.yaml")


def test_a_multiple_question_needs_two_correct_choices(bank: Path) -> None:
    edit(bank, "05", lambda d: d["questions"][11]["choices"][2].update(correct=False))
    problem = only(validate_bank(bank), "at least two correct")
    assert problem.question_id == "l05-question-11"


def test_a_duplicate_id_in_one_file(bank: Path) -> None:
    edit(bank, "07", lambda d: d["questions"][3].update(id="l07-question-5"))
    problem = only(validate_bank(bank), "used twice")
    assert problem.question_id == "l07-question-5" and problem.file.endswith("lesson07.yaml")


def test_a_duplicate_id_across_files_names_both_files(bank: Path) -> None:
    copied = yaml.load((bank / "lesson07.yaml").read_text(), Loader=_LOADER)["questions"][3]
    edit(bank, "08", lambda d: d["questions"].append(copied))
    problem = only(validate_bank(bank), "also used in")
    assert problem.question_id == "l07-question-3"
    assert problem.file.endswith("lesson08.yaml") and "lesson07.yaml" in problem.message


def test_an_id_with_another_lessons_prefix(bank: Path) -> None:
    edit(bank, "03", lambda d: d["questions"][1].update(id="l04-borrowed"))
    problem = only(validate_bank(bank), "start it with l03-")
    assert problem.question_id == "l04-borrowed" and problem.file.endswith("lesson03.yaml")


def test_an_id_that_is_not_l_nn_slug(bank: Path) -> None:
    edit(bank, "03", lambda d: d["questions"][1].update(id="Q3 Latency"))
    problem = only(validate_bank(bank), "id must look like l03-")
    assert problem.question_id == "Q3 Latency"


def test_six_choices_is_too_many(bank: Path) -> None:
    def six(d: dict[str, Any]) -> None:
        d["questions"][2]["choices"] += [{"text": "Fifth", "correct": False, "why": "No."},
                                         {"text": "Sixth", "correct": False, "why": "No."}]
    edit(bank, "01", six)
    problem = only(validate_bank(bank), "6 choices")
    assert problem.question_id == "l01-question-2" and problem.file.endswith("lesson01.yaml")


def test_two_choices_is_too_few(bank: Path) -> None:
    edit(bank, "01", lambda d: d["questions"][1]["choices"].pop(3))  # keeps its correct choice a
    edit(bank, "01", lambda d: d["questions"][1]["choices"].pop(2))
    problem = only(validate_bank(bank), "2 choices")
    assert problem.question_id == "l01-question-1"


def test_all_of_the_above_is_banned(bank: Path) -> None:
    edit(bank, "09", lambda d: d["questions"][5]["choices"][3].update(text="All of the above"))
    problem = only(validate_bank(bank), "all/none-of-the-above")
    assert problem.question_id == "l09-question-5" and problem.file.endswith("lesson09.yaml")
    assert "choice d" in problem.message


@pytest.mark.parametrize("text", [
    "All of the above", "none of the above.", "Both of the above", "All of these", "None of the options",
    "All the above", "None of them", "Neither of these", "All of the above are correct", "None", "Both",
    "None of these answers", "All three", "Every option is correct",
    "There is no correct answer", "None of the other options", "**None of the above**", "NONE OF THE ABOVE",
])
def test_banned_choice_variants(text: str) -> None:
    assert is_banned_choice(text)


@pytest.mark.parametrize("text", [
    "None of these requests hit the cache", "All requests retry twice", "Both models cost the same",
    "`None`", "A cascade", "Neither is cheaper at 1M requests per day", "Each request costs $0.002",
    "A/B test the prompt", "Any model under $1 per million tokens", "A and B", "Models A and C",
])
def test_real_claims_are_not_banned(text: str) -> None:
    assert not is_banned_choice(text)


def test_unbalanced_answer_positions(bank: Path) -> None:
    def all_at_a(d: dict[str, Any]) -> None:
        for q in d["questions"]:
            if q["type"] == "single":
                for i, c in enumerate(q["choices"]):
                    c["correct"] = i == 0
    for lesson in ("00", "01", "02", "03"):
        edit(bank, lesson, all_at_a)
    problem = only(validate_bank(bank), "position a holds")
    assert "more than 35%" in problem.message and "lesson0" in problem.message
    assert problem.file == str(bank)
    # a private bank can switch the rule off
    assert validate_bank(bank, max_position_share=None) == []


def test_a_missing_coverage_tag(bank: Path) -> None:
    for lesson in (f"{n:02d}" for n in range(10)):
        edit(bank, lesson, lambda d: [q.update(tags=[t for t in q["tags"] if t != "routing"])
                                      for q in d["questions"]])
    problem = only(validate_bank(bank), "'routing'")
    assert problem.file == str(bank)
    assert validate_bank(bank, require_coverage=False) == []


def test_too_few_questions_in_a_lesson_and_in_the_bank(bank: Path) -> None:
    edit(bank, "04", lambda d: d.update(questions=d["questions"][:11]))
    problems = validate_bank(bank)
    lesson = only(problems, "at least 12")
    assert lesson.file.endswith("lesson04.yaml") and "only 11" in lesson.message
    assert not [p for p in problems if "in the bank" in p.message]  # 119 >= 110
    bank_wide = only(validate_bank(bank, min_total=120), "at least 120")
    assert "only 119 questions in the bank" in bank_wide.message and bank_wide.file == str(bank)
    # partial banks (tests, a private bank being written) can lower the bar
    assert validate_bank(bank, min_per_lesson=11) == []


def test_the_lesson_field_must_match_the_file_name(bank: Path) -> None:
    edit(bank, "02", lambda d: d.update(lesson="03"))
    problems = validate_bank(bank)
    problem = only(problems, "does not match the file name")
    assert problem.file.endswith("lesson02.yaml")


def test_schema_errors_name_the_field(bank: Path) -> None:
    edit(bank, "02", lambda d: d["questions"][0].update(stme="typo"))
    edit(bank, "02", lambda d: d["questions"][1]["choices"][0].update(correct="yes"))
    edit(bank, "02", lambda d: d["questions"][2].update(difficulty="simple"))
    edit(bank, "02", lambda d: d.update(lesson=2))
    problems = validate_bank(bank)
    assert only(problems, "`stme`").question_id == "l02-question-0"
    assert only(problems, "true or false").question_id == "l02-question-1"
    assert only(problems, "`difficulty`").question_id == "l02-question-2"
    assert "quotes" in only(problems, "`lesson`").message


def test_a_bad_file_name(bank: Path) -> None:
    (bank / "lesson3.yaml").write_text((bank / "lesson03.yaml").read_text())
    problems = validate_bank(bank)
    assert any(p.file.endswith("lesson3.yaml") and "lessonNN.yaml" in p.message for p in problems)


def test_every_problem_is_reported_not_just_the_first(bank: Path) -> None:
    edit(bank, "01", lambda d: d["questions"][0]["choices"][0].update(why=""))
    edit(bank, "06", lambda d: d["questions"][3]["choices"][2].update(text="None of the above"))
    edit(bank, "06", lambda d: all_correct(d["questions"][4]))
    problems = validate_bank(bank)
    assert {p.question_id for p in problems} == {"l01-question-0", "l06-question-3", "l06-question-4"}
    with pytest.raises(QuizBankError) as raised:
        check_bank(bank)
    assert isinstance(raised.value, RightsizeError)
    assert len(raised.value.problems) == 3
    assert "l06-question-3" in str(raised.value) and "rightsize quiz validate" in str(raised.value)


def test_loading_refuses_a_broken_file_but_not_bank_policy(tmp_path: Path) -> None:
    folder = write_bank(tmp_path / "q", lessons=1, per_lesson=3)  # far too few for the policy
    assert len(load_lesson(0, folder).questions) == 3
    assert list(load_bank(folder)) == ["00"]
    edit(folder, "00", lambda d: d["questions"][0]["choices"][1].update(correct=True))
    with pytest.raises(QuizBankError, match="l00-question-0.*exactly one correct"):
        load_lesson(0, folder)


def test_an_empty_folder_is_a_problem(tmp_path: Path) -> None:
    problems = validate_bank(tmp_path)
    assert len(problems) == 1 and "no lessonNN.yaml" in problems[0].message


# --------------------------------------------------------------------------------------------
# Finding the bank
# --------------------------------------------------------------------------------------------

def test_quiz_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write_bank(tmp_path / "explicit", lessons=1, per_lesson=3)
    from_env = write_bank(tmp_path / "env", lessons=1, per_lesson=3)
    walked = write_bank(tmp_path / "course" / "quizzes", lessons=1, per_lesson=3)
    deep = tmp_path / "course" / "lessons" / "deeper"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.setenv("RIGHTSIZE_QUIZ_DIR", str(from_env))
    assert quiz_dir(explicit) == explicit.resolve()
    assert quiz_dir() == from_env.resolve()
    monkeypatch.delenv("RIGHTSIZE_QUIZ_DIR")
    assert quiz_dir() == walked.resolve()
    monkeypatch.chdir(tmp_path)  # no quizzes/ above: the repository's own bank
    assert quiz_dir() == REPO_QUIZZES.resolve()


def test_quiz_dir_that_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QuizBankError, match="does not exist"):
        quiz_dir(tmp_path / "nope")
    monkeypatch.setenv("RIGHTSIZE_QUIZ_DIR", str(tmp_path / "nope"))
    with pytest.raises(QuizBankError, match="RIGHTSIZE_QUIZ_DIR"):
        quiz_dir()


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------

def test_cli_validate_ok_prints_a_summary(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quiz", "validate", "--quiz-dir", str(bank)]) == 0
    out = capsys.readouterr().out
    assert "lesson 03:  12 questions (11 single, 1 multiple)" in out
    assert "total: 120 questions" in out
    assert "a 28 (25%)" in out and "b 28 (25%)" in out


def test_cli_validate_lists_each_problem(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(bank, "03", lambda d: d["questions"][4]["choices"][1].pop("why"))
    edit(bank, "05", lambda d: all_correct(d["questions"][0]))
    assert main(["quiz", "validate", "--quiz-dir", str(bank)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith(str(bank / "lesson03.yaml") + ": l03-question-4: choice b") for line in lines)
    assert any(line.startswith(str(bank / "lesson05.yaml") + ": l05-question-0: ") for line in lines)
    assert lines[-1].startswith("2 problem(s)")


def test_cli_validate_partial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_bank(tmp_path / "q", lessons=1, per_lesson=8)
    assert main(["quiz", "validate", "--quiz-dir", str(folder)]) == 1
    assert main(["quiz", "validate", "--partial", "--quiz-dir", str(folder)]) == 0


def test_cli_show_prints_no_answers(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quiz", "show", "3", "--quiz-dir", str(bank)]) == 0
    out = capsys.readouterr().out
    assert "Synthetic stem 0 of lesson 03?" in out and "a) Option a of question 0" in out
    assert "Because" not in out and "correct" not in out.lower()


def test_cli_errors_say_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quiz", "show", "3", "--quiz-dir", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Section tags: every question names a heading it is answerable from
# --------------------------------------------------------------------------------------------

def test_the_course_bank_names_existing_sections() -> None:
    from rightsize.quiz.sections import find_solutions_dir, lesson_sections, section_problem

    sections = lesson_sections(find_solutions_dir(REPO_QUIZZES))  # type: ignore[arg-type]
    assert sorted(sections) == [f"{n:02d}" for n in range(11)]
    bank = load_bank(REPO_QUIZZES)
    untagged = [q.id for lesson in bank.values() for q in lesson.questions if not q.section]
    assert untagged == []
    wrong = {q.id: section_problem(q.section or "", key, sections)
             for key, lesson in bank.items() for q in lesson.questions}
    assert {qid: p for qid, p in wrong.items() if p} == {}


def test_headings_are_read_from_markdown_not_code(bank: Path) -> None:
    from rightsize.quiz.sections import notebook_headings

    headings = notebook_headings(bank.parent / "solutions" / "03-lesson.ipynb")
    assert headings == ["Lesson 03", f"1. {SECTION}", "Exercise 1 · Try it (2 points)"]


@pytest.mark.parametrize("section", [SECTION.upper(), f"2. {SECTION}", "Exercise 1 · Try it",
                                     "Exercise 1 · Try it (3 points)", "lesson 01: What the lesson teaches"])
def test_sections_match_without_number_points_and_case(bank: Path, section: str) -> None:
    edit(bank, "03", lambda d: d["questions"][2].update(section=section))
    assert validate_bank(bank) == []


def test_a_section_that_is_no_heading_fails_naming_the_question(bank: Path) -> None:
    edit(bank, "04", lambda d: d["questions"][5].update(section="What the lesson teachs"))
    problem = only(validate_bank(bank), "is not a heading")
    assert problem.question_id == "l04-question-5" and problem.file.endswith("lesson04.yaml")
    assert "04-lesson.ipynb" in problem.message and f"'1. {SECTION}'" in problem.message  # the closest


def test_a_heading_inside_a_code_block_is_not_a_section(bank: Path) -> None:
    edit(bank, "04", lambda d: d["questions"][1].update(section="Inside a code block"))
    assert only(validate_bank(bank), "is not a heading").question_id == "l04-question-1"


def test_a_section_of_a_later_lesson_fails(bank: Path) -> None:
    edit(bank, "02", lambda d: d["questions"][0].update(section=f"lesson 05: {SECTION}"))
    problem = only(validate_bank(bank), "after this lesson 02")
    assert problem.question_id == "l02-question-0"


def test_a_missing_section_fails_unless_partial(bank: Path) -> None:
    edit(bank, "06", lambda d: d["questions"][3].pop("section"))
    assert only(validate_bank(bank), "no section").question_id == "l06-question-3"
    assert validate_bank(bank, require_sections=False) == []


def test_sections_need_the_notebooks(tmp_path: Path) -> None:
    folder = write_bank(tmp_path / "private" / "quizzes", lessons=1, per_lesson=3)
    empty = tmp_path / "no-notebooks"
    empty.mkdir()
    relaxed: dict[str, Any] = {"min_per_lesson": 0, "min_total": 0, "require_coverage": False,
                               "max_position_share": None}
    problems = validate_bank(folder, solutions_dir=empty, **relaxed)
    assert "no lesson notebooks" in only(problems, "cannot check the section tags").message
    assert validate_bank(folder, solutions_dir=tmp_path / "private" / "solutions", **relaxed) == []


def test_cli_validate_names_the_section_problem(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(bank, "07", lambda d: d["questions"][4].update(section="Nowhere"))
    assert main(["quiz", "validate", "--quiz-dir", str(bank)]) == 1
    out = capsys.readouterr().out
    assert f"{bank / 'lesson07.yaml'}: l07-question-4: section 'Nowhere' is not a heading" in out
    assert main(["quiz", "validate", "--partial", "--quiz-dir", str(bank)]) == 0
