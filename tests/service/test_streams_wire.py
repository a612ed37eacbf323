"""Run and telemetry messages survive the trip through the wire types unchanged."""

from __future__ import annotations

import json

from wattfleet.core import wire


def _roundtrip_event(body: wire.RunEventBody) -> wire.RunEvent:
    msg = wire.run_event_proto(7, 123, body)
    data = msg.SerializeToString()
    return wire.RunEvent.from_proto(type(msg).FromString(data))


def test_every_run_event_body_roundtrips() -> None:
    summary = wire.RunSummary(
        run_id="r1",
        state="interrupted",
        profile="smoke",
        started_unix_ns=5,
        ended_unix_ns=9,
        host_id="h",
        figures=(wire.Figure("ttft_p99", 1.5, "ms", "", "MLPerf LoadGen", True),),
        error="agent stopped",
        record_json='{"a": 1}',
        labels={"k": "v"},
        last_seq=7,
    )
    bodies: list[wire.RunEventBody] = [
        wire.PhaseChange("measuring", "go"),
        wire.Progress(0.5, 3, 40, 1.25, "x"),
        wire.TokenBatch((1, 1, 2), (0, 1, 0), (10, 20, 2**40)),
        wire.QueryBatch((1,), (2,), (3,), (4,), (5,), (6,)),
        summary,
        wire.Notice("warning", "slow"),
    ]
    for body in bodies:
        event = _roundtrip_event(body)
        assert (event.seq, event.t_ns, event.body) == (7, 123, body)


def test_telemetry_batch_keeps_absent_values_absent() -> None:
    batch = wire.TelemetryBatch(
        seq=3,
        power=(
            wire.PowerReading("nvml", "gpu-board", 10, power_w=250.0, energy_j=None),
            wire.PowerReading("rapl", "cpu-package", 11, missing=True),
        ),
        devices=(wire.DeviceReading("gpu:0", 12, temperature_c=61.0, throttle_reasons=("sw_power_cap",)),),
    )
    msg = batch.to_proto()
    back = wire.TelemetryBatch.from_proto(type(msg).FromString(msg.SerializeToString()))
    assert back == batch


def test_spec_and_handle_roundtrip() -> None:
    spec = wire.RunSpec("smoke", "", {"load.rate_qps": "4"}, {"team": "a"}, "gpu:0")
    assert wire.RunSpec.from_proto(spec.to_proto()) == spec
    handle = wire.RunHandle("r2", "queued", 2)
    assert wire.RunHandle.from_proto(handle.to_proto()) == handle


def test_a_record_over_the_message_limit_travels_packed_and_arrives_as_it_was() -> None:
    record = json.dumps({"requests": [{"token_ns": list(range(10**12, 10**12 + 2000))} for _ in range(20)]})
    small = json.dumps({"state": "completed"})
    assert wire.pack_record_json(small, 1000) == small
    packed = wire.pack_record_json(record, 100_000)
    assert packed.startswith(wire.RECORD_GZ_PREFIX) and len(packed) < len(record) // 3
    msg = wire.RunSummary("r", "completed", record_json=packed).to_proto()
    assert wire.RunSummary.from_proto(type(msg).FromString(msg.SerializeToString())).record_json == record
