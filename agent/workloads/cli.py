"""`wattfleet bench`: run a workload profile on this host, without an agent, and write its record.

    wattfleet bench smoke
    wattfleet bench profiles/decoder-server-poisson.toml --set load.rate=8 --out run.json
    wattfleet bench --model decoder-tiny --scenario server --rate 20 --duration 5
    wattfleet bench smoke --percentiles vllm
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from wattfleet.agent.workloads.config import PERCENTILE_METHODS, SCENARIOS, ModelConfig, Profile, sweeps_power_limit
from wattfleet.agent.workloads.profile import apply_overrides, builtin_profiles, find_profile
from wattfleet.agent.workloads.report import format_summary
from wattfleet.agent.workloads.scenarios import Query
from wattfleet.core.cli import EXIT_FAILED, EXIT_INTERRUPTED, RawDescriptionHelpFormatter
from wattfleet.core.errors import UsageError
from wattfleet.core.recordfile import check_out_folder, write_record

# flag -> dotted profile key it overrides
FLAG_KEYS: dict[str, str] = {
    "scenario": "load.scenario",
    "provider": "runtime.provider",
    "precision": "runtime.precision",
    "rate": "load.rate",
    "arrival": "load.arrival",
    "concurrency": "load.concurrency",
    "batch_size": "load.batch_size",
    "prompt_tokens": "load.prompt_tokens",
    "output_tokens": "load.output_tokens",
    "duration": "load.min_duration_s",
    "queries": "load.min_queries",
    "max_duration": "load.max_duration_s",
    "warmup": "load.warmup_queries",
    "seed": "load.seed",
    "threads": "runtime.intra_op_threads",
    "sweep_values": "load.sweep.values",
    "reference": "quality.reference_provider",
    "percentiles": "figures.percentiles",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 through core.cli
        raise UsageError(f"{message} (see wattfleet bench --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="wattfleet bench", description="Run a workload profile locally and write its run record.",
                formatter_class=RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("profile", nargs="?", help="a profile file (.toml) or a built-in profile name (see --list)")
    p.add_argument("--list", action="store_true", help="list the built-in profiles and exit")
    p.add_argument("--model", help="a model file or built-in model name (instead of, or replacing, the profile's)")
    p.add_argument("--scenario", choices=SCENARIOS)
    p.add_argument("--provider", help="cpu, cuda, tensorrt or tensorrt-native")
    p.add_argument("--fallback", action="store_true", help="run on another provider if this one does not work")
    p.add_argument("--precision", help="fp32, fp16 or int8")
    p.add_argument("--rate", help="server scenario: mean arrivals per second")
    p.add_argument("--arrival", help="server scenario: poisson or gamma")
    p.add_argument("--concurrency", help="concurrency scenario: closed-loop clients")
    p.add_argument("--batch-size")
    p.add_argument("--prompt-tokens")
    p.add_argument("--output-tokens")
    p.add_argument("--duration", help="minimum measured duration in seconds (load.min_duration_s)")
    p.add_argument("--queries", help="minimum measured queries (load.min_queries)")
    p.add_argument("--max-duration", help="cap in seconds (load.max_duration_s)")
    p.add_argument("--warmup", help="warm-up queries, excluded from the figures")
    p.add_argument("--seed")
    p.add_argument("--threads", help="ONNX Runtime intra-op threads (0 = its default)")
    p.add_argument("--sweep-values", help="sweep scenario: comma-separated rates or concurrency levels")
    p.add_argument("--reference", help="compare answers with this provider (e.g. cpu)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any profile key, e.g. --set load.rate=4 (repeatable)")
    p.add_argument("--model-dir", action="append", default=[], type=Path,
                   help="where model paths are looked up (also: the profile file's folder and the current one)")
    p.add_argument("--cache-dir", type=Path, help="where built-in models and engine caches are kept")
    p.add_argument("--out", metavar="FILE|DIR",
                   help="record file, or an existing folder for it (default: ./wattfleet-<profile>-<time>.json); "
                        "an existing file is never overwritten: a -1, -2, ... suffix is added")
    p.add_argument("--json", action="store_true", help="print the record to stdout (the summary goes to stderr)")
    p.add_argument("--no-energy", action="store_true", help="do not sample power during the run")
    p.add_argument("--power-source", action="append", default=[], metavar="SPEC",
                   help="power source spec, e.g. rapl, estimated:tdp_w=65, replay:trace.csv (repeatable; "
                        "default: every source found on this host)")
    p.add_argument("--tdp-w", type=float, metavar="W",
                   help="TDP behind the 'estimated' domain (CPU utilisation x TDP) where no CPU power is measured; "
                        "recorded beside every figure it makes")
    p.add_argument("--idle-s", type=float, default=0.0, metavar="SECONDS",
                   help="measure idle power this long before the run (reported beside, never subtracted)")
    p.add_argument("--all-figures", action="store_true", help="show every percentile in the summary")
    p.add_argument("--allow-power-limits", action="store_true",
                   help="let a power-limit sweep (load.sweep.over = \"power_limit\") set this host's GPU (NVML) or "
                        "CPU (RAPL) power limit step by step; the original is put back when the sweep ends, fails or "
                        "is cancelled (Ctrl-C), but not if this process is killed. Needs root on most hosts")
    p.add_argument("--percentiles", choices=PERCENTILE_METHODS,
                   help="how percentiles are taken from the raw timings (figures.percentiles): loadgen = MLPerf "
                        "LoadGen's sorted[floor(p/100*n)] (default), vllm = numpy's linear interpolation")
    return p


class Progress:
    """Progress on stderr: one updating line on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream: Any, interval_s: float | None = None) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval_ns = int((interval_s if interval_s is not None else (0.1 if self.tty else 2.0)) * 1e9)
        self.lock = threading.Lock()
        self.last_ns = 0
        self.phase = ""

    def _write(self, text: str, final: bool = False) -> None:
        with self.lock:
            if self.tty:
                self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def on_phase(self, state: str, detail: str = "") -> None:
        self.phase = state
        if state in ("completed", "failed", "cancelled") and self.tty:
            self._write(f"{state}", final=True)
        elif not self.tty or state != "measuring":
            self._write(f"{state}{': ' + detail if detail else ''}", final=not self.tty)

    def on_progress(self, fraction: float, queries_done: int, tokens_done: int, elapsed_s: float) -> None:
        now = time.monotonic_ns()
        if now - self.last_ns < self.interval_ns:
            return
        self.last_ns = now
        bar = "#" * int(fraction * 20)
        self._write(f"{self.phase} [{bar:<20}] {fraction:4.0%}  {queries_done} queries  {tokens_done} tokens  "
                    f"{elapsed_s:.1f} s")

    def on_token(self, query_id: int, token_index: int, t_ns: int) -> None:
        return None

    def on_query(self, q: Query) -> None:
        return None


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    out: dict[str, str] = {}
    for attr, key in FLAG_KEYS.items():
        value = getattr(args, attr)
        if value is not None:
            out[key] = str(value)
    if args.fallback:
        out["runtime.fallback"] = "true"
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set load.rate=4")
        out[key.strip()] = value.strip()
    return out


