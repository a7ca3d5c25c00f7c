"""The course's one recording format: JSON lines in sessions, each opened by a header, and one reader.

Every file rightsize records measurements or answers into uses it: recorded model answers
(:mod:`rightsize.responses`), latency recordings (:mod:`rightsize.profiling.record`), recorded
lab-server faults (:mod:`rightsize.routing.fault_replay`), the evaluation cache
(:mod:`rightsize.evals.cache`) and the runs of a lesson's experiment (:mod:`rightsize.profiling.prefill`). A file is one or more *sessions*; a session is a header line, then
its records::

    {"type": "header", "kind": "responses", "format": 2, "created": "2026-12-01T03:04:05+00:00",
     "machine": {"cpu": ..., "cores": 2, "os": ..., "python": ..., "load_average_1m": 0.4, ...}, ...}
    {"type": "response", ...}
    {"type": "response", ...}

``kind`` says what the records are; ``machine`` says where and when they were measured (one
:func:`machine_info` for all of them). :func:`read` checks every line and reports a problem with
the file and the line ("responses.jsonl line 12: cut off: the recording was interrupted while
this line was written; delete it"), never a raw JSON error in the middle of a model call.

Files written before this format (format 1: answers without a header, evaluation sessions opened
by a ``"meta"`` line with the machine's fields inline) are still read.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RightsizeError

__all__ = ["FORMAT", "RecordingFormatError", "Session", "append", "header", "machine_info", "read", "records",
           "rewrite", "write"]

FORMAT = 2
KINDS = ("responses", "latency", "faults", "evaluation", "experiment")
_LEGACY_MACHINE = ("cpu", "cores", "os", "platform", "python", "load_average_1m", "llama_cpp")


class RecordingFormatError(RightsizeError, ValueError):
    """A recording file that cannot be read; the message names the file and the line."""


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """Where numbers were measured: CPU, cores, load average, OS, Python and the course's versions."""
    from importlib.metadata import PackageNotFoundError, version

    info: dict[str, Any] = {"cpu": _cpu_model(), "cores": os.cpu_count(), "os": platform.platform(terse=True),
                            "python": platform.python_version()}
    with contextlib.suppress(OSError):
        info["load_average_1m"] = round(os.getloadavg()[0], 2)
    for key, dist in (("llama_cpp", "llama-cpp-python"), ("rightsize", "rightsize-course")):
        with contextlib.suppress(PackageNotFoundError):  # not installed: nothing to report
            info[key] = version(dist)
    return info


def header(kind: str, **fields: Any) -> dict[str, Any]:
    """A session header for records of ``kind``: the format, when, the machine, and ``fields``."""
    if kind not in KINDS:
        raise ValueError(f"unknown recording kind {kind!r}; one of {', '.join(KINDS)}")
    return {"type": "header", "kind": kind, "format": FORMAT,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "machine": machine_info(), **fields}


@dataclass
class Session:
    """One header and the records after it (``line``: the header's line number, 0 when implicit)."""

    header: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    line: int = 0

    @property
    def machine(self) -> dict[str, Any]:
        return dict(self.header.get("machine") or {})


def _legacy_header(data: dict[str, Any], kind: str | None) -> dict[str, Any]:
    """A format-1 ``meta`` line (machine fields inline) as a header."""
    machine = {k: data[k] for k in _LEGACY_MACHINE if k in data}
    rest = {k: v for k, v in data.items() if k not in machine and k != "type"}
    return {"type": "header", "kind": kind, "format": 1, "created": data.get("measured_at"), "machine": machine,
            **rest}


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecordingFormatError(f"{path}: not a text file: is it a rightsize recording?") from None
    except OSError as exc:
        raise RecordingFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            last = number == len(lines) or (number == len(lines) - 1 and not lines[-1])
            if last and not text.endswith("\n"):
                raise RecordingFormatError(f"{path} line {number}: cut off: the recording was interrupted "
                                           "while this line was written; delete that line") from None
            raise RecordingFormatError(f"{path} line {number}: not a JSON line ({exc.msg}); is this a rightsize "
                                       "recording?") from None
        if not isinstance(data, dict):
            raise RecordingFormatError(f"{path} line {number}: a JSON {type(data).__name__}, not an object")
        yield number, data


def read(path: str | Path, kind: str | None = None) -> list[Session]:
    """The sessions of a recording file; with ``kind``, headers of another kind are an error."""
    path = Path(path)
    sessions: list[Session] = []
    for number, data in _lines(path):
        record_type = data.get("type")
        if record_type == "header" or record_type == "meta":
            head = data if record_type == "header" else _legacy_header(data, kind)
            found = head.get("kind")
            if kind is not None and found not in (None, kind):
                raise RecordingFormatError(f"{path} line {number}: a recording of {found}, not of {kind}")
            if int(head.get("format") or 1) > FORMAT:
                raise RecordingFormatError(f"{path} line {number}: format {head.get('format')} is newer than this "
                                           f"rightsize reads ({FORMAT}); update the course package")
            sessions.append(Session(head, [], number))
            continue
        legacy = not sessions or int(sessions[-1].header.get("format") or 1) == 1
        if record_type is None and legacy and kind == "responses" and "key" in data:  # format 1: no header, no type
            data = {"type": "response", **data}
        elif record_type is None:
            raise RecordingFormatError(f"{path} line {number}: a line without a type")
        if not sessions:
            sessions.append(Session({"type": "header", "kind": kind, "format": 1, "machine": {}}, [], 0))
        sessions[-1].records.append(data)
    return sessions


def records(path: str | Path, kind: str, record_type: str) -> Iterator[tuple[Session, dict[str, Any]]]:
    """Every record of ``record_type`` in a file, with the session it belongs to."""
    for session in read(path, kind):
        for record in session.records:
            if record.get("type") == record_type:
                yield session, record


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def append(path: str | Path, session_header: Mapping[str, Any] | None, items: Iterable[Mapping[str, Any]]) -> Path:
    """Append records (after ``session_header``, when given) to a recording file, making it if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ([_dump(session_header)] if session_header is not None else []) + [_dump(item) for item in items]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return path


def write(path: str | Path, session_header: Mapping[str, Any], items: Iterable[Mapping[str, Any]]) -> Path:
    """Write a recording file of one session, replacing the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(_dump(line) + "\n" for line in (session_header, *items)), encoding="utf-8")
    os.replace(tmp, path)
    return path


def rewrite(path: str | Path, sessions: Iterable[Session]) -> Path | None:
    """Replace a file with these sessions (those left with no records are dropped); with none left,
    the file is deleted and None returned."""
    path = Path(path)
    lines = [line for s in sessions if s.records for line in (s.header, *s.records)]
    if not lines:
        path.unlink(missing_ok=True)
        return None
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(_dump(line) + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)
    return path
