"""The one loader for the course's YAML configuration: YAML text in, a checked pydantic model out.

Every configuration file the course reads (the model registry, prompt files, router configs,
lab-server fault files) goes through :func:`load_model` (or :func:`load_file`), so every one
reports problems the same way: each problem with its file, its line and its key, a "did you
mean" for a misspelled key, and a list of what is allowed where it helps::

    routes.yaml line 7: routes[1].modle: unknown key (did you mean 'model'?)

Files with rules of their own use the parts: the quiz bank parses with :func:`parse_located`
(lines, duplicates) and words its problems itself with :func:`unknown_key_hint`; the dataset
label files use :func:`locate` for syntax errors and duplicate keys.

PyYAML's ``safe_load`` throws positions away, so the text is composed to nodes once (with
libyaml when PyYAML has it), their marks give the line of every key and list item, and the data
is constructed from those same nodes; duplicate keys (which ``safe_load`` silently resolves by
keeping the last) are problems too.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import RightsizeError

__all__ = ["ConfigError", "ConfigProblem", "LocatedDocument", "format_path", "load_file", "load_model",
           "locate", "parse_located", "unknown_key_hint"]

Path = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a config file: where it is and what is wrong."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" if self.line is not None else self.source
        return f"{where}: {self.path}: {self.message}"


class ConfigError(RightsizeError, ValueError):
    """A configuration that cannot be used. ``problems`` lists each one with its line."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------------------------- lines
@dataclass
class LocatedDocument:
    """A parsed YAML document and the line of every path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int, int]] = field(default_factory=list)  # (path, line, first line)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


# libyaml's parser when PyYAML has it: about 20 times faster than the pure-Python one
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _walk(node: yaml.Node, path: Path, doc: LocatedDocument, walked: set[int]) -> None:
    # an alias is the anchored node itself: walk each node once, so a recursive alias ends and
    # an alias used many times costs nothing (its keys keep the lines of the anchored text)
    if id(node) in walked:
        return
    walked.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            child = (*path, key)
            if key in first_seen:
                doc.duplicates.append((child, line, first_seen[key]))
            first_seen.setdefault(key, line)
            doc.lines.setdefault(child, line)
            _walk(value_node, child, doc, walked)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            doc.lines[child] = item.start_mark.line + 1
            _walk(item, child, doc, walked)


def parse_located(text: str) -> LocatedDocument:
    """Parse ``text`` as one YAML document, keeping lines. Raises ``yaml.YAMLError``.

    One parse gives both: the node tree is walked for lines, then the data is constructed from it.
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        doc = LocatedDocument(None)
        if root is not None:
            doc.lines[()] = root.start_mark.line + 1
            # walk before constructing: constructing a `<<` merge rewrites the mapping's node in place
            _walk(root, (), doc, set())
            doc.data = loader.construct_document(root)
    finally:
        loader.dispose()
    return doc


def format_path(path: Path) -> str:
    """``("routes", 1, "model")`` -> ``routes[1].model``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


# ---------------------------------------------------------------------------------- pydantic errors
def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional, so the walk sees the model or container inside."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else members[0]
        else:
            return annotation


def _model_at(root: type[BaseModel], loc: Path) -> type[BaseModel] | None:
    """The section class at ``loc`` (for listing the keys it allows)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            model_field = current.model_fields.get(part)
            if model_field is None:
                return None
            current = model_field.annotation
        elif origin is list and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif origin is dict and isinstance(part, str):
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def unknown_key_hint(root: type[BaseModel], loc: Path) -> str:
    """What to say after "unknown key" at ``loc`` (a path into ``root``, ending with the key).

    `` (did you mean 'model'?)`` for a close spelling, else `` (allowed: ...)`` listing the keys of
    that section, else nothing.
    """
    section = _model_at(root, loc[:-1]) if loc else None
    allowed = sorted(section.model_fields) if section else []
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6) if loc else []
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (allowed: {', '.join(allowed)})" if allowed else ""