def _model_override(model: str, model_dirs: list[Path]) -> tuple[dict[str, str], list[Path]]:
    from wattfleet.agent.workloads.models import builtin_names

    if model in builtin_names():
        return {"model.builtin": model}, model_dirs
    path = Path(model).expanduser()
    if not path.is_file():
        raise UsageError(f"--model {model}: no such file, and not a built-in model "
                         f"({', '.join(builtin_names())})")
    path = path.resolve()
    return {"model.path": str(path)}, [*model_dirs, path.parent]


def resolve(args: argparse.Namespace) -> tuple[Profile, str, list[Path]]:
    """The profile to run (with every flag applied), its source text, and the model directories."""
    model_dirs = list(args.model_dir)
    overrides = _overrides(args)
    if args.model:
        model_keys, model_dirs = _model_override(args.model, model_dirs)
        overrides = {**model_keys, **overrides}
    if args.profile:
        profile, text = find_profile(args.profile)
        if Path(args.profile).is_file():  # a model path in a profile file may be relative to that file
            model_dirs.append(Path(args.profile).resolve().parent)
        model_dirs.append(Path.cwd())
    elif args.model:
        stem = Path(args.model).stem
        profile, text = Profile(name=f"bench-{stem}", model=ModelConfig(builtin="decoder-tiny")), ""
    else:
        raise UsageError("give a PROFILE (a file or built-in name, see --list) or --model PATH|BUILTIN")
    profile = apply_overrides(profile, overrides)
    base = Path(args.profile).resolve().parent if args.profile and Path(args.profile).is_file() else Path.cwd()
    return apply_overrides(profile, _data_paths(profile, base, overrides)), text, model_dirs


def _data_paths(profile: Profile, base: Path, overrides: dict[str, str]) -> dict[str, str]:
    """workload.items and workload.trace as absolute paths: relative to the profile file's folder when the
    file wrote them, to the current folder when --set did (the record then names the file it read)."""
    out: dict[str, str] = {}
    w = profile.traffic.workload
    for key, value in (("workload.items", w.items), ("workload.trace", w.trace)):
        if value and not Path(value).expanduser().is_absolute():
            root = Path.cwd() if key in overrides else base
            out[key] = str(root / Path(value).expanduser())
        elif value:
            out[key] = str(Path(value).expanduser())
    return out


def _power_limits(profile: Profile, allowed: bool, specs: Sequence[str] = ()) -> Any:
    """The consent a power-limit sweep needs (refused before anything runs without the flag), or None."""
    if sweeps_power_limit(profile.load) and not allowed:
        raise UsageError(f"{profile.source or profile.name}: load.sweep.over = \"power_limit\" changes this host's "
                         "power limits; add --allow-power-limits to let it (the original is put back at the end)")
    if not allowed:
        return None
    from wattfleet.agent.telemetry.limits import PowerLimits, rapl_root

    return PowerLimits(root=rapl_root(specs))  # RAPL limits under the same root as a rapl:ROOT power source


