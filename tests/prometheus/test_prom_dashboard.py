"""The shipped Grafana dashboard: importable shape, every query parses on a real Prometheus and returns data
from real agents, names only metrics an agent exports, and is listed in docs/FLEET.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agents import scrape_metrics
from promfleet import Fleet

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "grafana" / "wattfleet-dashboard.json"
DOCS = ROOT / "docs" / "FLEET.md"
# Grafana variables as a person would set them; $window a range PromQL accepts.
VARIABLES = {"$job": "wattfleet", "$window": "1m", "$group": "site"}


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def _targets() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in _dashboard()["panels"] for t in p["targets"]]


def _substituted(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"an unknown Grafana variable in {expr}"
    return expr


def _datasources(node: object) -> list[object]:
    if isinstance(node, dict):
        found = [node["datasource"]] if "datasource" in node else []
        return found + [d for v in node.values() for d in _datasources(v)]
    if isinstance(node, list):
        return [d for v in node for d in _datasources(v)]
    return []


def test_dashboard_is_importable_with_only_the_standard_datasource_input() -> None:
    dash = _dashboard()
    assert [i["name"] for i in dash["__inputs"]] == ["DS_PROMETHEUS"]
    assert dash["uid"] and dash["title"] and dash["id"] is None and dash["schemaVersion"] >= 30
    assert {v["name"] for v in dash["templating"]["list"]} == {"job", "window", "group"}
    sources = _datasources(dash["panels"])
    assert sources and all(s == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"} for s in sources)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    titles = " | ".join(p["title"] for p in dash["panels"]).lower()
    for topic in ("hosts reporting", "power by domain kind", "by $group", "tokens/j per host", "runs"):
        assert topic in titles


def test_every_query_parses_and_returns_series_from_real_agents(fleet: Fleet) -> None:
    client = fleet.client
    for title, expr in _targets():
        samples = client.query(_substituted(expr))  # a parse error raises PromError with the server's message
        assert samples, f"panel {title!r}: no series for {expr}"


def test_every_query_names_only_metrics_an_agent_exports(fleet: Fleet) -> None:
    exported = set(scrape_metrics(fleet.gpu.metrics_port))
    for title, expr in _targets():
        without_strings = re.sub(r'"[^"]*"', '""', expr)
        names = set(re.findall(r"\b(wattfleet_[a-z_]+)\b", without_strings))
        assert names <= exported, (title, names - exported)
        # every metric selector (a name before {...} or [...]) is one of those, or Prometheus's own `up`
        selected = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", without_strings))
        assert selected, f"panel {title!r} selects no metric: {expr}"
        assert selected <= names | {"up"}, (title, selected - names)


def test_docs_list_every_panel_query() -> None:
    text = DOCS.read_text()
    for title, expr in _targets():
        assert expr in text, f"docs/FLEET.md does not list the query of panel {title!r}: {expr}"