def _message(root: type[BaseModel], error: Any, loc: Path) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key{unknown_key_hint(root, loc)}"
    if kind == "missing":
        return f"missing key {loc[-1]!r}" if loc else "missing key"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind.startswith(("literal_", "enum", "greater", "less", "int_", "float_", "bool_", "string_", "too_")):
        message += f" (got {error.get('input')!r})"
    return message


def problems_from(root: type[BaseModel], exc: ValidationError, doc: LocatedDocument, source: str,
                  base: Path = ()) -> list[ConfigProblem]:
    """One :class:`ConfigProblem` per pydantic error, with the line of the key it is about."""
    problems: list[ConfigProblem] = []
    seen: set[tuple[Path, str]] = set()
    for error in exc.errors():
        # pydantic adds the name of a validator-wrapped type to the loc; keep only real keys
        loc: Path = tuple(p for p in error["loc"] if isinstance(p, int) or "[" not in str(p))
        message = _message(root, error, loc)
        if (loc, message) in seen:
            continue
        seen.add((loc, message))
        if error["type"] == "missing":  # name the section that lacks the key, at its line
            loc = loc[:-1]
        full = (*base, *loc)
        problems.append(ConfigProblem(source, doc.line_of(full), format_path(full), message))
    return sorted(problems, key=lambda p: p.line or 0)


# ---------------------------------------------------------------------------------- loading
def load_model(text: str, model: type[M], *, source: str, context: dict[str, Any] | None = None,
               top_hint: str = "", error: type[ConfigError] = ConfigError,
               check: Callable[[M, LocatedDocument], list[tuple[Path, str]]] | None = None,
               empty_is: Any = None) -> M:
    """Parse YAML ``text`` and validate it as ``model``; raises ``error`` listing every problem.

    ``context`` goes to pydantic's validators; ``top_hint`` says what the top level should be when
    it is not a mapping; ``check`` adds problems pydantic cannot see (as ``(path, message)`` pairs);
    an empty document validates as ``empty_is`` when given.
    """
    doc = locate(text, source, error)
    data = doc.data if doc.data is not None or empty_is is None else empty_is
    if not isinstance(data, dict):
        raise error([ConfigProblem(source, doc.line_of(()) or 1, "(top level)",
                                   top_hint or f"expected a mapping of keys ({', '.join(model.model_fields)})")])
    try:
        value = model.model_validate(data, context=context)
    except ValidationError as exc:
        raise error(problems_from(model, exc, doc, source)) from None
    if check is not None:
        extra = check(value, doc)
        if extra:
            raise error(sorted((ConfigProblem(source, doc.line_of(path), format_path(path), message)
                                for path, message in extra), key=lambda p: p.line or 0))
    return value


def locate(text: str, source: str, error: type[ConfigError] = ConfigError) -> LocatedDocument:
    """The located document of ``text``; YAML syntax errors and duplicate keys raise ``error``."""
    try:
        doc = parse_located(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise error([ConfigProblem(source, line, "(YAML syntax)", f"{exc.problem or exc}; fix the YAML there")]) \
            from None
    except yaml.YAMLError as exc:
        raise error([ConfigProblem(source, None, "(YAML syntax)", str(exc))]) from None
    if doc.duplicates:
        raise error([ConfigProblem(source, line, format_path(path), f"duplicate key (first given on line {first}); "
                                   "keep one") for path, line, first in doc.duplicates])
    return doc


def load_file(path: str | FilePath, model: type[M], *, error: type[ConfigError] = ConfigError,
              **kwargs: Any) -> M:
    """Read a YAML (or JSON) file and validate it as ``model`` (see :func:`load_model`)."""
    file = FilePath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error([ConfigProblem(str(file), None, "(file)", "no such file; check the path (relative paths "
                                   "start from the current folder, or the notebook's)")]) from None
    except OSError as exc:
        raise error([ConfigProblem(str(file), None, "(file)", f"cannot be read ({exc.strerror})")]) from None
    return load_model(text, model, source=file.name, error=error, **kwargs)
