"""A run record as text a person reads: what ran where and what was sent, the figures with units,
definitions and domains, task success, validity, cold start and quality. Used by `wattfleet bench`."""

from __future__ import annotations

from typing import Any

from wattfleet.agent.figures.latency import PERCENTILE_NOTES
from wattfleet.core.model import RunRecord

SHORT_PERCENTILES = ("_mean", "_p50", "_p90", "_p99")


def _shown(name: str, all_figures: bool) -> bool:
    if all_figures or not any(name.endswith(s) for s in ("_p95", "_p97", "_p99.9")):
        return True
    return False


def _value(v: Any) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    if v.is_integer() and abs(v) < 1e9:
        return f"{v:,.0f}"
    if v == 0 or 0.01 <= abs(v) < 100_000:
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.1f}"
    return f"{v:.3e}"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _figures(record: RunRecord, all_figures: bool) -> list[str]:
    rows: list[tuple[str, ...]] = [("figure", "value", "unit", "domain", "definition")]
    head = record.headline_domain
    method_key = record.validity.percentile_method
    note = "; " + PERCENTILE_NOTES.get(method_key, "")
    for f in record.figures:
        if not _shown(f.name, all_figures):
            continue
        name = f.name + (" *" if f.low_confidence else "")
        domain = (f"{f.domain} (headline)" if f.domain == head else f.domain) if f.domain else "-"
        definition = f.definition.removesuffix(note)  # said once, below the table
        rows.append((name, _value(f.value), f.unit, domain, definition))
    if len(rows) == 1:
        return ["  (no figures)"]
    lines = _table(rows)
    method = PERCENTILE_NOTES.get(method_key, method_key).removeprefix("percentile as ")
    other = "vllm" if method_key == "loadgen" else "loadgen"
    lines.append(f"  percentiles as {method} (--percentiles {other} gives "
                 f"{PERCENTILE_NOTES[other].removeprefix('percentile as ')})")
    if any(f.low_confidence for f in record.figures):
        lines.append("  * low confidence: too few samples for that percentile, or a short/gappy energy window")
    if head:
        lines.append(f"  headline energy domain: {head} (the device the run ran on, METRICS.md); others beside it")
    elif record.energy:
        lines.append(f"  no energy domain of the run's device ({record.device}) was measured; others are shown beside")
    if any(e.shared for e in record.energy):
        shared = ", ".join(e.domain for e in record.energy if e.shared)
        lines.append(f"  shared: {shared} served other work during the window (figures include it)")
    if any(f.domain == "estimated" for f in record.figures):
        lines.append("  domain 'estimated' is a model (CPU utilisation x TDP), not a measurement")
    return lines


def _environment(record: RunRecord) -> list[str]:
    env = record.environment
    load = record.profile.get("load", {})
    model = env.get("model", {})
    lines = [
        f"run       {record.run_id}  state {record.state}",
        f"model     {model.get('name', '?')} ({model.get('params', '?')} params, {model.get('dtype', '?')})",
        f"scenario  {load.get('scenario', '?')}  batch {load.get('batch_size', '?')}"
        + (f"  prompt {load.get('prompt_tokens')} -> {load.get('output_tokens')} tokens"
           if env.get("kind") == "generative" and record.workload is None else ""),
        *_workload(record),
    ]
    if env:
        used, asked = env.get("provider_used", "?"), env.get("provider_requested", "?")
        fb = f"  (fell back from {asked}: {env.get('fallback_reason', '')})" if env.get("fell_back") else ""
        lines.append(f"provider  {used}{fb}  precision {env.get('precision', '?')}  "
                     f"threads {env.get('threads', {}).get('intra_op', '?')}")
        lines.append(f"device    {env.get('device', {}).get('name', '?')}")
    cs = record.cold_start
    if cs:
        lines.append(f"cold start  model load {cs.get('model_load_s', 0):.3f} s, session build "
                     f"{cs.get('session_build_s', 0):.3f} s, first inference {cs.get('first_inference_s', 0):.3f} s "
                     "(apart from the measured window)")
    w = record.window
    if w.measured:
        lines.append(f"window    {w.duration_s:.3f} s, {record.validity.queries} queries, "
                     f"ended by {w.ended_by or 'sweep'}" + (f" ({w.source})" if w.source else ""))
    h = record.host_cpu
    if h is not None and h.host_util_pct is not None:
        flag = "  CONTENDED: other processes used the host" if h.contended else ""
        tdp = f"; estimate's TDP {h.tdp_w:g} W" if h.tdp_w else ""
        lines.append(f"host cpu  {h.host_util_pct:.0f}% of all cores, this process {h.agent_share_pct or 0:.0f}%"
                     f"{tdp}{flag}")
    return lines


def _workload(record: RunRecord) -> list[str]:
    """What was sent, when the profile shaped it ([workload]): items, trace, lengths, EOS, tokenizer."""
    w, env = record.workload, record.environment
    if w is None:
        return []
    lines = []
    items = w.get("items")
    if items:
        lines.append(f"prompts   items {items['file']} ({items['n_items']} items, {items['order']} order, seed "
                     f"{items['seed']}): {items['distinct']} distinct ran, sha256 {str(items['sha256'])[:12]}")
    trace = w.get("trace")
    if trace:
        how = (f"arrivals replayed at {trace['scale']:g}x the recorded rate" if trace.get("arrivals_replayed")
               else "lengths only")
        lines.append(f"prompts   trace {trace['file']} ({trace['rows']} rows, {how})")
    for key, dist in w.get("lengths", {}).items():
        params = ", ".join(f"{k} {v:g}" for k, v in dist.items() if k != "dist")
        lines.append(f"lengths   {key}: {dist['dist']} ({params})")
    eos = env.get("eos")
    if eos:
        stop = "stops there" if w.get("stop_at_eos") else "not stopping there (workload.stop_at_eos = false)"
        lines.append(f"eos       ids {eos['ids'] or 'none'} from {eos['source']}; generation {stop}"
                     if eos["ids"] else f"eos       {eos['source']}")
    tok = env.get("tokenizer")
    if tok:
        lines.append(f"tokenizer {tok['path']} ({tok['vocab_size']} ids, sha256 {str(tok['sha256'])[:12]})")
    return lines