def _start_sampler(stream: Any, tdp_w: float | None = None, specs: Sequence[str] = ()) -> Any:
    """A started telemetry sampler over this host's power sources, or None (and a note why)."""
    try:
        from wattfleet.agent.telemetry import Sampler, build_sources
    except ImportError as exc:
        stream.write(f"energy: not measured (telemetry unavailable: {exc})\n")
        return None
    sources, _statuses = build_sources(specs, tdp_w=tdp_w)
    if not sources:
        stream.write("energy: not measured (no power source on this host)\n")
        return None
    return Sampler(sources, rate_hz=20.0).start()


def _list(stream: Any) -> int:
    rows = [(p.name, p.load.scenario, p.model.builtin or p.model.path, p.runtime.provider, p.description)
            for p in builtin_profiles()]
    width = max(len(r[0]) for r in rows)
    for name, scenario, model, provider, desc in rows:
        stream.write(f"{name:<{width}}  {scenario:<13}  {model:<18}  {provider:<9}  {desc}\n")
    return 0


def out_target(out: str | None, profile_name: str) -> tuple[Path, str]:
    """(folder, file name) of the record, checked before the run: the folder must exist and be writable."""
    default = f"wattfleet-{re.sub(r'[^A-Za-z0-9_.-]', '_', profile_name)}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    if out is None:
        folder, name = Path("."), default
    elif out.endswith(("/", os.sep)) or Path(out).is_dir():
        folder, name = Path(out), default
    else:
        folder, name = Path(out).parent, Path(out).name
    check_out_folder(folder)
    return folder, name


@contextlib.contextmanager
def ctrl_c_cancels(cancel: threading.Event, stream: Any) -> Iterator[list[bool]]:
    """While inside, Ctrl-C sets `cancel` (the run stops at the next query and returns its record)
    instead of raising KeyboardInterrupt; a second Ctrl-C exits at once with 130 and no record.

    KeyboardInterrupt must not be raised while ONNX Runtime runs: raised in the middle of a wait on a
    thread, it makes CPython (bpo-45274's handling) mark a live thread as finished, and the interpreter
    then exits under ONNX Runtime's threads, which aborts the process (SIGABRT, no record)."""
    pressed = [False]

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if pressed[0]:
            stream.write("\naborted: no record written\n")
            stream.flush()
            os._exit(EXIT_INTERRUPTED)  # the run is mid-query; leaving at once is the only clean way out
        pressed[0] = True
        cancel.set()
        stream.write("\ncancelling: finishing the queries in flight (Ctrl-C again to abort)\n")
        stream.flush()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if args.list:
        return _list(sys.stdout)
    if args.idle_s < 0:
        raise UsageError(f"--idle-s {args.idle_s:g}: expected 0 (no idle measurement) or more seconds")
    if args.tdp_w is not None and not 0 < args.tdp_w <= 10_000:
        raise UsageError(f"--tdp-w {args.tdp_w:g}: expected watts in (0, 10000]")
    profile, text, model_dirs = resolve(args)
    power_limits = _power_limits(profile, args.allow_power_limits, args.power_source)
    folder, name = out_target(args.out, profile.name)
    err = sys.stderr
    if power_limits is not None and sweeps_power_limit(profile.load):
        err.write("power limits: this sweep sets the power limit of the run's device step by step; the original is "
                  "put back when it ends, fails or is cancelled, but not if this process is killed "
                  "(the record's extras.power_limit.original_w says what it was)\n")
    progress = Progress(err)
    cancel = threading.Event()
    with ctrl_c_cancels(cancel, err) as interrupted:
        sampler = None if args.no_energy else _start_sampler(err, args.tdp_w, args.power_source)
        try:
            if sampler is not None and args.idle_s > 0:
                err.write(f"idle: measuring idle power for {args.idle_s:g} s\n")
                sampler.idle_baseline(args.idle_s)
            from wattfleet.agent.telemetry.cpu import CpuMeter, estimate_tdp_w
            from wattfleet.agent.workloads.driver import run_profile

            meter = CpuMeter(tdp_w=estimate_tdp_w(getattr(sampler, "sources", ())))
            record = run_profile(profile, model_dirs=model_dirs, cache_dir=args.cache_dir, observer=progress,
                                 cancel=cancel, sampler=sampler, profile_text=text, cpu_meter=meter,
                                 loadgen_dir=folder / (Path(name).stem + "-mlperf"), power_limits=power_limits)
        finally:
            if sampler is not None:
                sampler.stop()
        written = write_record(record.to_json(indent=1), folder, name)
    summary = format_summary(record, all_figures=args.all_figures)
    if args.json:
        sys.stdout.write(record.to_json() + "\n")
        err.write(summary)
    else:
        sys.stdout.write(summary)
    if written.note:
        err.write(f"wattfleet bench: {written.note}\n")
    err.write(f"record: {written.path}\n")
    if record.state == "failed":
        err.write(f"wattfleet bench: {record.error}\n")
        return EXIT_FAILED
    return EXIT_INTERRUPTED if interrupted[0] else 0
