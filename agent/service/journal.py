"""The run journal: every run on disk as it progresses, in SQLite (WAL mode).

What is stored per run: the spec, the profile and its text, the environment once known, the anchor pair,
its state as it changes, running counts (tokens, queries, last event seq) with the time of the last write,
a ceiling above every event sequence number the agent may send, the energy measured so far (a point a
second), every finished query's timings, and at the end the full record. After a crash, `recover()` marks
every run that had not ended as interrupted and rebuilds its record from what is stored, so a run cut
short keeps what was measured up to then, and its final event is numbered above anything a client saw.
Power limits a sweep changed are kept too (their originals, written before the first change), so that the
next start puts back whatever a crash left behind (telemetry.limits.LimitJournal).

The class is synchronous and thread-safe (one connection behind a lock); the run manager calls it from
one I/O thread so neither the event loop nor a workload ever waits on the disk (except the rare
`raise_seq_ceiling`, which must be durable before events beyond the old ceiling go out).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wattfleet.core.errors import ConfigError
from wattfleet.core.model import Figure, Query, RunRecord, Window

SCHEMA_VERSION = 2
ENDED = ("completed", "failed", "cancelled", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_ns INTEGER NOT NULL,
    profile TEXT NOT NULL,
    state TEXT NOT NULL,
    host_id TEXT NOT NULL,
    device TEXT NOT NULL DEFAULT '',
    spec_json TEXT NOT NULL,
    profile_json TEXT NOT NULL,
    labels_json TEXT NOT NULL DEFAULT '{}',
    environment_json TEXT NOT NULL DEFAULT '{}',
    started_unix_ns INTEGER NOT NULL DEFAULT 0,
    ended_unix_ns INTEGER NOT NULL DEFAULT 0,
    window_t0_ns INTEGER NOT NULL DEFAULT 0,
    tokens_done INTEGER NOT NULL DEFAULT 0,
    queries_done INTEGER NOT NULL DEFAULT 0,
    last_seq INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    figures_json TEXT NOT NULL DEFAULT '[]',
    record_json TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_ns);
CREATE TABLE IF NOT EXISTS queries (
    run_id TEXT NOT NULL,
    request_id INTEGER NOT NULL,
    scheduled_ns INTEGER NOT NULL,
    issued_ns INTEGER NOT NULL,
    first_token_ns INTEGER NOT NULL,
    done_ns INTEGER NOT NULL,
    n_out INTEGER NOT NULL,
    warmup INTEGER NOT NULL,
    token_ns BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS queries_run ON queries (run_id);
"""
# Schema 2 adds these to `runs` (a schema-1 journal is migrated in place) and the energy_points table.
_V2_COLUMNS = (
    ("profile_text", "TEXT NOT NULL DEFAULT ''"),
    ("cold_start_json", "TEXT NOT NULL DEFAULT '{}'"),
    ("anchor_unix_ns", "INTEGER NOT NULL DEFAULT 0"),
    ("anchor_mono_ns", "INTEGER NOT NULL DEFAULT 0"),
    ("last_unix_ns", "INTEGER NOT NULL DEFAULT 0"),
    ("last_mono_ns", "INTEGER NOT NULL DEFAULT 0"),
    ("seq_ceiling", "INTEGER NOT NULL DEFAULT 0"),
    ("summary_json", "TEXT NOT NULL DEFAULT ''"),  # the record without its queries: what lists show
)
_V2_TABLES = """
CREATE TABLE IF NOT EXISTS energy_points (
    run_id TEXT NOT NULL,
    t_ns INTEGER NOT NULL,
    energy_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS energy_run ON energy_points (run_id);
CREATE TABLE IF NOT EXISTS power_limits (
    key TEXT PRIMARY KEY,
    original_w REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    set_unix_ns INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class EnergyPoint:
    """The energy a run's domains used from the start of measuring up to t_ns (J, cumulative), with the
    highest power sample seen since the previous point, and how it was measured."""

    t_ns: int
    energy_j: dict[str, float]
    peak_w: dict[str, float] = field(default_factory=dict)
    method: dict[str, str] = field(default_factory=dict)
    sample_rate_hz: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    created_ns: int
    profile: str
    state: str
    host_id: str
    device: str
    spec: dict[str, Any]
    profile_dict: dict[str, Any]
    labels: dict[str, str]
    environment: dict[str, Any]
    started_unix_ns: int
    ended_unix_ns: int
    window_t0_ns: int
    tokens_done: int
    queries_done: int
    last_seq: int
    error: str
    figures: list[Figure] = field(default_factory=list)
    record_json: str = ""
    profile_text: str = ""
    cold_start: dict[str, float] = field(default_factory=dict)
    anchor_unix_ns: int = 0
    anchor_mono_ns: int = 0
    last_unix_ns: int = 0
    last_mono_ns: int = 0
    seq_ceiling: int = 0
    summary_json: str = ""
    record_bytes: int = 0

    @property
    def ended(self) -> bool:
        return self.state in ENDED


# Rebuilds a cut-short run's record from the stored run, its queries, its energy points, the reason and
# the end time (the engine's record builder behind an adapter); the journal itself knows nothing of it.
Rebuild = Callable[[StoredRun, Sequence[Query], Sequence[EnergyPoint], str, int], RunRecord]


def minimal_record(run: StoredRun, queries: Sequence[Query], error: str, ended_unix_ns: int) -> RunRecord:
    """A record with what the journal holds, for when no engine can rebuild a full one."""
    return RunRecord(
        run_id=run.run_id, state="interrupted", host_id=run.host_id, device=run.device, profile=run.profile_dict,
        profile_text=run.profile_text, environment=run.environment, cold_start=run.cold_start,
        window=Window(run.anchor_unix_ns, run.anchor_mono_ns, ended_by="interrupted"), queries=list(queries),
        error=error, labels=run.labels, started_unix_ns=run.started_unix_ns, ended_unix_ns=ended_unix_ns,
    )


_RUN_COLUMNS = (
    "run_id, created_ns, profile, state, host_id, device, spec_json, profile_json, labels_json, "
    "environment_json, started_unix_ns, ended_unix_ns, window_t0_ns, tokens_done, queries_done, last_seq, "
    "error, figures_json, profile_text, cold_start_json, anchor_unix_ns, anchor_mono_ns, last_unix_ns, "
    "last_mono_ns, seq_ceiling, summary_json, length(CAST(record_json AS BLOB))"
)


class Journal:
    """SQLite journal of runs. `Journal(path)` opens (creating or migrating) it; `close()` when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            version = SCHEMA_VERSION if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"journal {path} has schema {version}, newer than this agent writes ({SCHEMA_VERSION}); "
                    "upgrade wattfleet or move the file aside (the agent starts a new one)"
                )
            self._migrate()
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"cannot open the run journal {path}: {exc}; move the file aside") from exc
        self.wal = str(mode).lower() == "wal"

    def _migrate(self) -> None:
        have = {r[1] for r in self._db.execute("PRAGMA table_info(runs)")}
        for name, decl in _V2_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
        have_q = {r[1] for r in self._db.execute("PRAGMA table_info(queries)")}
        for name, decl in (("samples", "INTEGER NOT NULL DEFAULT 1"), ("item_id", "TEXT NOT NULL DEFAULT ''"),
                           ("correct", "INTEGER")):  # item_id, correct: a crashed run's task success
            if name not in have_q:
                self._db.execute(f"ALTER TABLE queries ADD COLUMN {name} {decl}")
        self._db.executescript(_V2_TABLES)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, args: Sequence[Any] | Iterable[Sequence[Any]], many: bool = False) -> None:
        with self._lock:
            if many:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany(sql, args)
                except sqlite3.Error:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            else:
                self._db.execute(sql, args)  # type: ignore[arg-type]

    # --- writes ----------------------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        *,
        created_ns: int,
        profile: str,
        host_id: str,
        device: str,
        spec: dict[str, Any],
        profile_dict: dict[str, Any],
        labels: dict[str, str],
        profile_text: str = "",
        seq_ceiling: int = 0,
        state: str = "queued",
    ) -> None:
        self._write(
            "INSERT INTO runs (run_id, created_ns, profile, state, host_id, device, spec_json, profile_json, "
            "labels_json, profile_text, seq_ceiling) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, created_ns, profile, state, host_id, device, json.dumps(spec), json.dumps(profile_dict),
             json.dumps(labels), profile_text, seq_ceiling),
        )

    def set_state(self, run_id: str, state: str, *, started_unix_ns: int | None = None) -> None:
        if started_unix_ns is None:
            self._write("UPDATE runs SET state=? WHERE run_id=?", (state, run_id))
        else:
            self._write("UPDATE runs SET state=?, started_unix_ns=? WHERE run_id=?", (state, started_unix_ns, run_id))

    def set_window_start(self, run_id: str, t0_ns: int) -> None:
        self._write("UPDATE runs SET window_t0_ns=? WHERE run_id=? AND window_t0_ns=0", (t0_ns, run_id))

    def set_started(self, run_id: str, record: RunRecord) -> None:
        """What runs where, once the runner is open: environment, cold start and the anchor pair."""
        self._write(
            "UPDATE runs SET environment_json=?, cold_start_json=?, anchor_unix_ns=?, anchor_mono_ns=? "
            "WHERE run_id=?",
            (json.dumps(record.environment), json.dumps(record.cold_start), record.window.anchor_unix_ns,
             record.window.anchor_mono_ns, run_id),
        )

    def raise_seq_ceiling(self, run_id: str, ceiling: int) -> None:
        """No event above `ceiling` goes out before this returns: a crashed run's final event gets ceiling + 1."""
        self._write("UPDATE runs SET seq_ceiling=? WHERE run_id=? AND seq_ceiling<?", (ceiling, run_id, ceiling))

    def progress(self, run_id: str, *, tokens_done: int, queries_done: int, last_seq: int, last_unix_ns: int = 0,
                 last_mono_ns: int = 0) -> None:
        self._write(
            "UPDATE runs SET tokens_done=?, queries_done=?, last_seq=?, last_unix_ns=?, last_mono_ns=? WHERE run_id=?",
            (tokens_done, queries_done, last_seq, last_unix_ns, last_mono_ns, run_id),
        )

    def add_energy_point(self, run_id: str, point: EnergyPoint) -> None:
        body = {"energy_j": point.energy_j, "peak_w": point.peak_w, "method": point.method,
                "sample_rate_hz": point.sample_rate_hz}
        self._write("INSERT INTO energy_points VALUES (?, ?, ?)", (run_id, point.t_ns, json.dumps(body)))

    def add_queries(self, run_id: str, queries: Sequence[Query]) -> None:
        if not queries:
            return
        self._write(
            "INSERT INTO queries (run_id, request_id, scheduled_ns, issued_ns, first_token_ns, done_ns, n_out, "
            "warmup, token_ns, samples, item_id, correct) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, q.query_id, q.scheduled_ns, q.issued_ns, q.first_token_ns, q.done_ns, q.n_out,
                 int(q.warmup), array("q", q.token_ns).tobytes(), q.samples, q.item_id,
                 None if q.correct is None else int(q.correct))
                for q in queries
            ],
            many=True,
        )

    def finish(
        self,
        run_id: str,
        *,
        state: str,
        ended_unix_ns: int,
        figures: Sequence[Figure],
        record_json: str,
        error: str,
        last_seq: int,
        environment: dict[str, Any] | None = None,
        summary_json: str = "",
    ) -> None:
        sql = ("UPDATE runs SET state=?, ended_unix_ns=?, figures_json=?, record_json=?, error=?, last_seq=?, "
               "summary_json=?")
        args: list[Any] = [state, ended_unix_ns, json.dumps([f.to_dict() for f in figures]), record_json, error,
                           last_seq, summary_json]
        if environment is not None:
            sql += ", environment_json=?"
            args.append(json.dumps(environment))
        self._write(sql + " WHERE run_id=?", (*args, run_id))
        # The record now holds the raw timings and energy; the per-run rows only served a crash recovery.
        self._write("DELETE FROM queries WHERE run_id=?", (run_id,))
        self._write("DELETE FROM energy_points WHERE run_id=?", (run_id,))

    def prune(self, keep_runs: int) -> int:
        """Forget all but the newest `keep_runs` ended runs; returns how many were removed."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM runs WHERE run_id IN (SELECT run_id FROM runs WHERE state IN (?, ?, ?, ?) "
                "ORDER BY created_ns DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (*ENDED, keep_runs),
            )
            return int(cur.rowcount)

    # --- power limits to put back (telemetry.limits.LimitJournal) -----------------------------------

    def remember_limit(self, key: str, original_w: float, owner: str) -> float:
        """Keep the original of a power limit about to change (a row already there wins: it holds the true
        original from before an earlier crash); durable when this returns. Returns the original on record."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO power_limits VALUES (?, ?, ?, ?)",
                             (key, float(original_w), owner, time.time_ns()))
            row = self._db.execute("SELECT original_w FROM power_limits WHERE key=?", (key,)).fetchone()
        return float(row[0])

    def forget_limit(self, key: str) -> None:
        self._write("DELETE FROM power_limits WHERE key=?", (key,))

    def pending_limits(self) -> list[tuple[str, float, str]]:
        """(key, original_w, owner run) of every power limit not yet put back."""
        with self._lock:
            rows = self._db.execute("SELECT key, original_w, owner FROM power_limits ORDER BY rowid").fetchall()
        return [(str(k), float(w), str(o)) for k, w, o in rows]

    # --- reads -----------------------------------------------------------------------------------

    def _run_from_row(self, row: Sequence[Any], record_json: str = "") -> StoredRun:
        return StoredRun(
            run_id=row[0], created_ns=row[1], profile=row[2], state=row[3], host_id=row[4], device=row[5],
            spec=json.loads(row[6]), profile_dict=json.loads(row[7]), labels=json.loads(row[8]),
            environment=json.loads(row[9]), started_unix_ns=row[10], ended_unix_ns=row[11], window_t0_ns=row[12],
            tokens_done=row[13], queries_done=row[14], last_seq=row[15], error=row[16],
            figures=[Figure.from_dict(f) for f in json.loads(row[17]) if _is_figure(f)], record_json=record_json,
            profile_text=row[18], cold_start=json.loads(row[19]), anchor_unix_ns=row[20], anchor_mono_ns=row[21],
            last_unix_ns=row[22], last_mono_ns=row[23], seq_ceiling=row[24], summary_json=row[25],
            record_bytes=int(row[26] or 0),
        )

    def get(self, run_id: str, *, with_record: bool = True) -> StoredRun | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_RUN_COLUMNS}, record_json FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            return None
        return self._run_from_row(row[:-1], row[-1] if with_record else "")

    def list_runs(self, limit: int = 100) -> list[StoredRun]:
        """Runs, newest first, without their record JSON."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created_ns DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._run_from_row(r) for r in rows]

    def queries(self, run_id: str) -> list[Query]:
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id, scheduled_ns, issued_ns, done_ns, token_ns, warmup, samples, item_id, correct "
                "FROM queries WHERE run_id=? ORDER BY rowid",
                (run_id,),
            ).fetchall()
        out = []
        for r in rows:
            tokens = array("q")
            tokens.frombytes(r[4])
            out.append(Query(r[0], r[1], r[2], r[3], tuple(tokens), bool(r[5]), samples=max(1, r[6]), item_id=r[7],
                             correct=None if r[8] is None else bool(r[8])))
        return out

    def energy_points(self, run_id: str) -> list[EnergyPoint]:
        with self._lock:
            rows = self._db.execute(
                "SELECT t_ns, energy_json FROM energy_points WHERE run_id=? ORDER BY t_ns", (run_id,)
            ).fetchall()
        out = []
        for t_ns, text in rows:
            body = json.loads(text)
            out.append(EnergyPoint(int(t_ns), _floats(body.get("energy_j")), _floats(body.get("peak_w")),
                                   {str(k): str(v) for k, v in (body.get("method") or {}).items()},
                                   _floats(body.get("sample_rate_hz"))))
        return out

    # --- after a restart -------------------------------------------------------------------------

    def recover(self, rebuild: Rebuild | None, *, restart_unix_ns: int, reason: str) -> list[str]:
        """Mark every run that had not ended as interrupted, with its record rebuilt from what is stored.

        The record ends at the last journaled time (the restart time only when nothing was journaled), and
        its final event is numbered seq_ceiling + 1, above any event the agent may have sent. Returns the
        ids of the runs marked. A rebuild that fails keeps a minimal record and says why in its error.
        """
        with self._lock:
            rows = self._db.execute("SELECT run_id FROM runs WHERE state NOT IN (?, ?, ?, ?)", ENDED).fetchall()
        marked = []
        for (run_id,) in rows:
            run = self.get(run_id, with_record=False)
            assert run is not None
            queries = self.queries(run_id)
            ended_unix_ns = run.last_unix_ns or run.started_unix_ns or restart_unix_ns
            error = reason
            record: RunRecord | None = None
            if rebuild is not None:
                try:
                    record = rebuild(run, queries, self.energy_points(run_id), error, ended_unix_ns)
                except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
                    error = f"{reason}; partial figures could not be rebuilt: {exc}"
            if record is None:
                record = minimal_record(run, queries, error, ended_unix_ns)
            final_seq = max(run.seq_ceiling, run.last_seq) + 1
            self.finish(run_id, state="interrupted", ended_unix_ns=ended_unix_ns, figures=record.figures,
                        record_json=record.to_json(), error=record.error or error, last_seq=final_seq,
                        environment=run.environment, summary_json=record.slim().to_json())
            marked.append(run_id)
        return marked


def _floats(d: Mapping[str, Any] | None) -> dict[str, float]:
    return {str(k): float(v) for k, v in (d or {}).items() if v is not None}


def _is_figure(f: Any) -> bool:
    return isinstance(f, dict) and "name" in f
