"""The user's own prompts: a JSONL file of items, strictly read, drawn in a seeded order.

One JSON object a line (blank lines are skipped):

    {"id": "q1", "prompt": "What is 12 + 30?", "expected": "42", "max_output_tokens": 16}
    {"prompt_ids": [464, 3797, 3332], "expected": [13, 198]}

`prompt` (text, tokenised with the model's tokenizer.json) or `prompt_ids` (token ids), exactly one;
`expected` (text, token ids, or a number) and `max_output_tokens` (>= 1) and `id` (string or integer,
unique; default "line:N") are optional. Every error is one line naming the file and line number.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from wattfleet.core.errors import ConfigError

ORDERS = ("seeded", "file")
KEYS = ("id", "prompt", "prompt_ids", "expected", "max_output_tokens")
Expected = str | tuple[int, ...] | int | float | None


class Encoder(Protocol):
    """What items need of a tokenizer (tokenizer.TextTokenizer is one)."""

    def encode(self, text: str) -> list[int]: ...


@dataclass(frozen=True)
class Item:
    """One line of an items file, as written (prompt not yet tokenised)."""

    line: int  # 1-based line number in the file
    item_id: str
    prompt_text: str | None = None
    prompt_ids: tuple[int, ...] | None = None
    expected: Expected = None  # str (text), tuple (token ids), int/float (a number), None (not scored)
    max_output_tokens: int | None = None


@dataclass(frozen=True)
class ItemFile:
    path: Path
    sha256: str
    items: tuple[Item, ...]

    def where(self, item: Item) -> str:
        return f"{self.path}:{item.line}"


@dataclass(frozen=True)
class Prompt:
    """An item ready to run: its token ids and its output limit (the item's own, else the profile's)."""

    item: Item
    ids: tuple[int, ...]
    max_output_tokens: int


def _ids(value: Any, where: str, key: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: {key} must be a non-empty list of token ids, got {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(f"{where}: {key} must hold integers >= 0, got {v!r}")
    return tuple(value)


def parse_item(obj: Any, line: int, where: str) -> Item:
    """One JSON value from line `line` of the file (`where` is "file:line")."""
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: expected a JSON object like {{\"prompt\": \"...\"}}, got {type(obj).__name__}")
    unknown = [k for k in obj if k not in KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; expected {', '.join(KEYS)}")
    has_text, has_ids = "prompt" in obj, "prompt_ids" in obj
    if not has_text and not has_ids:
        raise ConfigError(f"{where}: item has neither prompt (text) nor prompt_ids (token ids); give one")
    if has_text and has_ids:
        raise ConfigError(f"{where}: item has both prompt and prompt_ids; give one")
    text = obj.get("prompt")
    if has_text and (not isinstance(text, str) or not text):
        raise ConfigError(f"{where}: prompt must be a non-empty string, got {text!r}")
    ids = _ids(obj["prompt_ids"], where, "prompt_ids") if has_ids else None
    expected: Expected = None
    if "expected" in obj:
        raw = obj["expected"]
        if isinstance(raw, list):
            expected = _ids(raw, where, "expected")
        elif isinstance(raw, str) or (isinstance(raw, (int, float)) and not isinstance(raw, bool)):
            expected = raw
        else:
            raise ConfigError(f"{where}: expected must be text, a list of token ids or a number, got {raw!r}")
    limit = obj.get("max_output_tokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"{where}: max_output_tokens must be an integer >= 1, got {limit!r}")
    item_id = obj.get("id", f"line:{line}")
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or item_id == "":
        raise ConfigError(f"{where}: id must be a non-empty string or an integer, got {item_id!r}")
    return Item(line=line, item_id=str(item_id), prompt_text=text if has_text else None, prompt_ids=ids,
                expected=expected, max_output_tokens=limit)


def load_items(path: str | Path) -> ItemFile:
    """Read and validate every line; refuse the whole file at its first bad line."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: items file not found; give a JSONL file of prompts") from exc
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the items file: {exc.strerror}") from exc
    items: list[Item] = []
    seen: dict[str, int] = {}
    for n, raw_line in enumerate(data.split(b"\n"), start=1):
        where = f"{p}:{n}"
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start + 1}); save the file as UTF-8") from exc
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON ({exc.msg} at column {exc.colno}); write one JSON object "
                              "a line") from exc
        item = parse_item(obj, n, where)
        if item.item_id in seen:
            raise ConfigError(f"{where}: id {item.item_id!r} is also on line {seen[item.item_id]}; ids must be "
                              "unique")
        seen[item.item_id] = n
        items.append(item)
    if not items:
        raise ConfigError(f"{p}: no items (every line is blank); write one JSON object a line")
    return ItemFile(path=p, sha256=hashlib.sha256(data).hexdigest(), items=tuple(items))


