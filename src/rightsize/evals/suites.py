"""The measurements the lessons quote, each one function: the triage tier table and the
extraction before/after table. ``rightsize eval triage`` and ``rightsize eval extraction`` print
them; ``scripts/build_eval_cache.py`` runs them to fill the shipped cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..baselines import KeywordRuleGate, NearestTicket, TfidfClassifier
from ..datasets import load_extraction, load_triage
from ..errors import RightsizeError
from ..registry import ModelInfo, get_model
from ..stats import wilson_interval
from .cascades import CascadeEval, HumanReview, build_cascade
from .compare import format_latency, format_paired_table, format_table
from .core import evaluate
from .embeddings import EmbeddingPredictor
from .predictors import TRIAGE_MODES, TriageLLM
from .records import EvalRun

if TYPE_CHECKING:
    from ..providers import Provider

__all__ = [
    "ExtractionSuite",
    "TriageSuite",
    "extraction_table",
    "mode_label",
    "run_extraction_suite",
    "run_triage_suite",
    "tier_label",
]

_LOCAL_PROVIDERS = ("local", "lab")
PAIRED_REFERENCE = "TF-IDF + logistic regression"  # the tier every other triage row is paired with in reports


def _model_info(model: str | ModelInfo | Provider) -> ModelInfo:
    from ..providers import Provider

    if isinstance(model, ModelInfo):
        return model
    if isinstance(model, Provider):
        return model.model
    return get_model(model)


def tier_label(model: str | ModelInfo | Provider) -> str:
    """What a model tier is, said plainly: the local model, a self-hosted endpoint, or a cloud
    model with its provider and the registry's tier, so no tier passes for what it is not."""
    info = _model_info(model)
    if info.provider == "local":
        return "local LLM"
    if info.provider == "lab":
        return "local LLM via the lab server"
    if info.provider == "endpoint":
        return f"{info.id} (self-hosted endpoint)"
    return f"{info.name} (cloud, {info.provider}, {info.tier} tier)"


def mode_label(model: str | ModelInfo | Provider, mode: str) -> str:
    """How the model is asked, named for what constrains its answer on that provider."""
    info = _model_info(model)
    schema = info.capabilities.json_schema
    enforced = "grammar" if info.provider in _LOCAL_PROVIDERS else "JSON schema"
    if mode == "zero_shot":
        return "zero-shot"
    if mode == "grammar":
        return f"{enforced} (JSON enum)" if schema else "JSON answer (no schema enforced)"
    if mode == "few_shot":
        return f"few-shot k=4 + {enforced}" if schema else "few-shot k=4, JSON answer (no schema enforced)"
    return mode.replace("_", "-")


def _llm_name(model: str | ModelInfo | Provider, mode: str) -> str:
    return f"{tier_label(model)} {mode_label(model, mode)}"


