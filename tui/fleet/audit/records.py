"""Run record JSON files -> AuditRun: the one place that knows the record schema.

`audit_run_from_record()` is the adapter: schema 1 (what `wattfleet bench --out` and `wattfleet run
--out` write today) is read by `_from_v1`; a later schema gets its own small reader beside it. A record
it cannot read becomes a `Rejected` with the reason, and the rest of the audit goes on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from wattfleet.tui.fleet.audit.model import AuditRun, DomainPower, Environment, Figure, Rejected, RunSet

KNOWN_SCHEMAS = (1,)
_GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider", "tensorrt-native")


class RecordError(ValueError):
    """A record that cannot be audited; the message is the per-record reason."""


def audit_run_from_record(d: Mapping[str, Any], source: str) -> AuditRun:
    """The audit's view of one run record dict (raises RecordError with the reason)."""
    version = d.get("schema_version")
    if not isinstance(version, int) or version not in KNOWN_SCHEMAS:
        raise RecordError(f"records from an unknown schema version ({version!r}; this wattfleet reads "
                          f"{', '.join(map(str, KNOWN_SCHEMAS))})")
    try:
        return _from_v1(d, source, inherit=None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordError(f"malformed schema {version} record ({type(exc).__name__}: {exc})") from exc


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _environment_v1(env: Mapping[str, Any]) -> Environment:
    device, versions = _dict(env.get("device")), _dict(env.get("versions"))
    clocks = _dict(device.get("clocks_mhz") or env.get("clocks_mhz"))
    throttle = device.get("throttle_reasons") or env.get("throttle_reasons") or ()
    return Environment(
        device_model=str(device.get("name") or ""),
        provider=str(env.get("provider_used") or ""),
        precision=str(env.get("precision") or ""),
        driver=str(versions.get("driver") or device.get("driver") or ""),
        power_limit_w=_num(device.get("power_limit_w", env.get("power_limit_w"))),
        clocks_mhz=tuple(sorted((str(k), v) for k, x in clocks.items() if (v := _num(x)) is not None)),
        throttle_reasons=tuple(sorted(str(t) for t in throttle)),
    )


def _setting_v1(d: Mapping[str, Any], env: Environment) -> str:
    if d.get("setting"):
        return str(d["setting"])
    load = _dict(_dict(d.get("profile")).get("load"))
    scenario = str(load.get("scenario", ""))
    if scenario == "server":
        label = f"rate={_num(load.get('rate_qps')) or 0:g}"
    elif scenario == "concurrency":
        label = f"concurrency={int(load.get('concurrency', 0))}"
    elif scenario == "offline":
        label = f"offline batch={int(load.get('batch_size', 1))}"
    else:
        label = scenario or "default"
    if env.power_limit_w is not None:
        label += f" pl={env.power_limit_w:g}W"
    return label


def _headline_v1(domains: Mapping[str, DomainPower], env: Mapping[str, Any]) -> str:
    """Schema 1 has no headline field: METRICS.md's rule, from the provider and device the run used."""
    provider = str(env.get("provider_used", ""))
    device_id = _dict(env.get("device")).get("id", 0)
    if provider in _GPU_PROVIDERS:
        order = [f"gpu-board:{device_id}", f"gpu-module:{device_id}", "soc-input"]
    else:
        order = ["cpu-package", "estimated"]
    return next((name for name in order if name in domains), "")


def _domains_v1(figures: list[Mapping[str, Any]], energy: Mapping[str, Any]) -> dict[str, DomainPower]:
    by_domain: dict[str, dict[str, Any]] = {}
    for f in figures:
        domain = str(f.get("domain") or "")
        if domain:
            slot = by_domain.setdefault(domain, {"low": False})
            slot[str(f["name"])] = _num(f.get("value"))
            slot["low"] = slot["low"] or bool(f.get("low_confidence"))
    for domain in energy:
        by_domain.setdefault(str(domain), {"low": True})
    out: dict[str, DomainPower] = {}
    for domain, slot in by_domain.items():
        meta = _dict(energy.get(domain))
        out[domain] = DomainPower(
            domain=domain,
            energy_j=slot.get("energy_j", _num(meta.get("energy_j"))),
            power_avg_w=slot.get("power_avg_w"),
            power_peak_w=slot.get("power_peak_w"),
            tokens_per_j=slot.get("tokens_per_j"),
            j_per_token=slot.get("j_per_token"),
            low_confidence=bool(slot["low"] or meta.get("low_confidence", False)),
            sample_rate_hz=_num(meta.get("sample_rate_hz")),
            samples_w=tuple(v for x in meta.get("samples_w", ()) if (v := _num(x)) is not None),
        )
    return out


def _host_v1(d: Mapping[str, Any], labels: Mapping[str, str], env: Mapping[str, Any]) -> str:
    host = d.get("host_id") or labels.get("host_id") or _dict(env.get("host")).get("hostname")
    if not host:
        raise RecordError("no host identity (host_id, labels.host_id or environment.host.hostname)")
    return str(host)


def _from_v1(d: Mapping[str, Any], source: str, inherit: AuditRun | None) -> AuditRun:
    env_raw = _dict(d.get("environment"))
    labels = {str(k): str(v) for k, v in _dict(d.get("labels")).items()}
    if inherit is not None:  # a sweep level: identity and labels are the parent's
        labels = {**inherit.labels, **labels}
    host = inherit.host if inherit is not None else _host_v1(d, labels, env_raw)
    state = str(d.get("state", ""))
    if state != "completed":
        error = str(d.get("error") or "")
        raise RecordError(f"run {state or 'without a state'}{': ' + error if error else ''}; only completed "
                          "runs are audited")
    figures = [f for f in d.get("figures", []) if isinstance(f, Mapping) and "name" in f]
    plain = {str(f["name"]): _num(f.get("value")) for f in figures if not f.get("domain")}
    env = _environment_v1(env_raw) if env_raw or inherit is None else inherit.env
    domains = _domains_v1(figures, _dict(d.get("energy")))
    validity = _dict(d.get("validity"))
    run = AuditRun(
        source=source,
        run_id=str(d["run_id"]),
        host=host,
        profile=str(_dict(d.get("profile")).get("name") or (inherit.profile if inherit else "") or "unnamed"),
        setting=_setting_v1(d, env),
        state=state,
        valid=bool(validity.get("valid", False)),
        invalid_reasons=tuple(str(r) for r in validity.get("reasons", ())),
        labels=labels,
        started_unix_ns=int(d.get("started_unix_ns") or (inherit.started_unix_ns if inherit else 0)),
        duration_s=_num(_dict(d.get("window")).get("duration_s")),
        tokens_per_s=plain.get("tokens_per_s"),
        ttft_p99_ms=plain.get("ttft_p99"),
        tpot_p99_ms=plain.get("tpot_p99"),
        headline_domain=_headline_v1(domains, env_raw) if env_raw else (inherit.headline_domain if inherit else ""),
        domains=domains,
        env=env,
        figures=tuple(Figure(str(f["name"]), str(f.get("domain") or ""), _num(f.get("value")), str(f.get("unit", "")))
                      for f in figures),
        schema_version=int(d["schema_version"]) if inherit is None else inherit.schema_version,
    )
    levels = [s for s in d.get("sweep", []) if isinstance(s, Mapping)]
    if levels:
        subs = []
        for s in levels:
            try:
                subs.append(_from_v1({**s, "schema_version": run.schema_version}, source, run))
            except RecordError:
                continue  # a level that did not complete is not an operating point
        run = replace(run, sweep=tuple(subs))
    return run


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
    labels = _dict(item.get("labels"))
    host = item.get("host_id") or labels.get("host_id") or _dict(_dict(item.get("environment")).get("host")).get(
        "hostname")
    return str(host or "")
