#!/usr/bin/env python3
"""Set up and run the rightsize course with nothing but python3 and pip.

    python3 course.py start      # set up everything, start the lab server and JupyterLab on lessons/
    python3 course.py test       # set up everything, then run the whole test suite

Both create ``.venv`` beside this file on first use, build llama.cpp (about 6 minutes, once:
the wheel is kept in ~/.cache/rightsize/wheels) and install the course package into it. Later
runs skip what is already done. Extra arguments after ``test`` go to pytest; extra arguments after
``start`` go to JupyterLab (``python3 course.py start --port 9000``).

JupyterLab opens with the course's *student* profile: nbgrader's instructor tools (formgrader,
assignment and course lists, create assignment, validate) are off, in the browser and on the
server. ``python3 course.py start --instructor`` turns them on. The profiles are settings files the
course owns, in ``jupyter-config/student`` and ``jupyter-config/instructor``, put first on
``JUPYTER_CONFIG_PATH`` for this JupyterLab only: nothing in your own Jupyter configuration
(``~/.jupyter``) is changed, and Binder uses the same folder (``binder/start``). As root (a
container, a cloud VM) ``start`` passes ``--allow-root``, without which JupyterLab refuses to run.

Every install takes its versions from ``constraints.txt`` (the lock; Binder uses it too), so a
fresh clone gets the environment the suite was run with. ``python3 course.py lock`` refreshes it
from the newest releases; ``python3 course.py drift`` reports what the newest provider SDKs
changed that the adapters depend on (run it before refreshing).

llama.cpp is compiled for portable x86-64 (AVX2, FMA, F16C) rather than for "this exact CPU":
a native build enabled AMX kernels that crash on virtual machines which advertise AMX without
supporting it. ``RIGHTSIZE_CMAKE_ARGS`` overrides the flags (for example on ARM).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "constraints.txt"
# The course's own Jupyter settings: one config folder per profile, and JupyterLab setting overrides.
JUPYTER_CONFIG = ROOT / "jupyter-config"
PROFILES = ("student", "instructor")
LAB_OVERRIDES = JUPYTER_CONFIG / "lab-settings" / "overrides.d" / "rightsize.json"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's Chromium, which tests/test_browser.py drives
PORTABLE_X86 = ("-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
                "-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF")


def say(message: str) -> None:
    print(f"[course] {message}", flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd: list[str], **kwargs) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(cmd, **kwargs)
    if result.returncode != 0:
        sys.exit(f"[course] failed ({result.returncode}): {' '.join(map(str, cmd))}")


def cmake_args() -> str:
    if "RIGHTSIZE_CMAKE_ARGS" in os.environ:
        return os.environ["RIGHTSIZE_CMAKE_ARGS"]
    return PORTABLE_X86 if platform.machine().lower() in ("x86_64", "amd64") else "-DGGML_NATIVE=OFF"


def locked_version(name: str) -> str:
    """The version of ``name`` pinned in constraints.txt."""
    wanted = name.lower().replace("_", "-")
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        package, _, version = line.split("#")[0].strip().partition("==")
        if package.strip().lower().replace("_", "-") == wanted and version:
            return version.strip()
    sys.exit(f"[course] {LOCK.name} pins no version of {name}; run `python3 course.py lock`")


def pip_install(python: Path, *args: str, env: dict[str, str] | None = None) -> None:
    """pip install, always within the lock."""
    run([str(python), "-m", "pip", "install", "--quiet", "-c", str(LOCK), *args], env=env)


def ensure_venv() -> Path:
    if sys.version_info < (3, 11):
        sys.exit(f"[course] Python 3.11 or newer is needed; this is {platform.python_version()}")
    python = venv_python()
    if not python.exists():
        say(f"creating the virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
        run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    return python


def ensure_llama(python: Path) -> None:
    """Install llama-cpp-python from a wheel built with our flags (built once, then cached)."""
    version = locked_version("llama-cpp-python")
    flags = cmake_args()
    tag = hashlib.sha256(f"{version} {flags} {platform.machine()}".encode()).hexdigest()[:12]
    marker = VENV / ".rightsize-llama"
    if marker.exists() and marker.read_text() == tag:
        return
    wheel = llama_wheel(python, version, flags, tag)
    say(f"installing {wheel.name}")
    run([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(wheel)])
    # its pure-Python dependencies
    pip_install(python, "typing-extensions", "numpy", "diskcache", "jinja2")
    marker.write_text(tag)


def llama_wheel(python: Path, version: str, flags: str, tag: str) -> Path:
    """The llama-cpp-python wheel built with ``flags``, built now if it is not in the cache."""
    wheels = Path(os.environ.get("RIGHTSIZE_WHEELS", Path.home() / ".cache" / "rightsize" / "wheels"))
    folder = wheels / f"llama-cpp-python-{version}-{tag}"
    if not list(folder.glob("llama_cpp_python-*.whl")):
        say(f"building llama.cpp {version} once (about 6 minutes on 2 cores); flags: {flags}")
        folder.mkdir(parents=True, exist_ok=True)
        # --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS and could hand back a native build
        run([str(python), "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-binary", "llama-cpp-python",
             "--no-cache-dir", "-w", str(folder), f"llama-cpp-python=={version}"],
            env={**os.environ, "CMAKE_ARGS": flags})
    return sorted(folder.glob("llama_cpp_python-*.whl"))[-1]


def ensure_package(python: Path) -> None:
    """Install the course package with its course and test extras (skipped when unchanged)."""
    stamp = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()).hexdigest()[:12]
    marker = VENV / ".rightsize-package"
    if marker.exists() and marker.read_text() == stamp:
        return
    say(f"installing the rightsize course package and its dependencies (versions from {LOCK.name})")
    pip_install(python, "-e", f"{ROOT}[dev]")
    marker.write_text(stamp)


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def ensure_system_tools(*, browser: bool = False) -> None:
    """Best effort, with apt-get as root: bubblewrap isolates graded notebooks (the autograder falls
    back without it); with ``browser``, Debian's Chromium runs tests/test_browser.py (skipped without it)."""
    import shutil

    wanted = {"bubblewrap": bool(shutil.which("bwrap"))}
    if browser:
        wanted["chromium"] = CHROMIUM.exists()
    missing = [package for package, present in wanted.items() if not present]
    if not missing:
        return
    if not running_as_root() or not shutil.which("apt-get"):
        if "chromium" in missing:
            say(f"no {CHROMIUM}: the browser test will be skipped (install Debian's chromium package to run it)")
        return
    say(f"installing {' and '.join(missing)} with apt-get")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
    if subprocess.run(["apt-get", "update", "-qq"], **quiet).returncode == 0:  # type: ignore[call-overload]
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], **quiet)  # type: ignore[call-overload]
    if not shutil.which("bwrap"):
        say("bubblewrap could not be installed; the autograder will use its unshare fallback")
    if browser and not CHROMIUM.exists():
        say("chromium could not be installed; the browser test will be skipped")


