"""Greedy decoding with the KV cache on any decoder-only ONNX model that follows the optimum convention."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from wattfleet.core.errors import ConfigError, UsageError

_PAST = re.compile(r"^past_key_values\.(\d+)\.(key|value)$")
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
OnToken = Callable[[int, int, int], None]


@dataclass(frozen=True)
class DecoderLayout:
    """What the graph says about itself: layers, KV heads, head size, dtype, vocabulary, optional inputs.

    `cache` is False for a graph without past_key_values (layers, kv_heads and head_dim are then 0)."""

    layers: int
    kv_heads: int
    head_dim: int
    dtype: type[np.generic]
    vocab_size: int
    position_ids: bool
    cache: bool = True
    attention_mask: bool = True

    @property
    def dtype_name(self) -> str:
        return "fp16" if self.dtype is np.float16 else "fp32"


def _static(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _vocab(outputs: dict[str, Any], path: Path, metadata: dict[str, str], dims: dict[str, int]) -> int:
    vocab = (_static(outputs["logits"].shape[-1]) or _static(dims.get("vocab_size"))
             or _static(int(metadata.get("vocab_size", "0") or 0)))
    if vocab is None:
        raise ConfigError(f"{path}: the vocabulary size is symbolic in `logits` {outputs['logits'].shape} "
                          "and not in the model metadata; set model.dims.vocab_size in the profile")
    return vocab


def _no_cache_layout(session: ort.InferenceSession, path: Path, metadata: dict[str, str],
                     dims: dict[str, int]) -> DecoderLayout:
    """A decoder exported without past_key_values: input_ids in, logits [batch, seq, vocab] out."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    missing = [n for n in ("input_ids",) if n not in inputs] + [n for n in ("logits",) if n not in outputs]
    if missing:
        raise ConfigError(f"{path}: model.kind 'decoder-no-cache' needs an `input_ids` input and a `logits` "
                          f"output; missing {missing} (it has inputs {sorted(inputs)} and outputs "
                          f"{sorted(outputs)}). Set model.kind = 'fixed' to run it on generated inputs")
    extra = sorted(set(inputs) - {"input_ids", "attention_mask", "position_ids"})
    if extra:
        raise ConfigError(f"{path}: a no-cache decoder is fed input_ids, attention_mask and position_ids only; "
                          f"this graph also wants {extra}. Set model.kind = 'fixed' to run it on generated inputs")
    logits = outputs["logits"]
    if logits.type not in _DTYPES or len(logits.shape) != 3:
        raise ConfigError(f"{path}: `logits` is {logits.type} {logits.shape}; a decoder's logits are "
                          "[batch, sequence, vocab] in float or float16")
    return DecoderLayout(layers=0, kv_heads=0, head_dim=0, dtype=_DTYPES[logits.type],
                         vocab_size=_vocab(outputs, path, metadata, dims), position_ids="position_ids" in inputs,
                         cache=False, attention_mask="attention_mask" in inputs)


