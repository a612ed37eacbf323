"""The user's own workload through a real agent over gRPC: text prompts tokenised by a tokenizer.json beside
the model, answers scored, generation stopping at EOS, joules per correct answer per domain, known answers
scored exactly, bad workload files refused at StartRun with the right status, the /metrics gauges and the
`wattfleet run` table, and a crashed run's task success rebuilt from the journal."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from agents import RunningAgent, scrape_metrics, start_agent
from known_folder import MUL_ANSWER_TOKENS, QUESTIONS, SPEC, answer_items, predicted_failures, text_folder

from wattfleet.core.client import AgentClient, AgentError
from wattfleet.core.model import RunRecord, RunSpec

pytest.importorskip("tokenizers", reason="the agent extra installs `tokenizers`")

LIMIT = 12
LOAD = ("[load]\nwarmup_queries = 0\nmin_duration_s = 0.4\nmin_queries = 3\ntarget_latency_percentile = 0\n"
        "output_tokens = 10\n")
TEXT = ('name = "questions"\n[model]\npath = "model.onnx"\n[runtime]\nintra_op_threads = 1\n' + LOAD
        + '[workload]\nitems = "questions.jsonl"\norder = "file"\n[task]\nscorer = "last-number"\n')


def _known(model: str, **workload: str) -> str:
    keys = {"items": '"known40.jsonl"', "order": '"file"', **workload}
    return (f'name = "known"\n[model]\nbuiltin = "{model}"\n[runtime]\nintra_op_threads = 1\n[load]\n'
            "warmup_queries = 0\nmin_duration_s = 0\nmin_queries = 40\nmax_queries = 40\n"
            "target_latency_percentile = 0\n[workload]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())
            + '[task]\nscorer = "exact"\non = "ids"\n')


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    work = tmp_path_factory.mktemp("traffic-agent")
    folder = text_folder(work / "models", work / "cache")
    answer_items(folder / "known40.jsonl", 40, LIMIT)
    (folder / "bad.jsonl").write_text('{"prompt_ids": [3]}\n{"prompt_ids": [4]\n', encoding="utf-8")
    (folder / "neither.jsonl").write_text('{"expected": "4"}\n', encoding="utf-8")
    (folder / "negative.csv").write_text("arrival_s,input_tokens,output_tokens\n0,4,4\n-0.5,4,4\n", encoding="utf-8")
    (work / "outside.jsonl").write_text('{"prompt_ids": [3]}\n', encoding="utf-8")
    os.symlink(work / "outside.jsonl", folder / "escape.jsonl")
    a = start_agent(work, host_id="traffic-agent", extra=(
        "--model-dir", str(folder), "--power-source", "estimated:tdp_w=100", "--telemetry-rate-hz", "50",
        "--metrics-port", "0"))
    try:
        yield a
    finally:
        a.stop()


async def _run(c: AgentClient, profile_toml: str) -> tuple[RunRecord, RunRecord]:
    """StartRun, wait for the end; the full record (GetRunRecord) and the typed one from the wire (GetRun)."""
    handle = await c.start_run(RunSpec(profile_toml=profile_toml))
    async for _ in c.watch_run(handle.run_id):
        pass
    return await c.get_run_record(handle.run_id), await c.get_run(handle.run_id)


async def test_text_prompts_scored_through_the_agent(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        record, slim = await _run(c, TEXT)
    assert record.state == "completed", record.error
    measured = [q for q in record.queries if not q.warmup]
    ids = list(QUESTIONS)
    assert len(measured) >= 3 and [q.item_id for q in measured] == [ids[i % 3] for i in range(len(measured))]
    for q in measured:  # each answer scored as the construction says
        assert q.correct is QUESTIONS[q.item_id][3], q
        if q.item_id == "mul":  # "the answer is 42 ." then EOS: stopped there, not at output_tokens = 10
            assert q.n_out == MUL_ANSWER_TOKENS and q.output_ids[-1] == SPEC.eos
        else:  # max_output_tokens = 4 from the item
            assert q.n_out == 4 and SPEC.eos not in q.output_ids
    correct = sum(1 for q in measured if q.correct)
    assert record.task is not None and record.task.scorer == "last-number"
    assert (record.task.items, record.task.correct) == (len(measured), correct)
    assert record.task.success_rate == correct / len(measured)
    assert record.task.ci_low is not None and record.task.ci_low < record.task.success_rate < (record.task.ci_high or 0)
    env = record.environment
    config = Path(record.profile["model"]["path"]).parent / "config.json"
    assert env["eos"] == {"ids": [SPEC.eos], "source": f"eos_token_id in {config}", "stop_at_eos": True}
    assert env["tokenizer"]["path"].endswith("tokenizer.json") and env["tokenizer"]["vocab_size"] > 10
    # j_per_correct in every energy domain: energy over the window / correct answers completed in it
    assert record.energy and record.headline_domain == "estimated"
    in_window = sum(1 for q in measured if q.correct and record.window.t0_ns <= q.done_ns <= record.window.t1_ns)
    for e in record.energy:
        jpc = record.figure("j_per_correct", e.domain)
        assert jpc is not None and jpc.unit == "J/correct" and jpc.definition.startswith("ESTIMATE")
        assert e.energy_j is not None and jpc.value == pytest.approx(e.energy_j / in_window, rel=1e-12)
    cps = record.figure("correct_per_s")
    assert cps is not None and cps.value == pytest.approx(in_window / record.window.duration_s, rel=1e-12)
    # The typed record over the wire carries the same task block and figures (what the console reads)
    assert slim.task is not None and (slim.task.items, slim.task.correct) == (record.task.items, correct)
    assert slim.task.ci_high == record.task.ci_high
    assert slim.headline("j_per_correct") == record.headline("j_per_correct")
    metrics = scrape_metrics(agent.metrics_port)
    (labels, ratio), = metrics["wattfleet_last_run_success_ratio"]
    assert labels["profile"] == "questions" and ratio == pytest.approx(record.task.success_rate)
    per_domain = {lab["domain"]: v for lab, v in metrics["wattfleet_last_run_joules_per_correct"]}
    assert per_domain == {e.domain: pytest.approx(e.energy_j / in_window) for e in record.energy if e.energy_j}
    promtool = shutil.which("promtool")
    if promtool is not None:  # the new gauges, with values, pass Prometheus's own linter
        with urllib.request.urlopen(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("model", ["decoder-known", "decoder-known-perturbed"])
async def test_known_answers_scored_exactly_through_the_agent(agent: RunningAgent, model: str) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        record, _ = await _run(c, _known(model))
    assert record.state == "completed", record.error
    folder = Path(record.profile["workload"]["items"]).parent
    predicted = predicted_failures(folder / "known40.jsonl", LIMIT) if model.endswith("perturbed") else []
    measured = [q for q in record.queries if not q.warmup]
    assert [q.item_id for q in measured if not q.correct] == predicted
    assert record.task is not None and record.task.correct == 40 - len(predicted) and record.task.items == 40
    assert record.workload is not None and record.workload["items"]["distinct"] == 40


REFUSED = [
    ({"items": '"../outside.jsonl"'}, "PERMISSION_DENIED", "workload.items '../outside.jsonl' resolves outside"),
    ({"items": '"escape.jsonl"'}, "PERMISSION_DENIED", "workload.items 'escape.jsonl' resolves outside"),
    ({"items": '"bad.jsonl"'}, "INVALID_ARGUMENT", "bad.jsonl:2: not JSON"),
    ({"items": '"neither.jsonl"'}, "INVALID_ARGUMENT", "neither.jsonl:1: item has neither prompt (text) nor"),
    ({"items": '"questions.jsonl"'}, "INVALID_ARGUMENT",
     "questions.jsonl:1: prompt is text, but there is no tokenizer.json beside the built-in model decoder-known"),
    ({"items": '"nowhere.jsonl"'}, "INVALID_ARGUMENT", "workload.items 'nowhere.jsonl': no such file"),
]


@pytest.mark.parametrize(("workload", "code", "message"), REFUSED)
async def test_bad_workload_files_are_refused_at_start_run(agent: RunningAgent, workload: dict[str, str], code: str,
                                                          message: str) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        before = len(await c.list_runs())
        with pytest.raises(AgentError) as err:
            await c.start_run(RunSpec(profile_toml=_known("decoder-known", **workload)))
        assert err.value.code == code and message in err.value.message and "\n" not in err.value.message
        assert len(await c.list_runs()) == before  # no run was created, half-configured or otherwise


async def test_a_trace_with_negative_times_is_refused(agent: RunningAgent) -> None:
    profile = ('name = "t"\n[model]\nbuiltin = "decoder-known"\n[load]\nscenario = "server"\n'
               'target_latency_percentile = 0\n[workload]\ntrace = "negative.csv"\n')
    async with AgentClient(agent.target, token=agent.token) as c:
        with pytest.raises(AgentError) as err:
            await c.start_run(RunSpec(profile_toml=profile))
    assert err.value.code == "INVALID_ARGUMENT"
    assert "negative.csv:3: arrival_s is negative (-0.5)" in err.value.message


def test_wattfleet_run_table_shows_success_and_joules_per_correct(agent: RunningAgent, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(agent.token + "\n")
    token.chmod(0o600)
    (tmp_path / "questions.toml").write_text(TEXT, encoding="utf-8")
    out = tmp_path / "records"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "run", str(tmp_path / "questions.toml"),
                           "--hosts", agent.target, "--token-file", str(token), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.splitlines()[:2]
    assert "success_rate" in header.split() and "j_per_correct" in header.split()
    (path,) = out.glob("*.json")
    record = RunRecord.from_json(path.read_text())
    assert record.task is not None and record.task.success_rate is not None
    assert f"{record.task.success_rate:.1%} (CI {record.task.ci_low:.1%}-{record.task.ci_high:.1%})" in row
    jpc = record.headline("j_per_correct")
    assert jpc is not None and jpc.value is not None and f"{jpc.value:.4g} J/correct [estimated]" in row


def test_a_crashed_runs_task_success_is_rebuilt_from_the_journal(agent: RunningAgent, tmp_path: Path) -> None:
    """What the journal keeps of each query (item and correct) is enough for the record builder to give a
    run cut short its task success, as it gives it latency and energy."""
    from wattfleet.agent.service.journal import Journal
    from wattfleet.agent.service.recovery import rebuild_record

    record = asyncio.run(_full(agent, TEXT))
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        journal.create_run("cut", created_ns=1, profile="questions", host_id="h", device="cpu", spec={},
                           profile_dict=record.profile, labels={})
        journal.set_started("cut", record)
        journal.add_queries("cut", record.queries)
        stored = journal.get("cut")
        # every field but the output ids, which only the record keeps
        assert stored is not None and journal.queries("cut") == [replace(q, output_ids=()) for q in record.queries]
        rebuilt = rebuild_record(stored, journal.queries("cut"), [], "the agent stopped", 0)
    finally:
        journal.close()
    assert rebuilt.task is not None and record.task is not None
    assert (rebuilt.task.items, rebuilt.task.correct) == (record.task.items, record.task.correct)
    rate = rebuilt.figure("success_rate")
    assert rate is not None and rate.value == record.task.success_rate and rate.low_confidence


async def _full(agent: RunningAgent, profile: str) -> RunRecord:
    async with AgentClient(agent.target, token=agent.token) as c:
        return (await _run(c, profile))[0]


def test_run_table_says_no_correct_and_hides_task_columns_without_a_scorer() -> None:
    from wattfleet.agent.figures.success import Success, success_figures
    from wattfleet.core.model import Figure
    from wattfleet.tui.fleet.run_cli import HostResult, summary_table

    energy = Figure("energy_j", 12.0, "J", "gpu-board:0", "energy of the domain")
    none_right = success_figures(Success("exact", "text", 40, 0, 0, 0), 2.0, [energy])
    figures = {f.key: f for f in [Figure("tokens_per_s", 900.0, "tok/s"), *none_right]}
    scored = HostResult("127.0.0.1:1", host_id="gpu", state="completed", figures=figures, headline="gpu-board:0")
    plain = HostResult("127.0.0.1:2", host_id="edge", state="completed",
                       figures={"tokens_per_s": Figure("tokens_per_s", 80.0, "tok/s")})
    header, row, other = summary_table([scored, plain]).splitlines()[:3]
    assert "0.0% (CI 0.0%-8.8%)" in row and "no correct [gpu-board:0]" in row  # undefined, said so, not "-"
    cols = header.split()
    assert cols[cols.index("tokens_per_j") + 1:cols.index("tokens_per_j") + 3] == ["success_rate", "j_per_correct"]
    assert other.startswith("edge") and "%" not in other and "no correct" not in other
    assert "success_rate" not in summary_table([plain]).splitlines()[0]  # no scorer anywhere: no task columns
