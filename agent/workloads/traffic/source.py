"""What each query of a run sends, and how its answer is graded: a profile's [workload] and [task] turned
into a `PromptSource` for the scenarios. Everything is loaded and checked while the run is "preparing",
before any query runs, so a run never starts half-configured.

    check_files(profile, model_path)       # the agent, at StartRun: files readable, prompts tokenisable
    source = open_source(profile, runner)  # the driver, runner open: None = generated prompts as before
    req = source.request(n)                # query n: token ids, its output limit, its item (or None)
    answer = source.grade(req, output_ids)

Query n is a pure function of (profile, n): items by `ItemOrder`, lengths by `LengthSampler`, trace rows
in file order, random ids from a generator seeded with (load.seed, n). Every error is one ConfigError line
naming the file (and line) or the profile key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wattfleet.agent.figures.validity import inner_scenario
from wattfleet.agent.workloads.config import LoadConfig, Profile
from wattfleet.agent.workloads.traffic.items import Item, ItemFile, ItemOrder, Prompt, items_ran, load_items, prepare
from wattfleet.agent.workloads.traffic.lengths import LengthSampler
from wattfleet.agent.workloads.traffic.spec import TrafficConfig
from wattfleet.agent.workloads.traffic.task import Grader
from wattfleet.agent.workloads.traffic.tokenizer import Eos, TextTokenizer, find_eos
from wattfleet.agent.workloads.traffic.trace import Trace, load_trace, replay_offsets_ns, time_scale
from wattfleet.core.errors import ConfigError


@dataclass(frozen=True)
class Request:
    """What one query sends."""

    ids: Sequence[int]
    max_new_tokens: int
    item: Item | None = None


@dataclass(frozen=True)
class Answer:
    """One query's answer as the record keeps it (item_id "" = a generated prompt, nothing graded)."""

    item_id: str = ""
    correct: bool | None = None
    output_ids: tuple[int, ...] = ()


def uses_traffic(profile: Profile) -> bool:
    """Whether the profile shapes its own traffic ([workload] given); otherwise the scenarios send the
    seeded random prompts of load.prompt_tokens and run each to load.output_tokens, as before."""
    w = profile.traffic.workload
    return bool(w.items or w.trace or w.input_lengths or w.output_lengths
                or any(k.startswith("workload.") for k in profile.given))


@dataclass(frozen=True)
class Files:
    items: ItemFile | None = None
    trace: Trace | None = None
    trace_scale: float = 1.0


def load_files(traffic: TrafficConfig, load: LoadConfig) -> Files:
    """The items and trace files, read and validated (paths as resolved by the caller)."""
    w = traffic.workload
    items = load_items(w.items) if w.items else None
    trace = scale = None
    if w.trace:
        server = inner_scenario(load) == "server"
        trace = load_trace(w.trace, need_arrivals=server)
        scale = time_scale(trace, rate_scale=w.trace_rate_scale, rate_qps=w.trace_rate_qps) if server else 1.0
    return Files(items, trace, scale or 1.0)


def _model_name(profile: Profile, model_path: Path | None) -> str:
    if profile.model.builtin:
        return f"the built-in model {profile.model.builtin} (built-ins have no tokenizer.json)"
    return str(model_path or profile.model.path)


def check_files(profile: Profile, model_path: Path | None) -> None:
    """What can be checked without opening the model: the files parse, every text prompt has a tokenizer
    beside the model to go through, every expected answer suits the scorer (the agent calls this at
    StartRun, so a bad file is refused there). Vocabulary and context are checked by open_source."""
    files = load_files(profile.traffic, profile.load)
    if files.items is None:
        return
    name = _model_name(profile, model_path)
    tok = TextTokenizer.beside(model_path) if model_path is not None and not profile.model.builtin else None
    prepare(files.items, tok, default_max_output_tokens=1, vocab_size=sys.maxsize, max_context=sys.maxsize,
            model_name=name)
    Grader(files.items, profile.traffic.task, tok, (), model_name=name)


def _file_block(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"path": str(path), "sha256": hashlib.sha256(data).hexdigest()}


