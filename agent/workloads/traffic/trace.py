"""A trace of real requests (CSV with a header row, or JSONL), replayed as recorded or scaled to a rate.

Columns (CSV) or keys (JSONL): `input_tokens` and `output_tokens` (integers >= 1) and, for the server
scenario, `arrival_s` (seconds >= 0, in file order, never decreasing; any origin: replay starts at the
first row). Other columns are ignored, so a trace exported with extra fields reads as it is. Every error
is one line naming the file and line number.

Replay: offset_i = (arrival_i - arrival_0) / scale, where scale = trace_rate_scale (2.0 = twice the
recorded rate, gaps halved) or trace_rate_qps / recorded rate, recorded rate = (n - 1) / (last - first).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattfleet.core.errors import ConfigError

LENGTH_COLUMNS = ("input_tokens", "output_tokens")
ARRIVAL_COLUMN = "arrival_s"


@dataclass(frozen=True)
class TraceRow:
    line: int
    input_tokens: int
    output_tokens: int
    arrival_s: float | None = None


@dataclass(frozen=True)
class Trace:
    path: Path
    sha256: str
    rows: tuple[TraceRow, ...]

    @property
    def has_arrivals(self) -> bool:
        return self.rows[0].arrival_s is not None

    def span_s(self) -> float:
        first, last = self.rows[0].arrival_s, self.rows[-1].arrival_s
        return 0.0 if first is None or last is None else last - first

    def recorded_rate_qps(self) -> float | None:
        """(n - 1) / span: the mean arrival rate of the recording, or None without arrivals or span."""
        span = self.span_s()
        return (len(self.rows) - 1) / span if span > 0 else None

    def row(self, n: int) -> TraceRow:
        """The n-th request's row (the trace repeats when a run needs more requests than it holds)."""
        return self.rows[n % len(self.rows)]

    def to_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "sha256": self.sha256, "rows": len(self.rows),
                "span_s": self.span_s(), "recorded_rate_qps": self.recorded_rate_qps()}


def _int(where: str, key: str, value: Any) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ConfigError(f"{where}: {key} must be an integer >= 1, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: {key} must be an integer >= 1, got {value!r}")
    return value


def _seconds(where: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ConfigError(f"{where}: {ARRIVAL_COLUMN} must be a number of seconds, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: {ARRIVAL_COLUMN} must be a number of seconds, got {value!r}")
    if value < 0:
        raise ConfigError(f"{where}: {ARRIVAL_COLUMN} is negative ({value:g}); arrival times are seconds >= 0")
    return float(value)


def _records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, fields) of every non-blank row; a missing column is refused at the header."""
    if path.suffix == ".jsonl":
        out = []
        for n, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{n}: not JSON ({exc.msg} at column {exc.colno}); write one JSON "
                                  "object a line") from exc
            if not isinstance(obj, dict):
                raise ConfigError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
            out.append((n, obj))
        return out
    if path.suffix != ".csv":
        raise ConfigError(f"{path}: a trace is a .csv (with a header row) or a .jsonl file")
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in LENGTH_COLUMNS if c not in header]
    if missing:
        raise ConfigError(f"{path}:1: missing column {missing[0]!r} (the header has {', '.join(header) or 'nothing'})")
    rows = []
    for fields in reader:
        if not any((v or "").strip() for v in fields.values() if isinstance(v, str)):
            continue
        rows.append((reader.line_num, {k: v for k, v in fields.items() if v is not None and v != ""}))
    return rows


def load_trace(path: str | Path, *, need_arrivals: bool) -> Trace:
    """Read and validate a trace; `need_arrivals` (server scenario) makes arrival_s required."""
    p = Path(path)
    try:
        data = p.read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: trace file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the trace: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text; save the trace as UTF-8") from exc
    rows: list[TraceRow] = []
    with_arrivals: bool | None = None
    for n, fields in _records(p, text):
        where = f"{p}:{n}"
        for key in LENGTH_COLUMNS:
            if key not in fields:
                raise ConfigError(f"{where}: no value for {key}")
        has = ARRIVAL_COLUMN in fields
        if with_arrivals is None:
            with_arrivals = has
        if need_arrivals and not has:
            raise ConfigError(f"{where}: no {ARRIVAL_COLUMN}; the server scenario replays arrival times")
        if has != with_arrivals:
            raise ConfigError(f"{where}: {ARRIVAL_COLUMN} is {'given' if has else 'missing'} here but not on "
                              f"line {rows[0].line}; give it on every row or on none")
        arrival = _seconds(where, fields[ARRIVAL_COLUMN]) if has else None
        if arrival is not None and rows and rows[-1].arrival_s is not None and arrival < rows[-1].arrival_s:
            raise ConfigError(f"{where}: {ARRIVAL_COLUMN} {arrival:g} is before line {rows[-1].line}'s "
                              f"{rows[-1].arrival_s:g}; sort the trace by arrival time")
        rows.append(TraceRow(n, _int(where, "input_tokens", fields["input_tokens"]),
                             _int(where, "output_tokens", fields["output_tokens"]), arrival))
    if not rows:
        raise ConfigError(f"{p}: the trace has no requests")
    return Trace(path=p, sha256=hashlib.sha256(data).hexdigest(), rows=tuple(rows))


def time_scale(trace: Trace, *, rate_scale: float | None = None, rate_qps: float | None = None) -> float:
    """The factor arrival gaps are divided by: 1 as recorded, rate_scale, or rate_qps / recorded rate."""
    if rate_scale is not None and rate_qps is not None:
        raise ConfigError(f"{trace.path}: give trace_rate_scale or trace_rate_qps, not both")
    if rate_scale is not None:
        if not rate_scale > 0:
            raise ConfigError(f"{trace.path}: trace_rate_scale must be > 0, got {rate_scale:g}")
        return rate_scale
    if rate_qps is not None:
        recorded = trace.recorded_rate_qps()
        if recorded is None:
            raise ConfigError(f"{trace.path}: cannot scale to {rate_qps:g} req/s: every arrival is at the same "
                              "time (or the trace has one row or no arrival_s)")
        if not rate_qps > 0:
            raise ConfigError(f"{trace.path}: trace_rate_qps must be > 0, got {rate_qps:g}")
        return rate_qps / recorded
    return 1.0


def replay_offsets_ns(trace: Trace, scale: float = 1.0, *, max_queries: int | None = None,
                      max_duration_s: float | None = None) -> list[int]:
    """Arrival offsets (ns after the first) of a single pass over the trace, gaps divided by `scale`,
    cut at max_queries and at max_duration_s (an arrival after it is not issued)."""
    if not trace.has_arrivals:
        raise ConfigError(f"{trace.path}: no {ARRIVAL_COLUMN} column; the server scenario needs arrival times")
    first = trace.rows[0].arrival_s or 0.0
    limit_ns = None if max_duration_s is None else int(max_duration_s * 1e9)
    out: list[int] = []
    for row in trace.rows:
        off = round(((row.arrival_s or 0.0) - first) / scale * 1e9)
        if (max_queries is not None and len(out) >= max_queries) or (limit_ns is not None and off > limit_ns):
            break
        out.append(off)
    return out
