"""Where each key and list item of a YAML document sits, so config errors can name the line.

PyYAML's ``safe_load`` throws the positions away. Composing the document to nodes keeps a
``start_mark`` on every node; this module walks that tree once and maps each *path*
(``("routes", 1, "model")``) to a 1-based line number. It also catches duplicate keys, which
``safe_load`` silently resolves by keeping the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


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


def _walk(node: yaml.Node, path: Path, doc: LocatedDocument) -> None:
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
            _walk(value_node, child, doc)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            doc.lines[child] = item.start_mark.line + 1
            _walk(item, child, doc)


def parse_located(text: str) -> LocatedDocument:
    """Parse ``text`` as one YAML document, keeping lines. Raises ``yaml.YAMLError``."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    data = yaml.safe_load(text)
    doc = LocatedDocument(data)
    if root is not None:
        doc.lines[()] = root.start_mark.line + 1
        _walk(root, (), doc)
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
