"""The run journal on disk: WAL mode, survives a SIGKILL of its writer, marks cut runs interrupted."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from wattfleet.agent.service.journal import EnergyPoint, Journal, StoredRun
from wattfleet.core.errors import ConfigError
from wattfleet.core.model import Figure, Query, RunRecord


def _query(i: int, warmup: bool = False) -> Query:
    base = 1_000_000 * i
    tokens = tuple(base + 100 + 10 * k for k in range(4))
    return Query(i, base, base + 5, tokens[-1], tokens, warmup)


def _new_run(j: Journal, run_id: str, created_ns: int, ceiling: int = 0) -> None:
    j.create_run(
        run_id,
        created_ns=created_ns,
        profile="smoke",
        host_id="h1",
        device="cpu",
        spec={"profile": "smoke"},
        profile_dict={"name": "smoke", "slo": {"ttft_ms": 1.0}},
        labels={"team": "a"},
        profile_text='name = "smoke"',
        seq_ceiling=ceiling,
    )


def test_runs_roundtrip_and_list_newest_first(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite3")
    assert j.wal
    _new_run(j, "r1", 1)
    _new_run(j, "r2", 2)
    j.set_state("r1", "measuring", started_unix_ns=77)
    j.add_queries("r1", [_query(1), _query(2)])
    assert j.queries("r1") == [_query(1), _query(2)]
    j.finish("r1", state="completed", ended_unix_ns=99, figures=[Figure("x", 1.0)],
             record_json='{"ok": true}', error="", last_seq=12, environment={"provider": "cpu"})
    assert [r.run_id for r in j.list_runs()] == ["r2", "r1"]
    run = j.get("r1")
    assert run is not None
    assert (run.state, run.started_unix_ns, run.ended_unix_ns, run.last_seq) == ("completed", 77, 99, 12)
    assert run.environment == {"provider": "cpu"} and run.labels == {"team": "a"}
    assert run.figures == [Figure("x", 1.0)] and run.profile_text == 'name = "smoke"'
    assert json.loads(run.record_json) == {"ok": True}
    assert j.queries("r1") == []  # an ended run's timings live in its record, not in per-query rows
    assert j.queries("r2") == []
    j.add_queries("r2", [_query(3)])
    assert j.queries("r2") == [_query(3)]
    assert j.get("nope") is None
    j.close()


def _rebuild(run: StoredRun, queries: Sequence[Query], points: Sequence[EnergyPoint], error: str,
             ended_unix_ns: int) -> RunRecord:
    measured = [q for q in queries if not q.warmup]
    ttft = sorted((q.first_token_ns - q.scheduled_ns) / 1e6 for q in measured)
    energy = points[-1].energy_j["cpu-package"] if points else 0.0
    return RunRecord(run_id=run.run_id, state="interrupted", error=error, ended_unix_ns=ended_unix_ns,
                     profile_text=run.profile_text, environment=run.environment, queries=list(queries),
                     figures=[Figure("ttft_max", ttft[-1], "ms"), Figure("energy_j", energy, "J", "cpu-package")])


def test_a_run_cut_by_sigkill_is_marked_interrupted_with_its_queries(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from wattfleet.agent.service.journal import EnergyPoint, Journal
        from wattfleet.core.model import Query, RunRecord, Window
        j = Journal(Path({str(path)!r}))
        j.create_run("cut", created_ns=5, profile="smoke", host_id="h1", device="cpu", spec={{}},
                     profile_dict={{"name": "smoke", "slo": {{"ttft_ms": 1.0}}}}, labels={{}},
                     profile_text="text of the profile", seq_ceiling=100)
        j.set_state("cut", "measuring", started_unix_ns=1)
        j.set_started("cut", RunRecord("cut", environment={{"provider_used": "CPUExecutionProvider"}},
                                       window=Window(1000, 2000)))
        j.add_queries("cut", [Query(0, 0, 1, 3, (2, 3), True)])
        j.add_queries("cut", [Query(i, 10*i, 10*i+1, 10*i+9, (10*i+4, 10*i+9)) for i in range(1, 6)])
        j.add_energy_point("cut", EnergyPoint(10, {{"cpu-package": 0.0}}))
        j.add_energy_point("cut", EnergyPoint(60, {{"cpu-package": 2.5}}, {{"cpu-package": 60.0}}))
        j.progress("cut", tokens_done=10, queries_done=5, last_seq=42, last_unix_ns=777, last_mono_ns=60)
        j.raise_seq_ceiling("cut", 200)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()
    j = Journal(path)
    before = j.get("cut")
    assert before is not None and before.state == "measuring" and before.seq_ceiling == 200
    marked = j.recover(_rebuild, restart_unix_ns=123_456, reason="the agent stopped during the run")
    assert marked == ["cut"]
    run = j.get("cut")
    assert run is not None
    # It ends at the last journaled time (777), not at the restart (123456).
    assert (run.state, run.ended_unix_ns, run.queries_done) == ("interrupted", 777, 5)
    assert "agent stopped" in run.error
    assert run.figures == [Figure("ttft_max", 4 / 1e6, "ms"), Figure("energy_j", 2.5, "J", "cpu-package")]
    record = RunRecord.from_json(run.record_json)
    assert record.profile_text == "text of the profile"
    assert record.environment == {"provider_used": "CPUExecutionProvider"}
    assert len(record.queries) == 6
    # The final event is numbered above the ceiling: above anything the agent may have sent.
    assert run.last_seq == 201
    assert j.recover(_rebuild, restart_unix_ns=124, reason="again") == []  # ended runs stay as they are
    j.close()


def test_a_corrupt_journal_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match=str(path)):
        Journal(path)


def test_a_schema_1_journal_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_ns INTEGER NOT NULL, profile TEXT NOT NULL,
            state TEXT NOT NULL, host_id TEXT NOT NULL, device TEXT NOT NULL DEFAULT '', spec_json TEXT NOT NULL,
            profile_json TEXT NOT NULL, labels_json TEXT NOT NULL DEFAULT '{}',
            environment_json TEXT NOT NULL DEFAULT '{}', started_unix_ns INTEGER NOT NULL DEFAULT 0,
            ended_unix_ns INTEGER NOT NULL DEFAULT 0, window_t0_ns INTEGER NOT NULL DEFAULT 0,
            tokens_done INTEGER NOT NULL DEFAULT 0, queries_done INTEGER NOT NULL DEFAULT 0,
            last_seq INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
            figures_json TEXT NOT NULL DEFAULT '[]', record_json TEXT NOT NULL DEFAULT '');
        INSERT INTO runs (run_id, created_ns, profile, state, host_id, spec_json, profile_json, last_seq)
            VALUES ('old', 1, 'smoke', 'completed', 'h', '{}', '{}', 9);
    """)
    db.commit()
    db.close()
    j = Journal(path)
    old = j.get("old")
    assert old is not None and old.last_seq == 9 and old.seq_ceiling == 0
    _new_run(j, "new", 2, ceiling=50)
    assert j.get("new") is not None
    j.close()


def test_without_an_engine_the_cut_run_keeps_its_raw_timings(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite3")
    _new_run(j, "r9", 1)
    j.add_queries("r9", [_query(1), _query(2, warmup=True)])
    assert j.recover(None, restart_unix_ns=5, reason="crashed") == ["r9"]
    run = j.get("r9")
    assert run is not None and run.state == "interrupted" and run.figures == []
    record = json.loads(run.record_json)
    assert [r["query_id"] for r in record["queries"]] == [1, 2]
    assert RunRecord.from_json(run.record_json).queries[0] == _query(1)
    assert record["profile_text"] == 'name = "smoke"'
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