class PromptSource:
    """Query n's prompt, output limit and grading (thread-safe: every draw is a pure function of n)."""

    def __init__(self, profile: Profile, files: Files, *, vocab_size: int, eos: Eos, stop_at_eos: bool,
                 prompts: Sequence[Prompt] = (), grader: Grader | None = None,
                 tokenizer: TextTokenizer | None = None) -> None:
        w, load = profile.traffic.workload, profile.load
        self.files = files
        self.load = load
        self.vocab_size = vocab_size
        self.eos = eos
        self.stop_at_eos = stop_at_eos
        self.eos_ids = eos.ids if stop_at_eos else ()
        self.prompts = list(prompts)
        self.grader = grader
        self.tokenizer = tokenizer
        self.order = ItemOrder(len(self.prompts), w.order, load.seed) if self.prompts else None
        self.inputs = LengthSampler(w.input_lengths, load.seed) if w.input_lengths else None
        self.outputs = LengthSampler(w.output_lengths, load.seed + 1) if w.output_lengths else None
        self.input_dist, self.output_dist = w.input_lengths, w.output_lengths

    @property
    def uses_items(self) -> bool:
        return self.order is not None

    @property
    def replays_arrivals(self) -> bool:
        """Whether the server scenario takes its arrivals from the trace."""
        return self.files.trace is not None and self.files.trace.has_arrivals and _trace_arrivals_of(self.load)

    def _random_ids(self, n: int, length: int) -> list[int]:
        ids: list[int] = np.random.default_rng([self.load.seed, n]).integers(0, self.vocab_size, length).tolist()
        return ids

    def request(self, n: int) -> Request:
        """What query n sends (n = its query id, so warm-up queries take 0..w-1)."""
        if self.order is not None:
            p = self.prompts[self.order.index(n)]
            return Request(p.ids, p.max_output_tokens, p.item)
        if self.files.trace is not None:
            row = self.files.trace.row(n)
            return Request(self._random_ids(n, row.input_tokens), row.output_tokens)
        length = self.inputs.at(n) if self.inputs is not None else self.load.prompt_tokens
        limit = self.outputs.at(n) if self.outputs is not None else self.load.output_tokens
        return Request(self._random_ids(n, length), limit)

    def grade(self, request: Request, output_ids: Sequence[int]) -> Answer:
        if request.item is None or self.grader is None:
            return Answer()
        graded = self.grader.grade(request.item, output_ids)
        return Answer(request.item.item_id, graded.correct, tuple(int(t) for t in output_ids))

    def schedule_ns(self, load: LoadConfig) -> list[int]:
        """The server scenario's arrivals: the trace replayed once, gaps divided by its scale, cut at
        max_queries and max_duration_s (`load` with its defaults resolved)."""
        assert self.files.trace is not None
        return replay_offsets_ns(self.files.trace, self.files.trace_scale, max_queries=load.max_queries,
                                 max_duration_s=load.max_duration_s)

    def resolve_load(self, load: LoadConfig) -> LoadConfig:
        """A replayed trace sets how long a server run may take: its scaled span (+10% and 1 s) when
        load.max_duration_s is left to its default."""
        if not self.replays_arrivals or load.max_duration_s is not None:
            return load
        assert self.files.trace is not None
        span_s = self.files.trace.span_s() / self.files.trace_scale
        return dataclasses.replace(load, max_duration_s=max(load.min_duration_s, span_s) * 1.1 + 1.0)

    def environment(self) -> dict[str, Any]:
        """What the record's environment says: the EOS ids (and whether generation stops at them) and the
        tokenizer used."""
        env: dict[str, Any] = {"eos": {**self.eos.to_dict(), "stop_at_eos": self.stop_at_eos}}
        if self.tokenizer is not None:
            env["tokenizer"] = {**_file_block(self.tokenizer.path), "vocab_size": self.tokenizer.vocab_size}
        return env

    def record_block(self, query_ids: Iterable[int], warmup_ids: Sequence[int] = ()) -> dict[str, Any]:
        """The record's `workload` block: what was sent (only what was used)."""
        out: dict[str, Any] = {"stop_at_eos": self.stop_at_eos}
        if self.order is not None and self.files.items is not None:
            out["items"] = items_ran(self.files.items, self.order, query_ids, warmup_ids)
        if self.files.trace is not None:
            out["trace"] = {**self.files.trace.to_dict(), "scale": self.files.trace_scale,
                            "arrivals_replayed": self.replays_arrivals}
        lengths = {k: d.to_dict() for k, d in (("input", self.input_dist), ("output", self.output_dist)) if d}
        if lengths:
            out["lengths"] = lengths
        return out


def _trace_arrivals_of(load: LoadConfig) -> bool:
    return inner_scenario(load) == "server"


def _check_context(profile: Profile, files: Files, max_context: int, model_name: str) -> None:
    """Random-id prompts: the longest prompt plus the longest output must fit the context."""
    w, load = profile.traffic.workload, profile.load
    if files.trace is not None:
        for row in files.trace.rows:
            if row.input_tokens + row.output_tokens > max_context:
                raise ConfigError(f"{files.trace.path}:{row.line}: {row.input_tokens} input + {row.output_tokens} "
                                  f"output tokens exceed the context of {model_name} ({max_context}); cut the "
                                  "row or use a model with a longer context")
        return
    longest_in = w.input_lengths.upper if w.input_lengths else load.prompt_tokens
    longest_out = w.output_lengths.upper if w.output_lengths else load.output_tokens
    if longest_in + longest_out > max_context:
        key = "workload.input_lengths" if w.input_lengths else "workload.output_lengths"
        raise ConfigError(f"{profile.source or profile.name}: {key}: prompts up to {longest_in} tokens + outputs up "
                          f"to {longest_out} tokens exceed the context of {model_name} ({max_context}); lower max")


def open_source(profile: Profile, runner: Any, files: Files | None = None) -> PromptSource | None:
    """The prompt source of a profile, every file loaded (unless given, from load_files) and checked against
    the open runner; None when the profile has no [workload] (generated prompts, fixed output length)."""
    if not uses_traffic(profile):
        return None
    if runner.kind != "generative":
        raise ConfigError(f"{profile.source or profile.name}: workload: prompts, lengths and traces are for "
                          f"decoders; {runner.model.name} runs fixed-shape inference")
    files = files or load_files(profile.traffic, profile.load)
    model_path: Path = runner.model.path
    name = _model_name(profile, model_path)
    tok = None
    if files.items is not None and not profile.model.builtin:
        tok = TextTokenizer.beside(model_path, add_special_tokens=profile.traffic.workload.add_special_tokens)
    eos = find_eos(model_path, runner.model.metadata, tok, runner.model.export)
    stop = profile.traffic.workload.stop_at_eos and bool(eos.ids)
    prompts: list[Prompt] = []
    grader = None
    if files.items is not None:
        prompts = prepare(files.items, tok, default_max_output_tokens=profile.load.output_tokens,
                          vocab_size=runner.vocab_size, max_context=runner.max_context, model_name=name)
        grader = Grader(files.items, profile.traffic.task, tok, eos.ids, model_name=name)
    else:
        _check_context(profile, files, runner.max_context, name)
    return PromptSource(profile, files, vocab_size=runner.vocab_size, eos=eos, stop_at_eos=stop, prompts=prompts,
                        grader=grader, tokenizer=tok)
