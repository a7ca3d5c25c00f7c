"""The evaluation cache: per-item records of real runs on disk, so notebooks re-run in seconds.

A run is stored under a key made from what determines its answers: the model id and protocol,
the task and mode, the prompt (id, version and a hash of its text), the generation options and
the dataset's name and content hash. Change any of them and the key changes, so a stale result
is never reused. Records are kept per item id, so evaluating ten more items runs only those.

Two places are read, newest first:

- your cache, ``rightsize.lab.cache_dir() / "evals"`` (written by every run);
- the shipped cache, ``rightsize/data/eval_cache`` (read-only), made by
  ``scripts/build_eval_cache.py`` from real runs on the machine its header names
  (``RIGHTSIZE_EVAL_SHIPPED=0`` ignores it).

Files use the course's recording format (:mod:`rightsize.recordfile`, kind ``evaluation``): each
session's header says who wrote the records after it, when and on what machine; then come its
``{"type": "record", ...}`` lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .. import recordfile
from .records import ItemRecord

__all__ = ["EvalCache", "cache_key", "header_summary", "session_header", "shipped_cache_dir", "user_cache_dir"]

FORMAT = 1


def cache_key(identity: Mapping[str, Any], dataset_name: str, dataset_hash: str) -> str:
    """A short stable hash of a predictor's identity and the dataset's name and content hash."""
    payload = json.dumps({"format": FORMAT, "identity": identity, "dataset": dataset_name, "hash": dataset_hash},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def user_cache_dir() -> Path:
    from ..lab import cache_dir

    return cache_dir() / "evals"


def shipped_cache_dir() -> Path:
    return Path(str(resources.files("rightsize").joinpath("data", "eval_cache")))


def session_header(**fields: Any) -> dict[str, Any]:
    """The header of an evaluation session, taken when it starts (its time and load are the start's)."""
    return recordfile.header("evaluation", **fields)


def header_summary(header: Mapping[str, Any], source: str, file: str = "") -> dict[str, Any]:
    """A session header as one flat mapping: when (``measured_at``), the machine's fields, the rest."""
    head = {k: v for k, v in header.items() if k not in ("type", "kind", "format", "created", "machine")}
    return {**head, **dict(header.get("machine") or {}), "measured_at": header.get("created"), "source": source,
            "file": file}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower()[:60] or "run"


@dataclass
class CacheHit:
    """Records found for a key, with where they came from and the meta lines of their files."""

    records: dict[str, ItemRecord] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # item id -> "cache" or "shipped"
    meta: list[dict[str, Any]] = field(default_factory=list)
    record_meta: dict[str, int] = field(default_factory=dict)  # item id -> index in meta of its session

    def meta_of(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The meta lines of the sessions that measured these items, oldest first."""
        used = sorted({self.record_meta[i] for i in ids if i in self.record_meta})
        return [self.meta[i] for i in used]


class EvalCache:
    """Reads records from the user and shipped caches; writes to the user cache only."""

    def __init__(self, user_dir: Path | None = None, shipped_dir: Path | None = None, *,
                 use_shipped: bool | None = None) -> None:
        self.user_dir = Path(user_dir) if user_dir else user_cache_dir()
        self.shipped_dir = Path(shipped_dir) if shipped_dir else shipped_cache_dir()
        # RIGHTSIZE_EVAL_SHIPPED=0 ignores the shipped results (to measure everything yourself)
        self.use_shipped = use_shipped if use_shipped is not None else os.environ.get("RIGHTSIZE_EVAL_SHIPPED", "1") != "0"

    def _files(self, folder: Path, task: str, key: str) -> list[Path]:
        base = folder / task
        return sorted(base.glob(f"*-{key}.jsonl")) if base.is_dir() else []

    def load(self, task: str, key: str) -> CacheHit:
        hit = CacheHit()
        places = ([("shipped", self.shipped_dir)] if self.use_shipped else []) + [("cache", self.user_dir)]
        for source, folder in places:  # the user cache last, so its records win
            for path in self._files(folder, task, key):
                for session in recordfile.read(path, "evaluation"):
                    hit.meta.append(header_summary(session.header, source, path.name))
                    for data in session.records:
                        if data.get("type") != "record":
                            continue
                        record = ItemRecord.from_json(data["record"])
                        hit.records[record.id] = record
                        hit.sources[record.id] = source
                        hit.record_meta[record.id] = len(hit.meta) - 1
        return hit

    def path_for(self, task: str, key: str, name: str, folder: Path | None = None) -> Path:
        base = (folder or self.user_dir) / task
        existing = self._files(folder or self.user_dir, task, key)
        return existing[0] if existing else base / f"{_slug(name)}-{key}.jsonl"

    def append(self, task: str, key: str, name: str, header: Mapping[str, Any], records: list[ItemRecord],
               *, folder: Path | None = None) -> Path:
        """Add a session (``header``, from :func:`session_header`, then ``records``) to the file of ``key``."""
        path = self.path_for(task, key, name, folder)
        return recordfile.append(path, header, [{"type": "record", "record": r.to_json()} for r in records])

    def forget(self, task: str, key: str, ids: Iterable[str]) -> int:
        """Drop the user-cache records of these items (before they are measured again).

        Other items' records stay, and so do the headers of the sessions that still have
        records; returns how many records were dropped. The shipped cache is never touched.
        """
        drop = set(ids)
        removed = 0
        for path in self._files(self.user_dir, task, key):
            sessions = recordfile.read(path, "evaluation")
            for session in sessions:
                kept = [r for r in session.records
                        if not (r.get("type") == "record" and (r.get("record") or {}).get("id") in drop)]
                removed += len(session.records) - len(kept)
                session.records = kept
            recordfile.rewrite(path, sessions)
        return removed

    def clear(self, task: str, key: str) -> int:
        """Delete the user-cache files of a key (the shipped cache is never touched)."""
        files = self._files(self.user_dir, task, key)
        for path in files:
            path.unlink()
        return len(files)
