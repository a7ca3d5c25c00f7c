"""The hidden-tests region of an nbgrader tests cell: where it is, what is visible, what is hidden.

A tests cell holds visible checks, then hidden ones between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` (nbgrader's delimiters). The student version never has the hidden part;
the autograder runs the visible part in the submission's kernel and the hidden part as probes
(:mod:`rightsize.course.probes`); feedback shows the visible part with a one-line note.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

__all__ = ["BEGIN", "END", "HIDDEN_NOTE", "Regions", "split"]

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
HIDDEN_NOTE = "# (hidden tests are not shown)"


@dataclass(frozen=True)
class Regions:
    """A tests cell split into what a student may see and what is hidden."""

    visible: str  # the cell with the hidden region replaced by HIDDEN_NOTE
    visible_code: str  # the cell without the hidden region (what runs as the visible checks)
    hidden_code: str  # the hidden region's code, dedented
    hidden_lines: frozenset[int]  # 1-based line numbers of the hidden region, delimiters included

    @property
    def has_hidden(self) -> bool:
        return bool(self.hidden_lines)


def split(source: str) -> Regions:
    """Split a cell's source at nbgrader's hidden-tests delimiters (a cell without them is all visible)."""
    shown: list[str] = []
    runnable: list[str] = []
    hidden: list[str] = []
    numbers: set[int] = set()
    inside = False
    for number, line in enumerate(source.split("\n"), 1):
        if BEGIN in line:
            inside = True
            numbers.add(number)
            shown.append(line[: len(line) - len(line.lstrip())] + HIDDEN_NOTE)
        elif END in line:
            inside = False
            numbers.add(number)
        elif inside:
            numbers.add(number)
            hidden.append(line)
        else:
            shown.append(line)
            runnable.append(line)
    return Regions("\n".join(shown), "\n".join(runnable).rstrip() + "\n" if runnable else "",
                   textwrap.dedent("\n".join(hidden)).strip() + "\n" if hidden else "", frozenset(numbers))
