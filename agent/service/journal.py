"""The run journal: every run on disk as it progresses, in SQLite (WAL mode).

What is stored per run: the spec and profile, the environment once known, its state as it changes,
running counts (tokens, queries, last event seq), every finished query's timings with its token
timestamps, and at the end the full record. After a crash, `recover()` marks every run that had not
ended as interrupted and rebuilds its figures from the stored query timings, so a run cut short keeps
what was measured up to then.

The class is synchronous and thread-safe (one connection behind a lock); the run manager calls it from
one I/O thread so neither the event loop nor a workload ever waits on the disk.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wattfleet.core.errors import ConfigError

SCHEMA_VERSION = 1
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


@dataclass(frozen=True)
class StoredQuery:
    """One finished query as the journal keeps it (token_ns empty for fixed-shape models)."""

    request_id: int
    scheduled_ns: int
    issued_ns: int
    first_token_ns: int
    done_ns: int
    n_out: int
    warmup: bool
    token_ns: tuple[int, ...] = ()


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
    figures: list[dict[str, Any]] = field(default_factory=list)
    record_json: str = ""

    @property
    def ended(self) -> bool:
        return self.state in ENDED


# Rebuilds a cut-short run's (figures, record JSON) from the stored run, its queries, the reason and the
# end time (the engine's metrics and record behind an adapter); the journal itself knows nothing of the engine.
Rebuild = Callable[[StoredRun, Sequence[StoredQuery], str, int], tuple[list[dict[str, Any]], str]]


def minimal_record(run: StoredRun, queries: Sequence[StoredQuery], error: str, ended_unix_ns: int) -> str:
    """A record with what the journal holds, for when no engine can rebuild a full one."""
    return json.dumps(
        {
            "run_id": run.run_id,
            "state": "interrupted",
            "error": error,
            "started_unix_ns": run.started_unix_ns,
            "ended_unix_ns": ended_unix_ns,
            "labels": run.labels,
            "profile": run.profile_dict,
            "environment": run.environment,
            "figures": [],
            "requests": [q.__dict__ | {"token_ns": list(q.token_ns)} for q in queries],
        }
    )


_RUN_COLUMNS = (
    "run_id, created_ns, profile, state, host_id, device, spec_json, profile_json, labels_json, "
    "environment_json, started_unix_ns, ended_unix_ns, window_t0_ns, tokens_done, queries_done, last_seq, "
    "error, figures_json"
)


class Journal:
    """SQLite journal of runs. `Journal(path)` opens (creating) it; `close()` when done."""

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
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise ConfigError(
                    f"journal {path} has schema {row[0]}, this agent writes {SCHEMA_VERSION}; "
                    "move the file aside (the agent starts a new one)"
                )
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"cannot open the run journal {path}: {exc}; move the file aside") from exc
        self.wal = str(mode).lower() == "wal"

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
        state: str = "queued",
    ) -> None:
        self._write(
            "INSERT INTO runs (run_id, created_ns, profile, state, host_id, device, spec_json, profile_json, "
            "labels_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                created_ns,
                profile,
                state,
                host_id,
                device,
                json.dumps(spec),
                json.dumps(profile_dict),
                json.dumps(labels),
            ),
        )

    def set_state(self, run_id: str, state: str, *, started_unix_ns: int | None = None) -> None:
        if started_unix_ns is None:
            self._write("UPDATE runs SET state=? WHERE run_id=?", (state, run_id))
        else:
            self._write("UPDATE runs SET state=?, started_unix_ns=? WHERE run_id=?", (state, started_unix_ns, run_id))

    def set_window_start(self, run_id: str, t0_ns: int) -> None:
        self._write("UPDATE runs SET window_t0_ns=? WHERE run_id=? AND window_t0_ns=0", (t0_ns, run_id))

    def set_environment(self, run_id: str, environment: dict[str, Any]) -> None:
        self._write("UPDATE runs SET environment_json=? WHERE run_id=?", (json.dumps(environment), run_id))

    def progress(self, run_id: str, *, tokens_done: int, queries_done: int, last_seq: int) -> None:
        self._write(
            "UPDATE runs SET tokens_done=?, queries_done=?, last_seq=? WHERE run_id=?",
            (tokens_done, queries_done, last_seq, run_id),
        )

    def add_queries(self, run_id: str, queries: Sequence[StoredQuery]) -> None:
        if not queries:
            return
        self._write(
            "INSERT INTO queries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    q.request_id,
                    q.scheduled_ns,
                    q.issued_ns,
                    q.first_token_ns,
                    q.done_ns,
                    q.n_out,
                    int(q.warmup),
                    array("q", q.token_ns).tobytes(),
                )
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
        figures: list[dict[str, Any]],
        record_json: str,
        error: str,
        last_seq: int,
        environment: dict[str, Any] | None = None,
    ) -> None:
        sql = "UPDATE runs SET state=?, ended_unix_ns=?, figures_json=?, record_json=?, error=?, last_seq=?"
        args: list[Any] = [state, ended_unix_ns, json.dumps(figures), record_json, error, last_seq]
        if environment is not None:
            sql += ", environment_json=?"
            args.append(json.dumps(environment))
        self._write(sql + " WHERE run_id=?", (*args, run_id))
        # The record now holds the raw timings; the per-query rows only served a crash recovery.
        self._write("DELETE FROM queries WHERE run_id=?", (run_id,))

    def prune(self, keep_runs: int) -> int:
        """Forget all but the newest `keep_runs` ended runs; returns how many were removed."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM runs WHERE run_id IN (SELECT run_id FROM runs WHERE state IN (?, ?, ?, ?) "
                "ORDER BY created_ns DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (*ENDED, keep_runs),
            )
            return int(cur.rowcount)

    # --- reads -----------------------------------------------------------------------------------

    def _run_from_row(self, row: Sequence[Any], record_json: str = "") -> StoredRun:
        return StoredRun(
            run_id=row[0],
            created_ns=row[1],
            profile=row[2],
            state=row[3],
            host_id=row[4],
            device=row[5],
            spec=json.loads(row[6]),
            profile_dict=json.loads(row[7]),
            labels=json.loads(row[8]),
            environment=json.loads(row[9]),
            started_unix_ns=row[10],
            ended_unix_ns=row[11],
            window_t0_ns=row[12],
            tokens_done=row[13],
            queries_done=row[14],
            last_seq=row[15],
            error=row[16],
            figures=json.loads(row[17]),
            record_json=record_json,
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

    def queries(self, run_id: str) -> list[StoredQuery]:
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id, scheduled_ns, issued_ns, first_token_ns, done_ns, n_out, warmup, token_ns "
                "FROM queries WHERE run_id=? ORDER BY rowid",
                (run_id,),
            ).fetchall()
        out = []
        for r in rows:
            tokens = array("q")
            tokens.frombytes(r[7])
            out.append(StoredQuery(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), tuple(tokens)))
        return out

    # --- after a restart -------------------------------------------------------------------------

    def recover(self, rebuild: Rebuild | None, *, ended_unix_ns: int, reason: str) -> list[str]:
        """Mark every run that had not ended as interrupted, with figures rebuilt from its queries.

        Returns the ids of the runs marked. A rebuild that fails leaves the figures empty and says why
        in the run's error, rather than keeping the agent from starting.
        """
        with self._lock:
            rows = self._db.execute("SELECT run_id FROM runs WHERE state NOT IN (?, ?, ?, ?)", ENDED).fetchall()
        marked = []
        for (run_id,) in rows:
            run = self.get(run_id, with_record=False)
            assert run is not None
            queries = self.queries(run_id)
            figures: list[dict[str, Any]] = []
            error = reason
            record_json = ""
            if rebuild is not None:
                try:
                    figures, record_json = rebuild(run, queries, error, ended_unix_ns)
                except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
                    error = f"{reason}; partial figures could not be rebuilt: {exc}"
            record_json = record_json or minimal_record(run, queries, error, ended_unix_ns)
            self.finish(
                run_id,
                state="interrupted",
                ended_unix_ns=ended_unix_ns,
                figures=figures,
                record_json=record_json,
                error=error,
                last_seq=run.last_seq + 1,  # the summary comes after the last event journaled
            )
            marked.append(run_id)
        return marked
