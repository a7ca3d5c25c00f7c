"""Predictors: anything that turns a dataset item into an :class:`ItemRecord`.

- :class:`ClassifierPredictor` wraps the non-LLM baselines (rule gate, TF-IDF classifier);
- :class:`TriageLLM` asks a model for a ticket's category in one of four modes:
  ``zero_shot`` (free text, the label read leniently), ``grammar`` (JSON with an enum of the
  labels; the local model's grammar makes any other answer impossible), ``few_shot`` (the ``k``
  most similar train tickets, by TF-IDF cosine, as earlier chat turns; answer as JSON, with the
  grammar where the model supports it);
- :class:`ExtractionLLM` extracts an order as JSON and records its parse and schema success as
  returned, after lenient parsing and after one retry with the validation errors (``free``), or
  the same under the model's JSON-schema grammar (``grammar``; nullable unions are rewritten as
  ``anyOf`` first, because llama.cpp's converter ignores ``pattern`` and ``enum`` on them);
- :class:`RoutingLLM` answers a routing request; :class:`RouterPredictor` lets a router from
  :mod:`rightsize.routing` answer it, and its cost is that of whichever model it picked.

**Confidence of an LLM's label**: the probability the model gave the label's own tokens, i.e.
``exp(sum of their logprobs)``, read from the token logprobs of the answer (the local model
reports them from the raw logits, before the grammar masks anything). It is the model's own
belief in that label text, not a calibrated probability; calibrate a threshold on the dev split
before trusting it. Models without logprobs get ``confidence=None``.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..datasets import (
    ExtractionItem,
    RoutingItem,
    TriageItem,
    check_answer,
    extraction_schema,
    triage_label_descriptions,
)
from ..errors import RightsizeError
from ..prompting import Prompt, get_prompt, prompt_family
from ..registry import ModelInfo, get_model
from ..structured import complete_structured, grammar_schema, lenient_parse
from .metrics import field_matches
from .records import ItemRecord

if TYPE_CHECKING:
    from ..baselines import KeywordRuleGate, NearestTicket, TfidfClassifier
    from ..providers.base import Provider, Response

__all__ = [
    "TRIAGE_MODES",
    "ClassifierPredictor",
    "ExtractionLLM",
    "Predictor",
    "RouterPredictor",
    "RoutingLLM",
    "TriageLLM",
    "label_confidence",
    "parse_label",
    "triage_schema",
]

TRIAGE_MODES = ("zero_shot", "grammar", "few_shot")
EXTRACTION_MODES = ("free", "grammar")


@runtime_checkable
class Predictor(Protocol):
    """What :func:`~rightsize.evals.evaluate` runs. ``identity()`` is None when not cacheable."""

    name: str
    model_id: str
    task: str
    mode: str

    def identity(self) -> dict[str, Any] | None: ...

    def predict(self, item: Any) -> ItemRecord: ...


def _tags(item: Any) -> dict[str, Any]:
    return {k: getattr(item, k) for k in ("difficulty", "urgency", "complexity", "split") if getattr(item, k, None)}


# -- baselines -------------------------------------------------------------------------------------


class ClassifierPredictor:
    """A triage classifier that is not an LLM (:class:`~rightsize.baselines.KeywordRuleGate`,
    :class:`~rightsize.baselines.TfidfClassifier`): its answer, confidence and own timing.

    Not cached: it runs in milliseconds, so its latency is always measured afresh.
    """

    task = "triage"
    prompt: Prompt | None = None

    def __init__(self, classifier: KeywordRuleGate | TfidfClassifier | NearestTicket, *,
                 name: str | None = None) -> None:
        self.classifier = classifier
        self.name = name or classifier.name
        self.model_id = type(classifier).__name__
        self.mode = "classifier"

    def identity(self) -> dict[str, Any] | None:
        return None

    def predict(self, item: TriageItem) -> ItemRecord:
        prediction = self.classifier.predict_one(item.text)
        return ItemRecord(
            id=item.id, gold=item.category, predicted=prediction.label, raw_text=None,
            parse_ok=None, schema_ok=None, correct=prediction.label == item.category,
            ttft=None, e2e=prediction.latency_s, input_tokens=None, output_tokens=None,
            cost_usd=prediction.cost_usd, confidence=prediction.confidence, tags=_tags(item),
            extra={"reason": prediction.reason},
        )


# -- reading an LLM's label -------------------------------------------------------------------------


def triage_schema(labels: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema of a triage answer: ``{"category": <one of the labels>}``."""
    return {"type": "object", "properties": {"category": {"type": "string", "enum": list(labels)}},
            "required": ["category"], "additionalProperties": False}


