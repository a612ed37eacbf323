"""Run records -> AuditRun: the one place where the audit reads a record.

`audit_run()` turns a `RunRecord` (core/model, which reads schema 1 and 2) into the audit's view,
whatever it came from: a file, `AgentClient.get_run_record()`, or the console's fleet model.
`audit_run_from_record()` does it for one record's JSON object and `load_runs()` for files and folders.
A record that cannot be audited becomes a `Rejected` with the reason, and the rest of the audit goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from wattfleet.core.model import SCHEMA_VERSION, Figure, RecordError, RunRecord, figure_value
from wattfleet.core.model.domains import headline_domain
from wattfleet.tui.fleet.audit.environment import as_dict, environment_of, num
from wattfleet.tui.fleet.audit.model import AuditRun, DomainPower, Environment, Rejected, RunSet, Success

KNOWN_SCHEMAS = (1, SCHEMA_VERSION)
_GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider", "tensorrt-native")
_POWER_FIGURES = ("energy_j", "power_avg_w", "power_peak_w", "tokens_per_j", "j_per_token")

__all__ = ["KNOWN_SCHEMAS", "RecordError", "audit_run", "audit_run_from_record", "load_runs", "record_files",
           "runs_from_records"]


def audit_run_from_record(d: Mapping[str, Any], source: str) -> AuditRun:
    """The audit's view of one run record's JSON object (raises RecordError with the reason)."""
    version = d.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version not in KNOWN_SCHEMAS:
        raise RecordError(f"records from an unknown schema version ({version!r}; this wattfleet reads "
                          f"{', '.join(map(str, KNOWN_SCHEMAS))})")
    try:
        record = RunRecord.from_dict(d)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # RecordError is a ValueError
        raise RecordError(f"malformed schema {version} record ({type(exc).__name__}: {exc})") from exc
    return audit_run(record, source)


def audit_run(record: RunRecord, source: str, parent: AuditRun | None = None) -> AuditRun:
    """The audit's view of a RunRecord; sweep levels become `sweep` runs with the parent's identity.

    Raises RecordError when the run did not complete or names no host."""
    if record.state != "completed":
        raise RecordError(f"run {record.state or 'without a state'}{': ' + record.error if record.error else ''}; "
                          "only completed runs are audited")
    labels = {str(k): str(v) for k, v in record.labels.items()}
    if parent is not None:  # a sweep level: identity and labels are the parent's
        labels = {**parent.labels, **labels}
    env = environment_of(record.environment) if record.environment or parent is None else parent.env
    domains = _domains(record)
    success = _success(record)
    run = AuditRun(
        source=source,
        run_id=record.run_id,
        host=parent.host if parent is not None else _host(record),
        profile=str(record.profile.get("name") or (parent.profile if parent else "") or "unnamed"),
        setting=_setting(record, env),
        state=record.state,
        valid=record.validity.valid,
        invalid_reasons=record.validity.reasons,
        labels=labels,
        started_unix_ns=record.started_unix_ns or (parent.started_unix_ns if parent else 0),
        duration_s=_duration_s(record),
        tokens_per_s=figure_value(record.figures, "tokens_per_s"),
        ttft_p99_ms=figure_value(record.figures, "ttft_p99"),
        tpot_p99_ms=figure_value(record.figures, "tpot_p99"),
        headline_domain=_headline(record, domains),
        domains=domains,
        env=env,
        figures=tuple(record.figures),
        schema_version=parent.schema_version if parent is not None else record.schema_version,
        contended=record.host_cpu is not None and record.host_cpu.contended,
        success=success,
        correct_per_s=figure_value(record.figures, "correct_per_s"),
    )
    levels = []
    for sub in record.sweep:
        try:
            levels.append(audit_run(sub, source, run))
        except RecordError:
            continue  # a level that did not complete is not an operating point
    return replace(run, sweep=tuple(levels)) if levels else run


def _host(record: RunRecord) -> str:
    host = (record.host_id or record.labels.get("host_id")
            or as_dict(record.environment.get("host")).get("hostname"))
    if not host:
        raise RecordError("no host identity (host_id, labels.host_id or environment.host.hostname)")
    return str(host)


def _duration_s(record: RunRecord) -> float | None:
    if record.window.measured:
        return record.window.duration_s
    return record.validity.duration_s or None


def _domains(record: RunRecord) -> dict[str, DomainPower]:
    """Every energy domain of the record, with its figures; a domain seen only in figures is kept too."""
    energy = {e.domain: e for e in record.energy if e.domain}
    names = list(energy) + sorted({f.domain for f in record.figures if f.domain} - set(energy))
    out: dict[str, DomainPower] = {}
    for domain in names:
        e = energy.get(domain)
        figs = {f.name: f for f in record.figures if f.domain == domain}

        def value(name: str, figs: Mapping[str, Figure] = figs) -> float | None:
            f = figs.get(name)
            return None if f is None else f.value

        out[domain] = DomainPower(
            domain=domain,
            energy_j=e.energy_j if e is not None and e.energy_j is not None else value("energy_j"),
            power_avg_w=e.power_avg_w if e is not None and e.power_avg_w is not None else value("power_avg_w"),
            power_peak_w=e.power_peak_w if e is not None and e.power_peak_w is not None else value("power_peak_w"),
            tokens_per_j=value("tokens_per_j"),
            j_per_token=value("j_per_token"),
            low_confidence=bool(e and e.low_confidence) or any(figs[n].low_confidence for n in _POWER_FIGURES
                                                               if n in figs),
            sample_rate_hz=e.sample_rate_hz if e is not None and e.sample_rate_hz else None,
            shared=bool(e and e.shared),
            j_per_correct=value("j_per_correct"),
        )
    return out


def _headline(record: RunRecord, domains: Mapping[str, DomainPower]) -> str:
    """The record's headline domain; schema 1 has none, so METRICS.md's rule from the device it used."""
    if record.headline_domain:
        return record.headline_domain
    device = record.device
    if not device:
        env = record.environment
        on_gpu = str(env.get("provider_used", "")) in _GPU_PROVIDERS
        device = f"gpu:{as_dict(env.get('device')).get('id', 0)}" if on_gpu else "cpu"
    return headline_domain(device, domains)


def _success(record: RunRecord) -> Success | None:
    """Task success from the record's `task` block, else from its success figures (issue 13)."""
    t = record.task
    rate = t.success_rate if t is not None else None
    low = t.ci_low if t is not None else None
    high = t.ci_high if t is not None else None
    rate = rate if rate is not None else figure_value(record.figures, "success_rate")
    if rate is None:
        return None
    low = low if low is not None else figure_value(record.figures, "success_rate_ci_low")
    high = high if high is not None else figure_value(record.figures, "success_rate_ci_high")
    return Success(rate, low, high, t.items if t is not None else 0)