def prepare(items: ItemFile, tokenizer: Encoder | None, *, default_max_output_tokens: int, vocab_size: int,
            max_context: int, model_name: str = "the model") -> list[Prompt]:
    """Tokenise text prompts and check every prompt against the model, before anything runs.

    A text prompt with no tokenizer, a token id outside the vocabulary, or a prompt plus its output
    limit longer than the context is refused with the file and line."""
    out: list[Prompt] = []
    for item in items.items:
        where = items.where(item)
        if item.prompt_ids is not None:
            ids = item.prompt_ids
        elif tokenizer is None:
            raise ConfigError(f"{where}: prompt is text, but there is no tokenizer.json beside {model_name}; put "
                              "the tokenizer.json that optimum exports beside the model, or give prompt_ids")
        else:
            ids = tuple(tokenizer.encode(item.prompt_text or ""))
            if not ids:
                raise ConfigError(f"{where}: prompt tokenises to no tokens; give a longer prompt")
        bad = [t for t in ids if t >= vocab_size]
        if bad:
            raise ConfigError(f"{where}: token id {bad[0]} is outside the vocabulary of {model_name} "
                              f"({vocab_size} ids)")
        limit = item.max_output_tokens or default_max_output_tokens
        if len(ids) + limit > max_context:
            raise ConfigError(f"{where}: prompt of {len(ids)} tokens + {limit} output tokens exceeds the context "
                              f"of {model_name} ({max_context}); shorten it or lower max_output_tokens")
        out.append(Prompt(item=item, ids=ids, max_output_tokens=limit))
    return out


class ItemOrder:
    """Which item the n-th query of a run gets: pass k = n // n_items is a permutation seeded by (seed, k)
    ("seeded") or the file's order ("file"). A pure function of n, so threads may ask in any order."""

    def __init__(self, n_items: int, order: str = "seeded", seed: int = 0) -> None:
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        if n_items < 1:
            raise ValueError("an item order needs at least one item")
        self.n_items = n_items
        self.order = order
        self.seed = seed
        self._perms: dict[int, list[int]] = {}
        self._lock = threading.Lock()

    def index(self, n: int) -> int:
        if n < 0:
            raise ValueError(f"query index must be >= 0, got {n}")
        k, i = divmod(n, self.n_items)
        if self.order == "file":
            return i
        with self._lock:
            perm = self._perms.get(k)
            if perm is None:
                perm = [int(x) for x in np.random.default_rng([self.seed, k]).permutation(self.n_items)]
                self._perms[k] = perm
        return perm[i]


def items_ran(items: ItemFile, order: ItemOrder, query_indices: Iterable[int],
              warmup_indices: Sequence[int] = ()) -> dict[str, Any]:
    """The record's `items` block: the file (path, sha256), how it was ordered, and which items ran.

    `query_indices` are the measured queries' indices (the n given to ItemOrder.index); `ran` lists the
    item ids in the order they were first issued, `counts` how often each ran (items repeat once a run
    needs more queries than the file holds)."""
    counts: dict[str, int] = {}
    for n in sorted(query_indices):
        item_id = items.items[order.index(n)].item_id
        counts[item_id] = counts.get(item_id, 0) + 1
    return {
        "file": str(items.path),
        "sha256": items.sha256,
        "n_items": len(items.items),
        "order": order.order,
        "seed": order.seed,
        "warmup_items": [items.items[order.index(n)].item_id for n in sorted(warmup_indices)],
        "ran": list(counts),
        "counts": counts,
        "distinct": len(counts),
    }
