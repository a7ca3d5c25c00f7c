"""Hidden checks that run in the student's kernel but are judged outside it: probes.

A graded exercise is checked by *probes*, written in the hidden region of its tests cell::

    ### BEGIN HIDDEN TESTS
    _cands = {"tiny": 40, "small": 140, "mid": 150, "frontier": 620}
    probe("150 ms already spent", lambda: models_within_budget(_cands, 300, [60, 90]),
          expect=["tiny", "small", "mid"])
    probe("nothing fits", lambda: models_within_budget(_cands, 100, [150]))
    ### END HIDDEN TESTS

``probe(label, thunk)`` calls ``thunk`` and records what it returned, or the exception it
raised, as a plain JSON *observation* (:func:`to_plain`). What happens next depends on the run:

- **reference run** (``rightsize course build``, on the instructor's solution): the observations
  become the references; ``expect=`` values are checked against them (a wrong ``expect`` fails
  the build), ``raises=`` declares an exception the solution raises on purpose (any other raise
  fails the build), and the comparison options (``tol``, ``rel``, ``unordered``) are recorded;
- **graded run** (``rightsize course autograde``, in the student's sandboxed kernel, after every
  cell of the submission has run): the same code with every ``expect=`` removed
  (:func:`strip_expectations`) runs on a snapshot of the namespace as it was at the tests cell,
  and only the observations leave the kernel. :func:`compare`, in the grader's process, holds
  them against the references. The kernel never sees an expected value;
- **anywhere else** (the instructor running the solution in Jupyter): ``probe`` calls the thunk,
  asserts ``expect=`` when given, and returns the value, so the hidden region is a plain test.

The grader side uses :func:`to_plain`'s format, :func:`compare` and :func:`parse_payload`; the
kernel side uses :func:`snapshot` and :func:`run_driver` (sent by the grading worker). This module
imports only the standard library (and :mod:`rightsize.notebook`, which does too), so it loads fast
in every sandbox.
"""

from __future__ import annotations

import ast
import datetime as _dt
import json
import math
from collections.abc import Callable
from typing import Any

from ..notebook import grading

__all__ = [
    "MIME_TYPE",
    "compare",
    "literal_answer",
    "parse_payload",
    "partial_credit",
    "probe",
    "run_driver",
    "snapshot",
    "strip_expectations",
    "to_plain",
]

#: The display mimetype that carries a graded run's observations out of the kernel.
MIME_TYPE = "application/vnd.rightsize.observations+json"
#: Comparison options a probe may set; anything else is an authoring error.
OPTIONS = ("tol", "rel", "unordered")
DEFAULT_REL = 1e-9
DEFAULT_TOL = 1e-9

_MAX_NODES = 200_000
_MAX_DEPTH = 40
_MAX_STRING = 100_000
_MAX_OBSERVATIONS = 5_000
_MAX_LABEL = 200
_MISSING: Any = object()


class TooBig(ValueError):
    """A value too large or too deep to carry as an observation."""


# ---------------------------------------------------------------------------------- plain values
def to_plain(value: Any) -> Any:
    """``value`` as plain JSON data, the only form an observation takes.

    ``None``, booleans, integers, strings and finite floats stay as they are; lists and tuples
    become lists; dicts with string keys stay dicts. Everything else is a one-key tagged object:
    ``{"$float": "nan"}`` (also ``"inf"``, ``"-inf"``), ``{"$dict": [[key, value], ...]}`` (other
    keys, or keys starting with ``$``), ``{"$set": [...]}``, ``{"$date": "2026-02-27"}``,
    ``{"$datetime": ...}``, ``{"$timedelta": seconds}``, ``{"$series": ...}``, ``{"$frame": ...}``,
    and ``{"$object": "module.Type"}`` for anything else (its repr is never taken). NumPy scalars and
    arrays become numbers and lists. Raises :class:`TooBig` past 200,000 values or 40 levels.
    """
    budget = [_MAX_NODES]
    return _plain(value, budget, 0)


def _qualname(kind: type) -> str:
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', kind.__name__)}"


