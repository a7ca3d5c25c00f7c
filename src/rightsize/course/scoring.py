"""Scores decided in the grader's process, from plain data the student's kernel cannot fake into a pass.

- A quiz answer is read from the submitted answer cell's *text*: the value assigned to its
  variable must be a Python literal (``"b"``, ``["a", "c"]``), read with ``ast.literal_eval``;
  nothing in the cell is run for grading.
- An exercise's probes come back as plain JSON observations (:mod:`rightsize.course.probes`);
  each is compared with the reference the solution gave at build time, which never entered the
  student's kernel.

:func:`verdict_outputs` turns a score into the tests cell's outputs, which nbgrader's own
``SaveAutoGrades`` then reads (an error output scores 0, a number is partial credit), so the
gradebook, formgrader and exports work as usual.
"""

from __future__ import annotations

import ast
import html
from dataclasses import dataclass, field
from typing import Any

from .probes import compare
from .references import CellSpec

__all__ = ["Score", "read_literal", "score_literal", "score_probes", "verdict_outputs"]

VERDICT = "rightsize-verdict"


@dataclass
class Score:
    """The grader's decision on one tests cell."""

    points: float
    max_points: float
    passed: int = 0
    total: int = 0
    message: str = ""
    failed_labels: list[str] = field(default_factory=list)

    @property
    def full(self) -> bool:
        return self.points >= self.max_points


def _answer_cell(nb: Any, grade_id: str) -> Any:
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("grade_id") == grade_id and meta.get("solution"):
            return cell
    return None


def read_literal(nb: Any, answer_cell: str, variable: str) -> tuple[Any, str]:
    """The literal assigned to ``variable`` in the answer cell, and a problem ("" when read)."""
    cell = _answer_cell(nb, answer_cell)
    if cell is None:
        return None, "the answer cell is missing from the notebook"
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return None, f"the answer cell has a syntax error on line {exc.lineno}"
    except (ValueError, RecursionError, MemoryError):
        return None, "the answer cell cannot be read"
    values = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets):
            values.append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == variable \
                and node.value is not None:
            values.append(node.value)
    if not values:
        return None, f"the answer cell does not set {variable}"
    try:
        return ast.literal_eval(values[-1]), ""
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None, (f"{variable} must be written as a plain value (a letter in quotes, or a list of them), "
                      "not computed")


def score_literal(nb: Any, spec: CellSpec) -> Score:
    """Score a quiz question from its answer cell's text."""
    value, problem = read_literal(nb, spec.answer_cell, spec.variable)
    score = Score(0.0, spec.points, total=1)
    if problem:
        score.message = f"Your answer could not be read: {problem}."
        return score
    if value is None:
        score.message = f"Not answered: {spec.variable} is still None."
        return score
    if type(spec.answer) is str:
        right = type(value) is str and value == spec.answer
        shown = repr(value) if type(value) is str and len(value) <= 20 else "a value that is not one letter"
    else:
        right = (type(value) is list and all(type(v) is str for v in value) and len(set(value)) == len(value)
                 and sorted(value) == sorted(spec.answer))
        shown = repr(value) if type(value) is list and len(repr(value)) <= 60 else "a value that is not a list of letters"
    if right:
        score.points, score.passed = spec.points, 1
        score.message = f"Your answer {shown} is right."
    else:
        score.message = f"Your answer {shown} is not right."
    return score


def score_probes(spec: CellSpec, observations: list[dict[str, Any]], well_formed: bool, problem: str = "") -> Score:
    """Score an exercise: every reference probe must be matched, in order, by an observation."""
    total = len(spec.probes)
    passed = 0
    failed: list[str] = []
    for position, reference in enumerate(spec.probes):
        seen = observations[position] if position < len(observations) else None
        ok = (seen is not None and seen["label"] == reference["label"]
              and compare(reference["value"], seen["value"], **reference.get("options", {})))
        if ok:
            passed += 1
        else:
            failed.append(reference["label"])
    if not well_formed and not problem:
        problem = "the hidden checks' report could not be read"
    if spec.partial:
        points = round(spec.points * passed / total, 4) if total else 0.0
    else:
        points = spec.points if total and passed == total else 0.0
    message = f"Hidden checks: {passed} of {total} pass."
    if failed:
        shown = ", ".join(failed[:8]) + (f" and {len(failed) - 8} more" if len(failed) > 8 else "")
        message += f" Not passing: {shown}."
    if problem:
        message += f" ({problem})"
    return Score(points, spec.points, passed, total, message, failed)


def verdict_outputs(score: Score, partial: bool) -> list[dict[str, Any]]:
    """The grader's outputs for a tests cell: a marked display line, then what nbgrader scores by."""
    mark, color = ("✓", "#1a7f37") if score.full else ("✗", "#cf222e")
    text = f"{mark} {score.message} Score: {score.points:g} of {score.max_points:g}."
    outputs: list[dict[str, Any]] = [{
        "output_type": "display_data",
        "data": {"text/plain": text, "text/html": f'<p style="color:{color}">{html.escape(text)}</p>'},
        "metadata": {VERDICT: True},
    }]
    if partial and score.points > 0:
        outputs.append({"output_type": "execute_result", "execution_count": None, "metadata": {VERDICT: True},
                        "data": {"text/plain": f"{score.points:g}"}})
    elif not score.full:
        outputs.append({"output_type": "error", "ename": "NotPassed", "evalue": score.message,
                        "traceback": [f"NotPassed: {score.message}"]})
    return outputs


def is_verdict(output: Any) -> bool:
    """Whether an output was made by the grader (see :func:`verdict_outputs`)."""
    return isinstance(output, dict) and bool(output.get("metadata", {}).get(VERDICT))