def _task(record: RunRecord) -> list[str]:
    """Task success: `success 37/40 = 92.5% (95% CI 80.1-97.4%, Wilson; scorer last-number on text)`."""
    t = record.task
    if t is None:
        return []
    rate = "n/a" if t.success_rate is None else f"{t.success_rate:.1%}"
    ci = "" if t.ci_low is None or t.ci_high is None else f"95% CI {t.ci_low:.1%}-{t.ci_high:.1%}, Wilson; "
    unscored = int(t.details.get("unscored", 0) or 0)
    more = f"; {unscored} unscored (no expected answer)" if unscored else ""
    lines = [f"task      success {t.correct}/{t.items} = {rate} ({ci}scorer {t.scorer} on "
             f"{t.details.get('on', 'text')}{more})"]
    jpc = record.headline("j_per_correct")
    if jpc is not None:
        value = "undefined (no correct answer in the window)" if jpc.value is None else f"{_value(jpc.value)} J"
        lines.append(f"  energy per correct answer ({jpc.domain}): {value}; beside j_per_token, not instead of it")
    return lines


def _validity(record: RunRecord) -> list[str]:
    v = record.validity
    if not v.reasons and not v.queries and not v.valid:
        return []
    lines = [f"validity  {'VALID' if v.valid else 'NOT VALID'}" + ("  (low confidence)" if v.low_confidence else "")]
    lines += [f"  - {r}" for r in v.reasons]
    es = v.early_stopping
    if es is not None and es.estimate_ms is not None:
        lines.append(f"  early stopping: p{es.percentile:g} {es.metric} <= {es.estimate_ms:.3f} ms at "
                     f"{es.confidence:.0%} confidence ({es.queries} queries, "
                     f"{es.details.get('rule', 'MLPerf LoadGen')})")
    elif v.queries and es is None and "saturation_rule" not in v.details:
        lines.append("  no latency percentile claimed (offline, or load.target_latency_percentile = 0)")
    flag = "  FLAGGED (> 2.5%, trtexec's threshold)" if v.cov_flag else ""
    if v.service_time_cov is not None:
        lines.append(f"  service-time CoV {v.service_time_cov:.2%}{flag} (done - issued; "
                     f"latency CoV {v.details.get('latency_cov', 0.0):.2%})")
    elif "latency_cov" in v.details:  # records from before service-time CoV
        lines.append(f"  latency CoV {v.details['latency_cov']:.2%}{flag}")
    if "saturation_rule" in v.details:
        lines.append(f"  sweep: {v.details['saturation_rule']}; figures above are from {v.details.get('peak')}")
    return lines


def _sweep(record: RunRecord) -> list[str]:
    if not record.sweep_summary:
        return []
    keys = list(record.sweep_summary[0])
    rows: list[tuple[str, ...]] = [tuple(keys)]
    for s in record.sweep_summary:
        rows.append(tuple(str(s[k]) if isinstance(s[k], (bool, str)) else _value(s[k]) for k in keys))
    return ["sweep", *_table(rows)]


def _quality(record: RunRecord) -> list[str]:
    q = record.quality
    if not q:
        return []
    flag = "  ANSWERS DIFFER FROM THE REFERENCE" if q.get("flagged") else ""
    ref = q.get("reference", {})
    return [f"quality   vs {ref.get('provider', '?')} {ref.get('precision', '')}: {q.get('detail', '')}{flag}"]


def _loadgen(record: RunRecord) -> list[str]:
    """MLPerf LoadGen's own verdict beside ours (harness "loadgen"), and whether our statistics agree."""
    lg = record.extras.get("loadgen")
    if not lg:
        return []

    def yes(key: str) -> str:
        return "yes" if lg.get(key) else "NO"

    lines = [f"mlperf    LoadGen {lg.get('version', '?')} {lg.get('scenario', '?')}: {lg.get('result') or '?'}  "
             f"(min duration {yes('min_duration_met')}, min queries {yes('min_queries_met')}, "
             f"early stopping {yes('early_stopping_met')})"]
    if lg.get("invalid_reason"):
        lines.append(f"  why: {lg['invalid_reason']}")
    for key, text in lg.get("early_stopping", {}).items():
        lines.append(f"  {key.removeprefix('early_stopping_').removesuffix('_result') or 'early stopping'}: {text}")
    agree = lg.get("agreement") or {}
    rows = agree.get("percentiles", [])
    if rows:
        same = sum(1 for r in rows if r["same"])
        verdict = "the same early-stopping verdict" if agree.get("all_same") else "a DIFFERENT result somewhere"
        lines.append(f"  our statistics on LoadGen's latencies: {same} of {len(rows)} percentiles pick the same "
                     f"sample; {verdict}")
    lines.append(f"  logs: {lg.get('log_dir', '?')} ({', '.join(lg.get('files', []))})")
    return lines


def format_summary(record: RunRecord, *, all_figures: bool = False) -> str:
    lines = _environment(record)
    if record.error:
        lines.append(f"error     {record.error}")
    lines += ["figures", *_figures(record, all_figures)]
    lines += _task(record) + _sweep(record) + _validity(record) + _loadgen(record) + _quality(record)
    return "\n".join(lines) + "\n"
