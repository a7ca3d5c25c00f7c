"""``rightsize course collect``: put the notebooks you gathered into nbgrader's submitted layout.

Students of this course work in their own clone of the repository (``lessons/`` is the release),
so submissions reach the instructor by e-mail, an LMS download or a shared drive, not nbgrader's
exchange. Point this at a folder holding either

- ``<student>/<notebook>.ipynb`` (plus any data files), one folder per student, or
- ``<student>.ipynb`` files, for a one-notebook assignment (the file is renamed to the
  assignment's notebook),

and it copies them to ``<course>/submitted/<student>/<assignment>/`` through the same intake as
grading (:mod:`rightsize.course.intake`: regular files only, links and special files refused and
never followed, caps on count and size), then writes ``timestamp.txt``: the time of this
collection, or the time you give with ``--timestamp`` (the deadline day's download time from the
LMS, say). File modification times are never used: they are whatever the sender's machine said.
A ``timestamp.txt`` inside a student's folder is student data and is ignored.
"""

from __future__ import annotations

import datetime as _dt
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RightsizeError
from ._nbgrader import course_directory, default_course_dir, load_config
from .intake import IntakeLimits, Refusal, stage, stage_file

__all__ = ["CollectReport", "collect_submissions"]

_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


@dataclass
class CollectReport:
    """The students collected, and what was refused of whose submission."""

    students: list[str] = field(default_factory=list)
    refused: dict[str, list[Refusal]] = field(default_factory=dict)


def _format_time(when: _dt.datetime) -> str:
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def collect_submissions(assignment: str, source: Path, course_dir: Path | None = None, *,
                        timestamp: _dt.datetime | None = None, limits: IntakeLimits | None = None) -> CollectReport:
    """Copy submissions from ``source`` into the course (see the module docstring)."""
    course_dir = (course_dir or default_course_dir()).resolve()
    coursedir = course_directory(course_dir, load_config(course_dir))
    release = Path(coursedir.root) / coursedir.release_directory / assignment
    released = sorted(p.name for p in release.glob("*.ipynb"))
    if not released:
        raise RightsizeError(f"{assignment} has no student version in {release}: run `rightsize course build`")
    if source.is_symlink() or not source.is_dir():
        raise RightsizeError(f"{source} is not a folder of submissions")
    when = _format_time(timestamp or _dt.datetime.now(_dt.timezone.utc))
    report = CollectReport()
    with tempfile.TemporaryDirectory(prefix="rightsize-collect-") as scratch:
        for entry in sorted(source.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.suffix == ".ipynb" and not entry.is_dir():
                if len(released) != 1:
                    raise RightsizeError(f"{entry.name}: {assignment} has {len(released)} notebooks, so put each "
                                         "student's files in a folder named after the student")
                student = entry.stem
            elif entry.is_dir() or entry.is_symlink():
                student = entry.name
            else:
                continue
            if not _STUDENT_ID.match(student):
                raise RightsizeError(f"{student!r} is not usable as a student id (letters, digits, . _ - @); rename it")
            staged = Path(scratch) / student
            if entry.suffix == ".ipynb" and not entry.is_dir():
                intake = stage_file(entry, staged, released[0], limits)
            else:
                intake = stage(entry, staged, limits, first=released)
            (staged / "timestamp.txt").unlink(missing_ok=True)  # the student's own is not a record
            if not intake.files:
                report.refused[student] = intake.refused
                continue
            dest = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
            if dest.is_symlink():
                dest.unlink()
            elif dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(staged, dest, symlinks=True)
            (dest / "timestamp.txt").write_text(when, encoding="utf-8")
            report.students.append(student)
            if intake.refused:
                report.refused[student] = intake.refused
    return report
