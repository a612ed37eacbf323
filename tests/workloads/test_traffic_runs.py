"""The user's own workload through whole runs: known answers scored exactly through `wattfleet bench`, a trace
replayed on the server scenario, lengths per query, model against model on the same items, and bad input
refused while preparing, before any query runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from known_folder import SPEC, answer_items, predicted_failures

from wattfleet.agent.workloads.config import Profile
from wattfleet.agent.workloads.driver import run_profile
from wattfleet.agent.workloads.profile import load_profile_text
from wattfleet.agent.workloads.traffic.lengths import LengthSampler
from wattfleet.agent.workloads.traffic.trace import load_trace, replay_offsets_ns
from wattfleet.core.model import RunRecord

pytest.importorskip("tokenizers", reason="the agent extra installs `tokenizers`")

WATTFLEET = str(Path(sys.executable).parent / "wattfleet")
LIMIT = 12
KNOWN_ITEMS = """\
name = "known-items"
[model]
builtin = "decoder-known"
[runtime]
intra_op_threads = 1
[load]
min_queries = 40
max_queries = 40
min_duration_s = 0
warmup_queries = 0
target_latency_percentile = 0
[workload]
items = "items.jsonl"
order = "file"
[task]
scorer = "exact"
on = "ids"
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 id items expecting the correct model's answers; the profile beside them names them relatively."""
    folder = tmp_path_factory.mktemp("known-items")
    (folder / "known-items.toml").write_text(KNOWN_ITEMS, encoding="utf-8")
    return answer_items(folder / "items.jsonl", 40, LIMIT)


