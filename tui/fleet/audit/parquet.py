"""Every run record as one Parquet row (pyarrow), for DuckDB, Spark or pandas.

Flat columns (identity, environment, the headline domain's figures, task success), one `label_<key>`
column per label, and one column per figure: `<name>` for figures without a domain (tokens_per_s, ttft_p99, ...) and
`<name>__<domain>` for energy figures (power_avg_w__gpu_board_0). Each figure column carries its unit
and domain as Parquet field metadata. Each level of a sweep is a row too, with parent_run_id set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wattfleet.core.errors import UsageError
from wattfleet.tui.fleet.audit.model import AuditRun

_FIXED: tuple[tuple[str, str], ...] = (
    ("source", "string"), ("run_id", "string"), ("parent_run_id", "string"), ("host", "string"),
    ("profile", "string"), ("setting", "string"), ("state", "string"), ("valid", "bool_"),
    ("invalid_reasons", "string"), ("schema_version", "int64"), ("started_unix_ns", "int64"),
    ("duration_s", "float64"), ("device_model", "string"), ("provider", "string"), ("precision", "string"),
    ("driver", "string"), ("power_limit_w", "float64"), ("throttle_reasons", "string"),
    ("headline_domain", "string"), ("headline_energy_j", "float64"), ("headline_power_avg_w", "float64"),
    ("headline_power_peak_w", "float64"), ("headline_tokens_per_j", "float64"),
    ("headline_low_confidence", "bool_"), ("headline_shared", "bool_"), ("headline_j_per_correct", "float64"),
    ("contended", "bool_"), ("task_success_rate", "float64"), ("task_success_ci_low", "float64"),
    ("task_success_ci_high", "float64"),
)


def column_name(name: str, domain: str) -> str:
    """The column of a figure: "tokens_per_s", or "power_avg_w__gpu_board_0" for a domain's figure."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return base if not domain else f"{base}__{re.sub(r'[^A-Za-z0-9]+', '_', domain).strip('_')}"


def _rows(runs: Iterable[AuditRun]) -> list[tuple[AuditRun, str]]:
    return [(row, parent) for r in runs for row, parent in [(r, ""), *((s, r.run_id) for s in r.sweep)]]


def _fixed(r: AuditRun, parent: str) -> dict[str, Any]:
    h = r.headline
    return {
        "source": r.source, "run_id": r.run_id, "parent_run_id": parent or None, "host": r.host,
        "profile": r.profile, "setting": r.setting, "state": r.state, "valid": r.valid,
        "invalid_reasons": "; ".join(r.invalid_reasons), "schema_version": r.schema_version,
        "started_unix_ns": r.started_unix_ns, "duration_s": r.duration_s, "device_model": r.env.device_model or None,
        "provider": r.env.provider or None, "precision": r.env.precision or None, "driver": r.env.driver or None,
        "power_limit_w": r.env.power_limit_w, "throttle_reasons": ", ".join(r.env.throttle_reasons) or None,
        "headline_domain": r.headline_domain or None, "headline_energy_j": h.energy_j if h else None,
        "headline_power_avg_w": h.power_avg_w if h else None, "headline_power_peak_w": h.power_peak_w if h else None,
        "headline_tokens_per_j": h.tokens_per_j if h else None,
        "headline_low_confidence": h.low_confidence if h else None, "headline_shared": h.shared if h else None,
        "headline_j_per_correct": h.j_per_correct if h else None, "contended": r.contended,
        "task_success_rate": r.success.rate if r.success else None,
        "task_success_ci_low": r.success.ci_low if r.success else None,
        "task_success_ci_high": r.success.ci_high if r.success else None,
    }


def write_parquet(runs: Iterable[AuditRun], path: Path) -> int:
    """Write the runs to `path`; returns the number of rows. Needs pyarrow (the audit extra)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise UsageError("--parquet needs pyarrow: pip install 'wattfleet[audit]'") from exc
    rows = _rows(runs)
    fixed_names = {n for n, _ in _FIXED}
    figure_meta: dict[str, tuple[str, str]] = {}
    for r, _ in rows:
        for f in r.figures:
            col = column_name(f.name, f.domain)
            col = f"fig_{col}" if col in fixed_names else col
            figure_meta.setdefault(col, (f.unit, f.domain))
    label_keys = sorted({k for r, _ in rows for k in r.labels})
    columns: dict[str, list[Any]] = {n: [] for n, _ in _FIXED}
    columns.update({f"label_{column_name(k, '')}": [] for k in label_keys})
    columns.update({c: [] for c in sorted(figure_meta)})
    for r, parent in rows:
        for k, v in _fixed(r, parent).items():
            columns[k].append(v)
        for k in label_keys:
            columns[f"label_{column_name(k, '')}"].append(r.labels.get(k))
        values: dict[str, float | None] = {}
        for f in r.figures:
            col = column_name(f.name, f.domain)
            values.setdefault(f"fig_{col}" if col in fixed_names else col, f.value)
        for c in figure_meta:
            columns[c].append(values.get(c))
    types = {n: getattr(pa, t)() for n, t in _FIXED}
    fields = [pa.field(n, types.get(n, pa.string())) for n in columns if n in types or n.startswith("label_")]
    fields += [pa.field(c, pa.float64(), metadata={"unit": u, "domain": d})
               for c, (u, d) in sorted(figure_meta.items())]
    schema = pa.schema(fields, metadata={"wattfleet": "audit run records: one row per record and per sweep level"})
    table = pa.Table.from_pydict({f.name: columns[f.name] for f in fields}, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return int(table.num_rows)