def inspect_decoder(session: ort.InferenceSession, path: Path, metadata: dict[str, str],
                    dims: dict[str, int], kind: str = "decoder") -> DecoderLayout:
    """Read the layout from the session's inputs and outputs; refuse a model that breaks the convention.

    kind "decoder" needs the KV cache; "decoder-no-cache" runs a graph with or without one (with one, its
    past is fed empty every step)."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    layers = sorted({int(m.group(1)) for name in inputs if (m := _PAST.match(name))})
    if not layers and kind == "decoder-no-cache":
        return _no_cache_layout(session, path, metadata, dims)
    missing_in = [n for n in ("input_ids", "attention_mask") if n not in inputs]
    missing_out = [] if "logits" in outputs else ["logits"]
    if not layers:
        missing_in.append("past_key_values.0.key")
    for i in range(max(layers, default=-1) + 1):
        for kind_ in ("key", "value"):
            if f"past_key_values.{i}.{kind_}" not in inputs:
                missing_in.append(f"past_key_values.{i}.{kind_}")
            if f"present.{i}.{kind_}" not in outputs:
                missing_out.append(f"present.{i}.{kind_}")
    if missing_in or missing_out:
        raise ConfigError(
            f"{path} is not a decoder-only model with a KV cache in the optimum export convention: missing "
            f"inputs {missing_in or 'none'}, missing outputs {missing_out or 'none'} (it has inputs "
            f"{sorted(inputs)} and outputs {sorted(outputs)}). Export it with `optimum-cli export onnx "
            "--task text-generation-with-past`, or set model.kind = 'decoder-no-cache' (full recompute per "
            "token) or 'fixed' (one inference on generated inputs)")
    past = inputs["past_key_values.0.key"]
    if past.type not in _DTYPES:
        raise ConfigError(f"{path}: past_key_values.0.key is {past.type}; expected tensor(float) or "
                          "tensor(float16)")
    kv_heads, head_dim = _static(past.shape[1]), _static(past.shape[3])
    if kv_heads is None or head_dim is None:
        raise ConfigError(f"{path}: past_key_values.0.key has shape {past.shape}; the KV-head and head "
                          "dimensions (axes 1 and 3) must be fixed numbers")
    return DecoderLayout(layers=len(layers), kv_heads=kv_heads, head_dim=head_dim, dtype=_DTYPES[past.type],
                         vocab_size=_vocab(outputs, path, metadata, dims), position_ids="position_ids" in inputs)


class DecodeLoop:
    """Greedy generation over one session. Stateless between calls, so several threads may share it.

    `recompute` feeds the whole sequence every step and keeps no cache (model.kind "decoder-no-cache");
    otherwise the KV cache carries the past and each step feeds one new token per prompt.
    """

    def __init__(self, session: ort.InferenceSession, layout: DecoderLayout, max_context: int,
                 *, device: str = "", device_id: int = 0, recompute: bool = False) -> None:
        self.session: ort.InferenceSession | None = session
        self.layout = layout
        self.max_context = max_context
        self.device = device  # "" = plain session.run with numpy; "cuda"/"cpu" = IOBinding on that device
        self.device_id = device_id
        self.recompute = recompute or not layout.cache
        self.past_names = [f"past_key_values.{i}.{k}" for i in range(layout.layers) for k in ("key", "value")]
        self.present_names = [f"present.{i}.{k}" for i in range(layout.layers) for k in ("key", "value")]
        self.output_names = ["logits", *self.present_names]

    def _session(self) -> ort.InferenceSession:
        if self.session is None:
            raise UsageError("this decode loop's runner is closed; open a new one with open_runner()")
        return self.session

    def check(self, prompts: Sequence[Sequence[int]],
              max_new_tokens: int | Sequence[int]) -> tuple[np.ndarray, list[int]]:
        """The prompts as one [batch, length] array and each prompt's limit; refuses what cannot run."""
        if not prompts:
            raise UsageError("generate() needs at least one prompt")
        lengths = {len(p) for p in prompts}
        if len(lengths) != 1 or 0 in lengths:
            raise UsageError(f"prompts in one batch must share one non-zero length; got lengths {sorted(lengths)}")
        if isinstance(max_new_tokens, int):
            limits = [max_new_tokens] * len(prompts)
        else:
            limits = [int(n) for n in max_new_tokens]
            if len(limits) != len(prompts):
                raise UsageError(f"max_new_tokens has {len(limits)} limits for {len(prompts)} prompts; give one "
                                 "per prompt, or one int for all")
        if min(limits) < 1:
            raise UsageError(f"max_new_tokens must be at least 1, got {min(limits)}")
        ids = np.asarray(prompts, dtype=np.int64)
        if ids.min() < 0 or ids.max() >= self.layout.vocab_size:
            raise UsageError(f"prompt token ids must be in [0, {self.layout.vocab_size}); "
                             f"got {int(ids.min())}..{int(ids.max())}")
        total = ids.shape[1] + max(limits)
        if total > self.max_context:
            raise UsageError(f"prompt of {ids.shape[1]} tokens + {max(limits)} new tokens = {total} exceeds "
                             f"the model's context of {self.max_context}; shorten prompt_tokens or output_tokens")
        return ids, limits

    def _step_feeds(self, ids: np.ndarray, past_len: int) -> dict[str, np.ndarray]:
        batch, seq = ids.shape
        feeds = {"input_ids": ids, "attention_mask": np.ones((batch, past_len + seq), dtype=np.int64)}
        if self.layout.position_ids:
            if seq == 1:  # decode steps: the cheapest way to build [[past_len]] * batch
                feeds["position_ids"] = np.full((batch, 1), past_len, dtype=np.int64)
            else:
                feeds["position_ids"] = np.tile(np.arange(past_len, past_len + seq, dtype=np.int64), (batch, 1))
        return feeds

    def _full_feeds(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """The whole sequence, with an empty past where the graph has a cache input."""
        feeds = self._step_feeds(ids, 0)
        if not self.layout.attention_mask:
            del feeds["attention_mask"]
        if self.past_names:
            empty = np.zeros((ids.shape[0], self.layout.kv_heads, 0, self.layout.head_dim), dtype=self.layout.dtype)
            feeds.update(dict.fromkeys(self.past_names, empty))
        return feeds

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int | Sequence[int],
                 on_token: OnToken | None = None,
                 eos_token_id: int | Sequence[int] | None = None) -> list[list[int]]:
        """Greedy tokens per prompt. Each prompt stops at its own limit or after producing an EOS token
        (which is returned, timestamped and counted, as vLLM counts it); None = no EOS stop. Finished
        prompts stay in the batch (static batching) but report nothing more."""
        ids, limits = self.check(prompts, max_new_tokens)
        eos = () if eos_token_id is None else (eos_token_id,) if isinstance(eos_token_id, int) else tuple(eos_token_id)
        stops = _Stops(limits, eos) if eos or len(set(limits)) > 1 else None
        steps = max(limits)
        if self.recompute:
            out = self._generate_full(ids, steps, on_token, stops)
        elif self.device:
            out = self._generate_bound(ids, steps, on_token, stops)
        else:
            out = self._generate_plain(ids, steps, on_token, stops)
        tokens: list[list[int]] = (out.tolist() if stops is None
                                   else [out[b, :n].tolist() for b, n in enumerate(stops.lengths.tolist())])
        return tokens

    def _generate_plain(self, ids: np.ndarray, steps: int, on_token: OnToken | None,
                        stops: _Stops | None) -> np.ndarray:
        batch = ids.shape[0]
        empty = np.zeros((batch, self.layout.kv_heads, 0, self.layout.head_dim), dtype=self.layout.dtype)
        past: list[np.ndarray] = [empty] * len(self.past_names)
        out = np.empty((batch, steps), dtype=np.int64)
        past_len = 0
        run = self._session().run
        for step in range(steps):
            feeds = self._step_feeds(ids, past_len)
            feeds.update(zip(self.past_names, past, strict=True))
            results = run(self.output_names, feeds)
            token = results[0][:, -1, :].argmax(axis=-1)
            past_len += ids.shape[1]
            next_ids = _advance(out, step, token, on_token, stops)
            if next_ids is None:
                break
            ids = next_ids
            past = results[1:]
        return out

    def _generate_bound(self, ids: np.ndarray, steps: int, on_token: OnToken | None,
                        stops: _Stops | None) -> np.ndarray:
        """The same loop with IOBinding: the KV cache stays on the device, only logits come to the host."""
        batch = ids.shape[0]
        empty = np.zeros((batch, self.layout.kv_heads, 0, self.layout.head_dim), dtype=self.layout.dtype)
        past: list[ort.OrtValue] = [ort.OrtValue.ortvalue_from_numpy(empty, self.device, self.device_id)
                                    for _ in self.past_names]
        out = np.empty((batch, steps), dtype=np.int64)
        past_len = 0
        session = self._session()
        for step in range(steps):
            binding = session.io_binding()
            for name, value in self._step_feeds(ids, past_len).items():
                binding.bind_cpu_input(name, value)
            for name, value in zip(self.past_names, past, strict=True):
                binding.bind_ortvalue_input(name, value)
            binding.bind_output("logits", "cpu")
            for name in self.present_names:
                binding.bind_output(name, self.device, self.device_id)
            session.run_with_iobinding(binding)
            results = binding.get_outputs()
            token = results[0].numpy()[:, -1, :].argmax(axis=-1)
            past_len += ids.shape[1]
            next_ids = _advance(out, step, token, on_token, stops)
            if next_ids is None:
                break
            ids = next_ids
            past = [results[i] for i in range(1, len(results))]
        return out

    def _generate_full(self, ids: np.ndarray, steps: int, on_token: OnToken | None,
                       stops: _Stops | None) -> np.ndarray:
        """No cache: every step runs the whole sequence so far and reads the last position's logits."""
        batch, length = ids.shape
        seq = np.empty((batch, length + steps), dtype=np.int64)
        seq[:, :length] = ids
        out = np.empty((batch, steps), dtype=np.int64)
        run = self._session().run
        for step in range(steps):
            logits = run(["logits"], self._full_feeds(np.ascontiguousarray(seq[:, :length + step])))[0]
            token = logits[:, -1, :].argmax(axis=-1)
            seq[:, length + step] = token
            if _advance(out, step, token, on_token, stops) is None:
                break
        return out

    def prefill_logits(self, prompts: Sequence[Sequence[int]]) -> np.ndarray:
        """Logits at the last prompt position, [batch, vocab] as float32 (for quality comparisons)."""
        ids, _ = self.check(prompts, 1)
        logits = self._session().run(["logits"], self._full_feeds(ids))[0]
        return np.asarray(logits[:, -1, :], dtype=np.float32)


