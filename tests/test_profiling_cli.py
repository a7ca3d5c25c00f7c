"""``rightsize profile`` and ``rightsize cost`` from the command line: reports, JSON, one-line
errors for bad input, and the partial report of an interrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rightsize.server.faults import FaultConfig



def _interruptible() -> None:
    """Let the child take Ctrl-C even when this run started with SIGINT ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def rightsize(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rightsize", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_one_line_error(run: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr and lines[0].startswith("rightsize: ") and fragment in lines[0], lines[0]


def test_unknown_model() -> None:
    assert_one_line_error(rightsize("profile", "no-such-model"), "unknown model 'no-such-model'")


@pytest.mark.parametrize(("args", "fragment"), [
    (["--rate", "-1"], "--rate must be more than zero"),
    (["--rate", "fast"], "--rate must be a number"),
    (["--concurrency", "0"], "--concurrency must be more than zero"),
    (["--requests", "2.5"], "--requests must be a whole number"),
    (["--duration", "soon"], "not a duration"),
    (["--slo", "latency=3s"], "unknown SLO latency"),
    (["--rate", "2", "--concurrency", "2"], "not both"),
])
def test_bad_numbers(args: list[str], fragment: str) -> None:
    assert_one_line_error(rightsize("profile", "local", *args), fragment)


def test_unreachable_server() -> None:
    from conftest import free_port  # type: ignore[import-not-found]

    run = rightsize("profile", "my-model", "--base-url", f"http://127.0.0.1:{free_port()}/v1", "--requests", "2")
    assert_one_line_error(run, "cannot reach")


def test_missing_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    assert_one_line_error(rightsize("profile", "haiku", env=env), "ANTHROPIC_API_KEY")


def test_profile_any_endpoint_by_name_as_json(scripted_server, tmp_path) -> None:
    server = scripted_server(["Hi", " there", "!"])
    recording = tmp_path / "run.jsonl"
    run = rightsize("profile", "scripted", "--base-url", server.url + "/v1", "--concurrency", "2", "--requests", "6",
                    "--slo", "ttft=2s", "--slo", "e2e=5s", "--json", "--record", str(recording),
                    "--csv", str(tmp_path / "run.csv"))
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["requests_ok"] == 6 and data["load"]["description"] == "closed loop, concurrency 2"
    assert data["slo"] == {"ttft_ms": 2000.0, "e2e_ms": 5000.0} and data["slo_attainment"] == 1.0
    assert data["target"]["provider"] == "endpoint" and data["metrics"]["ttft_ms"]["count"] == 6
    assert len(recording.read_text().splitlines()) == 7  # a header and six requests
    assert (tmp_path / "run.csv").read_text().startswith("metric,count,mean")
    run = rightsize("profile", "scripted", "--base-url", server.url, "--protocol", "anthropic", "--rate", "20",
                    "--poisson", "--requests", "5")
    assert run.returncode == 0, run.stderr
    assert "open loop, Poisson arrivals at 20 req/s (seed 0)" in run.stdout
    assert "time to first token (ms)" in run.stdout and "send lag" in run.stdout


def test_interrupted_run_prints_what_it_measured(scripted_server) -> None:
    server = scripted_server(["a"] * 20, faults=FaultConfig(token_ms=20))
    proc = subprocess.Popen(
        preexec_fn=_interruptible, args=[sys.executable, "-m", "rightsize", "profile", "scripted", "--base-url",
                             server.url + "/v1", "--concurrency", "2", "--requests", "1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "INTERRUPTED" in out and "time to first token (ms)" in out
    assert "Traceback" not in err


def test_cost_command() -> None:
    run = rightsize("cost", "haiku", "gpt-4o-mini", "--input-tokens", "800", "--output-tokens", "200",
                    "--per-day", "10000", "--server-cost", "600", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    haiku = data["table"][0]
    assert haiku["per_request"] == pytest.approx(0.0018) and haiku["per_month"] == pytest.approx(540)
    assert haiku["price_read_on"] == "2025-12-01"
    assert "333,333 requests/month" in data["break_even"][0]
    assert_one_line_error(rightsize("cost", "haiku", "--input-tokens", "-5", "--output-tokens", "1"),
                          "--input-tokens must be zero or more")
