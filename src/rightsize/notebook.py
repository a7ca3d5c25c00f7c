"""Helpers for the course notebooks: two cell magics and the checks behind them.

Load them in a lesson's first code cell with ``%load_ext rightsize.notebook``. Then:

``%%live``
    The cell measures the live local model (a load sweep, a fresh stream). It runs as written in
    JupyterLab, on Binder and when the tests execute a lesson. Under the autograder it is skipped
    with a note: graded runs are answered from recordings in seconds, and nothing in a live cell
    is graded, so later cells must not need the variables it sets (use recorded data there).
    Timings are only as good as the machine is quiet, so the cell reports its load: one line before
    it runs when the load average already says the cores are busy, and one line after it with its
    wall time and the load average (see :func:`machine_load`).

``%%cloud openai`` (or ``anthropic``, or ``openai anthropic``)
    The cell calls a real provider. Without the key in the environment it is skipped with a note
    naming the variable to set (in the shell that starts Jupyter, never in the notebook); under
    the autograder it is always skipped.

:func:`grading` and :func:`has_key` are the plain-Python forms of the same checks.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["BUSY_LOAD_PER_CORE", "KEY_VARIABLES", "MachineLoad", "grading", "has_key", "load_ipython_extension",
           "machine_load", "missing_keys"]

#: A ``%%live`` cell warns when the 1-minute load average before it is above this many runnable
#: jobs per core. Half a core each: the local model uses every core, so even one other busy job
#: on a 2-core machine slows it markedly, while a quiet desktop (browser, editor) stays below it.
BUSY_LOAD_PER_CORE = 0.5

#: The environment variable that holds each cloud provider's key.
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def grading() -> bool:
    """True while nbgrader executes the notebook (``NBGRADER_EXECUTION`` is set)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def has_key(provider: str) -> bool:
    """True when the key of ``provider`` (``"openai"`` or ``"anthropic"``) is in the environment."""
    return not missing_keys([provider])


def missing_keys(providers: list[str]) -> list[str]:
    """The environment variables, of those ``providers`` need, that are not set."""
    missing = []
    for name in providers:
        variable = KEY_VARIABLES.get(name.lower())
        if variable is None:
            known = ", ".join(sorted(KEY_VARIABLES))
            raise ValueError(f"unknown cloud provider {name!r}: use one of {known}")
        if not os.environ.get(variable, "").strip():
            missing.append(variable)
    return missing


@dataclass(frozen=True)
class MachineLoad:
    """The 1-minute load average (``None`` where the OS has none, as on Windows) and the usable cores."""

    load_average: float | None
    cores: int

    @property
    def busy(self) -> bool:
        """True when other work already keeps the cores busy, so timings taken now are inflated."""
        return self.load_average is not None and self.load_average > BUSY_LOAD_PER_CORE * self.cores

    def describe(self) -> str:
        """``"load average 1.9 on 2 cores"`` (or just the cores where there is no load average)."""
        cores = f"{self.cores} core{'s' if self.cores != 1 else ''}"
        return f"{cores}" if self.load_average is None else f"load average {self.load_average:.1f} on {cores}"


def machine_load() -> MachineLoad:
    """The machine's load now: ``os.getloadavg()`` and the cores this process may run on."""
    try:
        cores = len(os.sched_getaffinity(0))  # what this process may use (containers, taskset)
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        load: float | None = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has no load average
        load = None
    return MachineLoad(load, cores)


def _live(line: str, cell: str) -> Any:
    if grading():
        print("[skipped under the autograder: this cell measures the live model, and nothing in it is graded]")
        return None
    before = machine_load()
    if before.busy:
        print(f"[live: the machine is busy ({before.describe()}): timings taken now will be inflated]",
              flush=True)
    started = time.perf_counter()
    try:
        return _run(cell)
    finally:
        # the 1-minute average read at the end: for the long cells that matter it covers the cell
        after = machine_load()
        print(f"[live: {time.perf_counter() - started:.1f} s wall time; {after.describe()} over the last minute]",
              flush=True)


def _cloud(line: str, cell: str) -> Any:
    providers = line.split() or ["openai"]
    try:
        missing = missing_keys(providers)
    except ValueError as err:
        print(f"[%%cloud: {err}]")
        return None
    if grading():
        print("[skipped under the autograder: cloud calls are never graded]")
        return None
    if missing:
        variables = " and ".join(missing)
        print(f"[skipped: no {variables} in the environment. To run this cell against the real provider, "
              f"export {variables} in the shell that starts Jupyter (never paste a key into a notebook), "
              "then restart the kernel.]")
        return None
    return _run(cell)


def _run(cell: str) -> Any:
    """Run ``cell`` in the notebook's namespace; return the value of a final expression, as a cell would.

    Exceptions propagate, so a failing cell fails (once) like any other cell.
    """
    import ast

    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:  # pragma: no cover - the magics only exist inside IPython
        raise RuntimeError("rightsize.notebook magics run inside IPython or Jupyter only")
    tree = ast.parse(shell.transform_cell(cell), "<cell>")
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    namespace = shell.user_ns
    exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102 - the learner's own cell
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%live`` and ``%%cloud`` (called by ``%load_ext rightsize.notebook``)."""
    ipython.register_magic_function(_live, "cell", "live")
    ipython.register_magic_function(_cloud, "cell", "cloud")