def _plain(value: Any, budget: list[int], depth: int) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise TooBig(f"more than {_MAX_NODES} values")
    if depth > _MAX_DEPTH:
        raise TooBig(f"nested more than {_MAX_DEPTH} levels deep")
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return value
    if kind is str:
        if len(value) > _MAX_STRING:
            raise TooBig(f"a string of more than {_MAX_STRING} characters")
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$float": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    module = getattr(kind, "__module__", "") or ""
    if module.startswith("numpy"):
        if hasattr(value, "tolist"):  # scalars give Python numbers, arrays nested lists
            return _plain(value.tolist(), budget, depth + 1)
    if module.startswith("pandas"):
        name = kind.__name__
        if name == "DataFrame":
            return {"$frame": {"columns": _plain(list(value.columns), budget, depth + 1),
                               "index": _plain(list(value.index), budget, depth + 1),
                               "data": _plain(value.to_numpy().tolist(), budget, depth + 1)}}
        if name == "Series":
            return {"$series": {"index": _plain(list(value.index), budget, depth + 1),
                                "data": _plain(value.to_numpy().tolist(), budget, depth + 1)}}
        if name.endswith("Index"):
            return _plain(list(value), budget, depth + 1)
    # subclasses of the plain types keep only their underlying data, read with the base type's own
    # method: an overridden __eq__ (a str "equal to everything") never takes part in a comparison
    if isinstance(value, str):
        return _plain(str.__str__(value), budget, depth)
    if isinstance(value, int):
        return _plain(int.__int__(value), budget, depth)
    if isinstance(value, float):
        return _plain(float.__float__(value), budget, depth)
    if isinstance(value, (list, tuple)):
        return [_plain(item, budget, depth + 1) for item in value]
    if isinstance(value, dict):
        value = dict(value.items())
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: _plain(v, budget, depth + 1) for k, v in value.items()}
        items = [[_plain(k, budget, depth + 1), _plain(v, budget, depth + 1)] for k, v in value.items()]
        return {"$dict": sorted(items, key=lambda kv: _canonical(kv[0]))}
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted((_plain(item, budget, depth + 1) for item in value), key=_canonical)}
    if kind is _dt.date:
        return {"$date": value.isoformat()}
    if kind is _dt.datetime:
        return {"$datetime": value.isoformat()}
    if kind is _dt.timedelta:
        return {"$timedelta": value.total_seconds()}
    return {"$object": _qualname(kind)}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def raised(exc: BaseException) -> dict[str, list[str]]:
    """The observation of a call that raised ``exc``: the qualified names along its class's MRO."""
    return {"$raised": [_qualname(k) for k in type(exc).__mro__ if k is not object]}


# ---------------------------------------------------------------------------------- comparison
def compare(reference: Any, observed: Any, *, tol: float | None = None, rel: float | None = None,
            unordered: bool = False) -> bool:
    """Whether an observation matches its reference (both plain, see :func:`to_plain`).

    Numbers match within ``rel`` (relative, default 1e-9) or ``tol`` (absolute, default 1e-9);
    an int matches a float of the same value, a bool matches only a bool. Lists match item by
    item (as multisets when ``unordered``), dicts key by key. A reference that raised matches an
    observation that raised the same class or a subclass of it. Never raises on odd input.
    """
    try:
        return _match(reference, observed, DEFAULT_TOL if tol is None else float(tol),
                      DEFAULT_REL if rel is None else float(rel), bool(unordered), 0)
    except (TypeError, ValueError, RecursionError):
        return False


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _match(ref: Any, obs: Any, tol: float, rel: float, unordered: bool, depth: int) -> bool:
    if depth > _MAX_DEPTH + 2:
        return False
    if _is_number(ref) and _is_number(obs):
        if type(ref) is int and type(obs) is int:
            return ref == obs or (tol > 0 and abs(ref - obs) <= tol)
        return math.isclose(float(ref), float(obs), rel_tol=rel, abs_tol=tol)
    if type(ref) is not type(obs):
        return False
    if ref is None or type(ref) in (bool, str):
        return bool(ref == obs)
    if type(ref) is list:
        if len(ref) != len(obs):
            return False
        if unordered:
            ref, obs = sorted(ref, key=_canonical), sorted(obs, key=_canonical)
        return all(_match(a, b, tol, rel, unordered, depth + 1) for a, b in zip(ref, obs))
    if type(ref) is dict:
        if set(ref) != set(obs):
            return False
        if len(ref) == 1:
            (tag,) = ref
            if tag == "$raised":
                names = obs["$raised"]
                return type(names) is list and bool(ref["$raised"]) and ref["$raised"][0] in names
            if tag in ("$set", "$dict"):
                return _match(ref[tag], obs[tag], tol, rel, tag == "$set" or unordered, depth + 1)
        return all(_match(ref[k], obs[k], tol, rel, unordered, depth + 1) for k in ref)
    return False


