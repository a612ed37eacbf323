"""Where generated models live on disk: keyed by name and a hash of the generator's parameters."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wattfleet.core.errors import ConfigError

# Bump when a generator changes in a way that changes its output for the same parameters.
GENERATOR_VERSION = 1


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/wattfleet/models`, or `~/.cache/wattfleet/models`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wattfleet" / "models"


def params_hash(params: dict[str, Any]) -> str:
    """A stable hash of a generator's parameters (and the generator version)."""
    blob = json.dumps({"v": GENERATOR_VERSION, **params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_file(name: str, params: dict[str, Any], cache_dir: Path | None,
                build: Callable[[Path], None]) -> Path:
    """Return the cached `<name>-<hash>.onnx`, calling `build(tmp_path)` first when it is absent.

    The file is written under a temporary name and renamed, so a reader never sees half a model and two
    processes building the same model at once both end with a whole file.
    """
    root = cache_dir if cache_dir is not None else default_cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the model cache {root}: {exc}; pass another cache_dir "
                          "or set XDG_CACHE_HOME to a writable folder") from exc
    target = root / f"{name}-{params_hash(params)}.onnx"
    if target.is_file():
        return target
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".onnx.tmp", dir=root)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        build(tmp_path)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
