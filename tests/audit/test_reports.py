"""The reports: Markdown, JSON, CSV carry the same figures; the HTML page loads nothing from anywhere."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.audit.demo_fleet import CHROMIUM_FLAGS, demo_report
from wattfleet.tui.fleet.audit.audit import AuditReport
from wattfleet.tui.fleet.audit.report_data import CSV_COLUMNS, report_csv, report_json
from wattfleet.tui.fleet.audit.report_html import report_html
from wattfleet.tui.fleet.audit.report_md import report_markdown


@pytest.fixture(scope="module")
def report() -> AuditReport:
    return demo_report()


def test_json_has_every_section_and_agrees_with_the_report(report: AuditReport) -> None:
    doc = json.loads(report_json(report))
    assert doc["hosts"] == report.hosts and doc["n_runs"] == len(report.runs)
    fleet = next(b for b in doc["budget"]["lines"] if b["name"] == "fleet")
    line = next(b for b in report.budget_lines if b.name == "fleet")
    assert fleet["avg_w"] == line.avg_w and fleet["headroom_w"] == line.headroom_w and fleet["domain"] == "gpu-board"
    (best, least) = doc["allocations"]
    assert best["objective"] == "max tokens/s within the budgets"
    assert best["solver"].startswith(("HiGHS MILP", "dynamic programme"))
    assert least["objective"] == "least power for 4000 tok/s"
    assert sum(c["tokens_per_s"] for c in best["choices"]) == pytest.approx(best["tokens_per_s"])
    assert doc["rejected"][0]["reason"].startswith("records from an unknown schema version")
    assert set(doc["rules"]) >= {"outliers", "noise", "domains", "power_p95"}


def test_csv_rows_are_tidy_and_match_the_json(report: AuditReport) -> None:
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    sections = {r["section"] for r in rows}
    assert {"host_power", "totals", "budget", "efficiency", "outlier", "operating_point", "allocation"} <= sections
    eff = {(e.host, e.profile): e for e in report.efficiency}
    for r in rows:
        if r["section"] == "efficiency" and r["metric"] == "tokens_per_j" and r["value"]:
            assert float(r["value"]) == pytest.approx(eff[(r["host"], r["profile"])].tokens_per_j)
    assert any(r["note"] == "estimated;low_confidence" for r in rows if r["host"] == "edge-est")


def test_markdown_names_domains_solver_and_the_slow_host(report: AuditReport) -> None:
    md = report_markdown(report)
    assert "# wattfleet audit" in md and "changes no power limit" in md
    assert "| fleet | 3,600 | gpu-board |" in md
    assert re.search(r"solver: (HiGHS MILP|dynamic programme)", md)
    assert "h100-03" in md.split("## Outliers")[1].split("## Allocation")[0]
    assert "power limit 450 W (peers: 700 W)" in md
    assert "counted apart, estimates only (not a measurement)" in md


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action", "srcset", "data")]


def test_html_is_self_contained(report: AuditReport) -> None:
    page = report_html(report)
    parser = _Links()
    parser.feed(page)
    assert not (parser.tags & {"script", "link", "img", "iframe", "object", "embed"}), parser.tags
    assert all(ref.startswith("#") for ref in parser.refs), parser.refs  # only in-page fragments
    assert not re.search(r"url\((?!#)|@import|https?://|//[a-z]", page, re.I)
    assert page.count("<svg") >= 4  # legend, heatmap, budget bars, Pareto


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page itself asked for (Chromium's own background requests have no file:// isolation key)."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"]["url"] for e in log["events"] if e["type"] == start
            and "file://" in str(e["params"].get("network_isolation_key", ""))
            and not e["params"]["url"].startswith(("file:", "data:"))]


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed (scripts/dev.sh test installs it when run as root)")
def test_html_in_headless_chromium_requests_nothing(report: AuditReport, tmp_path: Path) -> None:
    def load(html: str, name: str) -> tuple[Path, list[str]]:
        page, png, netlog = tmp_path / f"{name}.html", tmp_path / f"{name}.png", tmp_path / f"{name}.netlog.json"
        page.write_text(html, encoding="utf-8")
        subprocess.run(["chromium", *CHROMIUM_FLAGS, "--window-size=1200,1600", f"--screenshot={png}",
                        f"--log-net-log={netlog}", page.as_uri()], check=True, capture_output=True, timeout=120)
        return png, _page_requests(netlog)

    # the check can fail: a page with one external image shows that request
    _, control = load('<html><body><img src="http://127.0.0.1:9/x.png"></body></html>', "control")
    assert control == ["http://127.0.0.1:9/x.png"]
    png, requests = load(report_html(report), "audit")
    assert requests == []
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a drawn page, not a blank one
