"""Which lesson section each quiz question is answerable from, checked against the notebooks.

Every question names its section (``section:`` in ``quizzes/FORMAT.md``): a Markdown heading of
its own lesson's source notebook (``solutions/NN-*.ipynb``), or of an earlier lesson's, written
``"lesson 01: Cost at volume"``. Headings are matched without their number ("3. "), an
exercise's "(N points)", Markdown marks and case, so renumbering a lesson's sections or
re-weighting an exercise does not break its quiz; a heading that was
renamed or removed does, and the problem names the closest headings there are.

Headings are read with mistune (the Markdown parser nbconvert uses), so a ``#`` line inside a code
block is not mistaken for one.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError

__all__ = ["LessonSections", "find_solutions_dir", "lesson_sections", "notebook_headings", "section_problem"]

SOLUTION_GLOB = "[0-9][0-9]-*.ipynb"
_EARLIER = re.compile(r"^lesson\s+(\d\d)\s*:\s*(.+)$", re.IGNORECASE)
_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s+")
_POINTS = re.compile(r"\s*\(\d+ points?\)$")  # "Exercise 2 · ... (2 points)": the points may change


@dataclass(frozen=True)
class LessonSections:
    """The headings of one lesson's source notebook."""

    lesson: str
    notebook: Path
    headings: tuple[str, ...]

    def find(self, name: str) -> str | None:
        """The heading a section tag names, or None."""
        wanted = _key(name)
        return next((h for h in self.headings if _key(h) == wanted), None)

    def closest(self, name: str, count: int = 2) -> list[str]:
        """The headings most like ``name``, for a helpful problem message."""
        keys = {_key(h): h for h in self.headings}
        return [keys[k] for k in difflib.get_close_matches(_key(name), list(keys), n=count, cutoff=0.3)]


def _key(heading: str) -> str:
    text = heading.replace("`", "").replace("*", "").replace("_", " ")
    text = _NUMBER.sub("", " ".join(text.split()))
    return _POINTS.sub("", text).casefold()


def _inline_text(children: Iterable[dict[str, Any]]) -> str:
    parts = []
    for child in children:
        if "children" in child:
            parts.append(_inline_text(child["children"]))
        else:
            parts.append(str(child.get("raw", "")))
    return "".join(parts)


def notebook_headings(path: Path) -> list[str]:
    """The text of every Markdown heading in a notebook, in order (without ``#`` and marks)."""
    try:
        import mistune
    except ImportError as exc:  # pragma: no cover - part of the course extra (nbconvert needs it)
        raise MissingDependencyError("mistune", "checking the quiz's section tags") from exc
    parse = mistune.create_markdown(renderer="ast")
    nb = json.loads(path.read_text(encoding="utf-8"))
    headings = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        tokens = parse("".join(source) if isinstance(source, list) else source)
        for token in tokens if isinstance(tokens, list) else []:
            if token.get("type") == "heading":
                headings.append(" ".join(_inline_text(token.get("children", [])).split()))
    return headings


def find_solutions_dir(bank: Path, explicit: str | Path | None = None) -> Path | None:
    """The folder of lesson notebooks: ``explicit``, else ``solutions/`` beside the bank, else the
    repository's ``solutions/`` (an editable install); None when there is none."""
    if explicit is not None:
        return Path(explicit).expanduser().resolve()
    for folder in (bank.parent / "solutions", Path(__file__).resolve().parents[3] / "solutions"):
        if folder.is_dir() and any(folder.glob(SOLUTION_GLOB)):
            return folder.resolve()
    return None


def lesson_sections(solutions_dir: Path) -> dict[str, LessonSections]:
    """The headings of every lesson notebook in a folder, by lesson (``"02"``)."""
    found = {}
    for path in sorted(solutions_dir.glob(SOLUTION_GLOB)):
        found[path.name[:2]] = LessonSections(path.name[:2], path, tuple(notebook_headings(path)))
    return found


def section_problem(section: str, lesson: str, sections: dict[str, LessonSections]) -> str | None:
    """What is wrong with a question's section tag (None when it names an existing heading of this
    lesson or an earlier one)."""
    match = _EARLIER.match(section.strip())
    target, heading = (match.group(1), match.group(2)) if match else (lesson, section)
    if target > lesson:
        return (f"section {section!r} is in lesson {target}, after this lesson {lesson}; a question must be "
                "answerable from its own lesson or an earlier one")
    known = sections.get(target)
    if known is None:
        return f"section {section!r}: there is no notebook for lesson {target} (solutions/{target}-*.ipynb)"
    if known.find(heading) is not None:
        return None
    near = known.closest(heading)
    hint = f"; the closest: {' / '.join(repr(h) for h in near)}" if near else ""
    return f"section {section!r} is not a heading of {known.notebook.name}{hint}"