class Phases:
    """An observer that keeps the phases a run went through."""

    def __init__(self) -> None:
        self.phases: list[str] = []

    def on_phase(self, state: str, detail: str = "") -> None:
        self.phases.append(state)

    def on_progress(self, *_args: object) -> None: ...
    def on_token(self, *_args: object) -> None: ...
    def on_query(self, *_args: object) -> None: ...


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WATTFLEET, "bench", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("model", ["decoder-known", "decoder-known-perturbed"])
def test_bench_scores_the_known_answers_exactly(items: Path, cache: Path, tmp_path: Path, model: str) -> None:
    """decoder-known answers all 40 items; its perturbed copy fails exactly the items the map predicts.
    The profile's items path is relative to the profile file (bench runs from another folder)."""
    proc = _bench(str(items.parent / "known-items.toml"), "--set", f"model.builtin={model}", "--cache-dir",
                  str(cache), "--no-energy", "--json", "--out", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = RunRecord.from_json(proc.stdout)
    failed = predicted_failures(items, LIMIT) if model == "decoder-known-perturbed" else []
    assert 5 < len(predicted_failures(items, LIMIT)) < 35
    measured = [q for q in record.queries if not q.warmup]
    assert [q.item_id for q in measured] == [f"q{i}" for i in range(40)]  # file order, each item once
    assert [q.item_id for q in measured if not q.correct] == failed
    assert record.task is not None and (record.task.items, record.task.correct) == (40, 40 - len(failed))
    assert record.task.success_rate == (40 - len(failed)) / 40
    assert record.figure("success_rate") is not None and record.figure("correct_per_s") is not None
    assert record.workload is not None and record.workload["items"]["file"] == str(items)
    assert record.workload["items"]["counts"] == {f"q{i}": 1 for i in range(40)}
    # EOS stops a query (the map reaches EOS within the limit on every fifth item) and is counted
    short = [q for q in measured if q.n_out < LIMIT]
    assert short and all(q.output_ids[-1] == SPEC.eos for q in short)
    rate = f"{(40 - len(failed)) / 40:.1%}"
    assert f"task      success {40 - len(failed)}/40 = {rate} (95% CI" in proc.stderr
    assert "scorer exact on ids" in proc.stderr


def _trace(path: Path, arrivals: list[float]) -> Path:
    rows = ["arrival_s,input_tokens,output_tokens,comment"]
    rows += [f"{t:.4f},{2 + i % 7},{1 + (i * 3) % 9},row {i}" for i, t in enumerate(arrivals)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _server(trace: Path, **load: object) -> Profile:
    keys = {"min_queries": 20, "min_duration_s": 0.1, "warmup_queries": 0, "server_workers": 4,
            "target_latency_percentile": 0, **load}
    text = ('name = "replay"\n[model]\nbuiltin = "decoder-known"\n[runtime]\nintra_op_threads = 1\n[load]\n'
            'scenario = "server"\n' + "".join(f"{k} = {v}\n" for k, v in keys.items())
            + f'[workload]\ntrace = "{trace}"\ntrace_rate_scale = 4.0\n')
    return load_profile_text(text, source="replay.toml")


# 20 arrivals with irregular gaps (bursts and lulls), 2.09 s recorded, 0.52 s at 4x.
GAPS = [0.0, 0.02, 0.31, 0.01, 0.01, 0.25, 0.04, 0.18, 0.005, 0.005, 0.3, 0.07, 0.12, 0.015, 0.2, 0.03,
        0.09, 0.21, 0.011, 0.2]


def test_trace_arrivals_replayed_scaled(cache: Path, tmp_path: Path) -> None:
    arrivals = [100.0 + sum(GAPS[: i + 1]) for i in range(20)]  # any origin: replay starts at the first row
    trace_path = _trace(tmp_path / "trace.csv", arrivals)
    record = run_profile(_server(trace_path), cache_dir=cache)
    assert record.state == "completed", record.error
    trace = load_trace(trace_path, need_arrivals=True)
    assert record.schedule_offsets_ns == replay_offsets_ns(trace, 4.0)
    t0 = record.window.t0_ns
    measured = sorted((q for q in record.queries if not q.warmup), key=lambda q: q.scheduled_ns)
    assert [q.scheduled_ns - t0 for q in measured] == record.schedule_offsets_ns
    # The arrival times in the record are the scaled trace's, exactly (above). When each query was really
    # issued depends on this machine's load, so it is not asserted beyond "never before
    # its arrival"; a slow host shows up as ttft (from the scheduled time), as LoadGen counts it.
    late_ms = [(q.issued_ns - q.scheduled_ns) / 1e6 for q in measured]
    assert all(late >= 0 for late in late_ms), late_ms
    for i, q in enumerate(measured):
        assert 1 <= q.n_out <= trace.rows[i].output_tokens  # row i's limit (EOS may come first)
    assert record.window.ended_by == "limits met" and record.validity.valid
    assert record.workload is not None
    assert (record.workload["trace"]["scale"], record.workload["trace"]["arrivals_replayed"]) == (4.0, True)


def test_a_trace_too_short_for_the_minimums_is_invalid_and_says_why(cache: Path, tmp_path: Path) -> None:
    trace_path = _trace(tmp_path / "trace.csv", [sum(GAPS[: i + 1]) for i in range(20)])
    record = run_profile(_server(trace_path, min_queries=30), cache_dir=cache)
    assert record.state == "completed", record.error
    assert len(record.schedule_offsets_ns) == 20  # replayed once, never looped
    assert record.window.ended_by == "trace ended" and not record.validity.valid
    assert any("the trace ended after 20 arrivals" in r for r in record.validity.reasons)


def test_lengths_set_each_query(cache: Path) -> None:
    text = ('name = "lengths"\n[model]\nbuiltin = "decoder-tiny"\n[runtime]\nintra_op_threads = 1\n'
            "[load]\nmin_queries = 12\nmin_duration_s = 0\nwarmup_queries = 1\ntarget_latency_percentile = 0\n"
            "seed = 4\n"
            '[workload]\ninput_lengths = {dist = "uniform", min = 2, max = 9}\n'
            'output_lengths = {dist = "lognormal", median = 3, sigma = 0.8, min = 1, max = 9}\n')
    profile = load_profile_text(text, source="lengths.toml")
    record = run_profile(profile, cache_dir=cache)
    assert record.state == "completed", record.error
    out = profile.traffic.workload.output_lengths
    assert out is not None
    sampler = LengthSampler(out, 4 + 1)
    assert [q.n_out for q in record.queries] == [sampler.at(q.query_id) for q in record.queries]
    assert len({q.n_out for q in record.queries}) > 2  # lengths really vary
    assert record.environment["eos"]["ids"] == [] and not record.environment["eos"]["stop_at_eos"]
    assert record.workload == {"stop_at_eos": False, "lengths": {"input": {"dist": "uniform", "min": 2, "max": 9},
                                                                 "output": out.to_dict()}}
    assert record.task is None and record.figure("success_rate") is None


def test_quality_model_against_model_on_the_same_items(items: Path, cache: Path) -> None:
    profile = load_profile_text(KNOWN_ITEMS.replace('"items.jsonl"', f'"{items}"')
                                + '[quality]\nreference_model = "decoder-known-perturbed"\n', source="q.toml")
    record = run_profile(profile, cache_dir=cache)
    assert record.state == "completed", record.error
    k = len(predicted_failures(items, LIMIT))
    q = record.quality
    assert q is not None and q["reference"]["model"] == "decoder-known-perturbed" and q["items"] == 40
    assert q["answer_agreement"] == (40 - k) / 40  # disagree exactly where the perturbed copy fails
    assert (q["success_rate"], q["reference_success_rate"], q["scored"]) == (1.0, (40 - k) / 40, 40)
    assert record.task is not None and record.task.success_rate == 1.0


BAD_INPUT = [
    ("items.jsonl", '{"prompt_ids": [1, 2]}\n{"prompt_ids": [3\n', "items.jsonl:2: not JSON"),
    ("items.jsonl", '{"prompt_ids": [1, 2]}\n\n{"expected": "4"}\n',
     "items.jsonl:3: item has neither prompt (text) nor prompt_ids (token ids)"),
    ("items.jsonl", '{"prompt": "what is six times seven"}\n',
     "items.jsonl:1: prompt is text, but there is no tokenizer.json beside the built-in model decoder-known"),
    ("trace.csv", "arrival_s,input_tokens,output_tokens\n0.0,4,4\n-1.5,4,4\n",
     "trace.csv:3: arrival_s is negative (-1.5)"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUT)
def test_bad_input_fails_while_preparing(cache: Path, tmp_path: Path, name: str, content: str,
                                         message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    key = "items" if name.endswith(".jsonl") else "trace"
    scenario = 'scenario = "server"\n' if key == "trace" else ""
    profile = load_profile_text('name = "bad"\n[model]\nbuiltin = "decoder-known"\n[load]\n' + scenario
                                + f'[workload]\n{key} = "{path}"\n', source="bad.toml")
    phases = Phases()
    record = run_profile(profile, cache_dir=cache, observer=phases)
    assert record.state == "failed" and message in record.error and "\n" not in record.error
    assert str(tmp_path) in record.error  # the file named in full
    assert phases.phases == ["preparing", "failed"] and record.queries == []  # never half-started


def test_bench_bad_items_exit_1_with_one_line(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "items.jsonl").write_text('{"prompt_ids": [1]}\nnot json\n', encoding="utf-8")
    (tmp_path / "p.toml").write_text(KNOWN_ITEMS.replace("[task]\nscorer = \"exact\"\non = \"ids\"\n", ""),
                                     encoding="utf-8")
    proc = _bench(str(tmp_path / "p.toml"), "--cache-dir", str(cache), "--no-energy", "--out", str(tmp_path),
                  cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1].startswith(f"wattfleet bench: {tmp_path / 'items.jsonl'}:2: not JSON")
    (record,) = (json.loads(p.read_text()) for p in tmp_path.glob("wattfleet-known-items-*.json"))
    assert record["state"] == "failed" and record["queries"] == []
