"""``rightsize quiz``: check the quiz bank and print a lesson's quiz without its answers.

    rightsize quiz validate [--quiz-dir DIR] [--partial] [--solutions-dir DIR]
    rightsize quiz show LESSON [--quiz-dir DIR]
"""

from __future__ import annotations

import argparse
from collections import Counter


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    quiz = sub.add_parser("quiz", help="check the quiz bank or print a lesson's quiz",
                          description="The end-of-lesson quiz bank (quizzes/lessonNN.yaml).")
    commands = quiz.add_subparsers(dest="quiz_command", metavar="QUIZ_COMMAND")
    quiz.set_defaults(handler=lambda args: _help(quiz))

    validate = commands.add_parser("validate", help="check every rule of quizzes/FORMAT.md")
    validate.add_argument("--quiz-dir", metavar="DIR",
                          help="the bank folder (default: RIGHTSIZE_QUIZ_DIR, else ./quizzes)")
    validate.add_argument("--partial", action="store_true",
                          help="skip the minimum counts, the coverage tags and the section tags (a bank being written)")
    validate.add_argument("--solutions-dir", metavar="DIR",
                          help="the lesson notebooks the section tags name (default: solutions/ beside the bank)")
    validate.set_defaults(handler=validate_command)

    show = commands.add_parser("show", help="print a lesson's quiz as text, without answers")
    show.add_argument("lesson", help="the lesson number, for example 2 or 02")
    show.add_argument("--quiz-dir", metavar="DIR", help="the bank folder")
    show.set_defaults(handler=show_command)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def validate_command(args: argparse.Namespace) -> int:
    """Print each problem on one line (``FILE: ID: problem``), or a summary when there are none."""
    from .bank import LETTERS, load_bank, position_counts, quiz_dir, validate_bank
    from .variants import VariantCheck

    folder = quiz_dir(args.quiz_dir)
    relaxed = {"min_per_lesson": 0, "min_total": 0, "require_coverage": False,
               "require_sections": False} if args.partial else {}
    checked: list[VariantCheck] = []
    problems = validate_bank(folder, solutions_dir=args.solutions_dir, variant_checks=checked,
                             **relaxed)  # type: ignore[arg-type]
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) in the quiz bank {folder}")
        return 1
    bank = load_bank(folder)
    print(f"quiz bank {folder}: OK")
    total = 0
    for key, lesson in sorted(bank.items()):
        kinds = Counter(q.type for q in lesson.questions)
        total += len(lesson.questions)
        print(f"  lesson {key}: {len(lesson.questions):3d} questions ({kinds['single']} single, "
              f"{kinds['multiple']} multiple)  {lesson.title}")
    print(f"  total: {total} questions in {len(bank)} lessons")
    counts = position_counts(q for lesson in bank.values() for q in lesson.questions)
    singles = sum(counts.values())
    if singles:
        balance = "  ".join(f"{x} {counts[x]} ({counts[x] / singles:.0%})" for x in LETTERS)
        print(f"  correct position over {singles} single questions: {balance}")
    if checked:
        sampled = [c.question_id for c in checked if not c.exhaustive]
        print(f"  variants: {len(checked)} variant questions, {sum(c.checked for c in checked)} variants checked"
              + (f" (sampled for {', '.join(sampled)})" if sampled else " (every variant)"))
    return 0


def show_command(args: argparse.Namespace) -> int:
    """Print the quiz of one lesson as text: questions and choices, no answers."""
    from .bank import load_lesson
    from .text import quiz_text

    print(quiz_text(load_lesson(args.lesson, args.quiz_dir)), end="")
    return 0