@dataclass
class TriageSuite:
    """Every triage tier on one split, plus cascades whose thresholds were chosen on dev."""

    split: str
    runs: list[EvalRun]
    cascades: list[CascadeEval]
    review: HumanReview
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[Any]:
        return [*self.runs, *self.cascades]

    def table(self) -> str:
        return format_table(self.rows)

    def frame(self, against: str | None = None) -> pd.DataFrame:
        """:func:`~rightsize.evals.compare` of every row; ``against`` (a row's name) adds the
        paired test of each row with that one (``accuracy_diff``, ``diff_low``, ``diff_high``, ``p_value``)."""
        from .compare import compare

        return compare(self.rows, against=against)

    def report(self) -> str:
        """The table with what a reader needs to trust it: intervals, sources, prices, assumptions."""
        n = len(self.runs[0])
        lines = [(f"Triage, {self.split} split ({n} tickets, 6 labels). "
                  "Accuracy counts an abstention or unreadable answer as wrong."), "", self.table(), "",
                 (f"Accuracy [95% CI] is the Wilson interval over the {n} tickets. Overlapping intervals do not mean "
                  "two tiers are equal: the paired test below compares them ticket by ticket."), ""]
        if any(r.name == PAIRED_REFERENCE for r in self.runs) and len(self.rows) > 1:
            lines += [(f"Paired with {PAIRED_REFERENCE} (the reference) on the same tickets: each tier's accuracy "
                       "minus the reference's, with a paired-bootstrap 95% interval, and the exact McNemar p-value "
                       "(one test per row, not "
                       f"corrected for the {len(self.rows) - 1} made: with no real difference, about one p in 20 "
                       "still falls below 0.05)."), "",
                      format_paired_table(self.rows, PAIRED_REFERENCE), ""]
        for c in self.cascades:
            lines.append("- " + c.describe())
        lines.append("- " + self.review.describe())
        dates = sorted({r.price_read_on for r in self.runs if r.price_read_on})
        lines.append(f"- cost: list prices from the model registry (read on {', '.join(dates) or 'n/a'}); the local "
                     "model and the classifiers have no per-request price (they run on your CPU)")
        lines.extend(origin_lines(self.runs))
        lines.extend(f"- note: {n}" for n in self.notes)
        return "\n".join(lines)


_ORIGIN = {"run": "just run", "cache": "from your cache", "shipped": "from the shipped results"}


def origin(run: EvalRun) -> str:
    """Where a run's records came from, and when, on how many cores and at what load average
    they were measured (latency depends on all three)."""
    measured = run.meta.get("measured") or []
    where = "; ".join(f"measured {m.get('measured_at', '?')} on {m.get('cores', '?')} cores at load "
                      f"{m.get('load_average_1m', '?')}" for m in measured[-2:])
    source = run.meta.get("source")
    return f"{_ORIGIN.get(str(source), source)}" + (f", {where}" if where else "")


def origin_lines(runs: Sequence[EvalRun]) -> list[str]:
    """One line per run: its name and :func:`origin`."""
    return [f"- {run.name}: {origin(run)}" for run in runs]