# ---------------------------------------------------------------------------------- recording
class _Recorder:
    def __init__(self, reference: bool) -> None:
        self.reference = reference
        self.observations: list[dict[str, Any]] = []

    def probe(self, label: str, thunk: Callable[[], Any], /, *, expect: Any = _MISSING,
              raises: type[BaseException] | None = None, **options: Any) -> None:
        if len(self.observations) >= _MAX_OBSERVATIONS:
            raise TooBig(f"more than {_MAX_OBSERVATIONS} probes in one tests cell")
        record: dict[str, Any] = {"label": str(label)[:_MAX_LABEL]}
        try:
            value = thunk()
        except Exception as exc:  # the student's code failing is an observation, not a crash
            record["value"] = raised(exc)
        else:
            try:
                record["value"] = to_plain(value)
            except TooBig as exc:
                record["value"] = {"$too_big": str(exc)}
        if self.reference:
            unknown = sorted(set(options) - set(OPTIONS))
            if unknown:
                raise TypeError(f"probe({label!r}): unknown option(s) {', '.join(unknown)}; "
                                f"use {', '.join(OPTIONS)}")
            record["options"] = {k: options[k] for k in OPTIONS if options.get(k) is not None}
            value = record["value"]
            if raises is not None:
                record["expect_ok"] = type(value) is dict and _qualname(raises) in value.get("$raised", [])
            elif type(value) is dict and "$raised" in value:
                record["unexpected_raise"] = value["$raised"][0]
            elif expect is not _MISSING:
                record["expect_ok"] = compare(to_plain(expect), value, **record["options"])
        self.observations.append(record)


_ACTIVE: list[_Recorder] = []


def probe(label: str, thunk: Callable[[], Any], /, *, expect: Any = _MISSING,
          raises: type[BaseException] | None = None, **options: Any) -> Any:
    """Check one call of the learner's code (see the module docstring).

    ``thunk`` is a function of no arguments, usually a ``lambda`` calling the learner's function
    with hidden inputs. ``expect`` (optional) is what the solution must give, ``raises`` the
    exception class it must raise instead: both are checked when the course is built and never
    sent to a student's kernel (a learner must then raise that class or a subclass). A solution
    that raises where no ``raises=`` says so fails the build. ``tol``/``rel`` widen the numeric
    tolerance; ``unordered=True`` compares lists as multisets. Labels are shown to students in
    their feedback when a probe fails: describe the case, never its answer.
    """
    if not callable(thunk):
        raise TypeError(f"probe({label!r}, ...) needs a function of no arguments, e.g. lambda: f(x)")
    if _ACTIVE:
        _ACTIVE[-1].probe(label, thunk, expect=expect, raises=raises, **options)
        return None
    if grading():  # plain nbgrader would let the kernel grade itself
        raise RuntimeError(_PLAIN_NBGRADER)
    if raises is not None:
        try:
            thunk()
        except raises:
            return None
        raise AssertionError(f"probe {label!r}: expected {raises.__name__} to be raised")
    value = thunk()
    if expect is not _MISSING:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError(f"probe({label!r}): unknown option(s) {', '.join(unknown)}")
        if not compare(to_plain(expect), to_plain(value), **options):
            raise AssertionError(f"probe {label!r}: expected {expect!r}, got {value!r}")
    return value


def literal_answer(answer_cell: str, variable: str, expect: str | list[str]) -> None:
    """Grade a quiz question from the text of its answer cell, never by running it.

    The hidden region of a quiz tests cell holds one such call. The build reads its arguments
    (they must be literals); the grader reads the value assigned to ``variable`` in the cell
    whose grade id is ``answer_cell`` as a literal, in its own process, and compares it with
    ``expect`` (one letter, or a list of letters compared as a set). Run in Jupyter, it checks
    the notebook's current value of ``variable``.
    """
    import sys

    if grading() and not _ACTIVE:
        raise RuntimeError(_PLAIN_NBGRADER)
    value = sys._getframe(1).f_globals.get(variable)
    ok = value == expect if isinstance(expect, str) else (
        type(value) is list and sorted(value) == sorted(expect) and len(set(value)) == len(value))
    if not ok:
        raise AssertionError(f"{variable} is {value!r}, not the right answer")


def partial_credit() -> None:
    """Mark a tests cell as scored in proportion to the probes that pass (default: all or nothing).

    A statement in the hidden region; the build reads it, and at run time it does nothing.
    """


_PLAIN_NBGRADER = ("these hidden checks are graded by `rightsize course autograde`, outside the student's "
                   "kernel; plain `nbgrader autograde` cannot grade them (see autograder/README.md)")


