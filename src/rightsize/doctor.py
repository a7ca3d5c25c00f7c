"""``rightsize doctor``: check the course environment, one ``[OK]``/``[FAIL]`` line per requirement.

Missing API keys are fine (``[OK]``): the lessons then run on the local model and skip the cells
marked for cloud models. A ``[FAIL]`` line says what to do about it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"[{'OK' if self.ok else 'FAIL'}] {self.name}: {self.detail}"


# (import name, pip name, what needs it)
_PACKAGES = [
    ("llama_cpp", "llama-cpp-python", "the local model"),
    ("openai", "openai", "OpenAI-protocol calls (lessons 00-09)"),
    ("anthropic", "anthropic", "Anthropic-protocol calls (lessons 00, 05)"),
    ("starlette", "starlette", "the lab server"),
    ("uvicorn", "uvicorn", "the lab server"),
    ("numpy", "numpy", "measurements"),
    ("pandas", "pandas", "report tables"),
    ("matplotlib", "matplotlib", "plots"),
    ("ipywidgets", "ipywidgets", "sliders and quizzes"),
    ("sklearn", "scikit-learn", "the tiny classifier tier (lessons 06, 08)"),
]
_COURSE_PACKAGES = [
    ("jupyterlab", "jupyterlab", "opening the lessons"),
    ("nbgrader", "nbgrader", "graded exercises"),
    ("nbclient", "nbclient", "running notebooks in the tests"),
]
_KEYS = [
    ("OPENAI_API_KEY", "OpenAI"),
    ("ANTHROPIC_API_KEY", "Anthropic"),
    ("GEMINI_API_KEY", "Google Gemini"),
]


def _package(module: str, pip_name: str, purpose: str, required: bool = True) -> Check:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # an import can fail in many ways; all mean "not usable"
        return Check(f"package {pip_name}", not required,
                     f"missing ({type(exc).__name__}); needed for {purpose}: pip install {pip_name}")
    return Check(f"package {pip_name}", True, getattr(mod, "__version__", "installed"))


def run_checks(*, start_lab: bool = True, generate: bool = True) -> list[Check]:
    """Every check, in order. ``start_lab`` starts the lab server when none is running."""
    checks = [Check("python", sys.version_info >= (3, 11), sys.version.split()[0] + " (3.11 or newer needed)")]
    checks += [_package(*p) for p in _PACKAGES]
    checks += [_package(*p, required=False) for p in _COURSE_PACKAGES]

    from .local_model import model_path
    from .registry import load_registry

    try:
        path = model_path()
        checks.append(Check("local model file", True, f"{path.name} ({path.stat().st_size / 1e6:.0f} MB)"))
    except Exception as exc:
        checks.append(Check("local model file", False, str(exc)))
        path = None

    if path is not None and generate:
        try:
            from .local_model import get_local_model

            model = get_local_model()
            started = time.perf_counter()
            answer = model.complete("Reply with the word ready.", max_tokens=8)
            checks.append(Check("local model answers", bool(answer.strip()),
                                f"{answer.strip()[:40]!r} in {time.perf_counter() - started:.2f}s"))
        except Exception as exc:
            checks.append(Check("local model answers", False, f"{type(exc).__name__}: {exc}"))

    try:
        registry = load_registry()
        overdue = registry.overdue()
        checks.append(Check("model registry", not overdue,
                            f"{len(registry)} models" if not overdue else
                            "past retirement but not marked retired: " + ", ".join(m.id for m in overdue)))
    except Exception as exc:
        checks.append(Check("model registry", False, str(exc)))

    from .lab import lab_url

    if start_lab:
        try:
            url = lab_url(start=True)
            checks.append(Check("lab server", True, f"answering on {url} (this user's, for this checkout)"))
        except Exception as exc:
            checks.append(Check("lab server", False, str(exc)))
    else:
        try:
            url = lab_url(start=False)
            checks.append(Check("lab server", True, f"answering on {url}"))
        except Exception:
            checks.append(Check("lab server", True, "not running; notebooks start their own on demand "
                                "(or run `rightsize serve`)"))

    for env, provider in _KEYS:
        if os.environ.get(env):
            checks.append(Check(f"key {env}", True, f"set: cells marked for {provider} will call it"))
        else:
            checks.append(Check(f"key {env}", True, f"not set (fine): lessons use the local model; "
                                f"cells marked for {provider} say so and skip"))
    return checks


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("doctor", help="check the course environment ([OK]/[FAIL] per requirement)")
    p.add_argument("--no-start", action="store_true", help="do not start the lab server if it is down")
    p.add_argument("--quick", action="store_true", help="skip the test generation with the local model")
    p.set_defaults(handler=doctor)


def doctor(args: argparse.Namespace) -> int:
    checks = run_checks(start_lab=not args.no_start, generate=not args.quick)
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(failed)} OK, {len(failed)} FAIL")
    return 1 if failed else 0
