"""What each graded cell is worth and how it is judged, computed once from the solutions: references.

``rightsize course build`` reads every tests cell of every source notebook and writes
``<course>/.rightsize/references/<assignment>.json`` (instructor-only: the sandbox never sees the
course folder). Per tests cell, by grade id, one :class:`CellSpec`:

``literal``  a quiz question: the hidden region is one ``literal_answer(cell, variable, expect)``
             call; the grader reads the answer from the submitted cell's text.
``probes``   an exercise: the hidden region calls ``probe(...)``. The build runs the solution
             notebook under grading conditions (the same sandboxed run a submission gets, replaying
             recorded model answers) and records what each probe observed: the references. It also
             stores the code a student's kernel will run, with every ``expect=`` removed.

The build fails, naming the cell, when a tests cell has no hidden checks, when the solution does
not pass its own visible checks or an ``expect=``, or when a probe's code fails outside a probe.
A file is reused while its key (the source notebook, the course package and the variant seed)
is unchanged; ``autograde`` refuses a file whose source no longer matches the gradebook's.
"""

from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RightsizeError
from . import probes
from .regions import split

__all__ = ["CellSpec", "NotebookSpec", "References", "build_references", "load_references", "plan_notebook",
           "references_path", "sources_digest"]

FORMAT = 1


@dataclass
class CellSpec:
    """How one graded tests cell is judged (see the module docstring)."""

    grade_id: str
    kind: str  # "literal" | "probes"
    points: float
    # literal
    answer_cell: str = ""
    variable: str = ""
    answer: Any = None
    # probes
    driver: str = ""
    partial: bool = False
    probes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class NotebookSpec:
    """The graded cells of one notebook, and the order of its nbgrader cells in the release."""

    order: list[str] = field(default_factory=list)
    cells: dict[str, CellSpec] = field(default_factory=dict)


@dataclass
class References:
    """The references of one assignment: ``sources`` digests the source notebooks they came from."""

    assignment: str
    key: str
    sources: str
    notebooks: dict[str, NotebookSpec] = field(default_factory=dict)
    built: str = ""

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> References:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        notebooks = {name: NotebookSpec(nb["order"], {gid: CellSpec(**spec) for gid, spec in nb["cells"].items()})
                     for name, nb in data["notebooks"].items()}
        return cls(data["assignment"], data["key"], data["sources"], notebooks, data.get("built", ""))


def references_path(course_dir: Path, assignment: str) -> Path:
    """Where the references of ``assignment`` live (inside the course folder, never in a sandbox)."""
    return course_dir / ".rightsize" / "references" / f"{assignment}.json"


