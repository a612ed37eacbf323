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
    """What the graph says about itself: layers, KV heads, head size, dtype, vocabulary."""

    layers: int
    kv_heads: int
    head_dim: int
    dtype: type[np.generic]
    vocab_size: int
    position_ids: bool

    @property
    def dtype_name(self) -> str:
        return "fp16" if self.dtype is np.float16 else "fp32"


def _static(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def inspect_decoder(session: ort.InferenceSession, path: Path, metadata: dict[str, str],
                    dims: dict[str, int]) -> DecoderLayout:
    """Read the layout from the session's inputs and outputs; refuse a model that breaks the convention."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    layers = sorted({int(m.group(1)) for name in inputs if (m := _PAST.match(name))})
    missing_in = [n for n in ("input_ids", "attention_mask") if n not in inputs]
    missing_out = [] if "logits" in outputs else ["logits"]
    if not layers:
        missing_in.append("past_key_values.0.key")
    for i in range(max(layers, default=-1) + 1):
        for kind in ("key", "value"):
            if f"past_key_values.{i}.{kind}" not in inputs:
                missing_in.append(f"past_key_values.{i}.{kind}")
            if f"present.{i}.{kind}" not in outputs:
                missing_out.append(f"present.{i}.{kind}")
    if missing_in or missing_out:
        raise ConfigError(
            f"{path} is not a decoder-only model in the optimum export convention: missing inputs "
            f"{missing_in or 'none'}, missing outputs {missing_out or 'none'} (it has inputs "
            f"{sorted(inputs)} and outputs {sorted(outputs)}). Export it with `optimum-cli export onnx "
            "--task text-generation-with-past`, or run it as a fixed-shape model")
    past = inputs["past_key_values.0.key"]
    if past.type not in _DTYPES:
        raise ConfigError(f"{path}: past_key_values.0.key is {past.type}; expected tensor(float) or "
                          "tensor(float16)")
    kv_heads, head_dim = _static(past.shape[1]), _static(past.shape[3])
    if kv_heads is None or head_dim is None:
        raise ConfigError(f"{path}: past_key_values.0.key has shape {past.shape}; the KV-head and head "
                          "dimensions (axes 1 and 3) must be fixed numbers")
    vocab = (_static(outputs["logits"].shape[-1]) or _static(dims.get("vocab_size"))
             or _static(int(metadata.get("vocab_size", "0") or 0)))
    if vocab is None:
        raise ConfigError(f"{path}: the vocabulary size is symbolic in `logits` {outputs['logits'].shape} "
                          "and not in the model metadata; set model.dims.vocab_size in the profile")
    return DecoderLayout(layers=len(layers), kv_heads=kv_heads, head_dim=head_dim,
                         dtype=_DTYPES[past.type], vocab_size=vocab, position_ids="position_ids" in inputs)


class DecodeLoop:
    """Greedy generation over one session. Stateless between calls, so several threads may share it."""

    def __init__(self, session: ort.InferenceSession, layout: DecoderLayout, max_context: int,
                 *, device: str = "", device_id: int = 0) -> None:
        self.session: ort.InferenceSession | None = session
        self.layout = layout
        self.max_context = max_context
        self.device = device  # "" = plain session.run with numpy; "cuda"/"cpu" = IOBinding on that device
        self.device_id = device_id
        self.past_names = [f"past_key_values.{i}.{k}" for i in range(layout.layers) for k in ("key", "value")]
        self.present_names = [f"present.{i}.{k}" for i in range(layout.layers) for k in ("key", "value")]
        self.output_names = ["logits", *self.present_names]

    def _session(self) -> ort.InferenceSession:
        if self.session is None:
            raise UsageError("this decode loop's runner is closed; open a new one with open_runner()")
        return self.session

    def check(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> np.ndarray:
        if not prompts:
            raise UsageError("generate() needs at least one prompt")
        lengths = {len(p) for p in prompts}
        if len(lengths) != 1 or 0 in lengths:
            raise UsageError(f"prompts in one batch must share one non-zero length; got lengths {sorted(lengths)}")
        if max_new_tokens < 1:
            raise UsageError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        ids = np.asarray(prompts, dtype=np.int64)
        if ids.min() < 0 or ids.max() >= self.layout.vocab_size:
            raise UsageError(f"prompt token ids must be in [0, {self.layout.vocab_size}); "
                             f"got {int(ids.min())}..{int(ids.max())}")
        total = ids.shape[1] + max_new_tokens
        if total > self.max_context:
            raise UsageError(f"prompt of {ids.shape[1]} tokens + {max_new_tokens} new tokens = {total} exceeds "
                             f"the model's context of {self.max_context}; shorten prompt_tokens or output_tokens")
        return ids

    def _step_feeds(self, ids: np.ndarray, past_len: int) -> dict[str, np.ndarray]:
        batch, seq = ids.shape
        feeds = {"input_ids": ids, "attention_mask": np.ones((batch, past_len + seq), dtype=np.int64)}
        if self.layout.position_ids:
            if seq == 1:  # decode steps: the cheapest way to build [[past_len]] * batch
                feeds["position_ids"] = np.full((batch, 1), past_len, dtype=np.int64)
            else:
                feeds["position_ids"] = np.tile(np.arange(past_len, past_len + seq, dtype=np.int64), (batch, 1))
        return feeds

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int,
                 on_token: OnToken | None = None) -> list[list[int]]:
        ids = self.check(prompts, max_new_tokens)
        if self.device:
            return self._generate_bound(ids, max_new_tokens, on_token)
        batch = ids.shape[0]
        empty = np.zeros((batch, self.layout.kv_heads, 0, self.layout.head_dim), dtype=self.layout.dtype)
        past: list[np.ndarray] = [empty] * len(self.past_names)
        out = np.empty((batch, max_new_tokens), dtype=np.int64)
        past_len = 0
        run = self._session().run
        for step in range(max_new_tokens):
            feeds = self._step_feeds(ids, past_len)
            feeds.update(zip(self.past_names, past, strict=True))
            results = run(self.output_names, feeds)
            token = results[0][:, -1, :].argmax(axis=-1)
            past_len += ids.shape[1]
            ids = _emit(out, step, token, on_token)
            past = results[1:]
        return out.tolist()

    def _generate_bound(self, ids: np.ndarray, max_new_tokens: int,
                        on_token: OnToken | None) -> list[list[int]]:
        """The same loop with IOBinding: the KV cache stays on the device, only logits come to the host."""
        batch = ids.shape[0]
        empty = np.zeros((batch, self.layout.kv_heads, 0, self.layout.head_dim), dtype=self.layout.dtype)
        past: list[ort.OrtValue] = [ort.OrtValue.ortvalue_from_numpy(empty, self.device, self.device_id)
                                    for _ in self.past_names]
        out = np.empty((batch, max_new_tokens), dtype=np.int64)
        past_len = 0
        session = self._session()
        for step in range(max_new_tokens):
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
            ids = _emit(out, step, token, on_token)
            past = [results[i] for i in range(1, len(results))]
        return out.tolist()

    def prefill_logits(self, prompts: Sequence[Sequence[int]]) -> np.ndarray:
        """Logits at the last prompt position, [batch, vocab] as float32 (for quality comparisons)."""
        ids = self.check(prompts, 1)
        batch = ids.shape[0]
        empty = np.zeros((batch, self.layout.kv_heads, 0, self.layout.head_dim), dtype=self.layout.dtype)
        feeds = self._step_feeds(ids, 0)
        feeds.update(dict.fromkeys(self.past_names, empty))
        logits = self._session().run(["logits"], feeds)[0]
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
