"""The committed generated code matches the .proto, and pyproject admits only runtimes that can load it."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "protos" / "wattfleet" / "v1"


def _load_gen_script():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_protos
    finally:
        sys.path.pop(0)
    return gen_protos


def test_committed_generated_code_is_fresh(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpc_tools comes with the dev extra")
    made = _load_gen_script().generate(tmp_path)
    assert made, "the generator produced nothing"
    for fresh in made:
        committed = GENERATED / fresh.name
        assert committed.exists(), f"{committed} is missing: run scripts/gen_protos.py and commit"
        assert committed.read_text() == fresh.read_text(), (
            f"{committed.name} is stale: run `.venv/bin/python scripts/gen_protos.py` and commit the result"
        )


def _declared_floor(package: str) -> tuple[int, ...]:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(rf'"{re.escape(package)}>=([0-9.]+)', text)
    assert match, f"pyproject.toml declares no lower bound for {package}"
    return tuple(int(x) for x in match.group(1).split("."))


def test_protobuf_floor_covers_generated_code() -> None:
    text = (GENERATED / "agent_pb2.py").read_text()
    match = re.search(r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*(\d+),\s*(\d+),\s*(\d+)",
                      text)
    assert match, "agent_pb2.py has no runtime version check; was it made by the pinned grpcio-tools?"
    needed = tuple(int(x) for x in match.groups())
    assert _declared_floor("protobuf") >= needed, (
        f"generated code needs protobuf>={'.'.join(map(str, needed))}; raise the floor in pyproject.toml"
    )


def test_grpcio_floor_covers_generated_code() -> None:
    text = (GENERATED / "agent_pb2_grpc.py").read_text()
    match = re.search(r"GRPC_GENERATED_VERSION = '([0-9.]+)'", text)
    assert match
    needed = tuple(int(x) for x in match.group(1).split("."))
    assert _declared_floor("grpcio") >= needed


def test_only_the_adapter_imports_generated_code() -> None:
    offenders = []
    for folder in ("core", "agent", "tui"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.parent == ROOT / "core" / "wire":
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""] + [a.name for a in node.names]
                if any(n.endswith(("_pb2", "_pb2_grpc")) for n in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], f"only core/wire/ may import generated modules; also found in {offenders}"