def ensure_lab_settings(prefix: Path = VENV) -> None:
    """Put the course's JupyterLab setting overrides (no news prompt) into ``prefix``'s JupyterLab.

    JupyterLab reads setting overrides only from its application settings folder, so the course's
    file is copied there, under its own name in ``overrides.d`` (other overrides are left alone).
    """
    target = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / LAB_OVERRIDES.name
    wanted = LAB_OVERRIDES.read_bytes()
    if not target.exists() or target.read_bytes() != wanted:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(wanted)


def lab_environment(profile: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the profile's config folder first on JUPYTER_CONFIG_PATH.

    A folder on JUPYTER_CONFIG_PATH outranks the environment's own (``.venv/etc/jupyter``, where
    nbgrader switches all its extensions on), so the profile decides, for this JupyterLab only.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
    env = dict(os.environ if env is None else env)
    ours = {str(JUPYTER_CONFIG / p) for p in PROFILES}
    inherited = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p and p not in ours]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(JUPYTER_CONFIG / profile), *inherited])
    return env


def lab_arguments(extra: list[str] | None = None) -> list[str]:
    """JupyterLab's arguments: ``--allow-root`` as root (JupyterLab refuses root without it), then ``extra``."""
    extra = list(extra or [])
    return (["--allow-root"] if running_as_root() and "--allow-root" not in extra else []) + extra


def setup(*, browser: bool = False) -> Path:
    ensure_system_tools(browser=browser)
    python = ensure_venv()
    ensure_llama(python)
    ensure_package(python)
    ensure_lab_settings()
    return python


