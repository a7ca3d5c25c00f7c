"""Fault configuration parsing and the rate limiter's arithmetic."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rightsize.server.faults import FaultConfig, FaultInjector, RateLimiter, parse_fault_header


def test_header_forms() -> None:
    assert parse_fault_header("rpm=30, unavailable_rate=0.1,seed=7") == {"rpm": 30, "unavailable_rate": 0.1, "seed": 7}
    assert parse_fault_header('{"ttft_ms": 200}') == {"ttft_ms": 200}
    assert parse_fault_header("") == {}
    with pytest.raises(ValueError):
        parse_fault_header("rpm")


def test_unknown_fault_field_is_named() -> None:
    with pytest.raises(ValidationError, match="rmp"):
        FaultConfig().merged({"rmp": 3})


def test_rate_limiter_requests_and_tokens() -> None:
    limiter = RateLimiter()
    assert limiter.check("k", 10, rpm=2, tpm=None) is None
    assert limiter.check("k", 10, rpm=2, tpm=None) is None
    wait = limiter.check("k", 10, rpm=2, tpm=None)
    assert wait is not None and 59 < wait <= 60
    limiter = RateLimiter()
    assert limiter.check("k", 600, rpm=None, tpm=1000) is None
    assert limiter.check("k", 600, rpm=None, tpm=1000) is not None  # 1200 > 1000
    assert limiter.check("k", 300, rpm=None, tpm=1000) is None


def test_seeded_fault_draws_repeat() -> None:
    config = FaultConfig(unavailable_rate=0.3, overloaded_rate=0.2, seed=11)
    first = [FaultInjector().decide(config, api_key="a", tokens=1).status for _ in range(1)]
    runs = []
    for _ in range(2):
        injector = FaultInjector()
        runs.append([injector.decide(config, api_key="a", tokens=1).status for _ in range(200)])
    assert runs[0] == runs[1]
    statuses = runs[0]
    assert 0.2 < statuses.count(503) / 200 < 0.4 and 0.1 < statuses.count(529) / 200 < 0.3
    assert first[0] == runs[0][0]


def test_a_fault_file_problem_names_its_line_and_the_key_meant(tmp_path) -> None:
    from rightsize.server.faults import FaultConfig
    from rightsize.yamlconfig import ConfigError

    path = tmp_path / "faults.yaml"
    path.write_text("rpm: 30\nunavailable_rat: 0.1\ncut_rate: 2\n")
    with pytest.raises(ConfigError) as info:
        FaultConfig.from_file(path)
    problems = {(p.line, p.path): p.message for p in info.value.problems}
    assert problems[(2, "unavailable_rat")] == "unknown key (did you mean 'unavailable_rate'?)"
    assert "less than or equal to 1" in problems[(3, "cut_rate")]
    path.write_text("")
    assert FaultConfig.from_file(path) == FaultConfig()