def load_references(course_dir: Path, assignment: str) -> References:
    """The references of ``assignment``; raises with what to run when they are missing or unreadable."""
    path = references_path(course_dir, assignment)
    try:
        return References.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RightsizeError(f"{assignment} has no references in {path.parent}: run `rightsize course build` "
                             "(it computes what each hidden check expects from the solutions)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise RightsizeError(f"{path} is unreadable ({exc}): run `rightsize course build` again") from None


# ---------------------------------------------------------------------------------- reading cells
def _meta(cell: Any) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_tests_cell(cell: Any) -> bool:
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def nbgrader_order(nb: Any) -> list[str]:
    """The grade ids of the notebook's nbgrader cells, in order."""
    return [str(_meta(c)["grade_id"]) for c in nb.cells if _meta(c).get("grade_id")
            and (_meta(c).get("grade") or _meta(c).get("solution") or _meta(c).get("locked"))]


def _literal_call(code: str) -> ast.Call | None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    calls = [n.value for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
             and isinstance(n.value.func, ast.Name) and n.value.func.id == "literal_answer"]
    rest = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    return calls[0] if len(calls) == 1 and len(rest) == 1 else None


def read_spec(cell: Any, where: str) -> CellSpec:
    """The spec of a tests cell as far as its source tells (probes get their references later)."""
    meta = _meta(cell)
    gid, points = str(meta.get("grade_id")), float(meta.get("points", 0) or 0)
    regions = split(cell.source)
    if not regions.hidden_code.strip():
        raise RightsizeError(f"{where}: tests cell {gid!r} has no hidden checks. Every graded cell is judged "
                             "by probe(...) calls (or one literal_answer(...)) between ### BEGIN HIDDEN TESTS "
                             "and ### END HIDDEN TESTS (see solutions/AUTHORING.md)")
    call = _literal_call(regions.hidden_code)
    if call is not None:
        try:
            args = [ast.literal_eval(a) for a in call.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        except ValueError:
            raise RightsizeError(f"{where}: literal_answer(...) in {gid!r} takes literal arguments only") from None
        named = dict(zip(("answer_cell", "variable", "expect"), args)) | kwargs
        if set(named) != {"answer_cell", "variable", "expect"}:
            raise RightsizeError(f"{where}: literal_answer in {gid!r} needs answer_cell, variable and expect")
        return CellSpec(gid, "literal", points, answer_cell=str(named["answer_cell"]),
                        variable=str(named["variable"]), answer=named["expect"])
    if "probe(" not in regions.hidden_code:
        raise RightsizeError(f"{where}: the hidden region of {gid!r} calls no probe(...): hidden checks are "
                             "probes (see solutions/AUTHORING.md); plain asserts would run in the student's kernel")
    try:
        driver = probes.strip_expectations(regions.hidden_code)
        tree = ast.parse(regions.hidden_code)
    except (SyntaxError, ValueError) as exc:
        raise RightsizeError(f"{where}: the hidden checks of {gid!r} cannot be used: {exc}") from None
    partial = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "partial_credit"
                  for n in ast.walk(tree))
    return CellSpec(gid, "probes", points, driver=driver, partial=partial)


def plan_notebook(nb: Any, specs: Mapping[str, CellSpec], *, reference: bool = False
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The cells a sandbox runs for ``nb``, and the probe drivers it runs after them.

    Tests cells run only their visible part, followed by a snapshot of the names their probes
    use; quiz (literal) tests cells do not run at all. In a ``reference`` run the probes are the
    hidden region as written (``expect=`` included: it is the solution); otherwise they are the
    stored driver without any ``expect=``.
    """
    cells: list[dict[str, Any]] = []
    drivers: list[dict[str, Any]] = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        if not is_tests_cell(cell):
            cells.append({"index": index, "source": cell.source})
            continue
        gid = str(_meta(cell).get("grade_id"))
        spec = specs.get(gid)
        if spec is None or spec.kind == "literal":
            continue
        regions = split(cell.source)
        cells.append({"index": index, "source": regions.visible_code, "after": probes.snapshot_request(gid)})
        code = regions.hidden_code if reference else spec.driver
        drivers.append({"id": gid, "code": probes.driver_request(gid, code, reference)})
    return cells, drivers


# ---------------------------------------------------------------------------------- building
def package_digest() -> str:
    """A digest of the installed course package's files: a reference run depends on its code and data."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml", ".jsonl", ".json", ".csv", ".txt"):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def sources_digest(source_files: Iterable[Path]) -> str:
    """A digest of an assignment's source notebooks (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(source_files):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def reference_key(source_files: Iterable[Path], package: str, seed: str | None) -> str:
    return hashlib.sha256(f"{package}\0{seed or ''}\0{sources_digest(source_files)}".encode()).hexdigest()


def _visible_check_problems(outputs: list[dict[str, Any]], gid: str) -> list[str]:
    from ..checks import MIME_TYPE as CHECK_MIME

    problems = []
    reports = [o.get("data", {}).get(CHECK_MIME) for o in outputs if isinstance(o, dict)]
    for report in filter(None, reports):
        if isinstance(report, dict) and report.get("status") != "passed":
            problems.append(f"{gid}: the solution does not pass its own visible checks ({report.get('message')})")
    for output in outputs:
        if isinstance(output, dict) and output.get("output_type") == "error":
            problems.append(f"{gid}: the visible checks raised {output.get('ename')}: {output.get('evalue')}")
    return problems


def build_references(course_dir: Path, assignments: list[str], *, sandbox: Any, workers: int = 2,
                     timeout: float = 120, seed: str | None = None, force: bool = False) -> list[str]:
    """Compute (or reuse) the references of ``assignments``; returns the ones recomputed.

    ``sandbox`` is a :class:`~rightsize.course.sandbox.Sandbox` to run the solutions in (the same
    conditions a submission gets). Raises :class:`RightsizeError` listing every problem found.
    """
    import nbformat

    from ._pool import Job, Pool

    package = package_digest()
    todo: list[tuple[str, str, Any, dict[str, CellSpec], Path]] = []
    fresh: dict[str, References] = {}
    problems: list[str] = []
    for assignment in assignments:
        folder = course_dir / "source" / assignment
        sources = sorted(folder.glob("*.ipynb"))
        key = reference_key(sources, package, seed)
        path = references_path(course_dir, assignment)
        if not force and path.is_file():
            try:
                if References.from_json(path.read_text(encoding="utf-8")).key == key:
                    continue
            except (ValueError, KeyError, TypeError):
                pass
        refs = References(assignment, key, sources_digest(sources),
                          built=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        for source in sources:
            nb = nbformat.read(str(source), as_version=4)  # type: ignore[no-untyped-call]
            where = f"{assignment}/{source.name}"
            specs: dict[str, CellSpec] = {}
            for cell in nb.cells:
                if is_tests_cell(cell):
                    try:
                        spec = read_spec(cell, where)
                    except RightsizeError as exc:
                        problems.append(str(exc))
                        continue
                    specs[spec.grade_id] = spec
            problems += _check_literals(nb, specs, where)
            refs.notebooks[source.stem] = NotebookSpec(nbgrader_order(nb), specs)
            if any(s.kind == "probes" for s in specs.values()):
                todo.append((assignment, source.stem, nb, specs, folder))
        fresh[assignment] = refs
    if problems:
        raise RightsizeError("the course cannot be graded as written:\n  " + "\n  ".join(problems))
    if todo:
        pool = Pool(sandbox, max(1, min(workers, len(todo))), prewarm=True)
        try:
            jobs = []
            for assignment, name, nb, specs, folder in todo:
                cells, drivers = plan_notebook(nb, specs, reference=True)
                job = Job("reference", f"{assignment}/{name}", folder, cells, timeout, drivers,
                          {"observations_mime": probes.MIME_TYPE})
                jobs.append((assignment, name, nb, specs, job))
                pool.jobs.put(job)
            pool.more_coming.clear()
            results = {}
            for _ in jobs:
                result = pool.results.get()
                results[result.job.notebook] = result
        finally:
            pool.close()
        for assignment, name, nb, specs, job in jobs:
            problems += _record_references(f"{assignment}/{name}", nb, specs, results[job.notebook])
    if problems:
        raise RightsizeError("the solutions fail their own hidden checks under grading conditions:\n  "
                             + "\n  ".join(problems))
    for assignment, refs in fresh.items():
        path = references_path(course_dir, assignment)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(refs.to_json(), encoding="utf-8")
        os.replace(tmp, path)
    return sorted(fresh)


def _check_literals(nb: Any, specs: Mapping[str, CellSpec], where: str) -> list[str]:
    from .scoring import read_literal

    problems = []
    for spec in specs.values():
        if spec.kind != "literal":
            continue
        value, problem = read_literal(nb, spec.answer_cell, spec.variable)
        if problem or not _same_answer(value, spec.answer):
            problems.append(f"{where}: {spec.grade_id}: the solution's answer cell gives {value!r} "
                            f"({problem or 'read as a literal'}), but literal_answer expects {spec.answer!r}")
    return problems


def _same_answer(value: Any, answer: Any) -> bool:
    if type(answer) is str:
        return type(value) is str and value == answer
    return type(value) is list and sorted(value) == sorted(answer) and len(set(value)) == len(value)


def _record_references(where: str, nb: Any, specs: dict[str, CellSpec], result: Any) -> list[str]:
    problems = []
    if result.infra_error:
        return [f"{where}: the solution could not run in the sandbox: {result.infra_error}"]
    if result.stop_reason:
        problems.append(f"{where}: the solution's run stopped early: {result.stop_reason}")
    for index, cell in enumerate(nb.cells):
        record = result.records.get(index)
        if record is None or cell.get("cell_type") != "code":
            continue
        if is_tests_cell(cell):
            gid = str(_meta(cell).get("grade_id"))
            if gid in specs and specs[gid].kind == "probes":
                problems += [f"{where}: {p}" for p in _visible_check_problems(record.get("outputs", []), gid)]
        elif record.get("status") == "error":
            problems.append(f"{where}: cell {index} raised {record.get('ename')}: {str(record.get('evalue'))[:200]} "
                            "under grading conditions (is a model answer missing from the recordings?)")
    for gid, spec in specs.items():
        if spec.kind != "probes":
            continue
        event = result.drivers.get(gid)
        if event is None:
            problems.append(f"{where}: {gid}: its probes did not run")
            continue
        observations, ok = _reference_payload(event.get("payload"), gid)
        if not ok:
            problems.append(f"{where}: {gid}: its probes sent no usable report (status {event.get('status')})")
            continue
        aborted = observations["aborted"]
        if aborted:
            problems.append(f"{where}: {gid}: the hidden code raised {aborted.get('$raised', ['?'])[0]} outside "
                            "a probe (wrap calls of the learner's code in probe(...))")
        if not observations["observations"]:
            problems.append(f"{where}: {gid}: no probe(...) ran")
        for item in observations["observations"]:
            if item.get("expect_ok") is False:
                problems.append(f"{where}: {gid}: probe {item['label']!r}: the solution gives "
                                f"{json.dumps(item['value'])[:120]}, not what expect= (or raises=) says")
            if item.get("unexpected_raise"):
                problems.append(f"{where}: {gid}: probe {item['label']!r}: the solution raised "
                                f"{item['unexpected_raise']}; if that is the behaviour asked for, say "
                                "raises=<that class> in the probe")
        spec.probes = [{"label": item["label"], "value": item["value"], "options": item.get("options", {})}
                       for item in observations["observations"]]
    return problems


def _reference_payload(text: Any, gid: str) -> tuple[dict[str, Any], bool]:
    if type(text) is not str:
        return {}, False
    try:
        data = json.loads(text)
    except ValueError:
        return {}, False
    ok = type(data) is dict and data.get("cell") == gid and type(data.get("observations")) is list
    return data, ok
