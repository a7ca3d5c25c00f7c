"""``rightsize course collect``: put the notebooks you gathered into nbgrader's submitted layout.

Students of this course work in their own clone of the repository (``lessons/`` is the release),
so submissions reach the instructor by e-mail, an LMS download or a shared drive, not nbgrader's
exchange. Point this at a folder holding either

- ``<student>/<notebook>.ipynb`` (plus any data files), one folder per student, or
- ``<student>.ipynb`` files, for a one-notebook assignment (the file is renamed to the
  assignment's notebook),

and it copies them to ``<course>/submitted/<student>/<assignment>/`` with a ``timestamp.txt``
taken from the newest file's modification time (nbgrader uses it for late penalties).
"""

from __future__ import annotations

import datetime as _dt
import re
import shutil
from pathlib import Path

from ..errors import RightsizeError
from ._nbgrader import course_directory, default_course_dir, load_config

__all__ = ["collect_submissions"]

_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


def _timestamp(paths: list[Path]) -> str:
    newest = max(p.stat().st_mtime for p in paths)
    return _dt.datetime.fromtimestamp(newest, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def collect_submissions(assignment: str, source: Path, course_dir: Path | None = None) -> list[str]:
    """Copy submissions from ``source`` into the course; returns the student ids collected."""
    course_dir = (course_dir or default_course_dir()).resolve()
    coursedir = course_directory(course_dir, load_config(course_dir))
    release = Path(coursedir.root) / coursedir.release_directory / assignment
    released = sorted(p.name for p in release.glob("*.ipynb"))
    if not released:
        raise RightsizeError(f"{assignment} has no student version in {release}: run `rightsize course build`")
    if not source.is_dir():
        raise RightsizeError(f"{source} is not a folder of submissions")
    collected = []
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            student, files = entry.name, [p for p in entry.rglob("*") if p.is_file()]
        elif entry.suffix == ".ipynb":
            if len(released) != 1:
                raise RightsizeError(f"{entry.name}: {assignment} has {len(released)} notebooks, so put each "
                                     "student's files in a folder named after the student")
            student, files = entry.stem, [entry]
        else:
            continue
        if not _STUDENT_ID.match(student):
            raise RightsizeError(f"{student!r} is not usable as a student id (letters, digits, . _ - @); rename it")
        if not files:
            continue
        dest = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        if entry.is_dir():
            for path in files:
                target = dest / path.relative_to(entry)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        else:
            shutil.copy2(entry, dest / released[0])
        (dest / "timestamp.txt").write_text(_timestamp(files), encoding="utf-8")
        collected.append(student)
    return collected
