"""Text prompts through the tokenizer.json that optimum exports beside a model, and the model's EOS ids.

`TextTokenizer.beside(model_path)` finds `tokenizer.json` in the model's folder (None when there is none);
`find_eos(model_path, metadata, tokenizer, export)` says which token ids end generation and where that came
from: the `eos_token_id` of generation_config.json, then config.json (an id or a list of ids; read once,
by runners/export_config.py, the one reader of those files, into the runner's `model.export`), then the
`eos_token` named in tokenizer_config.json or special_tokens_map.json looked up in tokenizer.json, then an
`eos_token_id` in the ONNX model's metadata (our built-in decoders write one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from wattfleet.core.errors import ConfigError

TOKENIZER_FILE = "tokenizer.json"


class TextTokenizer:
    """A `tokenizers.Tokenizer` loaded from a tokenizer.json; encode() and decode() as Hugging Face do."""

    def __init__(self, path: Path, *, add_special_tokens: bool = True) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - the agent extra installs it
            raise ConfigError(f"{path}: reading a tokenizer needs the `tokenizers` package; install "
                              "'wattfleet[agent]'") from exc
        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises its own Exception subclass with the parser's message
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"{path}: not a tokenizer.json the `tokenizers` library can read ({first}); "
                              "export it with optimum or save it with Tokenizer.save()") from exc
        self.path = path
        self.add_special_tokens = add_special_tokens

    @classmethod
    def beside(cls, model_path: Path, *, add_special_tokens: bool = True) -> TextTokenizer | None:
        """The tokenizer.json in the model file's folder, or None when there is none."""
        path = model_path.parent / TOKENIZER_FILE
        return cls(path, add_special_tokens=add_special_tokens) if path.is_file() else None

    @property
    def vocab_size(self) -> int:
        """Ids the tokenizer knows, added tokens included."""
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=self.add_special_tokens).ids)

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = True) -> str:
        return str(self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def token_id(self, token: str) -> int | None:
        found = self._tok.token_to_id(token)
        return None if found is None else int(found)


class ExportEos(Protocol):
    """What find_eos reads of runners.export_config.ExportConfig."""

    @property
    def eos_token_ids(self) -> tuple[int, ...]: ...
    @property
    def eos_source(self) -> str: ...


@dataclass(frozen=True)
class Eos:
    """Token ids that end generation, and the file (or metadata key) that said so; ids () = none found."""

    ids: tuple[int, ...]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"ids": list(self.ids), "source": self.source}


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not JSON ({exc.msg}); fix or remove the file") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _eos_ids(value: Any, where: str) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
        raise ConfigError(f"{where}: eos_token_id must be a token id >= 0 or a list of them, got {value!r}")
    return tuple(dict.fromkeys(values))  # unique, in the order given


def _named_eos(data: Mapping[str, Any]) -> str | None:
    token = data.get("eos_token")
    if isinstance(token, dict):
        token = token.get("content")
    return token if isinstance(token, str) and token else None


def find_eos(model_path: Path, metadata: Mapping[str, str] | None = None,
             tokenizer: TextTokenizer | None = None, export: ExportEos | None = None) -> Eos:
    """The model's end-of-sequence ids (see the module docstring for the order of sources). `export` is the
    runner's `model.export` (empty for a built-in, which has nothing beside it); None reads the files beside
    `model_path` through the same reader."""
    if export is None:
        from wattfleet.agent.workloads.runners.export_config import read_export_config  # onnx: load late

        export = read_export_config(model_path)
    if export.eos_token_ids:
        return Eos(tuple(dict.fromkeys(export.eos_token_ids)), export.eos_source)
    folder = model_path.parent
    if tokenizer is not None:
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            data = _read_json(folder / name)
            token = _named_eos(data) if data is not None else None
            if token is None:
                continue
            found = tokenizer.token_id(token)
            if found is None:
                raise ConfigError(f"{folder / name}: eos_token {token!r} is not in {tokenizer.path}; the two "
                                  "files do not belong together")
            return Eos((found,), f"eos_token {token!r} in {folder / name}")
    raw = (metadata or {}).get("eos_token_id", "")
    if raw:
        try:
            ids = [int(x) for x in raw.split(",")]
        except ValueError as exc:
            raise ConfigError(f"{model_path}: metadata eos_token_id {raw!r} is not a list of ids") from exc
        return Eos(_eos_ids(ids, f"{model_path}: metadata"), f"eos_token_id in the metadata of {model_path.name}")
    return Eos((), "none found: generation runs to each request's limit")
