"""The metric definitions of shared/METRICS.md, on hand-made responses, and the report's forms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rightsize.errors import OverloadedError, RateLimitedError, StreamCutError
from rightsize.profiling import SLO, LoadShape, Report, measure, parse_duration, summarize
from rightsize.providers.base import Chunk, Response, Usage


def response(arrivals_ms: list[tuple[float, str]], *, finished_ms: float | None = None, output_tokens: int | None = None,
             tokens_per_chunk: int | None = None, error: Exception | None = None) -> Response:
    sent = 100.0
    chunks = [Chunk(text, sent + ms / 1000, (), tokens_per_chunk if text else None) for ms, text in arrivals_ms]
    last = finished_ms if finished_ms is not None else (arrivals_ms[-1][0] if arrivals_ms else 0.0)
    return Response(model="m", provider="p", streamed=True, sent=sent, sent_wall=0.0, chunks=chunks,
                    finished=sent + last / 1000, finish_reason=None if error else "stop",
                    usage=Usage(3, output_tokens, "server" if output_tokens is not None else "unknown"),
                    error=error)  # type: ignore[arg-type]


def test_role_only_first_chunk_is_not_the_first_token() -> None:
    m = measure(response([(5, ""), (40, "Hel"), (60, "lo"), (90, "!")], finished_ms=91, output_tokens=3))
    assert m.time_to_first_token == pytest.approx(0.040)  # not 5 ms: the role chunk carries no text
    assert m.end_to_end == pytest.approx(0.091)  # to the last chunk (the finish/usage event)
    assert m.inter_token_latencies == pytest.approx([0.020, 0.030])  # content chunks only
    assert m.content_chunks == 3


def test_tpot_excludes_the_first_token_and_is_undefined_below_two() -> None:
    m = measure(response([(0, ""), (100, "a"), (110, "b"), (120, "c"), (130, "d")], finished_ms=130, output_tokens=4))
    assert m.time_per_output_token == pytest.approx((0.130 - 0.100) / 3)  # (E2E - TTFT) / (tokens - 1)
    one = measure(response([(0, ""), (100, "a")], output_tokens=1))
    assert one.time_per_output_token is None and one.inter_token_latencies == []


def test_output_tokens_prefer_usage_and_say_how_they_were_counted() -> None:
    from_usage = measure(response([(10, "ab"), (20, "cd")], output_tokens=5))
    assert (from_usage.output_tokens, from_usage.output_tokens_source) == (5, "server")
    counted = measure(response([(10, "ab"), (20, "cd"), (30, "ef")]))
    assert counted.output_tokens == 3 and counted.output_tokens_source.startswith("counted: content chunks")
    assert counted.time_per_output_token == pytest.approx(0.010)


def test_multi_token_chunks_are_flagged_not_divided() -> None:
    m = measure(response([(10, "ab"), (30, "cd")], output_tokens=4, tokens_per_chunk=2))
    assert m.multi_token_chunks == 2
    assert m.inter_token_latencies == pytest.approx([0.020])  # one gap between two chunks, not four tokens
    report = Report("m", LoadShape("closed", 1, 10.0, concurrency=1), [m], wall_time=1.0)
    assert any("several tokens" in note and "not between tokens" in note for note in report.notes)


def test_itl_is_pooled_over_all_gaps_of_all_requests() -> None:
    a = measure(response([(10, "a"), (20, "b"), (30, "c")], output_tokens=3), index=0)
    b = measure(response([(10, "a"), (110, "b")], output_tokens=2), index=1)
    report = Report("m", LoadShape("closed", 2, 10.0, concurrency=1), [a, b], wall_time=1.0)
    assert sorted(report.samples("itl_ms")) == pytest.approx([10, 10, 100])


def make_report(slo: SLO | None) -> Report:
    fast = [measure(response([(0, ""), (50, "a"), (60, "b")], output_tokens=2), index=i) for i in range(3)]
    slow = measure(response([(0, ""), (400, "a"), (410, "b")], output_tokens=2), index=3)
    limited = measure(response([], error=RateLimitedError("slow down", status=429)), index=4)
    overloaded = measure(response([], error=OverloadedError("busy", status=503)), index=5)
    cut = measure(response([(0, ""), (50, "a")], error=StreamCutError("cut")), index=6)
    return Report("m", LoadShape("closed", 7, 60.0, concurrency=2), [*fast, slow, limited, overloaded, cut],
                  wall_time=2.0, slo=slo)


def test_errors_count_against_goodput_and_attainment() -> None:
    report = make_report(SLO.parse("ttft=200ms"))
    assert report.slo_met == 3  # the slow one misses TTFT, the three errors are misses too
    assert report.goodput == pytest.approx(3 / 2.0)
    assert report.slo_attainment == pytest.approx(3 / 7)
    assert report.request_throughput == pytest.approx(4 / 2.0)  # completed requests only
    assert report.output_token_throughput == pytest.approx(8 / 2.0)
    assert report.errors == {"overloaded (503)": 1, "rate_limited (429)": 1, "stream_cut": 1}
    assert report.slo_misses() == {"ttft": 1, "error": 3}
    # failed requests are not latency samples
    assert report.stats("ttft_ms")["count"] == 4


def test_slo_itl_tpot_e2e_and_parsing() -> None:
    slo = SLO(ttft="200ms", itl=0.05, tpot="20ms", e2e="3s")
    assert (slo.ttft, slo.itl, slo.tpot, slo.e2e) == pytest.approx((0.2, 0.05, 0.02, 3.0))
    stall = measure(response([(10, "a"), (20, "b"), (200, "c")], output_tokens=3))
    assert "itl" in slo.misses(stall) and "tpot" in slo.misses(stall)
    assert SLO.parse(["ttft=200ms,e2e=3s"]) == SLO(ttft=0.2, e2e=3.0)
    assert parse_duration("1.5") == 1.5 and parse_duration("250 ms") == 0.25
    for bad in ("fast", "ttft", "speed=3s", "ttft=-2ms"):
        with pytest.raises(Exception, match="SLO|duration|time"):
            SLO.parse(bad)


def test_summary_percentiles_interpolate_between_ranks() -> None:
    # 1..101: the q-th percentile sits exactly on the value q + 1 (rank q of 0..100)
    stats = summarize([float(v) for v in range(101, 0, -1)])
    assert (stats["p50"], stats["p90"], stats["p95"], stats["p99"]) == (51.0, 91.0, 96.0, 100.0)
    assert (stats["count"], stats["min"], stats["max"], stats["mean"]) == (101, 1.0, 101.0, 51.0)
    # between ranks: p50 of 1..4 is halfway between 2 and 3; p90 is 70% of the way from 3 to 4
    small = summarize([4.0, 1.0, 3.0, 2.0])
    assert small["p50"] == pytest.approx(2.5) and small["p90"] == pytest.approx(3.7)
    assert summarize([7.0])["p99"] == 7.0
    assert summarize([])["p50"] is None


def test_report_forms_carry_the_load_shape() -> None:
    report = make_report(SLO.parse("ttft=200ms"))
    frame = report.to_frame()
    assert list(frame.columns) == ["count", "mean", "min", "p50", "p90", "p95", "p99", "max"]
    assert "ttft_ms" in frame.index and frame.attrs["load"]["description"] == "closed loop, concurrency 2"
    data = json.loads(report.to_json(per_request=True))
    assert data["load"]["kind"] == "closed" and data["errors"]["rate_limited (429)"] == 1
    assert len(data["requests"]) == 7 and data["goodput_rps"] == pytest.approx(1.5)
    csv = report.to_csv()
    assert csv.splitlines()[0] == "metric,count,mean,min,p50,p90,p95,p99,max,model,load"
    assert "closed loop, concurrency 2" in csv
    text = str(report)
    assert "closed loop, concurrency 2" in text and "time to first token (ms)" in text and "attainment" in text
    assert "<table>" in report._repr_html_() and "closed loop" in report._repr_html_()
    assert len(report.per_request()) == 7


def test_load_shape_validation() -> None:
    from rightsize.errors import RightsizeError
    from rightsize.profiling import load_shape

    with pytest.raises(RightsizeError, match="rate"):
        load_shape(rate=-1)
    with pytest.raises(RightsizeError, match="concurrency"):
        load_shape(concurrency=0)
    with pytest.raises(RightsizeError, match="not both"):
        load_shape(rate=1, concurrency=2)
    assert load_shape(duration="10s").max_requests > 1000  # only a time bound: it is the one that binds
    assert load_shape().max_requests == 50 and load_shape().max_duration == 300
    assert load_shape(rate=5, arrivals="poisson", seed=3).describe() == \
        "open loop, Poisson arrivals at 5 req/s (seed 3)"


def test_plots_draw_without_showing() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rightsize.profiling import SweepReport, plots

    reports = []
    for level in (1, 2, 4):
        rs = [response([(0, ""), (50 * level, "a"), (50 * level + 10, "b"), (50 * level + 25, "c")], output_tokens=3)
              for _ in range(5)]
        report = Report("m", LoadShape("closed", 5, 60.0, concurrency=level),
                        [measure(r, index=i) for i, r in enumerate(rs)], wall_time=1.0 / level,
                        responses=list(rs))
        reports.append(report)
    sweep = SweepReport("m", reports, "done")
    axes = [plots.latency_ecdf(reports, "ttft_ms"), plots.latency_histogram(reports[0], "e2e_ms"),
            plots.ttft_vs_concurrency(sweep), plots.throughput_vs_latency(sweep),
            plots.stream_timeline(reports[0], 2)]
    ecdf, histogram, ttft, knee, timeline = axes
    # the ECDF steps through each run's TTFTs (50 ms x level, five requests each) up to 1
    assert ecdf.get_xlabel() == "time to first token (ms)"
    assert "closed loop, concurrency 1" in ecdf.get_legend().get_texts()[0].get_text()
    for level, line in zip((1, 2, 4), ecdf.get_lines()):
        assert list(line.get_xdata()) == pytest.approx([50.0 * level] * 5)
        assert list(line.get_ydata()) == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    # the histogram counts the five end-to-end times of concurrency 1 (75 ms each)
    assert sum(patch.get_height() for patch in histogram.patches) == 5
    # TTFT against concurrency: one point per level, ticks written 1, 2, 4
    p50 = ttft.get_lines()[0]
    assert list(p50.get_xdata()) == [1, 2, 4] and list(p50.get_ydata()) == pytest.approx([50.0, 100.0, 200.0])
    assert [t.get_text() for t in ttft.get_xticklabels()] == ["1", "2", "4"]
    assert ttft.get_xlabel() == "concurrency (closed loop)"
    # throughput against latency: 5 requests in 1/level s is 5 x level requests per second
    line = knee.get_lines()[0]
    assert list(line.get_xdata()) == pytest.approx([5.0, 10.0, 20.0])
    assert list(line.get_ydata()) == pytest.approx([75.0, 125.0, 225.0])
    # the timeline: the wait for the first token is a 50 ms bar, then three chunks
    assert timeline.patches[0].get_width() == pytest.approx(50.0)
    assert any("first token" in t.get_text() for t in timeline.get_legend().get_texts())
    assert sorted(float(x) for seg in timeline.collections[0].get_segments() for x in {seg[0][0]}) == \
        pytest.approx([50.0, 60.0, 75.0])
    plt.close("all")