def run_triage_suite(
    *,
    split: str = "test",
    models: Sequence[str | ModelInfo | Provider] = ("local",),
    modes: Sequence[str] = TRIAGE_MODES,
    cascade_mode: str = "few_shot",
    review: HumanReview | None = None,
    target_accuracy: float = 0.9,
    refresh: bool = False,
    progress: bool = False,
    limit: int | None = None,
) -> TriageSuite:
    """Rule gate, TF-IDF classifier, each model in each mode, and cascades, on ``split``; with the
    local model among ``models``, also its embeddings with a trained head (:mod:`.embeddings`).

    The cascades are TF-IDF -> human review, TF-IDF -> each model in ``cascade_mode``, and
    TF-IDF -> model -> human review; every threshold is chosen on the dev split (so the model
    also runs on dev) for ``target_accuracy`` on the items a tier accepts.
    Model runs use the evaluation cache unless ``refresh``.

    ``models`` are registry names or aliases, :class:`ModelInfo` entries or providers. A cloud
    model (it needs its key) makes the cascades escalate to it; every tier is named for what it
    is (:func:`tier_label`), e.g. ``Claude Haiku 4.5 (cloud, anthropic, mid tier)``.
    """
    if split not in ("dev", "test"):
        raise RightsizeError(f"report on dev or test, not {split!r} (the classifier trains on train)")
    review = review or HumanReview()
    data = load_triage(split).head(limit)
    dev = load_triage("dev").head(limit)
    train = load_triage("train")
    tfidf = TfidfClassifier().fit([t.text for t in train], [t.category for t in train])
    runs = [
        evaluate(KeywordRuleGate(), data, name="rule gate (keywords)"),
        evaluate(tfidf, data, name="TF-IDF + logistic regression"),
    ]
    if "few_shot" in modes:  # the few-shot retrieval alone: what does the LLM add on top of it?
        nearest = NearestTicket(tfidf, [t.text for t in train], [t.category for t in train])
        runs.append(evaluate(nearest, data, name="nearest train ticket (few-shot retrieval alone)"))
    llm_runs: dict[tuple[int, str], EvalRun] = {}
    for model in models:
        for mode in modes:
            predictor = TriageLLM(model, mode, retriever=tfidf, name=_llm_name(model, mode))
            run = evaluate(predictor, data, refresh=refresh, progress=progress)
            llm_runs[(id(model), mode)] = run
            runs.append(run)
    if any(_model_info(model).provider == "local" for model in models):  # the local model adapted to the task
        runs.append(evaluate(EmbeddingPredictor(refresh=refresh), data, refresh=refresh, progress=progress))
    dev_tfidf = evaluate(tfidf, dev, name="TF-IDF + logistic regression")
    test_tfidf = runs[1]
    cascades = [build_cascade([(dev_tfidf, test_tfidf)], review=review, target_accuracy=target_accuracy,
                              names=["TF-IDF"], name="cascade: TF-IDF -> human review")]
    notes: list[str] = []
    for model in models:
        predictor = TriageLLM(model, cascade_mode, retriever=tfidf, name=_llm_name(model, cascade_mode))
        dev_llm = evaluate(predictor, dev, refresh=refresh, progress=progress)
        test_llm = (llm_runs.get((id(model), cascade_mode))
                    or evaluate(predictor, data, refresh=refresh, progress=progress))
        short = f"{tier_label(model)} {cascade_mode.replace('_', '-')}"
        tiers = [(dev_tfidf, test_tfidf), (dev_llm, test_llm)]
        cascades.append(build_cascade(tiers, review=None, target_accuracy=target_accuracy,
                                      names=["TF-IDF", short], name=f"cascade: TF-IDF -> {short}"))
        cascades.append(build_cascade(tiers, review=review, target_accuracy=target_accuracy,
                                      names=["TF-IDF", short], name=f"cascade: TF-IDF -> {short} -> human review"))
    for c in cascades:
        notes.extend(n for n in c.notes if n not in notes)
    if split == "dev":
        notes.append("the cascades' thresholds were chosen on the same dev items they are reported on: optimistic")
    return TriageSuite(split, runs, cascades, review, notes)


# -- extraction -------------------------------------------------------------------------------------

_STAGES = (("raw", "as returned (json.loads)"), ("lenient", "+ lenient parse"), ("final", "+ 1 retry with the errors"))


def extraction_table(runs: Sequence[EvalRun]) -> pd.DataFrame:
    """Parse and schema success, exact match and field accuracy before and after each measure.

    One row per (run, stage): as returned, after lenient parsing, after one retry with the
    validation errors fed back. Latency is per item over the calls made up to that stage.
    ``exact_match_low`` and ``exact_match_high`` are the Wilson 95% interval of ``exact_match``.
    """
    rows = []
    for run in runs:
        if run.task != "extraction":
            raise RightsizeError(f"{run.name} is a {run.task} run, not extraction")
        n = len(run)
        for key, label in _STAGES:
            stages = [r.extra["stages"][key] for r in run.records]
            latency = [r.extra.get("first_e2e") if key != "final" else r.e2e for r in run.records]
            calls = [1 if key != "final" else r.extra.get("calls", 1) for r in run.records]
            exact = wilson_interval(sum(bool(s["exact"]) for s in stages), n)
            rows.append({
                "run": run.name, "measure": label, "items": n,
                "parse_ok": sum(s["parse_ok"] for s in stages) / n,
                "schema_ok": sum(s["schema_ok"] for s in stages) / n,
                "exact_match": exact.estimate, "exact_match_low": exact.low, "exact_match_high": exact.high,
                "field_accuracy": sum(s["field_accuracy"] for s in stages) / n,
                "calls_per_item": sum(calls) / n,
                "p50_latency_s": float(pd.Series([x for x in latency if x is not None]).median()),
            })
    return pd.DataFrame(rows)