def parse_label(text: str, labels: Sequence[str]) -> tuple[str | None, tuple[int, int] | None, bool]:
    """The label an answer names, where it is in the text, and whether the answer was JSON.

    A JSON object with a ``category`` among the labels wins; otherwise the first label named
    as a whole word (any case). Returns ``(None, None, False)`` when no label is named.
    """
    parsed = lenient_parse(text)
    if parsed.ok and isinstance(parsed.value, dict):
        value = parsed.value.get("category")
        if isinstance(value, str) and value.strip().lower() in labels:
            label = value.strip().lower()
            at = text.lower().find(label)
            return label, ((at, at + len(label)) if at >= 0 else None), True
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, labels)) + r")\b", re.IGNORECASE)
    match = pattern.search(text or "")
    if match:
        return match.group(1).lower(), match.span(), False
    return None, None, parsed.ok


def label_confidence(response: Response, span: tuple[int, int] | None) -> float | None:
    """``exp(sum of logprobs)`` of the tokens that overlap ``span`` of the answer text; None without logprobs."""
    if span is None or not response.token_logprobs:
        return None
    start, end = span
    position = 0
    picked: list[float] = []
    for chunk in response.chunks:
        chunk_end = position + len(chunk.text)
        if chunk.logprobs and chunk_end > start and position < end:
            picked.extend(chunk.logprobs)
        position = chunk_end
    if not picked:
        return None
    return float(math.exp(sum(picked)))


# -- LLM predictors --------------------------------------------------------------------------------


def _connect(model: str | ModelInfo | Provider) -> Provider:
    from ..providers import Provider, connect

    if isinstance(model, Provider):
        return model
    return connect(model)


class _LLMPredictor:
    """Shared part of the LLM predictors: the provider, the prompt, the options, the cost."""

    task = ""
    default_max_tokens = 64

    def __init__(self, model: str | ModelInfo | Provider, *, mode: str, style: str,
                 prompt_version: int | None = None, name: str | None = None, **options: Any) -> None:
        self.provider = _connect(model)
        self.info: ModelInfo = self.provider.model
        self.model_id = self.info.id
        self.mode = mode
        self.prompt = get_prompt(self.task, prompt_family(self.info), prompt_version, style)
        # greedy where the model lets us choose; a model that fixes its temperature (GPT-5, Claude
        # through the 2026 SDK) samples at its own default, and saying 0 would be refused
        greedy = {"temperature": 0.0} if self.info.accepts("temperature", 0.0) else {}
        self.options = {"max_tokens": self.default_max_tokens, **greedy, **options}
        self.logprobs = bool(self.info.capabilities.logprobs)
        self.name = name or f"{self.info.id} {mode.replace('_', '-')}"

    def identity(self) -> dict[str, Any] | None:
        return {"model": self.info.id, "api": self.provider.api, "task": self.task, "mode": self.mode,
                "prompt": self.prompt.id, "prompt_fingerprint": self.prompt.fingerprint,
                "options": {k: v for k, v in sorted(self.options.items()) if k != "timeout"}}

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float:
        return self.info.cost(input_tokens or 0, output_tokens or 0)

    def _send(self, messages: list[dict[str, str]], system: str | None, **extra: Any) -> Response:
        options = {**self.options, **extra}
        if self.logprobs:
            options.setdefault("logprobs", True)
        return self.provider.complete(messages, system=system, stream=True, raise_errors=False, **options)


