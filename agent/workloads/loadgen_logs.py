"""Reading MLPerf LoadGen's own logs, and checking our statistics against them.

LoadGen writes mlperf_log_detail.txt (one ":::MLLOG {json}" line per key), mlperf_log_summary.txt and,
with tracing on, mlperf_log_trace.json, whose "Sample" and "Token" events carry every sample's latency
and first-token latency in ns. `agreement()` runs our percentile index and early-stopping rules on those
latencies and says, per percentile and per rule, whether we pick the same sample and reach the same
verdict as LoadGen. Pure: standard library only, no mlperf_loadgen import, so it reads logs anywhere.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattfleet.agent.figures.latency import loadgen_index
from wattfleet.agent.figures.validity import (
    early_stopping_estimate,
    max_overlatency,
    min_queries_for,
    server_early_stopping,
)

LOADGEN_PERCENTILES = (50.0, 90.0, 95.0, 97.0, 99.0, 99.9)  # what results.cc reports
# Our metric name -> the detail log's key for its percentile p (LoadGen formats p as "99.90").
_PERCENTILE_KEYS = {
    "latency": "result_{p}_percentile_latency_ns",
    "first_token": "result_first_token_{p}_percentile_latency_ns",
    "tpot": "result_time_per_output_token_{p}_percentile_ns",
}
_MLLOG = ":::MLLOG "


@dataclass(frozen=True)
class TraceSample:
    """One sample as LoadGen's trace saw it: its sequence number and latencies from its scheduled time."""

    seq: int
    latency_ns: int
    first_token_ns: int | None = None


def read_detail(path: Path) -> dict[str, Any]:
    """The detail log as key -> value (the last value of a key); every message about how the test ended
    is also kept, in order, under "messages"."""
    out: dict[str, Any] = {}
    messages: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith(_MLLOG):
            continue
        try:
            entry = json.loads(line[len(_MLLOG):])
        except json.JSONDecodeError:
            continue  # LoadGen logs a few values (e.g. loaded_qsl_set) that are not valid JSON
        key, value = entry.get("key"), entry.get("value")
        if not isinstance(key, str):
            continue
        out[key] = value
        if isinstance(value, str) and "Ending" in value:
            messages.append(value)
    out["messages"] = messages
    return out


def read_trace(path: Path) -> list[TraceSample]:
    """Every sample's latency and first-token latency from the trace, in sample sequence order. The trace
    file is not one valid JSON document (LoadGen quotes some keys twice), so its event lines are read one
    at a time."""
    latency: dict[int, int] = {}
    first: dict[int, int] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith(('{"name":"Sample"', '{"name":"Token"')) or '"ph":"b"' not in line:
            continue
        args = json.loads(line.rstrip().rstrip(","))["args"]
        seq, value = int(args["sample_seq"]), int(args["complete_ns"])
        (latency if line.startswith('{"name":"Sample"') else first)[seq] = value
    return [TraceSample(s, latency[s], first.get(s)) for s in sorted(latency)]


def utc_ms_to_unix_ns(text: str) -> int:
    """LoadGen's power_begin/power_end ("11-30-2026 04:29:18.005", UTC, milliseconds) as unix ns."""
    stamp, _, ms = text.partition(".")
    seconds = calendar.timegm(time.strptime(stamp, "%m-%d-%Y %H:%M:%S"))
    return seconds * 1_000_000_000 + int(ms or 0) * 1_000_000


def _label(p: float) -> str:
    return f"{p:.2f}"


def reported_percentiles(detail: dict[str, Any]) -> dict[str, dict[float, int]]:
    """LoadGen's reported percentiles per metric (ns), for the metrics this run logged."""
    out: dict[str, dict[float, int]] = {}
    for metric, pattern in _PERCENTILE_KEYS.items():
        values = {p: detail[pattern.format(p=_label(p))] for p in LOADGEN_PERCENTILES
                  if pattern.format(p=_label(p)) in detail}
        if values:
            out[metric] = {p: int(v) for p, v in values.items()}
    return out


def parse_early_stopping(text: str) -> dict[str, Any]:
    """The numbers in one of LoadGen's early-stopping recommendations (SingleStream or Server)."""
    out: dict[str, Any] = {"text": " ".join(text.split())}
    if m := re.search(r"Need to process at least (\d+) queries", text):
        out.update(met=False, queries_needed=int(m.group(1)))
    if m := re.search(r"Processed at least (\d+) queries", text):
        out.update(met=True, queries_needed=int(m.group(1)))
    if m := re.search(r"Would discard (\d+) highest", text):
        out["discarded"] = int(m.group(1))
    if m := re.search(r"Early stopping [\d.]+th percentile estimate: (\d+)", text):
        out["estimate_ns"] = int(m.group(1))
    if "Run successful" in text:
        out.update(met=True, more_queries_needed=0)
    if m := re.search(r"Would need to run at least (\d+) more queries", text):
        out.update(met=False, more_queries_needed=int(m.group(1)))
    return out


def _ours_single_stream(values: Sequence[int], percentile: float) -> dict[str, Any]:
    t = max_overlatency(len(values), percentile)
    if t < 1:
        return {"met": False, "queries_needed": min_queries_for(percentile)}
    return {"met": True, "queries_needed": min_queries_for(percentile), "discarded": t - 1,
            "estimate_ns": early_stopping_estimate(values, percentile)}


