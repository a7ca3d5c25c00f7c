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

Files are JSON Lines: ``{"type": "meta", ...}`` lines (who wrote the records after them, when,
on what machine) and ``{"type": "record", ...}`` lines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .records import ItemRecord

__all__ = ["EvalCache", "cache_key", "machine_info", "shipped_cache_dir", "user_cache_dir"]

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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """Where and when numbers were measured: CPU, cores, load, OS, Python, llama.cpp, date."""
    info: dict[str, Any] = {
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_model(), "cores": os.cpu_count(), "os": platform.platform(terse=True),
        "python": platform.python_version(),
    }
    try:
        info["load_average_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    try:
        from importlib.metadata import version

        info["llama_cpp"] = version("llama-cpp-python")
    except Exception:  # not installed: nothing to report
        pass
    return info


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower()[:60] or "run"


@dataclass
class CacheHit:
    """Records found for a key, with where they came from and the meta lines of their files."""

    records: dict[str, ItemRecord] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # item id -> "cache" or "shipped"
    meta: list[dict[str, Any]] = field(default_factory=list)


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
                for line in path.read_text(encoding="utf-8").splitlines():
                    if not line.strip():
                        continue
                    data = json.loads(line)
                    if data.get("type") == "meta":
                        hit.meta.append({**data, "source": source, "file": path.name})
                    elif data.get("type") == "record":
                        record = ItemRecord.from_json(data["record"])
                        hit.records[record.id] = record
                        hit.sources[record.id] = source
        return hit

    def path_for(self, task: str, key: str, name: str, folder: Path | None = None) -> Path:
        base = (folder or self.user_dir) / task
        existing = self._files(folder or self.user_dir, task, key)
        return existing[0] if existing else base / f"{_slug(name)}-{key}.jsonl"

    def append(self, task: str, key: str, name: str, meta: Mapping[str, Any], records: list[ItemRecord],
               *, folder: Path | None = None) -> Path:
        """Add records (after a meta line describing this session) to the cache file of ``key``."""
        path = self.path_for(task, key, name, folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"type": "meta", **meta}, ensure_ascii=False, default=str)]
        lines += [json.dumps({"type": "record", "record": r.to_json()}, ensure_ascii=False, default=str)
                  for r in records]
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        return path

    def clear(self, task: str, key: str) -> int:
        """Delete the user-cache files of a key (the shipped cache is never touched)."""
        files = self._files(self.user_dir, task, key)
        for path in files:
            path.unlink()
        return len(files)
