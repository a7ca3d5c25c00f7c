"""The environment check, the CLI's error lines, and starting the lab server on demand."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rightsize import lab
from rightsize.doctor import run_checks

from conftest import free_port

pytestmark = pytest.mark.slow


def rightsize_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rightsize", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_doctor_has_no_fail_on_this_install(lab_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    checks = run_checks(start_lab=True)
    failed = [c.line() for c in checks if not c.ok]
    assert not failed, failed
    lines = [c.line() for c in checks]
    assert any("local model answers" in line for line in lines)
    assert any(line.startswith("[OK] key OPENAI_API_KEY: not set") for line in lines)


def test_doctor_never_prints_a_key(lab_server: str) -> None:
    secret = "sk-test-abcdefghijklmnopqrstuvwxyz0123456789"
    result = rightsize_cli("doctor", "--quick", env={"OPENAI_API_KEY": secret})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[OK] key OPENAI_API_KEY: set" in result.stdout
    assert secret not in result.stdout + result.stderr


def test_models_command_lists_prices_and_dates() -> None:
    result = rightsize_cli("models")
    assert result.returncode == 0
    assert "claude-haiku-4-5" in result.stdout and "2025-12-01" in result.stdout
    assert "claude-3-5-sonnet-20241022" not in result.stdout
    assert "claude-3-5-sonnet-20241022" in rightsize_cli("models", "--all").stdout


def test_serve_with_a_bad_fault_file_is_one_line(tmp_path) -> None:
    bad = tmp_path / "faults.yaml"
    bad.write_text("unavailable_rate: 3\n")
    result = rightsize_cli("serve", "--port", str(free_port()), "--faults", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "unavailable_rate" in result.stderr


def _stop_server(url: str) -> None:
    port = url.rsplit(":", 1)[1]
    for pid in subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True).stdout.split():
        os.kill(int(pid), signal.SIGTERM)


def test_lab_url_starts_its_own_server_and_reuses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIGHTSIZE_LAB_URL", raising=False)
    monkeypatch.setenv("RIGHTSIZE_LAB_IDLE_EXIT", "120")
    url = lab.lab_url()
    try:
        health = httpx.get(url + "/health").json()
        assert health["service"] == "rightsize-lab" and health["identity"] == lab.identity()
        assert health["identity"]["checkout"] == str(Path(__file__).resolve().parents[1])
        assert lab.lab_url() == url  # a second call reuses the running server
    finally:
        if not url.endswith(f":{lab.DEFAULT_PORT}"):
            _stop_server(url)


def test_two_checkouts_side_by_side_get_their_own_servers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A second clone of the course (another version of the code) never shares this one's lab server."""
    import rightsize

    monkeypatch.delenv("RIGHTSIZE_LAB_URL", raising=False)
    monkeypatch.setenv("RIGHTSIZE_LAB_IDLE_EXIT", "120")
    other = tmp_path / "other-clone" / "src"
    shutil.copytree(Path(rightsize.__file__).parent, other / "rightsize",
                    ignore=shutil.ignore_patterns("__pycache__", "eval_cache"))
    mine = lab.lab_url()
    code = "import json, rightsize; print(json.dumps([rightsize.lab_url(), rightsize.__file__]))"
    env = {**os.environ, "PYTHONPATH": str(other)}
    theirs = None
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        theirs, their_file = json.loads(result.stdout.strip().splitlines()[-1])
        assert their_file.startswith(str(other)), "the second checkout imported its own copy of the package"
        assert theirs != mine, "the second checkout reused the first one's server"
        assert httpx.get(theirs + "/health").json()["identity"]["checkout"] == str(tmp_path / "other-clone")
        assert lab.lab_url() == mine and not lab.lab_is_up(theirs, mine=True)
    finally:
        if theirs:
            _stop_server(theirs)
        if not mine.endswith(f":{lab.DEFAULT_PORT}"):
            _stop_server(mine)


def test_an_explicit_lab_url_that_is_down_says_what_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_LAB_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Exception, match="rightsize serve"):
        lab.lab_url(start=False)
    with pytest.raises(Exception, match="RIGHTSIZE_LAB_URL"):
        lab.lab_url()
