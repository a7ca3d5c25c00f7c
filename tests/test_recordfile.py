"""The one recording format: sessions of a header and records, one reader, clear errors."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from rightsize import recordfile
from rightsize.recordfile import RecordingFormatError

SHIPPED = Path(str(resources.files("rightsize").joinpath("data")))
KIND_OF_FOLDER = {"recordings": "latency", "faults": "faults", "eval_cache": "evaluation"}


def test_sessions_round_trip_with_when_and_where(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    first = recordfile.header("responses", note="one")
    recordfile.append(path, first, [{"type": "response", "key": "a"}, {"type": "response", "key": "b"}])
    recordfile.append(path, None, [{"type": "response", "key": "c"}])  # the same session goes on
    recordfile.append(path, recordfile.header("responses"), [{"type": "response", "key": "d"}])
    sessions = recordfile.read(path, "responses")
    assert [[r["key"] for r in s.records] for s in sessions] == [["a", "b", "c"], ["d"]]
    assert [s.line for s in sessions] == [1, 5]
    head = sessions[0].header
    assert (head["kind"], head["format"], head["note"]) == ("responses", recordfile.FORMAT, "one")
    assert head["created"][:4].isdigit() and sessions[0].machine["cores"] >= 1 and sessions[0].machine["python"]
    assert [r["key"] for _, r in recordfile.records(path, "responses", "response")] == ["a", "b", "c", "d"]


def test_write_replaces_and_rewrite_drops_empty_sessions(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    recordfile.write(path, recordfile.header("faults"), [{"type": "outcome", "n": 1}])
    recordfile.write(path, recordfile.header("faults"), [{"type": "outcome", "n": 2}])
    (only,) = recordfile.read(path, "faults")
    assert only.records == [{"type": "outcome", "n": 2}]
    recordfile.append(path, recordfile.header("faults"), [{"type": "outcome", "n": 3}])
    sessions = recordfile.read(path)
    sessions[0].records = []
    recordfile.rewrite(path, sessions)
    assert [s.records for s in recordfile.read(path)] == [[{"type": "outcome", "n": 3}]]
    sessions = recordfile.read(path)
    sessions[0].records = []
    assert recordfile.rewrite(path, sessions) is None and not path.exists()


@pytest.mark.parametrize(("text", "message"), [
    ('{"type":"header","kind":"responses","format":2}\n{"type":"response","key":"a"}\n{"type":"resp',
     r"r.jsonl line 3: cut off: the recording was interrupted"),
    ('{"type":"header","kind":"responses","format":2}\nnot json\n{"type":"response"}\n',
     r"r.jsonl line 2: not a JSON line"),
    ('[1, 2]\n', r"line 1: a JSON list, not an object"),
    ('{"type":"header","kind":"latency","format":2}\n', r"line 1: a recording of latency, not of responses"),
    ('{"type":"header","kind":"responses","format":99}\n', r"format 99 is newer than this rightsize reads"),
    ('{"type":"header","kind":"responses","format":2}\n{"key":"a"}\n', r"line 2: a line without a type"),
])
def test_a_bad_file_names_itself_the_line_and_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecordingFormatError, match=message):
        recordfile.read(path, "responses")


def test_binary_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(RecordingFormatError, match="junk.jsonl: not a text file"):
        recordfile.read(junk)
    with pytest.raises(RecordingFormatError, match="cannot be read"):
        recordfile.read(tmp_path / "absent.jsonl")


def test_format_one_files_are_still_read(tmp_path: Path) -> None:
    answers = tmp_path / "old-answers.jsonl"  # format 1 answers: no header, no type
    answers.write_text(json.dumps({"key": "k1", "chunks": []}) + "\n")
    ((session, record),) = list(recordfile.records(answers, "responses", "response"))
    assert record["key"] == "k1" and session.header["format"] == 1 and session.line == 0
    evals = tmp_path / "old-eval.jsonl"  # format 1 evaluation sessions: a "meta" line, machine inline
    evals.write_text("\n".join(json.dumps(x) for x in (
        {"type": "meta", "measured_at": "2026-11-22T08:31:20+00:00", "cpu": "x", "cores": 2, "name": "n"},
        {"type": "record", "record": {"id": "t1"}})) + "\n")
    (session,) = recordfile.read(evals, "evaluation")
    assert session.header["created"] == "2026-11-22T08:31:20+00:00" and session.machine == {"cpu": "x", "cores": 2}
    assert session.header["name"] == "n" and session.records == [{"type": "record", "record": {"id": "t1"}}]


@pytest.mark.parametrize("folder", sorted(KIND_OF_FOLDER))
def test_every_shipped_recording_is_in_the_current_format(folder: str) -> None:
    files = sorted((SHIPPED / folder).rglob("*.jsonl"))
    assert files, f"no shipped recordings in {folder}"
    for path in files:
        sessions = recordfile.read(path, KIND_OF_FOLDER[folder])
        assert sessions and all(s.line > 0 for s in sessions), path
        for session in sessions:
            head = session.header
            assert (head["kind"], head["format"]) == (KIND_OF_FOLDER[folder], recordfile.FORMAT), path
            assert head["created"][:4].isdigit() and session.records, path
