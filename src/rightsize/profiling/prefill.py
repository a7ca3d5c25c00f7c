"""The prompt-cache experiment: how much a shared prompt prefix hides from a prefill benchmark.

A server that keeps the attention state of the prompt it just served (llama.cpp does, in process
and as a server; hosted APIs do it as "prompt caching") prefills only the tokens a new prompt does
not share with it. A benchmark that grows one prompt (``filler * n``, each prompt starting like the
one before) therefore measures the cost of the tokens it *adds*, not of the prompt. Three series:

``unique``
    each prompt opens with a marker word of its own, so nothing past the chat template is cached:
    the real prefill cost of a prompt of that length;
``shared``
    ``filler * n + question`` for growing ``n``: the flawed design;
``repeated``
    each ``shared`` prompt sent again at once: what a fully cached prompt costs.

::

    from rightsize.profiling import prefill
    table = prefill.measure(rs.connect("local"))      # about three minutes on two cores
    table = prefill.shipped()                          # the course's run (lesson 02), as a DataFrame

``python -m rightsize.profiling.prefill [--out PATH] [--runs N]`` makes the shipped file.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import recordfile
from ..errors import RightsizeError

if TYPE_CHECKING:
    import pandas as pd

    from ..providers.base import Provider

__all__ = ["FILLER", "QUESTION", "REPEATS", "SERIES", "measure", "medians", "read", "shipped", "shipped_path", "write"]

FILLER = "The harbour was quiet that night and the keeper watched the water. "
QUESTION = "Summarize in a few words."
REPEATS = (1, 8, 32, 64, 128)
SERIES = ("shared", "unique", "repeated")
EXPERIMENT = "prefill-cache"


def shipped_path() -> Path:
    """Where the course's own run of the experiment ships, inside the package."""
    return Path(__file__).resolve().parent.parent / "data" / "experiments" / "prefill-cache.jsonl"


def _ttft(provider: Provider, prompt: str, max_tokens: int) -> tuple[int, float]:
    result = provider.complete(prompt, max_tokens=max_tokens, temperature=0)
    if result.time_to_first_token is None or result.usage is None:
        raise RightsizeError(f"{provider.model.id} reported no time to first token or usage; the prefill "
                             "experiment needs a streaming provider that counts tokens")
    return result.usage.input_tokens, result.time_to_first_token * 1000


def measure(provider: Provider, *, repeats: Sequence[int] = REPEATS, runs: int = 5, max_tokens: int = 2,
            filler: str = FILLER, question: str = QUESTION) -> list[dict[str, Any]]:
    """Run the three series ``runs`` times, one request at a time; one row per request.

    Rows: ``run``, ``series``, ``repeats``, ``input_tokens``, ``ttft_ms``. Each run's unique
    markers are new (a second run cannot ride on the first); each shared prompt is followed at once
    by its repeat, so the repeat finds the whole prompt in the cache.
    """
    if runs < 1 or not repeats:
        raise RightsizeError("measure at least one run of at least one prompt length")
    rows: list[dict[str, Any]] = []
    for run in range(runs):
        tag = uuid.uuid4().hex[:8]
        for position, n in enumerate(repeats):
            tokens, ms = _ttft(provider, f"[{tag}-{position}] " + filler * n + question, max_tokens)
            rows.append({"run": run, "series": "unique", "repeats": n, "input_tokens": tokens, "ttft_ms": ms})
        for n in repeats:
            prompt = filler * n + question
            for series in ("shared", "repeated"):
                tokens, ms = _ttft(provider, prompt, max_tokens)
                rows.append({"run": run, "series": series, "repeats": n, "input_tokens": tokens, "ttft_ms": ms})
    return rows


def medians(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per series and prompt length: the median TTFT over the runs (``runs``: how many)."""
    import pandas as pd

    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["series"], int(row["repeats"])), []).append(row)
    table = [{"series": series, "repeats": n, "input_tokens": int(statistics.median(r["input_tokens"] for r in rs)),
              "ttft_ms": round(statistics.median(r["ttft_ms"] for r in rs), 2), "runs": len(rs)}
             for (series, n), rs in groups.items()]
    order = {name: i for i, name in enumerate(SERIES)}
    return pd.DataFrame(table).sort_values(["series", "repeats"], key=lambda c: c.map(order) if c.name == "series"
                                           else c, ignore_index=True)


def write(path: str | Path, rows: Sequence[dict[str, Any]], provider: Provider) -> Path:
    """Save a run as a recording (header: the model and the machine), replacing ``path``."""
    head = recordfile.header("experiment", experiment=EXPERIMENT, model=provider.model.id)
    return recordfile.write(path, head, [{"type": "ttft", **row} for row in rows])


def read(path: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """A saved run: its header (model, machine, date) and the medians table."""
    sessions = [s for s in recordfile.read(path, "experiment") if s.header.get("experiment") == EXPERIMENT]
    if not sessions or not sessions[-1].records:
        raise RightsizeError(f"{path} holds no run of the prefill experiment; make one with "
                             "python -m rightsize.profiling.prefill --out PATH")
    return sessions[-1].header, medians(sessions[-1].records)


def shipped() -> pd.DataFrame:
    """The course's run, as lesson 02 reads it: one row per series and length, median TTFT in ms."""
    return read(shipped_path())[1]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from ..providers import connect

    parser = argparse.ArgumentParser(prog="python -m rightsize.profiling.prefill", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=shipped_path())
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="local")
    args = parser.parse_args(argv)
    provider = connect(args.model)
    rows = measure(provider, runs=args.runs)
    path = write(args.out, rows, provider)
    print(medians(rows).to_string(index=False))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
