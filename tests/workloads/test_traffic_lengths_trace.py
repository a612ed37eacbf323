"""Length distributions (seeded, bounded, validated) and trace files (read strictly, replayed, scaled)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from wattfleet.agent.workloads.traffic.lengths import LengthSampler, draw, parse_length_dist
from wattfleet.agent.workloads.traffic.trace import load_trace, replay_offsets_ns, time_scale
from wattfleet.core.errors import ConfigError

W = "p.toml: workload.output_lengths"


def test_every_distribution_stays_in_its_bounds_and_is_seeded() -> None:
    tables = [{"dist": "fixed", "value": 7},
              {"dist": "uniform", "min": 3, "max": 9},
              {"dist": "normal", "mean": 50, "std": 30, "min": 10, "max": 80},
              {"dist": "lognormal", "median": 100, "sigma": 1.2, "min": 5, "max": 400}]
    for table in tables:
        d = parse_length_dist(table, W)
        a = LengthSampler(d, seed=11).first(3000)
        assert min(a) >= (d.value if d.dist == "fixed" else d.min) and max(a) <= d.upper
        assert all(isinstance(x, int) for x in a)
        assert LengthSampler(d, seed=11).first(3000) == a
        if d.dist != "fixed":
            assert LengthSampler(d, seed=12).first(3000) != a
    uniform = LengthSampler(parse_length_dist(tables[1], W), 0).first(3000)
    assert set(uniform) == set(range(3, 10))  # both ends included
    clipped = LengthSampler(parse_length_dist(tables[2], W), 0).first(3000)
    assert clipped.count(10) > 100 and clipped.count(80) > 100  # clipping puts mass on the bounds


def test_lognormal_median_and_mean_mean_what_they_say() -> None:
    by_median = parse_length_dist({"dist": "lognormal", "median": 120, "sigma": 0.9, "max": 10**9}, W)
    xs = LengthSampler(by_median, 5).first(20000)
    assert statistics.median(xs) == pytest.approx(120, rel=0.03)
    by_mean = parse_length_dist({"dist": "lognormal", "mean": 300, "sigma": 0.5, "max": 10**9}, W)
    ys = LengthSampler(by_mean, 5).first(20000)
    assert statistics.fmean(ys) == pytest.approx(300, rel=0.03)
    # Long tail: the mean sits above the median.
    assert statistics.fmean(xs) > 1.3 * statistics.median(xs)
    # numpy's own parameterisation: mu is the mean of the underlying normal.
    raw = draw(by_median, np.random.default_rng(0), 5)
    ref = np.clip(np.rint(np.random.default_rng(0).lognormal(math.log(120), 0.9, 5)), 1, 10**9)
    assert raw.tolist() == ref.astype(int).tolist()


def test_sampler_index_is_independent_of_asking_order() -> None:
    d = parse_length_dist({"dist": "uniform", "min": 1, "max": 1000}, W)
    forward = LengthSampler(d, 2).first(9000)  # crosses chunk boundaries
    backward = LengthSampler(d, 2)
    assert [backward.at(i) for i in range(8999, -1, -1)] == forward[::-1]


@pytest.mark.parametrize(("table", "message"), [
    ({"dist": "poisson"}, r"\.dist: expected one of 'fixed', 'uniform'.* got 'poisson'"),
    ({"dist": "fixed"}, r"\.value: required for dist = 'fixed'"),
    ({"dist": "fixed", "value": 0}, r"\.value: expected an integer >= 1, got 0"),
    ({"dist": "fixed", "value": 4, "max": 8}, r"\.max: not a parameter of dist = 'fixed'; expected dist, value"),
    ({"dist": "uniform", "max": 8}, r"\.min: required for dist = 'uniform'"),
    ({"dist": "uniform", "min": 9, "max": 8}, r"\.max: expected an integer >= min \(9\), got 8"),
    ({"dist": "uniform", "min": 0, "max": 8}, r"\.min: expected an integer >= 1, got 0"),
    ({"dist": "normal", "mean": 5, "std": 1}, r"\.max: required for dist = 'normal'"),
    ({"dist": "normal", "mean": 5, "std": -1, "max": 9}, r"\.std: expected a number >= 0, got -1"),
    ({"dist": "normal", "mean": 5, "max": 9.5, "std": 1}, r"\.max: expected an integer, got 9.5"),
    ({"dist": "lognormal", "sigma": 1, "max": 9}, r": give exactly one of median or mean"),
    ({"dist": "lognormal", "sigma": 1, "max": 9, "mean": 3, "median": 3}, r": give exactly one of median or mean"),
    ({"dist": "lognormal", "sigma": 1, "max": 9, "median": 0}, r"\.median: expected a number > 0, got 0"),
    ({"dist": "lognormal", "sigma": "wide", "max": 9, "median": 2}, r"\.sigma: expected a number, got 'wide'"),
    ({"dist": "lognormal", "sigma": math.inf, "max": 9, "median": 2}, r"\.sigma: expected a finite number"),
    ("lognormal", r": expected a table like"),
])
def test_bad_distribution_is_one_line_naming_the_key(table: object, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^p.toml: workload.output_lengths" + message):
        parse_length_dist(table, W)


# ---- traces --------------------------------------------------------------------------------------


def test_csv_and_jsonl_traces_read_the_same(tmp_path: Path) -> None:
    csv_file = tmp_path / "t.csv"
    csv_file.write_text("request,arrival_s,input_tokens,output_tokens\n"
                        "a,100.0,12,40\nb,100.5,30,7\n\nc,102.0,8,300\n", encoding="utf-8")
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"arrival_s": 100.0, "input_tokens": 12, "output_tokens": 40}\n'
                     '{"arrival_s": 100.5, "input_tokens": 30, "output_tokens": 7, "user": "x"}\n'
                     '{"arrival_s": 102, "input_tokens": 8, "output_tokens": 300}\n', encoding="utf-8")
    a, b = load_trace(csv_file, need_arrivals=True), load_trace(jsonl, need_arrivals=True)
    strip = [(r.input_tokens, r.output_tokens, r.arrival_s) for r in a.rows]
    assert strip == [(r.input_tokens, r.output_tokens, r.arrival_s) for r in b.rows]
    assert strip == [(12, 40, 100.0), (30, 7, 100.5), (8, 300, 102.0)]
    assert [r.line for r in a.rows] == [2, 3, 5]
    assert a.recorded_rate_qps() == pytest.approx(1.0)  # 2 gaps over 2 s
    assert a.row(4).output_tokens == 7  # repeats past its end


def test_replay_as_recorded_scaled_and_to_a_rate(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("arrival_s,input_tokens,output_tokens\n5,1,1\n5.25,1,1\n6,1,1\n9,1,1\n", encoding="utf-8")
    trace = load_trace(f, need_arrivals=True)
    assert replay_offsets_ns(trace) == [0, 250_000_000, 1_000_000_000, 4_000_000_000]
    assert replay_offsets_ns(trace, time_scale(trace, rate_scale=2.0)) == [0, 125_000_000, 500_000_000,
                                                                           2_000_000_000]
    scale = time_scale(trace, rate_qps=3.0)  # recorded: 3 gaps over 4 s = 0.75 req/s
    offsets = replay_offsets_ns(trace, scale)
    assert (len(offsets) - 1) / (offsets[-1] / 1e9) == pytest.approx(3.0)
    assert replay_offsets_ns(trace, max_queries=2) == [0, 250_000_000]
    assert replay_offsets_ns(trace, max_duration_s=1.0) == [0, 250_000_000, 1_000_000_000]
    with pytest.raises(ConfigError, match=r"t.csv: give trace_rate_scale or trace_rate_qps, not both"):
        time_scale(trace, rate_scale=1.0, rate_qps=1.0)


@pytest.mark.parametrize(("text", "message"), [
    ("arrival_s,input_tokens,output_tokens\n0,4,4\n-1.5,4,4\n",
     r"t.csv:3: arrival_s is negative \(-1.5\); arrival times are seconds >= 0"),
    ("arrival_s,input_tokens,output_tokens\n2,4,4\n1,4,4\n",
     r"t.csv:3: arrival_s 1 is before line 2's 2; sort the trace by arrival time"),
    ("arrival_s,input_tokens\n0,4\n", r"t.csv:1: missing column 'output_tokens' \(the header has arrival_s, input"),
    ("arrival_s,input_tokens,output_tokens\n0,4\n", r"t.csv:2: no value for output_tokens"),
    ("arrival_s,input_tokens,output_tokens\n0,4.5,4\n", r"t.csv:2: input_tokens must be an integer >= 1, got '4.5'"),
    ("arrival_s,input_tokens,output_tokens\n0,4,0\n", r"t.csv:2: output_tokens must be an integer >= 1"),
    ("arrival_s,input_tokens,output_tokens\nsoon,4,4\n", r"t.csv:2: arrival_s must be a number of seconds"),
    ("input_tokens,output_tokens\n4,4\n", r"t.csv:2: no arrival_s; the server scenario replays arrival times"),
    ("arrival_s,input_tokens,output_tokens\n", r"t.csv: the trace has no requests"),
])
def test_bad_trace_is_one_line_naming_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "t.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_trace(f, need_arrivals=True)


def test_bad_jsonl_trace_lines(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"input_tokens": 3, "output_tokens": 4}\n{"input_tokens": 3,\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t.jsonl:2: not JSON"):
        load_trace(f, need_arrivals=False)
    f.write_text('{"input_tokens": 3, "output_tokens": 4}\n{"input_tokens": 3, "output_tokens": 4, '
                 '"arrival_s": 1}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t.jsonl:2: arrival_s is given here but not on line 1"):
        load_trace(f, need_arrivals=False)
    f.write_text('{"input_tokens": 3, "output_tokens": 4}\n', encoding="utf-8")
    lengths_only = load_trace(f, need_arrivals=False)
    assert not lengths_only.has_arrivals
    with pytest.raises(ConfigError, match=r"t.jsonl: cannot scale to 2 req/s"):
        time_scale(lengths_only, rate_qps=2.0)
    with pytest.raises(ConfigError, match=r"t.txt: a trace is a .csv \(with a header row\) or a .jsonl file"):
        (tmp_path / "t.txt").write_text("x", encoding="utf-8")
        load_trace(tmp_path / "t.txt", need_arrivals=False)
