"""Typed configuration of one workload, as a profile (profiles/*.toml) describes it.

The TOML loader and its validation live in profile.py; runners and scenarios take these objects.
Every field has the unit in its name where it has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wattfleet.agent.workloads.traffic.spec import TrafficConfig

PROVIDERS = ("cpu", "cuda", "tensorrt", "tensorrt-native")
PRECISIONS = ("fp32", "fp16", "int8")
# "" = detect from the graph; "decoder" = KV cache (optimum convention); "decoder-no-cache" = the whole
# sequence fed every step (full recompute); "fixed" = one inference on generated inputs.
MODEL_KINDS = ("", "decoder", "decoder-no-cache", "fixed")
SCENARIOS = ("single-stream", "server", "offline", "concurrency", "sweep")
ARRIVALS = ("poisson", "gamma")
HARNESSES = ("native", "loadgen")  # who issues the queries: our scenario driver, or MLPerf LoadGen
PERCENTILE_METHODS = ("loadgen", "vllm")  # metrics.PERCENTILE_NOTES says what each one is
SWEEP_OVER = ("rate", "concurrency", "power_limit")
SWEEP_INNER = ("", "single-stream", "server", "offline", "concurrency")  # "" = the sweep's own (see SweepConfig)


@dataclass(frozen=True)
class ModelConfig:
    """Which model: a built-in name or a path inside the configured model directories."""

    builtin: str = ""  # e.g. "decoder-tiny", "encoder-bert-tiny", "cnn-squeezenet"
    path: str = ""  # relative to a model directory, or absolute inside one
    dims: dict[str, int] = field(default_factory=dict)  # symbolic dimension bindings
    # Context length; 0 = from the export's config.json beside the model (n_positions,
    # max_position_embeddings, ...), else the ONNX metadata, else 2048.
    max_context: int = 0
    kind: str = ""  # one of MODEL_KINDS; "" = detect


@dataclass(frozen=True)
class RuntimeConfig:
    """Where and how it runs."""

    provider: str = "cpu"
    fallback: bool = False  # allow another provider when this one does not work; the record says which ran
    precision: str = "fp32"
    device_id: int = 0
    intra_op_threads: int = 0  # 0 = ONNX Runtime's default
    cache_dir: str = ""  # TensorRT engine and timing caches; "" = the agent's data dir


@dataclass(frozen=True)
class SweepConfig:
    # "rate" (server levels), "concurrency" (concurrency levels), or "power_limit": values in W, one step per
    # limit set on the run's device (gpu:N through NVML, cpu through RAPL); needs the host's consent
    # (--allow-power-limits) and the original limit is always put back.
    over: str = "rate"
    values: tuple[float, ...] = ()
    inner: str = ""  # over = "power_limit": the scenario each step runs with the profile's load; "" = concurrency


@dataclass(frozen=True)
class LoadConfig:
    """The load scenario and when a run ends."""

    scenario: str = "single-stream"
    prompt_tokens: int = 32
    output_tokens: int = 16
    batch_size: int = 1
    rate_qps: float = 1.0  # server scenario: mean arrival rate
    arrival: str = "poisson"
    gamma_shape: float = 1.0
    concurrency: int = 1
    seed: int = 0
    warmup_queries: int = 2
    min_duration_s: float = 1.0
    # None = the fewest that can support the claimed percentile (validity.needed_queries: 64 for p90,
    # 662 for p99, LoadGen's early-stopping minimum), or 8 for a run that claims none.
    min_queries: int | None = None
    # None = long enough for the claim: for server, the seeded schedule's span of min_queries arrivals
    # (+10% and 1 s); otherwise max(60, 2 x min_duration_s). A cap stops the issuing of queries.
    max_duration_s: float | None = None
    max_queries: int = 100_000
    sweep: SweepConfig = field(default_factory=SweepConfig)
    # Server scenario: the bounded pool that issues scheduled requests; 0 = what the host's cores can
    # serve (runners.host.server_workers says the rule, and the record says the number and why).
    server_workers: int = 0
    # The latency percentile the run claims through early stopping (as LoadGen's *_target_latency_percentile):
    # None = the scenario's own (single-stream and concurrency p90, server p99, offline none); 0 = no claim.
    target_latency_percentile: float | None = None
    harness: str = "native"  # "loadgen": MLPerf LoadGen issues the queries (extra wattfleet[mlperf])
    expected_qps: float = 0.0  # loadgen harness, offline: LoadGen's offline_expected_qps; 0 = from the warm-up


@dataclass(frozen=True)
class SloConfig:
    """Service-level objectives for goodput; None = not part of the SLO."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2el_ms: float | None = None


@dataclass(frozen=True)
class QualityConfig:
    """A reference configuration to compare answers with (e.g. CPU fp32)."""

    reference_provider: str = ""  # "" = runtime.provider when reference_model is set, else no comparison
    # A second model file to compare with (e.g. the fp32 original of a quantised copy): a built-in name
    # or a path inside the model directories, the same rules as model.path; "" = the same model.
    reference_model: str = ""
    reference_precision: str = "fp32"
    # A run whose answers stray further than this from the reference is flagged in the summary.
    min_token_agreement: float = 0.9  # decoders: share of generated tokens equal to the reference's
    min_cosine: float = 0.99  # cosine similarity of logits / output tensors with the reference's


@dataclass(frozen=True)
class FiguresConfig:
    """How figures are computed from the raw timings (which the record always keeps)."""

    percentiles: str = "loadgen"  # "loadgen": sorted[floor(p/100*n)]; "vllm": numpy's linear interpolation


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    load: LoadConfig = field(default_factory=LoadConfig)
    slo: SloConfig = field(default_factory=SloConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    figures: FiguresConfig = field(default_factory=FiguresConfig)
    # [workload] (what is sent: the user's items, length distributions, a trace) and [task] (how answers
    # are scored): traffic/spec.py reads them
    traffic: TrafficConfig = field(default_factory=TrafficConfig)
    source: str = ""  # the file it came from, for error messages
    # The dotted keys the user wrote (file, overrides, flags), as opposed to defaults: decoder flags on a
    # fixed-shape model are refused only when given. Not part of equality.
    given: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


def sweeps_power_limit(load: LoadConfig) -> bool:
    """Whether a run of this load changes the device's power limit."""
    return load.scenario == "sweep" and load.sweep.over == "power_limit"