def _setting(record: RunRecord, env: Environment) -> str:
    """The operating point's label: the load it ran at, and the power limit the device ran under."""
    load = as_dict(record.profile.get("load"))
    scenario = str(load.get("scenario", ""))
    if scenario == "server":
        label = f"rate={num(load.get('rate_qps')) or 0:g}"
    elif scenario == "concurrency":
        label = f"concurrency={int(num(load.get('concurrency')) or 0)}"
    elif scenario == "offline":
        label = f"offline batch={int(num(load.get('batch_size')) or 1)}"
    else:
        label = scenario or "default"
    step = as_dict(record.environment.get("power_limit"))  # a power-limit sweep's step: the limit it set
    limit = num(step.get("set_w"))
    limit = limit if limit is not None else env.power_limit_w
    if limit is not None:
        label += f" pl={limit:g}W"
    return label


def runs_from_records(records: Iterable[RunRecord], source: str) -> RunSet:
    """RunRecords a client already holds (GetRunRecord, the console's model) as a RunSet."""
    runs: list[AuditRun] = []
    rejected: list[Rejected] = []
    for record in records:
        where = f"{source}:{record.run_id}"
        try:
            runs.append(audit_run(record, where))
        except RecordError as exc:
            rejected.append(Rejected(where, str(exc), host=record.host_id))
    return RunSet(tuple(runs), tuple(rejected))


def record_files(paths: Iterable[Path]) -> list[Path]:
    """Every *.json under the given folders (recursively), and the given files, in a stable order."""
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.rglob("*.json")) if p.is_dir() else [p])
    return out


def load_runs(paths: Iterable[Path]) -> RunSet:
    """Read every record file; a file or record that cannot be read becomes a Rejected, never an exception."""
    runs: list[AuditRun] = []
    rejected: list[Rejected] = []
    for path in record_files(paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            rejected.append(Rejected(str(path), f"cannot read: {exc.strerror or exc}"))
            continue
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            rejected.append(Rejected(str(path), f"not JSON ({exc})"))
            continue
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, Mapping):
                rejected.append(Rejected(str(path), "not a run record (expected a JSON object)"))
                continue
            try:
                runs.append(audit_run_from_record(item, str(path)))
            except RecordError as exc:
                rejected.append(Rejected(str(path), str(exc), host=_guess_host(item)))
    return RunSet(tuple(runs), tuple(rejected))


def _guess_host(item: Mapping[str, Any]) -> str:
    labels = as_dict(item.get("labels"))
    host = item.get("host_id") or labels.get("host_id") or as_dict(as_dict(item.get("environment")).get("host")).get(
        "hostname")
    return str(host or "")
