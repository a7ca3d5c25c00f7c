"""The course's golden datasets, loaded and checked, plus the grader of the routing set.

Three sets ship in ``rightsize/data`` (each folder has a README saying how it was made):

- ``triage/tickets.jsonl``: support tickets with a category (one of ``labels.yaml``), urgency,
  difficulty and a train/dev/test split. Lessons 06 and 08.
- ``extraction/orders.jsonl``: customer messages and the order JSON expected from each, valid
  against ``schema.json``. Lesson 07.
- ``routing/requests.jsonl``: requests of three complexities, each with a machine-checkable
  ``check`` (graded by :func:`check_answer`). Lesson 08.

Loading checks every line (fields, labels, splits, duplicate ids), so a broken file is an error
that names the file and the item, not a wrong number three lessons later. Each loaded
:class:`Dataset` carries a content hash of its file, which the evaluation cache uses as a key: edit
the data and old results stop matching.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

from .errors import RightsizeError
from .yamlconfig import ConfigError, locate

__all__ = [
    "CHECK_TYPES",
    "Dataset",
    "DatasetError",
    "ExtractionItem",
    "RoutingItem",
    "TriageItem",
    "check_answer",
    "data_path",
    "extraction_schema",
    "load_extraction",
    "load_routing",
    "load_triage",
    "triage_label_descriptions",
    "triage_labels",
]

SPLITS = ("train", "dev", "test")
CHECK_TYPES = ("contains", "contains_all", "number", "regex", "choice")


class DatasetError(RightsizeError, ValueError):
    """A dataset file is missing, empty or holds an item that breaks its documented format."""


def data_path(*parts: str) -> Path:
    """The path of a file shipped in ``rightsize/data`` (e.g. ``data_path("triage", "labels.yaml")``)."""
    return Path(str(resources.files("rightsize").joinpath("data", *parts)))


# -- items -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriageItem:
    """One support ticket and its gold labels."""

    id: str
    text: str
    category: str
    urgency: str | None
    difficulty: str | None
    split: str

    @property
    def gold(self) -> str:
        """The answer a triage model is graded on: the category."""
        return self.category


@dataclass(frozen=True)
class ExtractionItem:
    """One customer message and the order object expected from it."""

    id: str
    text: str
    expected: Mapping[str, Any]
    difficulty: str | None
    split: str

    @property
    def gold(self) -> Mapping[str, Any]:
        return self.expected


@dataclass(frozen=True)
class RoutingItem:
    """One request, its complexity, and the check its answer must pass."""

    id: str
    prompt: str
    complexity: str
    category: str | None
    check: Mapping[str, Any]
    reference: str
    split: str

    @property
    def text(self) -> str:
        return self.prompt

    @property
    def gold(self) -> str:
        return self.reference


Item = TypeVar("Item", TriageItem, ExtractionItem, RoutingItem)


@dataclass(frozen=True)
class Dataset(Generic[Item]):
    """A loaded dataset: its items (in file order), where it came from and a content hash.

    ``content_hash`` is the SHA-256 of the whole file (all splits), shortened; ``split`` is the
    split that was selected, or None for all of them.
    """

    name: str
    items: tuple[Item, ...]
    path: Path
    content_hash: str
    split: str | None = None
    labels: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __getitem__(self, index: int) -> Item:
        return self.items[index]

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    @property
    def key(self) -> str:
        """``name[:split]@hash``: what the evaluation cache stores a run under."""
        part = f":{self.split}" if self.split else ""
        return f"{self.name}{part}@{self.content_hash}"

    def head(self, limit: int | None) -> Dataset[Item]:
        """The first ``limit`` items (all when None), keeping name, hash and split."""
        if limit is None or limit >= len(self.items):
            return self
        if limit < 1:
            raise DatasetError(f"limit must be at least 1, not {limit}")
        return Dataset(self.name, self.items[:limit], self.path, self.content_hash, self.split, self.labels)

    def by_id(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"no item {item_id!r} in {self.name}")

    def __repr__(self) -> str:
        return f"<Dataset {self.key} items={len(self.items)}>"


# -- reading -----------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], str]:
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path}. Reinstall rightsize-course or check the path.")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path.name} line {number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise DatasetError(f"{path.name} line {number}: each line must be a JSON object")
        rows.append(row)
    if not rows:
        raise DatasetError(f"{path} holds no items: an evaluation over an empty dataset means nothing. "
                           "Check that the file was written completely.")
    return rows, digest


def _field(row: Mapping[str, Any], name: str, path: Path, kind: type | tuple[type, ...] = str,
           optional: bool = False) -> Any:
    where = f"{path.name}, item {row.get('id', '?')!r}"
    if name not in row or row[name] is None:
        if optional:
            return None
        raise DatasetError(f"{where}: the field {name!r} is missing (see the README beside the file)")
    value = row[name]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise DatasetError(f"{where}: the field {name!r} must be a non-empty {getattr(kind, '__name__', kind)}")
    return value


def _check_ids(rows: list[dict[str, Any]], path: Path) -> None:
    seen: set[str] = set()
    for row in rows:
        item_id = _field(row, "id", path)
        if item_id in seen:
            raise DatasetError(f"{path.name}: the id {item_id!r} appears twice; ids must be unique")
        seen.add(item_id)


def _check_split(split: str | None, allowed: Sequence[str], name: str) -> None:
    if split is not None and split not in allowed:
        raise DatasetError(f"unknown split {split!r} for the {name} set: use one of {', '.join(allowed)} "
                           "(or None for every item)")


def _select(name: str, items: list[Item], path: Path, digest: str, split: str | None,
            labels: tuple[str, ...] = ()) -> Dataset[Item]:
    chosen = tuple(i for i in items if split is None or i.split == split)
    if not chosen:
        raise DatasetError(f"{path.name} has no items in the split {split!r}")
    return Dataset(name, chosen, path, digest, split, labels)


# -- triage ------------------------------------------------------------------------------------


def _load_labels_file(path: Path) -> dict[str, str]:
    """Label name -> description from labels.yaml (a list, a mapping, or ``categories:`` of either)."""
    if not path.is_file():
        raise DatasetError(f"label file not found: {path}")
    try:  # the shapes below are checked by hand; the loader gives syntax errors and duplicates their lines
        data = locate(path.read_text(encoding="utf-8"), str(path)).data
    except ConfigError as exc:
        raise DatasetError(str(exc)) from None
    if isinstance(data, dict):
        for key in ("categories", "category", "labels"):
            if key in data:
                data = data[key]
                break
    labels: dict[str, str] = {}
    if isinstance(data, dict):
        for name, value in data.items():
            labels[str(name)] = _description(value)
    elif isinstance(data, list):
        for entry in data:
            if isinstance(entry, str):
                labels[entry] = ""
            elif isinstance(entry, dict) and ("name" in entry or "label" in entry or "id" in entry):
                name = entry.get("name") or entry.get("label") or entry.get("id")
                labels[str(name)] = _description(entry)
            elif isinstance(entry, dict) and len(entry) == 1:
                (name, value), = entry.items()
                labels[str(name)] = _description(value)
    if not labels:
        raise DatasetError(f"{path}: found no category labels (expected a list of categories)")
    return labels


def _description(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        for key in ("description", "definition", "meaning", "summary"):
            if isinstance(value.get(key), str):
                return str(value[key]).strip()
    return ""


def triage_label_descriptions(labels_path: str | Path | None = None) -> dict[str, str]:
    """Each triage category and its one-line description, in the order of ``labels.yaml``."""
    return _load_labels_file(Path(labels_path) if labels_path else data_path("triage", "labels.yaml"))


def triage_labels(labels_path: str | Path | None = None) -> list[str]:
    """The triage categories, in the order of ``labels.yaml``."""
    return list(triage_label_descriptions(labels_path))


def load_triage(split: str | None = None, *, path: str | Path | None = None,
                labels_path: str | Path | None = None) -> Dataset[TriageItem]:
    """The support-ticket triage set (optionally one split: train, dev or test).

    Every item's category must be one of ``labels.yaml``; an unknown one is an error naming the
    item and the file.
    """
    _check_split(split, SPLITS, "triage")
    file = Path(path) if path else data_path("triage", "tickets.jsonl")
    labels = triage_labels(labels_path if labels_path else (file.parent / "labels.yaml" if path else None))
    rows, digest = _read_jsonl(file)
    _check_ids(rows, file)
    items: list[TriageItem] = []
    for row in rows:
        category = _field(row, "category", file)
        if category not in labels:
            raise DatasetError(f"{file.name}, item {row['id']!r}: unknown category {category!r}; "
                               f"labels.yaml allows {', '.join(labels)}. Fix the item or add the label.")
        item_split = _field(row, "split", file)
        if item_split not in SPLITS:
            raise DatasetError(f"{file.name}, item {row['id']!r}: split must be one of {', '.join(SPLITS)}, "
                               f"not {item_split!r}")
        items.append(TriageItem(
            id=row["id"], text=_field(row, "text", file), category=category,
            urgency=_field(row, "urgency", file, optional=True),
            difficulty=_field(row, "difficulty", file, optional=True), split=item_split,
        ))
    return _select("triage", items, file, digest, split, tuple(labels))


# -- extraction --------------------------------------------------------------------------------


def extraction_schema(path: str | Path | None = None) -> dict[str, Any]:
    """The JSON Schema every expected order (and every model answer) must satisfy."""
    file = Path(path) if path else data_path("extraction", "schema.json")
    if not file.is_file():
        raise DatasetError(f"schema file not found: {file}")
    schema: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return schema


def load_extraction(split: str | None = None, *, path: str | Path | None = None,
                    schema_path: str | Path | None = None) -> Dataset[ExtractionItem]:
    """The order-extraction set (splits dev and test). Every ``expected`` object must match the schema."""
    _check_split(split, ("dev", "test"), "extraction")
    file = Path(path) if path else data_path("extraction", "orders.jsonl")
    schema = extraction_schema(schema_path if schema_path else (file.parent / "schema.json" if path else None))
    from .structured import validate  # the structured-output module owns validation

    rows, digest = _read_jsonl(file)
    _check_ids(rows, file)
    items: list[ExtractionItem] = []
    for row in rows:
        expected = _field(row, "expected", file, dict)
        errors = validate(expected, schema)
        if errors:
            raise DatasetError(f"{file.name}, item {row['id']!r}: the expected object does not match "
                               f"schema.json: {errors[0]}")
        item_split = _field(row, "split", file)
        if item_split not in ("dev", "test"):
            raise DatasetError(f"{file.name}, item {row['id']!r}: split must be dev or test, not {item_split!r}")
        items.append(ExtractionItem(
            id=row["id"], text=_field(row, "text", file), expected=_frozen(expected),
            difficulty=_field(row, "difficulty", file, optional=True), split=item_split,
        ))
    return _select("extraction", items, file, digest, split)


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes, so a frozen item's gold answer cannot be edited by accident."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("dataset items are read-only; copy with dict(item.expected) to change one")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True))


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return _FrozenDict(value)


# -- routing -----------------------------------------------------------------------------------


def load_routing(split: str | None = None, *, path: str | Path | None = None) -> Dataset[RoutingItem]:
    """The routing request set (splits dev and test), each item with a checked ``check`` object."""
    _check_split(split, ("dev", "test"), "routing")
    file = Path(path) if path else data_path("routing", "requests.jsonl")
    rows, digest = _read_jsonl(file)
    _check_ids(rows, file)
    items: list[RoutingItem] = []
    for row in rows:
        check = _field(row, "check", file, dict)
        try:
            _validate_check(check)
        except DatasetError as exc:
            raise DatasetError(f"{file.name}, item {row['id']!r}: {exc}") from None
        complexity = _field(row, "complexity", file)
        if complexity not in ("simple", "medium", "complex"):
            raise DatasetError(f"{file.name}, item {row['id']!r}: complexity must be simple, medium or complex, "
                               f"not {complexity!r}")
        item_split = _field(row, "split", file)
        if item_split not in ("dev", "test"):
            raise DatasetError(f"{file.name}, item {row['id']!r}: split must be dev or test, not {item_split!r}")
        items.append(RoutingItem(
            id=row["id"], prompt=_field(row, "prompt", file), complexity=complexity,
            category=_field(row, "category", file, optional=True), check=_frozen(check),
            reference=str(_field(row, "reference", file, (str, int, float))), split=item_split,
        ))
    return _select("routing", items, file, digest, split)


# -- grading the routing set's checks -------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def _validate_check(check: Mapping[str, Any]) -> None:
    kind = check.get("type")
    if kind not in CHECK_TYPES:
        raise DatasetError(f"unknown check type {kind!r}; known: {', '.join(CHECK_TYPES)}")
    needs: dict[str, tuple[str, ...]] = {"contains": ("any",), "contains_all": ("all",), "number": ("value",),
                                         "regex": ("pattern",), "choice": ("value", "options")}
    for key in needs[str(kind)]:
        if key not in check:
            raise DatasetError(f"a {kind!r} check needs the key {key!r}")
    if kind == "regex":
        try:
            re.compile(check["pattern"], re.IGNORECASE)
        except re.error as exc:
            raise DatasetError(f"the regex {check['pattern']!r} does not compile: {exc}") from exc
    if kind == "choice" and check["value"] not in check["options"]:
        raise DatasetError(f"choice value {check['value']!r} is not one of the options {check['options']}")


def check_answer(check: Mapping[str, Any], text: str) -> bool:
    """Whether a model's reply passes a routing item's check (semantics in ``routing/README.md``).

    - ``contains``: some string of ``any`` is in the reply, ignoring case;
    - ``contains_all``: every string of ``all`` is, ignoring case;
    - ``number``: some number in the reply (thousands commas removed) is within ``tolerance``;
    - ``regex``: ``re.search(pattern, reply, re.IGNORECASE)`` matches;
    - ``choice``: the first option letter standing alone in the reply is ``value`` (case-sensitive).
    """
    _validate_check(check)
    kind = check["type"]
    answer = text or ""
    if kind == "contains":
        return any(str(s).lower() in answer.lower() for s in check["any"])
    if kind == "contains_all":
        return all(str(s).lower() in answer.lower() for s in check["all"])
    if kind == "number":
        target, tolerance = float(check["value"]), float(check.get("tolerance", 0))
        return any(abs(float(m.replace(",", "")) - target) <= tolerance for m in _NUMBER.findall(answer))
    if kind == "regex":
        return re.search(check["pattern"], answer, re.IGNORECASE) is not None
    letters = "|".join(re.escape(str(o)) for o in check["options"])
    first = re.search(rf"(?<![A-Za-z0-9])({letters})(?![A-Za-z0-9])", answer)
    return first is not None and first.group(1) == check["value"]
