"""Measure latency the way the course defines it: per-request metrics, load generation, reports.

    import rightsize.profiling as rp
    report = rp.profile("lab", concurrency=4, requests=40, slo="ttft=200ms")
    report                      # a table in a notebook; print(report) in a terminal
    report.to_frame()           # pandas; report.to_json(), report.to_csv()
    rp.sweep("lab", max_concurrency=16)          # from one at a time toward saturation
    rp.plots.latency_ecdf(report, "ttft_ms")

Definitions (``shared/METRICS.md``) live in :mod:`.metrics`; load shapes in :mod:`.load`; the
lean HTTP client used for load in :mod:`.client`; recordings and replays in :mod:`.record`;
plots in :mod:`.plots`. The cost model is :mod:`rightsize.cost`.
"""

from __future__ import annotations

from .client import LeanAnthropicProvider, LeanOpenAIProvider
from .load import arun_load, load_shape, profile, run_load, sweep
from .metrics import RequestMetrics, measure
from .record import (
    Recording,
    load_recordings,
    replay_server,
    shipped_recordings,
    write_recording,
)
from .report import SLO, LoadShape, Report, SweepReport, parse_duration, summarize
from .workload import DEFAULT_PROMPTS, Workload, WorkloadRequest

__all__ = [
    "DEFAULT_PROMPTS",
    "SLO",
    "LeanAnthropicProvider",
    "LeanOpenAIProvider",
    "LoadShape",
    "Recording",
    "Report",
    "RequestMetrics",
    "SweepReport",
    "Workload",
    "WorkloadRequest",
    "arun_load",
    "load_recordings",
    "load_shape",
    "measure",
    "parse_duration",
    "profile",
    "replay_server",
    "run_load",
    "shipped_recordings",
    "summarize",
    "sweep",
    "write_recording",
]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name == "plots":  # matplotlib loads only when a plot is asked for
        import importlib

        return importlib.import_module(".plots", __name__)
    raise AttributeError(name)
