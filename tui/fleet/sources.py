"""Sources that feed the fleet model, and the one that reads saved records (offline replay). Pure.

A Source is anything with a `name` and `async run(model)` that calls the model's feed methods until it
is done or cancelled: live agent connections (live/source.py), a record folder (here), a Prometheus
reader. The console runs each source in its own worker and reads only the model.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from wattfleet.core.model import RecordError, RunRecord
from wattfleet.tui.fleet.model import FleetModel

RECORD_SUFFIXES = (".json",)
JOURNAL_SUFFIXES = (".sqlite3", ".sqlite", ".db")


class Source(Protocol):
    """What feeds the fleet model. `run` returns when the source has nothing more to say."""

    name: str

    async def run(self, model: FleetModel) -> None: ...


@dataclass
class LoadedRecords:
    records: list[tuple[Path, RunRecord]] = field(default_factory=list)
    bad: list[tuple[Path, str]] = field(default_factory=list)  # (file, why it is not a record)


def _journal_records(path: Path) -> list[RunRecord]:
    """Ended runs of an agent's journal (journal.sqlite3 in its data dir), opened read-only."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT record_json FROM runs WHERE record_json != '' ORDER BY created_ns").fetchall()
    finally:
        db.close()
    return [RunRecord.from_json(text) for (text,) in rows]


def load_records(paths: Iterable[Path]) -> LoadedRecords:
    """Every record in these files or folders (searched recursively): `run`/`bench` JSON records and agents'
    journals. A file that is not a record is kept in `bad` with the reason; it never stops the rest."""
    out = LoadedRecords()
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in RECORD_SUFFIXES + JOURNAL_SUFFIXES)
        elif path.exists():
            files.append(path)
        else:
            out.bad.append((path, "no such file or folder"))
    for path in files:
        try:
            if path.suffix in JOURNAL_SUFFIXES:
                out.records += [(path, r) for r in _journal_records(path)]
            else:
                out.records.append((path, RunRecord.from_json(path.read_bytes())))
        except RecordError as exc:
            out.bad.append((path, f"not a run record: {exc}"))
        except (OSError, sqlite3.Error) as exc:
            out.bad.append((path, f"cannot read it: {exc}"))
    return out


def feed_records(model: FleetModel, loaded: LoadedRecords) -> None:
    """Put loaded records into the model: one host per host id, one error row per bad file."""
    for path, record in loaded.records:
        host_id = record.host_id or path.stem
        key = f"records:{host_id}"
        model.upsert_host(key, host_id, source="records", target=str(path.parent), labels=record.labels)
        model.add_record(key, record)
    for path, reason in loaded.bad:
        key = f"file:{path}"
        model.upsert_host(key, path.name, source="records", target=str(path))
        model.set_status(key, "error", f"{path}: {reason}")


class RecordsSource:
    """Saved records (`wattfleet tui --records DIR`): read once, in a thread, and fed to the model."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = list(paths)
        self.name = "records " + ", ".join(str(p) for p in self.paths)

    async def run(self, model: FleetModel) -> None:
        loaded = await asyncio.to_thread(load_records, self.paths)
        feed_records(model, loaded)
        if not loaded.records:
            model.note(f"no run records found in {', '.join(str(p) for p in self.paths)}")