class TriageLLM(_LLMPredictor):
    """A model as a ticket classifier, in mode ``zero_shot``, ``grammar`` or ``few_shot``.

    ``few_shot`` retrieves the ``k`` most similar train tickets with ``retriever`` (a trained
    :class:`~rightsize.baselines.TfidfClassifier`; one is trained on the train split if none is
    given) and sends them as earlier turns, most similar last. The retrieval time is added to
    the item's latency (it is part of answering).
    """

    task = "triage"
    default_max_tokens = 16

    def __init__(self, model: str | ModelInfo | Provider, mode: str = "grammar", *, k: int = 4,
                 retriever: TfidfClassifier | None = None, prompt_version: int | None = None,
                 name: str | None = None, labels: Sequence[str] | None = None, **options: Any) -> None:
        if mode not in TRIAGE_MODES:
            raise RightsizeError(f"unknown triage mode {mode!r}: use one of {', '.join(TRIAGE_MODES)}")
        style = {"zero_shot": "plain", "grammar": "json", "few_shot": "few_shot"}[mode]
        super().__init__(model, mode=mode, style=style, prompt_version=prompt_version, name=name, **options)
        descriptions = triage_label_descriptions()
        self.labels = list(labels or descriptions)
        self.fields = {"labels": ", ".join(self.labels),
                       "label_definitions": "\n".join(f"- {k}: {v}" for k, v in descriptions.items() if k in self.labels)}
        self.use_grammar = mode in ("grammar", "few_shot") and self.info.capabilities.json_schema
        self.schema = triage_schema(self.labels)
        self.k = k
        self._retriever = retriever
        self._train: Any = None

    def identity(self) -> dict[str, Any] | None:
        ident = super().identity()
        assert ident is not None
        ident["grammar"] = self.use_grammar
        if self.mode == "few_shot":
            from ..datasets import load_triage

            ident["few_shot"] = {"k": self.k, "train": load_triage("train").content_hash, "retriever": "tfidf-cosine"}
        return ident

    def _examples(self, item: TriageItem) -> tuple[list[dict[str, str]], float]:
        from ..baselines import TfidfClassifier
        from ..datasets import load_triage

        if self._train is None:
            self._train = [t for t in load_triage("train")]
            if self._retriever is None:
                self._retriever = TfidfClassifier().fit([t.text for t in self._train], [t.category for t in self._train])
        started = time.perf_counter()
        pool = [t for t in self._train if t.id != item.id]
        assert self._retriever is not None
        chosen = [pool[i] for i in self._retriever.nearest(item.text, [t.text for t in pool], self.k)]
        took = time.perf_counter() - started
        return [{"text": t.text, "label": t.category} for t in reversed(chosen)], took

    def predict(self, item: TriageItem) -> ItemRecord:
        examples, retrieval = self._examples(item) if self.mode == "few_shot" else ([], 0.0)
        messages, system = self.prompt.render(examples=examples, text=item.text, **self.fields)
        extra = {"json_schema": self.schema} if self.use_grammar else {}
        response = self._send(messages, system, **extra)
        text = response.text
        label, span, was_json = parse_label(text, self.labels) if response.ok else (None, None, False)
        usage = response.usage
        e2e = response.end_to_end
        ttft = response.time_to_first_token
        return ItemRecord(
            id=item.id, gold=item.category, predicted=label, raw_text=text,
            parse_ok=label is not None, schema_ok=label is not None,
            correct=label == item.category,
            ttft=None if ttft is None else ttft + retrieval, e2e=None if e2e is None else e2e + retrieval,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cost_usd=self.cost(usage.input_tokens, usage.output_tokens),
            confidence=label_confidence(response, span) if label else None,
            error=None if response.ok else f"{response.error.kind}: {response.error}" if response.error else None,
            tags=_tags(item),
            extra={"json": was_json, "retrieval_s": retrieval, "finish_reason": response.finish_reason},
        )


class ExtractionLLM(_LLMPredictor):
    """A model as an order extractor, mode ``free`` (lenient parse, then a retry with the errors)
    or ``grammar`` (decoding constrained by the schema; same repairs and retry if it still fails).

    Each record keeps, in ``extra["stages"]``, parse and schema success and exact match as
    returned (``raw``), after lenient parsing (``lenient``) and after the retry (``final``), so one
    run gives the before/after table of lesson 07.
    """

    task = "extraction"
    default_max_tokens = 160

    def __init__(self, model: str | ModelInfo | Provider, mode: str = "free", *, retries: int = 1,
                 prompt_version: int | None = None, name: str | None = None,
                 schema: Mapping[str, Any] | None = None, rewrite_for_grammar: bool = True,
                 **options: Any) -> None:
        if mode not in EXTRACTION_MODES:
            raise RightsizeError(f"unknown extraction mode {mode!r}: use one of {', '.join(EXTRACTION_MODES)}")
        super().__init__(model, mode=mode, style="plain", prompt_version=prompt_version, name=name, **options)
        if mode == "grammar" and not self.info.capabilities.json_schema:
            raise RightsizeError(f"{self.info.id} does not take a JSON schema (see its registry entry); use mode='free'")
        self.schema = dict(schema or extraction_schema())
        self.retries = retries
        self.rewrite_for_grammar = rewrite_for_grammar

    def identity(self) -> dict[str, Any] | None:
        ident = super().identity()
        assert ident is not None
        ident["retries"] = self.retries
        ident["schema"] = json.dumps(self.schema, sort_keys=True)
        if self.mode == "grammar" and self.rewrite_for_grammar:  # what constrains the decoder (grammar_schema)
            ident["grammar_schema"] = json.dumps(grammar_schema(self.schema), sort_keys=True)
        return ident

    def predict(self, item: ExtractionItem) -> ItemRecord:
        messages, system = self.prompt.render(text=item.text)
        sent: list[Response] = []

        def send(conversation: list[dict[str, str]], system: str | None = None, **options: Any) -> Response:
            response = self.provider.complete(conversation, system=system, stream=True, raise_errors=False, **options)
            sent.append(response)
            return response

        outcome = complete_structured(self.provider, messages, self.schema, retries=self.retries,
                                      grammar=self.mode == "grammar", lenient=True, system=system, send=send,
                                      rewrite_for_grammar=self.rewrite_for_grammar,
                                      **self.options)
        expected = dict(item.expected)
        first = outcome.attempts[0]

        def stage(parse_ok: bool, schema_ok: bool, value: Any) -> dict[str, Any]:
            fields = field_matches(expected, value if parse_ok else None)
            return {"parse_ok": parse_ok, "schema_ok": schema_ok, "exact": all(fields.values()),
                    "field_accuracy": sum(fields.values()) / len(fields)}

        stages = {
            "raw": stage(first.strict.parse_ok, first.strict.ok, first.strict.value),
            "lenient": stage(first.lenient.parse_ok, first.lenient.ok, first.lenient.value),
            "final": stage(outcome.final_parse_ok, outcome.final_schema_ok, outcome.value),
        }
        fields = field_matches(expected, outcome.value if outcome.final_parse_ok else None)
        errors = [r.error for r in sent if r.error is not None]
        return ItemRecord(
            id=item.id, gold=expected, predicted=outcome.value if outcome.final_parse_ok else None,
            raw_text=first.text, parse_ok=outcome.final_parse_ok, schema_ok=outcome.final_schema_ok,
            correct=all(fields.values()),
            ttft=sent[0].time_to_first_token if sent else None, e2e=outcome.latency_s,
            input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens,
            cost_usd=self.cost(outcome.input_tokens, outcome.output_tokens), confidence=None,
            error=f"{errors[-1].kind}: {errors[-1]}" if errors else None, tags=_tags(item),
            extra={"fields": fields, "stages": stages, "stage": outcome.stage, "repairs": list(outcome.repairs),
                   "calls": len(outcome.attempts), "first_e2e": first.latency_s,
                   "retry_text": outcome.attempts[-1].text if len(outcome.attempts) > 1 else None,
                   "errors": list(outcome.errors)[:5]},
        )