# ---------------------------------------------------------------------------------- kernel side
_SNAPSHOTS: dict[str, dict[str, Any]] = {}


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("probes run inside an IPython kernel")
    return shell.user_ns  # type: ignore[no-any-return]


def snapshot(cell_id: str) -> None:
    """Remember the names bound at a tests cell, so its probes later see them as they were then."""
    _SNAPSHOTS[cell_id] = dict(_user_namespace())


def run_driver(cell_id: str, code: str, reference: bool = False) -> None:
    """Run one tests cell's hidden probes and publish the observations (never raises).

    Called by the grading worker after the whole notebook has run. The observations leave the
    kernel as one display output of type :data:`MIME_TYPE`; everything else the code prints is
    dropped by the worker.
    """
    from IPython.display import display

    recorder = _Recorder(reference)
    payload: dict[str, Any] = {"cell": cell_id, "observations": recorder.observations, "aborted": None}
    namespace = dict(_SNAPSHOTS.get(cell_id) or _user_namespace())
    namespace["probe"] = probe
    _ACTIVE.append(recorder)
    try:
        exec(compile(code, f"<hidden tests of {cell_id}>", "exec"), namespace)  # noqa: S102
    except BaseException as exc:  # noqa: BLE001 - a timeout interrupt ends the probes, not the report
        payload["aborted"] = raised(exc)
    finally:
        _ACTIVE.remove(recorder)
        try:
            text = json.dumps(payload, allow_nan=False)
        except (TypeError, ValueError) as exc:
            text = json.dumps({"cell": cell_id, "observations": [], "aborted": {"$raised": [repr(exc)[:200]]}})
        display({MIME_TYPE: text, "text/plain": f"[{len(recorder.observations)} observations]"}, raw=True)


def driver_request(cell_id: str, code: str, reference: bool = False) -> str:
    """The code the grading worker asks the kernel to run for one tests cell's probes."""
    return (f"__import__('rightsize.course.probes', fromlist=['run_driver'])"
            f".run_driver({cell_id!r}, {code!r}, {bool(reference)!r})")


def snapshot_request(cell_id: str) -> str:
    """The code the grading worker asks the kernel to run right after a tests cell."""
    return f"__import__('rightsize.course.probes', fromlist=['snapshot']).snapshot({cell_id!r})"


# ---------------------------------------------------------------------------------- grader side
def parse_payload(text: Any, cell_id: str, max_chars: int = 2_000_000) -> tuple[list[dict[str, Any]], bool]:
    """The observations of one tests cell from an untrusted payload; ``([], False)`` if unusable.

    The second item says whether the payload was well formed. Labels must be strings; values are
    kept as parsed (comparison treats anything unexpected as a mismatch).
    """
    if type(text) is not str or len(text) > max_chars:
        return [], False
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return [], False
    if type(data) is not dict or data.get("cell") != cell_id or type(data.get("observations")) is not list:
        return [], False
    out = []
    for item in data["observations"][:_MAX_OBSERVATIONS]:
        if type(item) is not dict or type(item.get("label")) is not str or "value" not in item:
            return out, False
        out.append({"label": item["label"][:_MAX_LABEL], "value": item["value"]})
    return out, True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not plain JSON")


# ---------------------------------------------------------------------------------- build side
def strip_expectations(code: str) -> str:
    """The hidden code without any ``expect=``/``raises=`` of ``probe(...)``: what a student's kernel runs.

    Raises ``ValueError`` when an expectation could still reach the kernel: ``probe`` called with
    ``**kwargs``, or ``expect`` used anywhere but as a keyword of a direct ``probe(...)`` call.
    """
    tree = ast.parse(code)

    class _Strip(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> Any:
            self.generic_visit(node)
            if isinstance(node.func, ast.Name) and node.func.id == "probe":
                if any(k.arg is None for k in node.keywords):
                    raise ValueError("probe(...) with **kwargs: pass tol/rel/unordered/expect/raises by name")
                node.keywords = [k for k in node.keywords if k.arg not in ("expect", "raises")]
            return node

    stripped = _Strip().visit(tree)
    for node in ast.walk(stripped):
        if isinstance(node, ast.keyword) and node.arg in ("expect", "raises"):
            raise ValueError(f"{node.arg}= is only allowed on a direct probe(...) call")
        if isinstance(node, ast.Name) and node.id == "expect":
            raise ValueError("a name 'expect' in hidden tests could carry an answer into the student's kernel")
    return ast.unparse(ast.fix_missing_locations(stripped))
