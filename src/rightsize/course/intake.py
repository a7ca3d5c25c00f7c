"""Submissions are untrusted input: copy in regular files only, never following a link, within caps.

Everything the autograder reads of a submission goes through :func:`stage` first: ``collect``
copies gathered files with it, and ``autograde`` grades a staged copy, never the submitted folder
itself (nbgrader's own copy steps then only ever see regular files). :func:`stage`

- walks the folder without following anything (``lstat``, ``O_NOFOLLOW``): a symbolic link, a FIFO,
  a socket or a device is refused, named in the result with its reason, and never opened;
- refuses a regular file with more than one hard link (it is also somewhere else), and a file
  that changed into something else between the check and the open;
- stops at the caps (files, bytes per file, bytes in all, folder depth), refusing the rest;
- copies the assignment's notebooks first, so a flood of data files cannot crowd them out;
- fingerprints what it accepted (names and contents), so an unchanged submission is recognised.

A reason never quotes a file's content, only its name and what kind of thing it is.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Intake", "IntakeLimits", "Refusal", "copy_regular_tree", "stage", "stage_file"]

_SKIP_DIRS = {".ipynb_checkpoints", "__pycache__"}
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class IntakeLimits:
    """Caps on what one submission may bring in."""

    max_files: int = 200
    max_file_bytes: int = 32 << 20
    max_total_bytes: int = 64 << 20
    max_depth: int = 8
    max_entries: int = 5_000  # entries looked at before the walk gives up (a folder of 10^6 files)


@dataclass(frozen=True)
class Refusal:
    """A path of the submission that was not taken, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Intake:
    """What :func:`stage` took (relative paths) and refused, and a fingerprint of what it took."""

    files: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    total_bytes: int = 0
    fingerprint: str = ""

    def refused_notebook(self, name: str) -> Refusal | None:
        return next((r for r in self.refused if r.path == name), None)

    def summary(self, limit: int = 10) -> list[str]:
        """One line per refusal; a reason shared by many paths is one line with a count."""
        by_reason: dict[str, list[str]] = {}
        for refusal in self.refused:
            by_reason.setdefault(refusal.reason, []).append(refusal.path)
        lines = []
        for reason, paths in by_reason.items():
            if len(paths) > limit:
                lines.append(f"{len(paths)} paths ({', '.join(paths[:3])}, ...): {reason}")
            else:
                lines += [f"{path}: {reason}" for path in paths]
        return lines


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link (links are never followed)"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return "not a regular file"


def _printable(name: str) -> bool:
    return len(name) <= 200 and name.isprintable()