@dataclass
class ExtractionSuite:
    split: str
    runs: list[EvalRun]
    model: str = "local LLM"
    notes: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        return extraction_table(self.runs)

    def report(self) -> str:
        frame = self.frame()
        header = ["run", "measure", "parse ok", "schema ok", "exact match [95% CI]", "field acc.", "calls/item",
                  "p50 latency"]
        body = [[r.run, r.measure, f"{r.parse_ok:.0%}", f"{r.schema_ok:.0%}",
                 f"{r.exact_match:.0%} [{r.exact_match_low:.0%}, {r.exact_match_high:.0%}]",
                 f"{r.field_accuracy:.0%}", f"{r.calls_per_item:.2f}", format_latency(r.p50_latency_s)]
                for r in frame.itertuples()]
        widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
        lines = ["  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                 for row in [header, *body]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        n = len(self.runs[0]) if self.runs else 0
        text = [f"Order extraction, {self.split} split ({n} messages), {self.model}. Shares of items.", "", *lines, ""]
        repairs: dict[str, int] = {}
        for run in self.runs:
            for r in run.records:
                for repair in r.extra.get("repairs", []):
                    repairs[f"{run.name}: {repair}"] = repairs.get(f"{run.name}: {repair}", 0) + 1
        text += [f"- repairs made: {k} ({v} items)" for k, v in sorted(repairs.items())] or ["- repairs made: none"]
        text += [f"- {run.name}: prompt {run.prompt_id}; {origin(run)}" for run in self.runs]
        text += [f"- note: {n}" for n in self.notes]
        return "\n".join(text)


def run_extraction_suite(*, split: str = "test", model: str | ModelInfo | Provider = "local", refresh: bool = False,
                         progress: bool = False, limit: int | None = None,
                         prompt_versions: Sequence[int] = (2,)) -> ExtractionSuite:
    """The local model on the extraction set: free text (lenient parse, retry) and grammar.

    The grammar runs use the first of ``prompt_versions``: once with the schema as written and
    once with its nullable unions rewritten as ``anyOf`` (:func:`~rightsize.structured.grammar_schema`),
    which llama.cpp's converter needs to enforce ``pattern`` and ``enum``. The other versions add
    free-text runs (an older prompt shows what the repairs and the retry are for). A model whose
    API takes no JSON schema gets the free-text runs only, and a note says so.
    """
    from .predictors import ExtractionLLM

    data = load_extraction(split).head(limit)
    if not prompt_versions:
        raise RightsizeError("give at least one prompt version")
    first, *others = prompt_versions
    info = _model_info(model)
    constrained = "grammar" if info.provider in _LOCAL_PROVIDERS else "JSON schema"
    runs = [evaluate(ExtractionLLM(model, "free", prompt_version=first, name=f"free text, prompt v{first}"),
                     data, refresh=refresh, progress=progress)]
    notes: list[str] = []
    if info.capabilities.json_schema:
        runs += [
            evaluate(ExtractionLLM(model, "grammar", prompt_version=first, rewrite_for_grammar=False,
                                   name=f"{constrained}, schema as written, v{first}"),
                     data, refresh=refresh, progress=progress),
            evaluate(ExtractionLLM(model, "grammar", prompt_version=first,
                                   name=f"{constrained}, unions as anyOf, v{first}"),
                     data, refresh=refresh, progress=progress),
        ]
    else:
        notes.append(f"{info.id} takes no JSON schema (see its registry entry): no constrained runs")
    for version in others:
        runs.append(evaluate(ExtractionLLM(model, "free", prompt_version=version, name=f"free text, prompt v{version}"),
                             data, refresh=refresh, progress=progress))
    return ExtractionSuite(split, runs, f"{tier_label(info)} ({info.id})", notes)