def _emit(out: np.ndarray, step: int, token: np.ndarray, on_token: OnToken | None) -> np.ndarray:
    """Timestamp one decode step's tokens (now, as they reach the host), store them, report each to
    on_token, and return them as the next step's input_ids."""
    t_ns = time.monotonic_ns()
    out[:, step] = token
    if on_token is not None:
        for b in range(token.shape[0]):
            on_token(b, step, t_ns)
    return token.reshape(-1, 1).astype(np.int64)


def _advance(out: np.ndarray, step: int, token: np.ndarray, on_token: OnToken | None,
             stops: _Stops | None) -> np.ndarray | None:
    """Record one decode step (every loop's shared tail): the next step's input_ids, or None once every
    prompt has stopped at its limit or end-of-sequence token."""
    if stops is None:
        return _emit(out, step, token, on_token)
    if stops.emit(out, step, token, on_token):
        return None
    return token.reshape(-1, 1).astype(np.int64)


class _Stops:
    """Per-prompt limits and end-of-sequence tokens: which prompts still produce, and how many each has."""

    def __init__(self, limits: Sequence[int], eos: Sequence[int]) -> None:
        self.limits = np.asarray(limits, dtype=np.int64)
        self.eos = np.asarray(sorted(set(eos)), dtype=np.int64)
        self.lengths = np.zeros(len(limits), dtype=np.int64)
        self.alive = np.ones(len(limits), dtype=bool)

    def emit(self, out: np.ndarray, step: int, token: np.ndarray, on_token: OnToken | None) -> bool:
        """Like _emit for the prompts still producing; True once every prompt has stopped."""
        t_ns = time.monotonic_ns()
        out[:, step] = token
        rows = np.flatnonzero(self.alive)
        if on_token is not None:
            for b in rows.tolist():
                on_token(b, step, t_ns)
        self.lengths[rows] = step + 1
        ended = self.limits <= step + 1
        if self.eos.size:
            ended |= np.isin(token, self.eos)
        self.alive &= ~ended
        return not self.alive.any()
