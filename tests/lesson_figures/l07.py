"""Figures lesson 07 states in prose, computed from the course's data."""

from __future__ import annotations

from functools import cache
from typing import Any

from rightsize.evals import run_extraction_suite
from rightsize.stats import format_p_value, paired_test, wilson_interval

from . import Figure


@cache
def _runs() -> dict[str, Any]:
    return {run.name: run for run in run_extraction_suite(prompt_versions=(2, 1)).runs}


def _failures(name: str) -> int:
    return sum(1 for record in _runs()[name].records if not record.schema_ok)


def _size() -> int:
    return len(_runs()["grammar, unions as anyOf, v2"])


def _grammar_p() -> str:
    """The exact McNemar p-value of the two grammar runs' schema verdicts, item by item."""
    written = {r.id: bool(r.schema_ok) for r in _runs()["grammar, schema as written, v2"].records}
    unions = {r.id: bool(r.schema_ok) for r in _runs()["grammar, unions as anyOf, v2"].records}
    return format_p_value(paired_test([written[i] for i in written], [unions[i] for i in written]).p_value)


FIGURES: list[Figure] = [
    Figure("07", "as written, it let {} of {} answers through that break the schema; with the unions rewritten, {}",
           lambda: (_failures("grammar, schema as written, v2"), _size(),
                    "none" if _failures("grammar, unions as anyOf, v2") == 0 else _failures("grammar, unions as anyOf, v2")),
           "schema failures of the two grammar runs, after the lenient parse and the retry"),
    Figure("07", "the exact paired test on them gives p = {}", _grammar_p),
    Figure("07", "A share measured on {} orders is uncertain", _size),
    Figure("07", "With {} failures in {} orders, the upper bound is still {:.1%}",
           lambda: (_failures("grammar, unions as anyOf, v2"), _size(),
                    wilson_interval(_failures("grammar, unions as anyOf, v2"), _size()).high)),
]