def _ours_server(values: Sequence[int], bound_ns: int, percentile: float) -> dict[str, Any]:
    verdict = server_early_stopping(values, bound_ns, percentile)
    return {"met": verdict["met"], "more_queries_needed": verdict["more_queries_needed"]}


def _same(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    keys = [k for k in ("met", "queries_needed", "discarded", "estimate_ns", "more_queries_needed") if k in theirs]
    return bool(keys) and all(ours.get(k) == theirs[k] for k in keys)


def agreement(detail: dict[str, Any], samples: Sequence[TraceSample], n_tokens: Sequence[int],
              query_ids: Sequence[int] = (), own: Sequence[TraceSample] = ()) -> dict[str, Any]:
    """Our percentile index and early-stopping rules on LoadGen's own per-sample latencies, beside what
    LoadGen reported from them. `n_tokens[i]` and `query_ids[i]` belong to sample sequence i.

    LoadGen's trace has first-token times in SingleStream only; elsewhere the token rules are checked on
    `own` (our timings of the same samples, from our issue time), marked approximate and left out of
    "all_same", since LoadGen's clock starts a little earlier than ours."""
    scenario = str(detail.get("effective_scenario", ""))
    token_mode = bool(detail.get("requested_use_token_latencies"))
    exact_tokens = token_mode and bool(samples) and all(s.first_token_ns is not None for s in samples)
    series: dict[str, list[tuple[int, int]]] = {"latency": [(s.latency_ns, s.seq) for s in samples]}
    token_source = samples if exact_tokens else own
    if token_mode and token_source:
        series["first_token"] = [(s.first_token_ns or 0, s.seq) for s in token_source]
        # LoadGen's TPOT per sample: (latency - first token latency) / (n_tokens - 1), in integer ns
        series["tpot"] = [((s.latency_ns - (s.first_token_ns or 0)) // max(n_tokens[s.seq] - 1, 1), s.seq)
                          for s in token_source]
    rows: list[dict[str, Any]] = []
    for metric, reported in reported_percentiles(detail).items():
        if metric != "latency" and not exact_tokens:
            continue  # no per-sample first-token times from LoadGen to rank
        ranked = sorted(series.get(metric, []))
        for p, theirs in reported.items():
            if not ranked:
                continue
            value, seq = ranked[loadgen_index(len(ranked), p)]
            rid = query_ids[seq] if seq < len(query_ids) else None
            rows.append({"metric": metric, "p": p, "loadgen_ns": theirs, "ours_ns": value, "sample_seq": seq,
                         "query_id": rid, "same": value == theirs})
    stops: list[dict[str, Any]] = []
    percentile = round(float(detail.get("effective_target_latency_percentile", 0.0)) * 100, 6)
    if scenario in ("SingleStream", "Server") and samples:
        checks = [("tpot", "early_stopping_tpot_result"), ("first_token", "early_stopping_ttft_result")] \
            if token_mode else [("latency", "early_stopping_result")]
        bounds = {"tpot": detail.get("requested_server_tpot_latency"),
                  "first_token": detail.get("requested_server_ttft_latency"),
                  "latency": detail.get("effective_target_latency_ns")}
        for metric, key in checks:
            text = str(detail.get(key, ""))
            values = [v for v, _ in series.get(metric, [])]
            if not values:
                continue
            if scenario == "SingleStream":
                ours = _ours_single_stream(values, percentile)
            else:
                ours = _ours_server(values, int(bounds[metric] or 0), percentile)
            entry: dict[str, Any] = {"metric": metric, "scenario": scenario, "percentile": percentile, "ours": ours}
            if metric != "latency" and not exact_tokens:
                entry["approximate"] = True
            if text.strip():  # LoadGen stops at the first failing rule, leaving the next one's text empty
                reported_es = parse_early_stopping(text)
                entry.update(loadgen=reported_es, same=_same(ours, reported_es))
            stops.append(entry)
        ours_met = all(e["ours"]["met"] for e in stops)
        stops.append({"metric": "verdict", "ours": {"met": ours_met},
                      "loadgen": {"met": bool(detail.get("early_stopping_met"))},
                      "same": ours_met == bool(detail.get("early_stopping_met")),
                      "approximate": any(e.get("approximate") for e in stops)})
    same = all(r["same"] for r in rows) and all(e.get("same", True) for e in stops if not e.get("approximate"))
    return {"percentiles": rows, "early_stopping": stops, "all_same": same, "samples": len(samples)}


def agreement_lines(agree: dict[str, Any]) -> list[str]:
    """The agreement as lines a person reads (and a test prints when it fails)."""
    lines = []
    for r in agree["percentiles"]:
        lines.append(f"{r['metric']} p{r['p']:g}: LoadGen {r['loadgen_ns']} ns, ours {r['ours_ns']} ns "
                     f"(sample {r['sample_seq']}, query {r['query_id']}) {'same' if r['same'] else 'DIFFERENT'}")
    for e in agree["early_stopping"]:
        theirs = e.get("loadgen", {})
        note = " (ours from our own timings)" if e.get("approximate") else ""
        lines.append(f"early stopping {e['metric']}: LoadGen {({k: v for k, v in theirs.items() if k != 'text'})} "
                     f"ours {e['ours']}{note} {'same' if e.get('same', True) else 'DIFFERENT'}")
    return lines
