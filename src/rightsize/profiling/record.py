"""Recordings of real runs: JSONL files with every chunk's timing, the text and the usage.

A recording makes plots and graded exercises reproducible: the lab server replays it with the
same timing over the OpenAI and Anthropic protocols (``rightsize serve --replay FILE``, model id
``replay/<name>``). A recording is data about one real run of one model on one machine; its
header line says which model, which machine, when, and with which versions, and a replay is
always served under a ``replay/`` id, never as another model.

A recording is one session of the course's recording format (:mod:`rightsize.recordfile`,
kind ``latency``)::

    {"type": "header", "kind": "latency", "format": 2, "name": ..., "model": ..., "machine": {...},
     "recorded_at": ..., "load": {...}, ...}
    {"type": "request", "index": 0, "model": ..., "messages": [...], "options": {...}, "sent_wall": ...,
     "chunks": [[offset_s, text, tokens], ...], "finished": offset_s, "finish_reason": ...,
     "usage": {"input_tokens": ..., "output_tokens": ..., "source": ...}, "error": null}

Offsets are seconds from the moment the client sent the request, read on the client.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import recordfile
from ..errors import RightsizeError

if TYPE_CHECKING:
    from .report import Report

__all__ = ["FORMAT", "Recording", "RecordingEntry", "load_recordings", "replay_server", "shipped_recordings",
           "write_recording"]

FORMAT = recordfile.FORMAT


@dataclass
class RecordingEntry:
    """One recorded request."""

    index: int
    model: str
    messages: list[dict[str, str]]
    system: str | None
    options: dict[str, Any]
    chunks: list[tuple[float, str, int | None]]  # (seconds after send, text, tokens)
    finished: float | None
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    usage_source: str
    error: str | None = None
    sent_wall: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content_chunks(self) -> list[tuple[float, str, int | None]]:
        return [c for c in self.chunks if c[1]]

    @property
    def time_to_first_token(self) -> float | None:
        content = self.content_chunks
        return content[0][0] if content else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordingEntry:
        usage = data.get("usage") or {}
        return cls(
            index=int(data.get("index", 0)),
            model=str(data.get("model", "")),
            messages=list(data.get("messages") or []),
            system=data.get("system"),
            options=dict(data.get("options") or {}),
            chunks=[(float(c[0]), str(c[1]), None if len(c) < 3 else c[2]) for c in data.get("chunks", [])],
            finished=data.get("finished"),
            finish_reason=data.get("finish_reason"),
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            usage_source=usage.get("source", "unknown"),
            error=data.get("error"),
            sent_wall=data.get("sent_wall"),
        )


@dataclass
class Recording:
    """A recording file: its header (model, machine, date, versions) and its requests."""

    name: str
    header: dict[str, Any]
    entries: list[RecordingEntry] = field(default_factory=list)
    path: Path | None = None

    @property
    def label(self) -> str:
        """One line saying what this is: model, machine and date."""
        machine = self.header.get("machine") or {}
        return (f"recording {self.name!r}: {self.header.get('model', '?')} "
                f"({self.header.get('load', {}).get('description', 'load unknown')}), "
                f"{machine.get('cpu', 'unknown CPU')} with {machine.get('cores', '?')} cores, "
                f"recorded {self.recorded_at}")

    def to_report(self, slo: Any = None) -> Report:
        """The recorded run as a :class:`~rightsize.profiling.report.Report`, measured from the
        recorded timestamps with the same code as a live run (so percentiles, throughput, goodput
        and SLO attainment of a recording match what the run reported). ``slo`` as for
        :meth:`SLO.parse <rightsize.profiling.report.SLO.parse>`.
        """
        from ..providers.base import Chunk, Response, Usage
        from .metrics import RequestMetrics, measure
        from .report import SLO, LoadShape, Report

        starts = [e.sent_wall for e in self.entries if e.sent_wall is not None]
        origin = min(starts) if starts else 0.0
        requests: list[RequestMetrics] = []
        ends: list[float] = []
        for position, entry in enumerate(self.entries):
            # seconds since the run began: small numbers keep the recorded microseconds exact
            sent = float(position) if entry.sent_wall is None else entry.sent_wall - origin
            if not entry.ok:
                requests.append(RequestMetrics(index=entry.index, ok=False, sent=sent,
                                               time_to_first_token=None, end_to_end=None,
                                               time_per_output_token=None, error_kind="error",
                                               error_message=entry.error))
                continue
            response = Response(model=entry.model, provider=str(self.header.get("provider", "recording")),
                                streamed=True, sent=sent, sent_wall=sent,
                                chunks=[Chunk(text, sent + offset, (), tokens) for offset, text, tokens in entry.chunks],
                                finished=None if entry.finished is None else sent + entry.finished,
                                finish_reason=entry.finish_reason,
                                usage=Usage(entry.input_tokens, entry.output_tokens, entry.usage_source))
            requests.append(measure(response, index=entry.index, origin=0.0))
            if entry.finished is not None:
                ends.append(sent + entry.finished)
        load = dict(self.header.get("load") or {})
        shape = LoadShape(kind=str(load.get("kind") or "closed"), max_requests=max(1, len(self.entries)),
                          max_duration=float(load.get("max_duration_s") or 3600.0),
                          concurrency=load.get("concurrency") or (1 if (load.get("kind") or "closed") == "closed" else None),
                          rate=load.get("rate"), seed=load.get("seed"))
        wall = max(ends) if ends else 0.0
        return Report(model=str(self.header.get("model", "?")), shape=shape, requests=requests, wall_time=wall,
                      slo=SLO.parse(slo), started_at=self.recorded_at, stopped_by="requests",
                      target={"protocol": self.header.get("protocol", "?"), "base_url": self.header.get("base_url"),
                              "client": self.header.get("client"), "recording": self.label})

    @property
    def recorded_at(self) -> str:
        """When the run was recorded (ISO 8601), as the header says."""
        return str(self.header.get("recorded_at") or self.header.get("created") or "?")

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """Read a recording file (one session of the course's recording format, kind ``latency``)."""
        path = Path(path)
        try:
            sessions = recordfile.read(path, "latency")
        except recordfile.RecordingFormatError as exc:
            raise RightsizeError(str(exc)) from None
        if not sessions or sessions[0].line == 0:
            raise RightsizeError(f"{path}: no header line (model, machine, date); not a rightsize recording")
        header = sessions[0].header
        entries = [RecordingEntry.from_dict(r) for s in sessions for r in s.records if r.get("type") == "request"]
        return cls(str(header.get("name") or path.stem), header, entries, path)


def write_recording(report: Report, path: str | Path, *, name: str | None = None,
                    note: str | None = None) -> Path:
    """Write a run's requests as a recording, with a header naming model, machine, date and versions."""
    path = Path(path)
    if not any(r is not None for r in report.responses):
        raise RightsizeError("this report kept no responses to record")
    name = name or path.stem
    header = recordfile.header(
        "latency",
        name=name,
        model=report.model,
        provider=report.target.get("provider"),
        protocol=report.target.get("protocol"),
        client=report.target.get("client"),
        base_url=report.target.get("base_url"),
        load=report.shape.to_dict(),
        recorded_at=report.started_at or None,
        requests=sum(1 for r in report.responses if r is not None),
        note=note or "timings of a real run on the machine named here; replays say replay/ in their model id",
    )
    header["recorded_at"] = header["recorded_at"] or header["created"]
    entries = []
    for metrics, response, prompt in zip(report.requests, report.responses, report.prompts):
        if response is None:
            continue
        sent = response.sent
        entry = {
            "type": "request",
            "index": metrics.index,
            "model": response.model,
            "provider": response.provider,
            "protocol": report.target.get("protocol"),
            "messages": prompt.messages,
            "system": prompt.system,
            "options": prompt.options,
            "sent_wall": round(response.sent_wall, 6),
            "chunks": [[round(c.arrived - sent, 6), c.text, c.tokens] for c in response.chunks],
            "finished": None if response.finished is None else round(response.finished - sent, 6),
            "finish_reason": response.finish_reason,
            "usage": {"input_tokens": response.usage.input_tokens, "output_tokens": response.usage.output_tokens,
                      "source": response.usage.source},
            "error": None if response.error is None else response.error.kind,
        }
        entries.append(entry)
    return recordfile.write(path, header, entries)


def _shipped_folder() -> Path:
    return Path(str(resources.files("rightsize").joinpath("data", "recordings")))


def shipped_recordings() -> dict[str, Path]:
    """The recordings shipped with the package, by name (real runs of the embedded local model)."""
    folder = _shipped_folder()
    return {p.stem: p for p in sorted(folder.glob("*.jsonl"))} if folder.is_dir() else {}


def load_recordings(source: str | Path) -> list[Recording]:
    """Recordings from a file, a folder of ``*.jsonl`` files, or the name of a shipped recording
    (``"shipped"`` for all of them)."""
    path = Path(source)
    if path.is_file():
        return [Recording.load(path)]
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise RightsizeError(f"no *.jsonl recordings in {path}")
        return [Recording.load(p) for p in files]
    shipped = shipped_recordings()
    if str(source) == "shipped":
        return [Recording.load(p) for p in shipped.values()]
    if str(source) in shipped:
        return [Recording.load(shipped[str(source)])]
    known = ", ".join(shipped) or "none"
    raise RightsizeError(f"no recording {str(source)!r}: give a JSONL file, a folder, or a shipped name ({known})")


@contextlib.contextmanager
def replay_server(*sources: str | Path, port: int | None = None, wait: float = 30.0) -> Iterator[str]:
    """Run a lab server that serves only the given recordings, in its own process; yields its URL.

    Its models are ``replay/<name>``: point the profiler or the SDKs at it (``base_url=url + "/v1"``
    for OpenAI, ``url`` for Anthropic). The server stops when the block ends.
    """
    import socket

    import httpx

    for source in sources:
        load_recordings(source)  # a bad name fails here, with its message, not in the child
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
    command = [sys.executable, "-m", "rightsize", "serve", "--replay-only", "--port", str(port),
               "--log-level", "warning"]
    for source in sources:
        command += ["--replay", str(source)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                message = (process.stderr.read() if process.stderr else b"").decode(errors="replace").strip()
                raise RightsizeError(f"the replay server did not start: {message.splitlines()[-1] if message else ''}")
            if time.monotonic() > deadline:
                raise RightsizeError(f"the replay server did not answer on {url} within {wait:.0f}s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
