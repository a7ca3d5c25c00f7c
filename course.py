#!/usr/bin/env python3
"""Set up and run the rightsize course with nothing but python3 and pip.

    python3 course.py start      # set up everything, start the lab server and JupyterLab on lessons/
    python3 course.py test       # set up everything, then run the whole test suite

Both create ``.venv`` beside this file on first use, build llama.cpp (about 6 minutes, once:
the wheel is kept in ~/.cache/rightsize/wheels) and install the course package into it. Later
runs skip what is already done. Extra arguments after ``test`` go to pytest.

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


def ensure_sandbox_tool() -> None:
    """Best effort: bubblewrap isolates graded notebooks (the autograder falls back without it)."""
    import shutil

    if shutil.which("bwrap") or not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    say("installing bubblewrap (the autograder's sandbox) with apt-get")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if subprocess.run(["apt-get", "update", "-qq"], **quiet).returncode == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "bubblewrap"], **quiet)
    if not shutil.which("bwrap"):
        say("bubblewrap could not be installed; the autograder will use its unshare fallback")


def setup() -> Path:
    ensure_sandbox_tool()
    python = ensure_venv()
    ensure_llama(python)
    ensure_package(python)
    return python


def start(args: argparse.Namespace) -> int:
    python = setup()
    bin_dir = python.parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    say("checking the environment")
    subprocess.run([str(bin_dir / "rightsize"), "doctor"], env=env)
    say("opening JupyterLab on lessons/ (Ctrl-C stops it; the lab server stops when idle)")
    cmd = [str(bin_dir / "jupyter"), "lab", str(ROOT / "lessons"), f"--ServerApp.root_dir={ROOT}"]
    if args.no_browser:
        cmd.append("--no-browser")
    return subprocess.call(cmd, env=env)


def test(args: argparse.Namespace) -> int:
    python = setup()
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
    p_start = sub.add_parser("start", help="set up, start the lab server and JupyterLab on lessons/")
    p_start.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p_start.set_defaults(handler=start)
    p_test = sub.add_parser("test", help="set up, then run the whole test suite")
    p_test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    p_test.set_defaults(handler=test)
    p_setup = sub.add_parser("setup", help="only set up the environment")
    p_setup.set_defaults(handler=lambda a: (setup(), 0)[1])
    p_lock = sub.add_parser("lock", help="refresh constraints.txt from the newest releases")
    p_lock.set_defaults(handler=lock)
    p_drift = sub.add_parser("drift", help="report what the newest provider SDKs changed")
    p_drift.set_defaults(handler=drift)
    argv = sys.argv[1:]
    if argv[:1] == ["test"]:
        # everything after "test" belongs to pytest, flags included
        args = parser.parse_args(["test"])
        args.pytest_args = argv[1:]
    else:
        args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