class _Walk:
    def __init__(self, root: Path, dest: Path, limits: IntakeLimits) -> None:
        self.root, self.dest, self.limits = root, dest, limits
        self.intake = Intake()
        self.hashes: list[tuple[str, str]] = []
        self.entries = 0
        self.over_entries = False

    def refuse(self, rel: str, reason: str) -> None:
        self.intake.refused.append(Refusal(rel, reason))

    def take(self, path: Path, rel: str, info: os.stat_result, target_rel: str | None = None) -> None:
        limits, intake = self.limits, self.intake
        if len(intake.files) >= limits.max_files:
            return self.refuse(rel, f"over the limit of {limits.max_files} files per submission")
        if info.st_nlink > 1:
            return self.refuse(rel, "a hard link to a file that is also elsewhere")
        if info.st_size > limits.max_file_bytes:
            return self.refuse(rel, f"larger than {limits.max_file_bytes >> 20} MB")
        if intake.total_bytes + info.st_size > limits.max_total_bytes:
            return self.refuse(rel, f"over the limit of {limits.max_total_bytes >> 20} MB per submission")
        try:
            fd = os.open(path, _READ)
        except OSError as exc:
            return self.refuse(rel, f"could not be opened ({exc.strerror})")
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
                return self.refuse(rel, "changed while it was being read")
            target = self.dest / (target_rel or rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            try:
                while chunk := os.read(fd, 1 << 20):
                    size += len(chunk)
                    if size > limits.max_file_bytes:
                        break
                    digest.update(chunk)
                    os.write(out, chunk)
            finally:
                os.close(out)
            if size > limits.max_file_bytes:
                target.unlink()
                return self.refuse(rel, f"larger than {limits.max_file_bytes >> 20} MB")
        finally:
            os.close(fd)
        intake.files.append(target_rel or rel)
        intake.total_bytes += size
        self.hashes.append((target_rel or rel, digest.hexdigest()))
        return None

    def walk(self, folder: Path, rel: str, depth: int, first: Iterable[str] = ()) -> None:
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            return self.refuse(rel or ".", f"could not be listed ({exc.strerror})")
        first = [n for n in first if n in names]
        ordered = first + [n for n in names if n not in set(first)]
        for name in ordered:
            self.entries += 1
            if self.entries > self.limits.max_entries:
                if not self.over_entries:
                    self.over_entries = True
                    self.refuse(rel or ".", f"more than {self.limits.max_entries} entries: the rest was not read")
                return None
            child_rel = f"{rel}/{name}" if rel else name
            if not _printable(name):
                self.refuse(child_rel.encode("unicode_escape").decode(), "a name with control characters or too long")
                continue
            path = folder / name
            try:
                info = os.lstat(path)
            except OSError as exc:
                self.refuse(child_rel, f"could not be read ({exc.strerror})")
                continue
            if stat.S_ISDIR(info.st_mode):
                if name in _SKIP_DIRS:
                    continue
                if depth >= self.limits.max_depth:
                    self.refuse(child_rel, f"folders nested more than {self.limits.max_depth} deep")
                    continue
                self.walk(path, child_rel, depth + 1)
            elif stat.S_ISREG(info.st_mode):
                self.take(path, child_rel, info)
            else:
                self.refuse(child_rel, _kind(info.st_mode))
        return None


def _fingerprint(walk: _Walk) -> None:
    digest = hashlib.sha256()
    for rel, file_hash in sorted(walk.hashes):
        digest.update(rel.encode() + b"\0" + file_hash.encode() + b"\n")
    for refusal in walk.intake.refused:  # a refused link still changes what was submitted
        digest.update(b"refused\0" + refusal.path.encode() + b"\0" + refusal.reason.encode() + b"\n")
    walk.intake.fingerprint = digest.hexdigest()


def stage_file(source: Path, dest: Path, name: str, limits: IntakeLimits | None = None) -> Intake:
    """Copy one file into the new folder ``dest`` as ``name``, with the same checks as :func:`stage`."""
    dest.mkdir(parents=True, exist_ok=False)
    walk = _Walk(source.parent, dest, limits or IntakeLimits())
    try:
        info = os.lstat(source)
    except OSError as exc:
        walk.refuse(name, f"could not be read ({exc.strerror})")
    else:
        if stat.S_ISREG(info.st_mode):
            walk.take(source, source.name, info, target_rel=name)
            walk.intake.refused = [Refusal(name, r.reason) for r in walk.intake.refused]
        else:
            walk.refuse(name, _kind(info.st_mode))
    _fingerprint(walk)
    return walk.intake


def stage(source: Path, dest: Path, limits: IntakeLimits | None = None, first: Iterable[str] = ()) -> Intake:
    """Copy the regular files of ``source`` into the new folder ``dest``, as the module says.

    ``first`` names top-level files to take before any other (the assignment's notebooks). A
    ``source`` that is itself a link or not a folder gives an intake with one refusal, ``"."``.
    """
    limits = limits or IntakeLimits()
    dest.mkdir(parents=True, exist_ok=False)
    walk = _Walk(source, dest, limits)
    try:
        info = os.lstat(source)
    except OSError as exc:
        walk.refuse(".", f"could not be read ({exc.strerror})")
    else:
        if stat.S_ISDIR(info.st_mode):
            walk.walk(source, "", 0, first)
        else:
            walk.refuse(".", "the submission folder is " + _kind(info.st_mode))
    _fingerprint(walk)
    return walk.intake


def copy_regular_tree(source: Path, dest: Path, *, skip_suffixes: tuple[str, ...] = ()) -> None:
    """Copy the regular files under ``source`` to ``dest`` (made world-readable), never following links.

    For folders the grader built itself (the autograded copy of a staged submission); anything
    that is not a regular file or a folder is skipped.
    """
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not (here / d).is_symlink()]
        rel = here.relative_to(source)
        for name in filenames:
            path = here / name
            if name.endswith(skip_suffixes) or not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            target = dest / rel / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.parent.chmod(0o755)
            fd = os.open(path, _READ)
            try:
                with open(target, "wb") as out:
                    while chunk := os.read(fd, 1 << 20):
                        out.write(chunk)
            finally:
                os.close(fd)
            target.chmod(0o644)
