"""Regenerate the committed Python for protos/wattfleet/v1/*.proto.

Run with the pinned grpcio-tools from the dev extra: `.venv/bin/python scripts/gen_protos.py`.
tests/contract/test_generated.py fails when the committed files differ from what this makes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "protos"


def generate(out_dir: Path) -> list[Path]:
    """Generate *_pb2.py, *_pb2.pyi and *_pb2_grpc.py for every proto into out_dir."""
    from grpc_tools import protoc  # the dev extra pins its version

    protos = sorted(PROTO_ROOT.glob("wattfleet/v1/*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p.relative_to(PROTO_ROOT)) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the message above")
    return sorted((out_dir / "wattfleet" / "v1").glob("*_pb2*.py*"))


if __name__ == "__main__":
    made = generate(PROTO_ROOT)
    for path in made:
        print(path.relative_to(ROOT))
    sys.exit(0)
