"""The run journal on disk: WAL mode, survives a SIGKILL of its writer, marks cut runs interrupted."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from wattfleet.agent.service.journal import Journal, StoredQuery, StoredRun
from wattfleet.core.errors import ConfigError


def _query(i: int, warmup: bool = False) -> StoredQuery:
    base = 1_000_000 * i
    tokens = tuple(base + 100 + 10 * k for k in range(4))
    return StoredQuery(i, base, base + 5, tokens[0], tokens[-1], len(tokens), warmup, tokens)


def _new_run(j: Journal, run_id: str, created_ns: int) -> None:
    j.create_run(
        run_id,
        created_ns=created_ns,
        profile="smoke",
        host_id="h1",
        device="cpu",
        spec={"profile": "smoke"},
        profile_dict={"name": "smoke", "slo": {"ttft_ms": 1.0}},
        labels={"team": "a"},
    )


def test_runs_roundtrip_and_list_newest_first(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite3")
    assert j.wal
    _new_run(j, "r1", 1)
    _new_run(j, "r2", 2)
    j.set_state("r1", "measuring", started_unix_ns=77)
    j.add_queries("r1", [_query(1), _query(2)])
    assert j.queries("r1") == [_query(1), _query(2)]
    j.finish("r1", state="completed", ended_unix_ns=99, figures=[{"name": "x", "value": 1.0}],
             record_json='{"ok": true}', error="", last_seq=12, environment={"provider": "cpu"})
    assert [r.run_id for r in j.list_runs()] == ["r2", "r1"]
    run = j.get("r1")
    assert run is not None
    assert (run.state, run.started_unix_ns, run.ended_unix_ns, run.last_seq) == ("completed", 77, 99, 12)
    assert run.environment == {"provider": "cpu"} and run.labels == {"team": "a"}
    assert json.loads(run.record_json) == {"ok": True}
    assert j.queries("r1") == []  # an ended run's timings live in its record, not in per-query rows
    assert j.queries("r2") == []
    j.add_queries("r2", [_query(3)])
    assert j.queries("r2") == [_query(3)]
    assert j.get("nope") is None
    j.close()


def _rebuild(
    run: StoredRun, queries: Sequence[StoredQuery], error: str, ended_unix_ns: int
) -> tuple[list[dict[str, Any]], str]:
    measured = [q for q in queries if not q.warmup]
    ttft = sorted((q.first_token_ns - q.scheduled_ns) / 1e6 for q in measured)
    figures = [{"name": "ttft_max", "value": ttft[-1], "unit": "ms", "slo": run.profile_dict["slo"]["ttft_ms"]}]
    return figures, json.dumps({"run_id": run.run_id, "n": len(measured), "error": error, "end": ended_unix_ns})


def test_a_run_cut_by_sigkill_is_marked_interrupted_with_its_queries(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from wattfleet.agent.service.journal import Journal, StoredQuery, StoredRun
        j = Journal(Path({str(path)!r}))
        j.create_run("cut", created_ns=5, profile="smoke", host_id="h1", device="cpu", spec={{}},
                     profile_dict={{"name": "smoke", "slo": {{"ttft_ms": 1.0}}}}, labels={{}})
        j.set_state("cut", "measuring", started_unix_ns=1)
        j.add_queries("cut", [StoredQuery(0, 0, 1, 2, 3, 1, True, (2,))])
        j.add_queries("cut", [StoredQuery(i, 10*i, 10*i+1, 10*i+4, 10*i+9, 2, False, (10*i+4, 10*i+9))
                              for i in range(1, 6)])
        j.progress("cut", tokens_done=10, queries_done=5, last_seq=42)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()
    j = Journal(path)
    before = j.get("cut")
    assert before is not None and before.state == "measuring"
    assert j.recover(_rebuild, ended_unix_ns=123, reason="the agent stopped during the run") == ["cut"]
    run = j.get("cut")
    assert run is not None
    assert (run.state, run.ended_unix_ns, run.queries_done) == ("interrupted", 123, 5)
    assert "agent stopped" in run.error
    assert run.figures == [{"name": "ttft_max", "value": 4 / 1e6, "unit": "ms", "slo": 1.0}]
    assert json.loads(run.record_json) == {"run_id": "cut", "n": 5, "error": run.error, "end": 123}
    assert run.last_seq == 43  # the summary event comes after the last event journaled (42)
    assert j.recover(_rebuild, ended_unix_ns=124, reason="again") == []  # ended runs stay as they are
    j.close()


def test_a_corrupt_journal_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match=str(path)):
        Journal(path)


def test_without_an_engine_the_cut_run_keeps_its_raw_timings(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite3")
    _new_run(j, "r9", 1)
    j.add_queries("r9", [_query(1), _query(2, warmup=True)])
    assert j.recover(None, ended_unix_ns=5, reason="crashed") == ["r9"]
    run = j.get("r9")
    assert run is not None and run.state == "interrupted" and run.figures == []
    record = json.loads(run.record_json)
    assert [r["request_id"] for r in record["requests"]] == [1, 2]
    assert record["requests"][0]["token_ns"] == list(_query(1).token_ns)
    j.close()


def test_prune_keeps_the_newest_ended_runs_and_every_live_one(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite3")
    for i in range(5):
        _new_run(j, f"r{i}", i)
        if i != 1:  # r1 is still running
            j.finish(f"r{i}", state="completed", ended_unix_ns=i, figures=[], record_json="{}", error="", last_seq=1)
    assert j.prune(2) == 2
    assert sorted(r.run_id for r in j.list_runs()) == ["r1", "r3", "r4"]
    j.close()
