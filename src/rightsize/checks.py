"""Visible checks for the lessons' exercises: one short line of feedback, never a stop.

Each exercise's tests cell opens with a block like::

    with checks("Exercise 1") as check:
        fits = models_within_budget({"a": 100, "b": 50}, 300, [60, 90])
        check.done(fits, "models_within_budget returns None")
        check(type(fits) is list, "return a list of model names")
        check(fits == ["b", "a"], "with 150 ms already spent both fit, fastest first")

and the cell shows exactly one line:

- ``✓ Exercise 1: the visible checks pass.`` when every check holds;
- ``… Exercise 1: not done yet (models_within_budget returns None).`` while the exercise still
  holds its stub (a ``None`` result, or ``NotImplementedError``);
- ``✗ Exercise 1: return a list of model names`` for the first check that fails;
- ``✗ Exercise 1: your code raised ZeroDivisionError: division by zero`` when the code raises.

The block never raises (interrupts aside), so "Run all" on an unfinished lesson reaches the end.
These checks are help, not the grade: the autograder runs its own hidden checks on the submitted
notebook, outside the learner's code (see autograder/README.md).
"""

from __future__ import annotations

import html
import traceback
from types import TracebackType
from typing import Any

__all__ = ["checks"]

MIME_TYPE = "application/vnd.rightsize.check+json"
_STYLE = {"passed": ("✓", "#1a7f37"), "not-done": ("…", "#6e7781"), "failed": ("✗", "#cf222e"),
          "error": ("✗", "#cf222e")}


class _NotDone(Exception):
    pass


class _Failed(Exception):
    pass


class checks:  # noqa: N801 - used as a context manager, reads like a statement
    """Visible checks of one exercise (see the module docstring)."""

    def __init__(self, exercise: str, passed: str = "the visible checks pass.") -> None:
        self.exercise = exercise
        self.passed = passed
        self.status = ""
        self.message = ""

    def __enter__(self) -> checks:
        return self

    def __call__(self, condition: object, message: str) -> None:
        """Fail this exercise's checks with ``message`` unless ``condition`` is true."""
        if not condition:
            raise _Failed(message)

    def done(self, value: object, message: str) -> None:
        """Report "not done yet" (``message`` says why) when ``value`` is still ``None``."""
        if value is None:
            raise _NotDone(message)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if kind is None:
            self._show("passed", self.passed)
        elif error is not None and issubclass(kind, (_NotDone, NotImplementedError)):
            reason = str(error) or "the exercise still holds its placeholder"
            self._show("not-done", f"not done yet ({reason}).")
        elif error is not None and issubclass(kind, _Failed):
            self._show("failed", str(error))
        elif error is not None and issubclass(kind, Exception):
            self._show("error", f"your code raised {kind.__name__}: {error}{_where(tb)}")
        else:
            return False  # KeyboardInterrupt (a timeout) and SystemExit go on
        return True

    def _show(self, status: str, message: str) -> None:
        self.status, self.message = status, message
        mark, color = _STYLE[status]
        text = f"{mark} {self.exercise}: {message}"
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # pragma: no cover - the lessons run in Jupyter
            print(text)
            return
        if get_ipython() is None:
            print(text)
            return
        display({"text/plain": text,
                 "text/html": f'<span style="color:{color}">{html.escape(text)}</span>',
                 MIME_TYPE: {"exercise": self.exercise, "status": status, "message": message}}, raw=True)


def _where(tb: TracebackType | None) -> str:
    """`` (line N of your function f)`` for the innermost frame in the learner's own cells."""
    frames = [f for f in traceback.extract_tb(tb) if f.filename.startswith(("<ipython-input", "/tmp/ipykernel"))
              or "ipykernel_" in f.filename]
    if not frames:
        return ""
    last = frames[-1]
    return f" (line {last.lineno} of {last.name})" if last.name != "<module>" else ""


def status_of(output: dict[str, Any]) -> dict[str, Any] | None:
    """The check report carried by a notebook output, if it is one (for tests and tools)."""
    data = output.get("data", {}) if isinstance(output, dict) else {}
    report = data.get(MIME_TYPE)
    return report if isinstance(report, dict) else None
