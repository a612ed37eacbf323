"""The Parquet export, read back by DuckDB with the example query docs/AUDIT.md shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.audit.demo_fleet import demo_report
from wattfleet.tui.fleet.audit.parquet import write_parquet

ROOT = Path(__file__).resolve().parents[2]
pq = pytest.importorskip("pyarrow.parquet", reason="the Parquet export needs pyarrow (the audit extra)")


def _docs_query() -> str:
    text = (ROOT / "docs" / "AUDIT.md").read_text(encoding="utf-8")
    (sql,) = re.findall(r"```sql\n(.*?)```", text, re.S)
    return sql


def test_one_row_per_record_and_sweep_level_with_units(tmp_path: Path) -> None:
    report = demo_report()
    path = tmp_path / "runs.parquet"
    n = write_parquet(report.runs, path)
    table = pq.read_table(path)
    assert n == table.num_rows == len(report.runs) + sum(len(r.sweep) for r in report.runs)
    cols = set(table.column_names)
    assert {"host", "profile", "setting", "valid", "headline_domain", "headline_tokens_per_j", "label_rack",
            "tokens_per_s", "ttft_p99", "power_avg_w__gpu_board_0", "power_avg_w__cpu_package"} <= cols
    field = table.schema.field("power_avg_w__gpu_board_0")
    assert field.metadata == {b"unit": b"W", b"domain": b"gpu-board:0"}
    levels = table.filter(table["parent_run_id"].is_valid()).column("setting").to_pylist()
    assert {"rate=4 pl=700W", "rate=16 pl=72W"} <= set(levels)
    rows = table.to_pylist()
    worse = next(r for r in rows if r["host"] == "l4-10" and r["profile"] == "decoder-server")
    run = next(r for r in report.runs if r.host == "l4-10" and r.profile == "decoder-server")
    assert run.success is not None and worse["task_success_rate"] == run.success.rate
    assert worse["task_success_ci_high"] == run.success.ci_high and worse["success_rate"] == run.success.rate
    assert worse["j_per_correct__gpu_board_0"] == worse["headline_j_per_correct"] is not None


def test_the_docs_duckdb_query_runs_and_agrees_with_the_audit(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is a dev dependency for this check")
    report = demo_report()
    path = tmp_path / "runs.parquet"
    write_parquet(report.runs, path)
    sql = _docs_query().replace("'runs.parquet'", f"'{path}'")
    rows = duckdb.sql(sql).fetchall()
    assert rows, "the example query returned nothing"
    audit = {(e.host, e.profile): e.tokens_per_j for e in report.efficiency if e.n_valid and e.tokens_per_j}
    got = {(host, profile): tpj for host, profile, _domain, tpj, _runs in rows}
    assert set(got) == set(audit)
    for key, value in audit.items():
        assert got[key] == pytest.approx(value)
    assert [r[3] for r in rows] == sorted((r[3] for r in rows), reverse=True)
