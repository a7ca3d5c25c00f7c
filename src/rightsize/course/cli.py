"""``rightsize course``: build, collect, autograde, export and feedback for the nbgrader course.

    rightsize course build [--course-dir DIR] [--quiz-dir DIR] [--variant-seed SECRET]
    rightsize course collect ASSIGNMENT FOLDER
    rightsize course autograde ASSIGNMENT [--workers N] [--timeout S] [--force]
    rightsize course export [--out grades.csv]
    rightsize course feedback ASSIGNMENT
    rightsize course check-lessons
    rightsize course check-lesson NN [NN ...] [--work DIR]

autograder/README.md is the instructor's guide.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ._nbgrader import fast_imports


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    course = sub.add_parser("course", help="the autograder: build, collect, autograde, export, feedback",
                            description="Run the course's nbgrader autograder (see autograder/README.md).")
    commands = course.add_subparsers(dest="course_command", metavar="COURSE_COMMAND")
    course.set_defaults(handler=lambda args: (course.print_help(), 2)[1])

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--course-dir", type=Path, metavar="DIR",
                       help="the nbgrader course folder (default: autograder/course, or RIGHTSIZE_COURSE_DIR)")
        p.add_argument("--verbose", action="store_true", help="show nbgrader's own log")

    build = commands.add_parser("build",
                                help="make the nbgrader course and lessons/ from solutions/ and the quiz bank")
    common(build)
    build.add_argument("--quiz-dir", type=Path, metavar="DIR",
                       help="the quiz bank (default: RIGHTSIZE_QUIZ_DIR, else the repository's quizzes/)")
    build.add_argument("--lessons-dir", type=Path, metavar="DIR",
                       help="where the student notebooks go (default: lessons/)")
    build.add_argument("--lessons-only", action="store_true",
                       help="make the student notebooks only, without computing the references grading needs")
    build.add_argument("--recordings", type=Path, metavar="DIR",
                       help="recorded model answers the solutions replay while their references are computed "
                            "(default: as for autograde)")
    build.add_argument("--variant-seed", metavar="SECRET",
                       help="make the graded quizzes from variants (new numbers, shuffled choices, graded-only "
                            "questions); the same secret gives the same quizzes (default: RIGHTSIZE_VARIANT_SEED, "
                            "else variant-seed.txt in the quiz bank, else none: the public bank). Student "
                            "notebooks then go to <course-dir>/lessons unless --lessons-dir is given")
    build.set_defaults(handler=build_command)

    check = commands.add_parser("check-lessons", help="fail if lessons/ is stale against solutions/ and quizzes/")
    check.set_defaults(handler=check_command)

    lesson = commands.add_parser("check-lesson",
                                 help="run a lesson live, then autograde its solution (full marks) and "
                                      "its unmodified student version (zero)")
    lesson.add_argument("lessons", nargs="+", metavar="NN", help="lesson numbers (03) or solutions/ paths")
    lesson.add_argument("--work", type=Path, metavar="DIR",
                        help="scratch folder, kept for inspection (default: a temporary one, removed)")
    lesson.set_defaults(handler=check_lesson_command)

    site = commands.add_parser("site", help="run every lesson as a new student would and render it to HTML",
                               description="Read before you run: execute each student notebook in lessons/ "
                                           "top to bottom in a fresh kernel (live, on this machine) and write "
                                           "one HTML page per lesson, plots included, with an index.")
    site.add_argument("--out", type=Path, default=Path("build/site"), metavar="DIR",
                      help="where the pages go (default build/site)")
    site.add_argument("--only", nargs="+", metavar="NN", help="only these lessons (e.g. 01 04)")
    site.add_argument("--timeout", type=float, default=300, metavar="S", help="seconds a cell may take (300)")
    site.set_defaults(handler=site_command)

    collect = commands.add_parser("collect", help="copy gathered submissions into submitted/<student>/<assignment>/")
    common(collect)
    collect.add_argument("assignment", help="the assignment, e.g. 02-profiling-one-request")
    collect.add_argument("folder", type=Path, help="a folder of <student>/ folders or <student>.ipynb files")
    collect.add_argument("--timestamp", metavar="ISO",
                         help="the submission time to record, e.g. 2026-12-01T17:00:00+00:00 (default: now); "
                              "file modification times are never used")
    collect.set_defaults(handler=collect_command)

    grade = commands.add_parser("autograde", help="grade every submission of an assignment in sandboxes")
    common(grade)
    grade.add_argument("assignment", help="the assignment, e.g. 02-profiling-one-request")
    grade.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    grade.add_argument("--timeout", type=float, metavar="S",
                       help="seconds per cell before it is interrupted (default: Execute.timeout of the config)")
    grade.add_argument("--force", action="store_true", help="regrade submissions already graded")
    grade.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    grade.add_argument("--sandbox", choices=["bwrap", "unshare", "none"],
                       help="force one sandbox (default: bwrap, else unshare as root)")
    grade.add_argument("--unsafe-no-sandbox", action="store_true",
                       help="allow grading without isolation when no sandbox works (trusted code only)")
    grade.add_argument("--memory-mb", type=int, default=4096,
                       help="memory of each sandbox, all its processes together (default 4096)")
    grade.add_argument("--cpu-seconds", type=int, default=300, help="CPU seconds per process (default 300)")
    grade.add_argument("--recordings", type=Path, metavar="DIR",
                       help="recorded model answers, mounted read-only (default: RIGHTSIZE_RECORDINGS)")
    grade.add_argument("--wall-seconds", type=float, default=600,
                       help="wall-clock seconds one notebook may take in all, enforced from outside (default 600)")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the sandboxes on the workers of this Dask scheduler (tcp://host:8786)")
    grade.set_defaults(handler=autograde_command)

    export = commands.add_parser("export", help="per-question grades and totals as CSV")
    common(export)
    export.add_argument("--out", type=Path, default=Path("grades.csv"),
                        help="the per-question CSV; totals go next to it as NAME-totals.csv (default grades.csv)")
    export.add_argument("--assignment", help="only this assignment")
    export.set_defaults(handler=export_command)

    feedback = commands.add_parser("feedback", help="an HTML report per student, without hidden tests")
    common(feedback)
    feedback.add_argument("assignment")
    feedback.add_argument("--student", help="only this student")
    feedback.set_defaults(handler=feedback_command)


def build_command(args: argparse.Namespace) -> int:
    fast_imports()
    from ..quiz.bank import QuizBankError, quiz_dir
    from ..quiz.variants import find_variant_seed
    from .build import build_course

    try:
        bank: Path | None = quiz_dir(args.quiz_dir)
    except QuizBankError:
        bank = None  # the build reports a missing bank itself
    seed, seed_source = find_variant_seed(args.variant_seed, bank)
    started = time.monotonic()
    report = build_course(course_dir=args.course_dir, quiz_dir=args.quiz_dir, lessons_dir=args.lessons_dir,
                          verbose=args.verbose, recordings=args.recordings, references=not args.lessons_only,
                          variant_seed=seed)
    for assignment, lesson in zip(report.assignments, report.lessons):
        fresh = ("references computed" if assignment in report.referenced else
                 "no references: --lessons-only" if args.lessons_only else "references unchanged")
        print(f"  {assignment}: source, release, {lesson} ({fresh})")
    if not report.assignments:
        print("  no solutions/NN-*.ipynb yet: nothing to build")
    if report.seeded:
        print(f"graded quiz = variants from the seed in {seed_source}: {report.regenerated} questions with new "
              f"numbers, {report.shuffled} with shuffled choices, {report.drawn} drawn from the graded-only pool")
    else:
        print("graded quiz = the public bank; pass --variant-seed for variants")
    print(f"course built in {report.course_dir} ({time.monotonic() - started:.1f} s)")
    return 0


def check_command(args: argparse.Namespace) -> int:
    fast_imports()
    from .build import check_lessons_fresh

    problems = check_lessons_fresh()
    for problem in problems:
        print(problem)
    print("lessons/ is up to date" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def site_command(args: argparse.Namespace) -> int:
    fast_imports()
    from ._nbgrader import find_repo_root
    from .site import build_site

    lessons = find_repo_root() / "lessons"
    started = time.monotonic()
    pages = build_site(lessons, args.out, timeout=args.timeout, only=args.only)
    for page in pages:
        print(f"  {page.path} ({page.seconds:.0f} s)" + "".join(f"\n    FAILED {p}" for p in page.problems))
    if not pages:
        print(f"no lessons matched in {lessons}")
        return 1
    failed = sum(bool(page.problems) for page in pages)
    print(f"site written to {args.out / 'index.html'} in {time.monotonic() - started:.0f} s"
          + (f"; {failed} lesson(s) had failing cells" if failed else ""))
    return 1 if failed else 0


def check_lesson_command(args: argparse.Namespace) -> int:
    import tempfile

    fast_imports()
    from ._nbgrader import find_repo_root
    from .build import solution_notebooks
    from .check import check_lesson

    root = find_repo_root()
    known = solution_notebooks(root / "solutions")
    chosen: list[Path] = []
    for item in args.lessons:
        path = Path(item)
        matches = [path] if path.suffix == ".ipynb" else [nb for nb in known if nb.name[:2] == item.zfill(2)]
        if not matches or not matches[0].is_file():
            print(f"no lesson {item!r}: known are {', '.join(nb.stem for nb in known) or 'none'}", file=sys.stderr)
            return 2
        chosen.append(matches[0])
    failed = 0
    with tempfile.TemporaryDirectory(prefix="rightsize-check-") as scratch:
        for solution in chosen:
            work = (args.work or Path(scratch)) / solution.stem
            result = check_lesson(solution, work, repo_root=root)
            print(result.summary())
            for problem in result.problems:
                print(f"  - {problem}")
            failed += not result.ok
    return 1 if failed else 0


def collect_command(args: argparse.Namespace) -> int:
    fast_imports()
    from .collect import collect_submissions

    import datetime as dt

    when = None
    if args.timestamp:
        try:
            when = dt.datetime.fromisoformat(args.timestamp)
        except ValueError:
            print(f"--timestamp {args.timestamp!r} is not an ISO time such as 2026-12-01T17:00:00+00:00",
                  file=sys.stderr)
            return 2
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
    report = collect_submissions(args.assignment, args.folder, args.course_dir, timestamp=when)
    for student, refused in sorted(report.refused.items()):
        for refusal in refused:
            print(f"  {student}: not taken: {refusal}")
    print(f"collected {len(report.students)} submission(s) of {args.assignment}: "
          f"{', '.join(report.students) or 'none'}")
    return 0


def autograde_command(args: argparse.Namespace) -> int:
    fast_imports()
    from .autograde import SubmissionOutcome, autograde
    from .sandbox import Limits

    started = time.monotonic()

    def show(outcome: SubmissionOutcome) -> None:
        line = f"  {outcome.student:<24} {outcome.status:<8} {outcome.score:g}/{outcome.max_score:g}"
        if outcome.seconds:
            line += f"  {outcome.seconds:.1f} s"
        if outcome.reason:
            line += f"  ({outcome.reason[:160]})"
        print(line, flush=True)

    limits = Limits(cpu_seconds=args.cpu_seconds, memory_bytes=args.memory_mb << 20, wall_seconds=args.wall_seconds)
    outcomes = autograde(args.assignment, args.course_dir, workers=args.workers, timeout=args.timeout,
                         force=args.force, students=args.student, unsafe=args.unsafe_no_sandbox,
                         sandbox=args.sandbox, limits=limits, recordings=args.recordings,
                         verbose=args.verbose, progress=show, scheduler=args.scheduler)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if outcome.status == "skipped":
            show(outcome)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no submissions found"
    print(f"{args.assignment}: {summary} in {time.monotonic() - started:.1f} s")
    if counts.get("error"):
        print("some submissions could not be graded (see above); rerun the same command to retry them",
              file=sys.stderr)
        return 1
    return 0


def export_command(args: argparse.Namespace) -> int:
    fast_imports()
    from .export import export_grades

    report = export_grades(args.course_dir, args.out, assignment=args.assignment)
    print(f"wrote {report.questions_csv} ({report.question_rows} rows) and {report.totals_csv} "
          f"({report.total_rows} rows)")
    return 0


def feedback_command(args: argparse.Namespace) -> int:
    fast_imports()
    from .feedback import generate_feedback

    report = generate_feedback(args.assignment, args.course_dir, student=args.student, verbose=args.verbose)
    for note in report.notes:
        print(f"  {note}")
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    print(f"wrote {len(report.files)} feedback page(s), each checked for hidden tests and live markup")
    return 1 if report.problems else 0