class RoutingLLM(_LLMPredictor):
    """A model answering a routing request; graded by the item's ``check``."""

    task = "routing"
    default_max_tokens = 192

    def __init__(self, model: str | ModelInfo | Provider, mode: str = "plain", *, prompt_version: int | None = None,
                 name: str | None = None, **options: Any) -> None:
        super().__init__(model, mode=mode, style="plain", prompt_version=prompt_version, name=name or None, **options)
        if name is None:
            self.name = self.info.id

    def predict(self, item: RoutingItem) -> ItemRecord:
        messages, system = self.prompt.render(prompt=item.prompt)
        response = self._send(messages, system)
        usage = response.usage
        text = response.text
        return ItemRecord(
            id=item.id, gold=item.reference, predicted=text if response.ok else None, raw_text=text,
            parse_ok=None, schema_ok=None, correct=response.ok and check_answer(item.check, text),
            ttft=response.time_to_first_token, e2e=response.end_to_end,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cost_usd=self.cost(usage.input_tokens, usage.output_tokens),
            confidence=None if not response.token_logprobs else
            float(math.exp(sum(response.token_logprobs) / len(response.token_logprobs))),
            error=None if response.ok or response.error is None else f"{response.error.kind}: {response.error}",
            tags=_tags(item), extra={"finish_reason": response.finish_reason},
        )


class RouterPredictor:
    """A router (anything with ``complete(prompt, **options) -> Response``) answering routing requests.

    The cost of an item is the list price of the model that answered (``response.model``).
    Not cached: a router's decisions depend on its configuration and state.
    """

    task = "routing"
    mode = "router"
    prompt: Prompt | None = None

    def __init__(self, router: Any, *, name: str | None = None, **options: Any) -> None:
        if not callable(getattr(router, "complete", None)):
            raise RightsizeError(f"{type(router).__name__} has no complete() method: pass a model, a provider or a router")
        self.router = router
        self.name: str = str(name or getattr(router, "name", None) or type(router).__name__)
        self.model_id: str = self.name
        self.options = {"max_tokens": 192, **options}

    def identity(self) -> dict[str, Any] | None:
        return None

    def predict(self, item: RoutingItem) -> ItemRecord:
        started = time.perf_counter()
        response = self.router.complete(item.prompt, **self.options)
        took = time.perf_counter() - started
        text = response.text
        try:
            cost = get_model(response.model).cost(response.usage.input_tokens or 0, response.usage.output_tokens or 0)
        except RightsizeError:
            cost = 0.0
        return ItemRecord(
            id=item.id, gold=item.reference, predicted=text, raw_text=text, parse_ok=None, schema_ok=None,
            correct=response.ok and check_answer(item.check, text), ttft=response.time_to_first_token,
            e2e=response.end_to_end if response.end_to_end is not None else took,
            input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens,
            cost_usd=cost, confidence=None, tags=_tags(item), extra={"answered_by": response.model},
        )