def start(args: argparse.Namespace) -> int:
    python = setup()
    bin_dir = python.parent
    profile = "instructor" if args.instructor else "student"
    env = lab_environment(profile, {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    say("checking the environment")
    subprocess.run([str(bin_dir / "rightsize"), "doctor"], env=env)
    extra = list(args.jupyter_args) + (["--no-browser"] if args.no_browser else [])
    lab_args = lab_arguments(extra)
    if "--allow-root" in lab_args and "--allow-root" not in extra:
        say("running as root (a container or a VM?): passing --allow-root to JupyterLab")
    tools = ("on (--instructor)" if profile == "instructor"
             else "off; `python3 course.py start --instructor` shows them")
    say(f"opening JupyterLab on lessons/ with the {profile} profile: nbgrader's instructor tools are {tools}")
    say("Ctrl-C stops JupyterLab; the lab server stops when idle")
    cmd = [str(bin_dir / "jupyter"), "lab", str(ROOT / "lessons"), f"--ServerApp.root_dir={ROOT}", *lab_args]
    return subprocess.call(cmd, env=env)


def test(args: argparse.Namespace) -> int:
    python = setup(browser=True)
    bin_dir = python.parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    say("running the test suite")
    return subprocess.call([str(python), "-m", "pytest", *args.pytest_args], cwd=ROOT, env=env)


def lock(args: argparse.Namespace) -> int:
    """Refresh constraints.txt from the newest releases the package's ranges allow.

    The newest releases go into a scratch environment (llama-cpp-python keeps its locked version:
    a new one means a 6-minute rebuild, so change it on purpose), then everything installed there
    is written, pinned, to constraints.txt. Run the test suite afterwards, then commit the lock.
    """
    import tempfile

    version = locked_version("llama-cpp-python")
    python = ensure_venv()
    flags = cmake_args()
    tag = hashlib.sha256(f"{version} {flags} {platform.machine()}".encode()).hexdigest()[:12]
    wheel = llama_wheel(python, version, flags, tag)
    with tempfile.TemporaryDirectory(prefix="rightsize-lock-") as scratch:
        fresh = Path(scratch) / "venv"
        say(f"resolving the newest releases in {fresh}")
        venv.EnvBuilder(with_pip=True).create(fresh)
        fresh_python = fresh / "bin" / "python"
        run([str(fresh_python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        run([str(fresh_python), "-m", "pip", "install", "--quiet", str(wheel), "-e", f"{ROOT}[dev]"])
        frozen = subprocess.run([str(fresh_python), "-m", "pip", "freeze", "--exclude-editable"],
                                capture_output=True, text=True, check=True).stdout.splitlines()
    pins = sorted((line for line in frozen if "==" in line and not line.lower().startswith("llama")),
                  key=str.lower)
    header = [
        "# The course's locked environment: every install (course.py, CI, Binder) uses it with pip's -c.",
        "# Refresh: python3 course.py drift (what the newest SDKs changed), then python3 course.py lock,",
        f"# then the whole suite. Resolved for Python {platform.python_version()} on {platform.machine()}.",
        f"llama-cpp-python=={version}",
    ]
    LOCK.write_text("\n".join(header + pins) + "\n", encoding="utf-8")
    say(f"wrote {LOCK.name}: {len(pins) + 1} pinned packages")
    return 0


def drift(args: argparse.Namespace) -> int:
    """Report what the newest provider SDK releases changed that the adapters depend on."""
    import tempfile

    python = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="rightsize-drift-") as scratch:
        target = Path(scratch) / "sdks"
        say("installing the newest openai and anthropic releases into a scratch folder")
        run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
             "--upgrade", "openai", "anthropic"])
        env = {**os.environ, "PYTHONPATH": str(target)}
        return subprocess.call([str(python), "-m", "rightsize.providers._sdk_drift"], env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description="Set up and run the rightsize course.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", allow_abbrev=False,
                             help="set up, start the lab server and JupyterLab on lessons/ (other arguments "
                                  "go to JupyterLab)")
    p_start.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p_start.add_argument("--instructor", action="store_true",
                         help="show nbgrader's instructor tools (formgrader, create assignment, validate...)")
    p_start.set_defaults(handler=start)
    p_test = sub.add_parser("test", help="set up, then run the whole test suite")
    p_test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    p_test.set_defaults(handler=test)
    p_setup = sub.add_parser("setup", help="only set up the environment (the test suite's tools included)")
    p_setup.set_defaults(handler=lambda a: (setup(browser=True), 0)[1])
    p_lock = sub.add_parser("lock", help="refresh constraints.txt from the newest releases")
    p_lock.set_defaults(handler=lock)
    p_drift = sub.add_parser("drift", help="report what the newest provider SDKs changed")
    p_drift.set_defaults(handler=drift)
    argv = sys.argv[1:]
    if argv[:1] == ["test"]:
        # everything after "test" belongs to pytest, flags included
        args = parser.parse_args(["test"])
        args.pytest_args = argv[1:]
    elif argv[:1] == ["start"]:
        # start's own flags, and everything else for JupyterLab
        args, args.jupyter_args = parser.parse_known_args(argv)
    else:
        args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
