"""The locked environment: one lock (constraints.txt) that course.py, CI and Binder install from.

On a locked install the provider SDKs show no drift (every exception class they export is mapped,
every parameter the adapters send is accepted). When the installed SDK is not the locked one, the
drift test says so and names what changed, so a newer release is caught, not shipped to learners.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from rightsize.providers._sdk_drift import sdk_drift

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not pinned with =="
            pins[_canonical(name)] = version
    return pins


def test_every_dependency_of_the_course_is_locked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += [w for w in extra if not w.startswith("rightsize-course")]
    names = {_canonical(re.split(r"[<>=!~\[; ]", w, maxsplit=1)[0]) for w in wanted}
    missing = sorted(names - set(_locked()))
    assert not missing, f"not pinned in constraints.txt: {missing} (run python3 course.py lock)"


def test_the_installed_environment_is_the_locked_one() -> None:
    different = []
    for name, version in _locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            different.append(f"{name} (locked {version}, not installed)")
            continue
        if installed != version:
            different.append(f"{name} {installed} (locked {version})")
    assert not different, ("this environment is not the locked one: " + ", ".join(different) +
                           "; install with python3 course.py setup, which uses constraints.txt")


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_no_sdk_drift(sdk: str) -> None:
    (item,) = [d for d in sdk_drift() if d.sdk == sdk]
    locked = _locked()[sdk]
    if item.version != locked:
        assert item.clean, (f"{sdk} {item.version} is installed, constraints.txt locks {locked}. Drift: "
                            + "; ".join(item.lines()) + ". Map it in the adapter, then python3 course.py lock")
    assert item.clean, "; ".join(item.lines())


def test_course_ci_and_binder_install_from_the_lock() -> None:
    course = (ROOT / "course.py").read_text(encoding="utf-8")
    assert '"-c", str(LOCK)' in course and 'LOCK = ROOT / "constraints.txt"' in course
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("python3 course.py test")
    post_build = (ROOT / "binder" / "postBuild").read_text(encoding="utf-8")
    installs = [line for line in post_build.splitlines() if "pip install" in line]
    assert installs and all("-c constraints.txt" in line for line in installs), installs
