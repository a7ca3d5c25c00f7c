"""The self-paced end-of-lesson quiz, as ipywidgets 8 (JupyterLab 4, Notebook 7, Binder).

In a lesson notebook::

    from rightsize.quiz import show
    show(2)          # the last line of the cell, so Jupyter displays it

Each question shows its stem and lettered choices, a selector (radio buttons for ``single``,
checkboxes for ``multiple``), **Check** and **Try again** buttons and a feedback area. The score
counts questions answered right on the first check.

Keeping the answer key out of the notebook: the widgets only ever hold the stem, the choice texts
and the letters. Which letters are right and the ``why`` explanations stay in Python; feedback is
built when the learner presses Check, from the question held by the kernel. A notebook saved
before checking (widget state included) therefore holds no answers.

The choices are listed as wrapped HTML and the selector labels are just the letters: ipywidgets
renders radio and checkbox labels on one clipped line, which cuts off sentence-long choices.

Without a live kernel (GitHub, nbconvert, ``print(quiz)``) the quiz shows as text or Markdown
listing the questions and choices, without answers, and says to run the cell in Jupyter.

Tests (and curious learners) can drive it from Python::

    quiz = show(2)
    quiz.questions[0].select("b")          # or select(["a", "c"]) for a multiple question
    feedback = quiz.questions[0].check()   # feedback.correct, .message, .explanations, .html
    quiz.questions[0].try_again()
    quiz.score                             # Score(right_first_try=1, checked=1, total=12)
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from .bank import LETTERS, LessonQuiz, Question, QuizBankError, load_lesson
from .text import quiz_markdown, quiz_text

__all__ = ["Explanation", "Feedback", "QuestionView", "QuizWidget", "Score", "show"]

_RIGHT_COLOR, _WRONG_COLOR, _NOTE_COLOR = "#2e7d32", "#c62828", "#616161"


# --------------------------------------------------------------------------------------------
# Feedback and score
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Explanation:
    """The explanation of one choice, shown after checking."""

    letter: str
    text: str
    why: str
    chosen: bool
    correct: bool

    @property
    def note(self) -> str:
        """What this choice was for the learner: chosen and right, chosen and wrong, or missed."""
        if self.chosen:
            return "you chose it, and it is right" if self.correct else "you chose it, but it is wrong"
        return "you missed it: it is right" if self.correct else "not chosen"


@dataclass(frozen=True)
class Feedback:
    """The result of one Check: right or not, a one-line message and the explanations shown."""

    answered: bool
    correct: bool
    message: str
    explanations: tuple[Explanation, ...] = ()

    @property
    def text(self) -> str:
        """The feedback as plain text."""
        lines = [self.message]
        lines += [f"{e.letter}) {e.text} ({e.note}): {e.why}" for e in self.explanations]
        return "\n".join(lines)

    @property
    def html(self) -> str:
        """The feedback as the HTML the widget shows."""
        if not self.answered:
            return f'<div style="color:{_NOTE_COLOR}">{html.escape(self.message)}</div>'
        color = _RIGHT_COLOR if self.correct else _WRONG_COLOR
        mark = "&#x2705;" if self.correct else "&#x274C;"
        items = "".join(
            f'<li style="margin:2px 0"><b>{e.letter})</b> {_inline_html(e.text)} '
            f'<i style="color:{_RIGHT_COLOR if e.correct else _WRONG_COLOR}">({e.note})</i><br>'
            f"{_inline_html(e.why)}</li>"
            for e in self.explanations)
        return (f'<div style="border-left:4px solid {color};padding:2px 10px;margin:4px 0">'
                f'<div style="color:{color}"><b>{mark} {html.escape(self.message)}</b></div>'
                f'<ul style="margin:4px 0;padding-left:20px">{items}</ul></div>')


@dataclass(frozen=True)
class Score:
    """Questions right on the first check, questions checked so far, and questions in the quiz."""

    right_first_try: int
    checked: int
    total: int

    def __str__(self) -> str:
        return f"{self.right_first_try} of {self.total} right on the first try"


# --------------------------------------------------------------------------------------------
# A little Markdown for stems and explanations (inline code, bold, italics, lists, code blocks)
# --------------------------------------------------------------------------------------------

_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<b>\1</b>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<i>\1</i>"),
]
_CODE_SPAN = re.compile(r"`([^`]+)`")
_BULLET = re.compile(r"^\s{0,3}[-*] ")
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|?\s*$")


def _inline_html(text: str) -> str:
    """Escape text and render inline code, bold and italics."""
    parts = _CODE_SPAN.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # inside backticks: code, no further formatting
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            escaped = html.escape(part)
            for pattern, replacement in _INLINE:
                escaped = pattern.sub(replacement, escaped)
            out.append(escaped)
    return "".join(out)


def _is_fence(line: str) -> bool:
    return line.lstrip().startswith("```")


def _is_table_row(line: str) -> bool:
    return line.lstrip().startswith("|")


def _is_indented_code(line: str) -> bool:
    return line.startswith(("    ", "\t"))


def _table_html(rows: list[str]) -> str:
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows
             if not _TABLE_RULE.match(row)]
    if not cells:
        return ""
    style = "border:1px solid #bbb;padding:2px 8px"
    head = "".join(f"<th style='{style}'>{_inline_html(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td style='{style}'>{_inline_html(c)}</td>" for c in row) + "</tr>"
                   for row in cells[1:])
    return f"<table style='border-collapse:collapse;margin:4px 0'><tr>{head}</tr>{body}</table>"


def _markdown_html(text: str) -> str:
    """A small, safe Markdown subset as HTML: paragraphs, ``-`` lists, tables, code blocks and
    inline code, bold and italics; everything else is escaped text."""
    lines = text.strip("\n").splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif _is_fence(line):
            body, i = [], i + 1
            while i < len(lines) and not _is_fence(lines[i]):
                body.append(lines[i])
                i += 1
            i += 1
            blocks.append(_pre_html(body))
        elif _is_indented_code(line):
            body = []
            while i < len(lines) and (_is_indented_code(lines[i]) or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            blocks.append(_pre_html(body))
        elif _BULLET.match(line):
            items = []
            while i < len(lines) and _BULLET.match(lines[i]):
                items.append(f"<li>{_inline_html(_BULLET.sub('', lines[i]))}</li>")
                i += 1
            blocks.append(f"<ul style='margin:4px 0'>{''.join(items)}</ul>")
        elif _is_table_row(line):
            rows = []
            while i < len(lines) and _is_table_row(lines[i]):
                rows.append(lines[i])
                i += 1
            blocks.append(_table_html(rows))
        else:
            words = []
            while i < len(lines) and lines[i].strip() and not (
                    _is_fence(lines[i]) or _BULLET.match(lines[i]) or _is_table_row(lines[i])):
                words.append(lines[i].strip())
                i += 1
            blocks.append(f"<p style='margin:4px 0'>{_inline_html(' '.join(words))}</p>")
    return "".join(blocks)


def _pre_html(lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return f"<pre style='margin:4px 0'><code>{html.escape(chr(10).join(lines))}</code></pre>"


# --------------------------------------------------------------------------------------------
# One question
# --------------------------------------------------------------------------------------------

class QuestionView:
    """The widgets of one question and the Python state behind them.

    ``radio`` is the RadioButtons of a single question (``None`` for multiple), ``checkboxes`` the
    Checkboxes of a multiple question (empty for single); ``check_button``, ``retry_button`` and
    ``feedback`` (an HTML widget) complete it; ``box`` holds them all.
    """

    def __init__(self, question: Question, number: int,
                 on_checked: Callable[[], None] | None = None) -> None:
        self.question = question
        self.number = number
        self._on_checked = on_checked
        self.attempts = 0
        self.first_try_correct: bool | None = None
        self.last_feedback: Feedback | None = None

        kind = "select all that apply" if question.type == "multiple" else "pick one"
        choices = "".join(f"<li style='margin:2px 0'><b>{letter})</b> {_inline_html(choice.text)}</li>"
                          for letter, choice in zip(LETTERS, question.choices))
        self.stem = widgets.HTML(
            f"<div style='margin-top:8px'><b>{number}.</b> {_markdown_html(question.stem)}"
            f"<div style='color:{_NOTE_COLOR}'><i>({kind})</i></div>"
            f"<ul style='list-style:none;padding-left:8px;margin:4px 0'>{choices}</ul></div>")
        self.radio: widgets.RadioButtons | None = None
        self.checkboxes: list[widgets.Checkbox] = []
        selector: widgets.Widget
        if question.type == "single":
            self.radio = widgets.RadioButtons(options=[(f"{x})", x) for x in question.letters],
                                              value=None, orientation="horizontal",
                                              description="Your answer:",
                                              style={"description_width": "initial"},
                                              layout=widgets.Layout(width="auto"))
            selector = self.radio
        else:
            self.checkboxes = [widgets.Checkbox(value=False, description=f"{x})", indent=False,
                                                layout=widgets.Layout(width="auto", margin="0 12px 0 0"))
                               for x in question.letters]
            selector = widgets.HBox([widgets.Label("Your answers:", layout=widgets.Layout(margin="0 8px 0 0")),
                                     *self.checkboxes])
        self.check_button = widgets.Button(description="Check", button_style="primary", icon="check",
                                           tooltip="Check your answer")
        self.retry_button = widgets.Button(description="Try again", icon="undo", disabled=True,
                                           tooltip="Clear your answer and the feedback")
        self.feedback = widgets.HTML("")
        self.check_button.on_click(self._handle_check)
        self.retry_button.on_click(self._handle_retry)
        self.box = widgets.VBox([self.stem, selector,
                                 widgets.HBox([self.check_button, self.retry_button]), self.feedback])

    # -- reading and setting the selection through the widgets ----------------------------
    @property
    def selected(self) -> list[str]:
        """The letters currently selected in the widgets, in order."""
        if self.radio is not None:
            return [self.radio.value] if self.radio.value else []
        return [letter for letter, box in zip(LETTERS, self.checkboxes) if box.value]

    def select(self, letters: str | Iterable[str]) -> None:
        """Select answers in the widgets: ``"b"`` for single, ``["a", "c"]`` for multiple."""
        wanted = [letters] if isinstance(letters, str) else list(letters)
        unknown = [x for x in wanted if x not in self.question.letters]
        if unknown:
            raise ValueError(f"question {self.number} has choices {', '.join(self.question.letters)}; "
                             f"{', '.join(map(repr, unknown))} is not one of them")
        if self.radio is not None:
            if len(wanted) != 1:
                raise ValueError(f"question {self.number} takes one letter, for example select(\"b\")")
            self.radio.value = wanted[0]
        else:
            for letter, box in zip(LETTERS, self.checkboxes):
                box.value = letter in wanted

    def check(self) -> Feedback:
        """Press Check and return the feedback it showed."""
        self.check_button.click()
        assert self.last_feedback is not None  # set by the click handler
        return self.last_feedback

    def try_again(self) -> None:
        """Press Try again: clear the selection and the feedback."""
        self.retry_button.click()

    # -- the button handlers -----------------------------------------------------------------
    def _handle_check(self, _button: widgets.Button | None = None) -> None:
        feedback = self._evaluate(self.selected)
        self.last_feedback = feedback
        self.feedback.value = feedback.html
        if feedback.answered:
            self.attempts += 1
            if self.first_try_correct is None:
                self.first_try_correct = feedback.correct
            self._set_locked(True)
            if self._on_checked is not None:
                self._on_checked()

    def _handle_retry(self, _button: widgets.Button | None = None) -> None:
        if self.radio is not None:
            self.radio.value = None
        for box in self.checkboxes:
            box.value = False
        self.feedback.value = ""
        self.last_feedback = None
        self._set_locked(False)

    def _set_locked(self, locked: bool) -> None:
        # after a check the answer stays as checked until Try again, so feedback matches it
        for control in [self.radio, *self.checkboxes, self.check_button]:
            if control is not None:
                control.disabled = locked
        self.retry_button.disabled = not locked

    def _evaluate(self, chosen: list[str]) -> Feedback:
        q = self.question
        if not chosen:
            what = "one answer" if q.type == "single" else "at least one answer"
            return Feedback(False, False, f"Pick {what} first, then press Check.")
        right = set(q.correct_letters)
        picked = set(chosen)
        correct = picked == right
        shown = [x for x in q.letters if x in picked or (q.type == "multiple" and x in right)]
        explanations = tuple(Explanation(x, q.choice(x).text, q.choice(x).why, x in picked, x in right)
                             for x in shown)
        if correct:
            message = "Right!" if q.type == "single" else f"Right! You found all {len(right)}."
        elif q.type == "single":
            message = "Not quite. Read why, then press Try again."
        else:
            hits, wrong = len(picked & right), len(picked - right)
            message = (f"Not quite: you picked {hits} of the {len(right)} right choices"
                       + (f" and {wrong} wrong one{'s' if wrong > 1 else ''}" if wrong else "")
                       + ". Read why, then press Try again.")
        return Feedback(True, correct, message, explanations)


# --------------------------------------------------------------------------------------------
# The whole quiz
# --------------------------------------------------------------------------------------------

class QuizWidget:
    """The quiz of one lesson: a question view per question and a running score.

    Display it by making it the last expression of a cell; ``print(quiz)`` gives the text form.
    """

    def __init__(self, quiz: LessonQuiz) -> None:
        self.quiz = quiz.public()  # no graded-only questions; variant questions at their defaults
        self.questions = [QuestionView(q, i, self._update_score) for i, q in enumerate(self.quiz.questions, 1)]
        self.score_labels = [widgets.HTML(), widgets.HTML()]
        header = widgets.HTML(
            f"<h3 style='margin:4px 0'>Lesson {html.escape(quiz.lesson)} quiz: {html.escape(quiz.title)}</h3>"
            "<div>Pick an answer, press <b>Check</b>, read why. The score counts questions you get "
            "right on the first try; <b>Try again</b> clears a question.</div>")
        self.box = widgets.VBox([header, self.score_labels[0], *(v.box for v in self.questions),
                                 self.score_labels[1]])
        self._update_score()

    @property
    def score(self) -> Score:
        """Questions right on the first try, questions checked, and questions in the quiz."""
        return Score(sum(v.first_try_correct is True for v in self.questions),
                     sum(v.first_try_correct is not None for v in self.questions),
                     len(self.questions))

    def _update_score(self) -> None:
        score = self.score
        text = f"<b>Score: {score}</b> ({score.checked} of {score.total} checked)"
        for label in self.score_labels:
            label.value = text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        """The widget view for Jupyter, with answer-free text and Markdown for everything else."""
        bundle: dict[str, Any] = dict(self.box._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = quiz_text(self.quiz)
        bundle["text/markdown"] = quiz_markdown(self.quiz)
        return bundle

    def __str__(self) -> str:
        return quiz_text(self.quiz)

    def __repr__(self) -> str:
        return f"<QuizWidget lesson {self.quiz.lesson}: {len(self.questions)} questions, {self.score}>"


def show(lesson: str | int, quiz_dir: str | Path | None = None) -> QuizWidget | None:
    """The self-paced quiz of a lesson (``2`` or ``"02"``); make it the last line of a cell.

    Under the autograder (``NBGRADER_EXECUTION`` set) the quiz bank, which holds the answers, is
    out of the notebook's reach on purpose: then this prints a note and returns None instead of
    failing, and the graded quiz cells of the lesson count.
    """
    from ..notebook import grading

    try:
        return QuizWidget(load_lesson(lesson, quiz_dir))
    except QuizBankError:
        if grading():
            print("[the self-paced quiz is not shown under the autograder: the graded quiz below counts]")
            return None
        raise
