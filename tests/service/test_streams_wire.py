"""Run and telemetry messages survive the trip through the wire types unchanged; records travel in chunks."""

from __future__ import annotations

import json

import pytest

from wattfleet.core import wire
from wattfleet.core.model import (
    DeviceReading,
    DomainEnergy,
    EarlyStopping,
    Figure,
    HostCpu,
    Notice,
    PhaseChange,
    PowerReading,
    Progress,
    QueryBatch,
    RunEvent,
    RunEventBody,
    RunHandle,
    RunRecord,
    RunSpec,
    TaskSuccess,
    TelemetryBatch,
    TokenBatch,
    Validity,
    Window,
)


def _roundtrip_event(body: RunEventBody) -> RunEvent:
    msg = wire.run_event_proto(7, 123, body)
    data = msg.SerializeToString()
    return wire.run_event_from_proto(type(msg).FromString(data))


def _typed_record() -> RunRecord:
    es = EarlyStopping("e2el", 90.0, 0.99, 64, 0, True, estimate_ms=4.5, target_ms=None, overlatency=None,
                       min_queries=64)
    return RunRecord(
        run_id="r1",
        state="interrupted",
        host_id="h",
        device="gpu:1",
        profile={"name": "smoke", "load": {"scenario": "single-stream"}},
        window=Window(1_700_000_000_000_000_000, 5_000, 6_000, 9_000_000_000, "interrupted"),
        figures=[Figure("ttft_p99", 1.5, "ms", "", "MLPerf LoadGen", True),
                 Figure("tokens_per_j", None, "tokens/J", "gpu-board:1", "output tokens / energy_j", True)],
        validity=Validity(False, ("run ended by interrupted",), 64, 9.0, True, True, es, 0.012, False, True),
        energy=[DomainEnergy("gpu-board:1", "counter", 120.0, 13.3, 20.0, 20.0, 180, True, ("note",), True),
                DomainEnergy("cpu-package", "integral", None, None, None, 20.0, 0, True, (), False, True)],
        host_cpu=HostCpu(41.0, 12.5, True, 65.0),
        task=TaskSuccess("exact", 40, 38, 0.95, 0.83, 0.99),
        error="agent stopped",
        labels={"k": "v"},
        started_unix_ns=1_700_000_000_000_000_001,
        ended_unix_ns=1_700_000_009_000_000_000,
        last_seq=7,
        record_bytes=1234,
    )


def test_every_run_event_body_roundtrips() -> None:
    record = _typed_record()
    bodies: list[RunEventBody] = [
        PhaseChange("measuring", "go"),
        Progress(0.5, 3, 40, 1.25, "x"),
        TokenBatch((1, 1, 2), (0, 1, 0), (10, 20, 2**40)),
        QueryBatch((1,), (2,), (3,), (4,), (5,), (6,), (1,)),
        Notice("warning", "slow"),
    ]
    for body in bodies:
        event = _roundtrip_event(body)
        assert (event.seq, event.t_ns, event.body) == (7, 123, body)
    back = _roundtrip_event(record).body
    assert isinstance(back, RunRecord)
    # Everything typed comes back; only what the record JSON alone carries (queries, environment...) does not.
    for name in ("run_id", "state", "host_id", "device", "window", "figures", "energy", "host_cpu", "task", "error",
                 "labels", "started_unix_ns", "ended_unix_ns", "last_seq", "record_bytes", "scenario",
                 "headline_domain"):
        assert getattr(back, name) == getattr(record, name), name
    assert back.validity == record.validity
    assert back.figures[1].value is None  # a figure without a value says so instead of vanishing


def test_telemetry_batch_keeps_absent_values_absent() -> None:
    batch = TelemetryBatch(
        seq=3,
        power=(
            PowerReading("nvml", "gpu-board:0", 10, power_w=250.0, energy_j=None),
            PowerReading("rapl", "cpu-package", 11, missing=True),
        ),
        devices=(DeviceReading("gpu:0", 12, temperature_c=61.0, throttle_reasons=("sw_power_cap",)),),
        anchor_unix_ns=1_700_000_000_000_000_000,
        anchor_mono_ns=99,
    )
    msg = wire.telemetry_batch_to_proto(batch)
    assert [p.kind for p in msg.power] == [wire.domain_kind_to_proto("gpu-board:0"),
                                           wire.domain_kind_to_proto("cpu-package")]
    back = wire.telemetry_batch_from_proto(type(msg).FromString(msg.SerializeToString()))
    assert back == batch


def test_spec_and_handle_roundtrip() -> None:
    spec = RunSpec("smoke", "", {"load.rate_qps": "4"}, {"team": "a"}, "gpu:0")
    assert wire.run_spec_from_proto(wire.run_spec_to_proto(spec)) == spec
    handle = RunHandle("r2", "queued", 2)
    assert wire.run_handle_from_proto(wire.run_handle_to_proto(handle)) == handle


@pytest.mark.parametrize("encoding", ["json", "json-gzip"])
def test_a_record_of_any_size_travels_in_chunks_and_arrives_as_it_was(encoding: str) -> None:
    record = json.dumps({"queries": [{"token_ns": list(range(2000))} for _ in range(100)]})  # ~1 MB
    chunks = list(wire.record_chunks(record, encoding, chunk_bytes=4 * 1024))
    assert len(chunks) > 1 and all(len(c.SerializeToString()) < 5 * 1024 for c in chunks)
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assembler = wire.RecordAssembler()
    for c in chunks:
        assembler.add(type(c).FromString(c.SerializeToString()))
    assert assembler.text() == record


def test_a_chunk_out_of_order_or_a_missing_end_is_refused() -> None:
    chunks = list(wire.record_chunks("x" * 1000, "json", chunk_bytes=100))
    assembler = wire.RecordAssembler()
    assembler.add(chunks[0])
    with pytest.raises(ValueError, match="offset"):
        assembler.add(chunks[2])
    with pytest.raises(ValueError, match="incomplete"):
        assembler.text()
