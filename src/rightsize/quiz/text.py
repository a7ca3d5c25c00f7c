"""Answer-free text and Markdown forms of a lesson quiz.

Used wherever a quiz is shown without a live kernel: ``rightsize quiz show``, ``print(quiz)``,
the ``text/plain`` and ``text/markdown`` fallbacks of the widget (a notebook rendered on GitHub or
by nbconvert) and the read-only cells of the graded quiz. Nothing here reads ``correct`` or
``why``, so nothing here can leak the answer key. A whole quiz is shown as the widget shows it
(:meth:`LessonQuiz.public`): no graded-only questions, variant questions at their defaults.
"""

from __future__ import annotations

import re
import textwrap

from .bank import LETTERS, LessonQuiz, Question

__all__ = [
    "RUN_IN_JUPYTER",
    "choice_label",
    "markdown_safe",
    "question_markdown",
    "question_text",
    "quiz_markdown",
    "quiz_text",
]

RUN_IN_JUPYTER = ("This is a read-only copy of the quiz. Run the cell in Jupyter (JupyterLab or "
                  "Binder) to pick answers and check them.")


def choice_label(letter: str, text: str) -> str:
    """How a choice is labelled everywhere: ``b) text`` on one line."""
    return f"{letter}) {' '.join(text.split())}"


def markdown_safe(text: str) -> str:
    """Text for a Markdown cell: ``$`` escaped outside code, so Jupyter's MathJax leaves prices alone."""
    out = []
    in_fence = False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if in_fence or line.lstrip().startswith("```") or line.startswith(("    ", "\t")):
            out.append(line)
            continue
        parts = re.split(r"(`[^`]*`)", line)
        out.append("".join(p if p.startswith("`") else p.replace("$", "\\$") for p in parts))
    return "\n".join(out)


def _kind(question: Question) -> str:
    return "select all that apply" if question.type == "multiple" else "pick one"


def question_text(question: Question, number: int) -> str:
    """One question as plain text: the numbered stem, the kind, then the lettered choices."""
    stem = question.stem.strip().splitlines() or [""]
    indent = " " * len(f"{number}. ")
    lines = [f"{number}. {stem[0]}", *(indent + line if line.strip() else "" for line in stem[1:])]
    lines.append(f"{indent}({_kind(question)})")
    for letter, choice in zip(LETTERS, question.choices):
        wrapped = textwrap.wrap(choice_label(letter, choice.text), width=96,
                                initial_indent=indent, subsequent_indent=indent + "   ")
        lines.extend(wrapped)
    return "\n".join(lines)


def quiz_text(quiz: LessonQuiz) -> str:
    """The whole public quiz as plain text, without answers or explanations."""
    quiz = quiz.public()
    parts = [f"Lesson {quiz.lesson} quiz: {quiz.title} ({len(quiz.questions)} questions)",
             RUN_IN_JUPYTER]
    parts.extend(question_text(q, i) for i, q in enumerate(quiz.questions, 1))
    return "\n\n".join(parts) + "\n"


def question_markdown(question: Question, number: int) -> str:
    """One question as Markdown: a bold number, the stem, the kind, a list of lettered choices."""
    choices = "\n".join(f"- **{letter})** {markdown_safe(' '.join(choice.text.split()))}"
                        for letter, choice in zip(LETTERS, question.choices))
    return f"**{number}.** {markdown_safe(question.stem.strip())}\n\n*({_kind(question)})*\n\n{choices}"


def quiz_markdown(quiz: LessonQuiz) -> str:
    """The whole public quiz as Markdown, without answers or explanations."""
    quiz = quiz.public()
    parts = [f"### Lesson {quiz.lesson} quiz: {markdown_safe(quiz.title)}", f"*{RUN_IN_JUPYTER}*"]
    parts.extend(question_markdown(q, i) for i, q in enumerate(quiz.questions, 1))
    return "\n\n".join(parts) + "\n"
