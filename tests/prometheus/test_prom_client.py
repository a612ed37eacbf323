"""Bad input for the Prometheus sources: a server that is unreachable, slow, not Prometheus, or gone; a query
that is wrong or returns nothing. Each says so in one line and the source keeps working."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents import free_port
from promfleet import Fleet
from promserver import start_prometheus, wait_until

from wattfleet.core.errors import UsageError, WattfleetError
from wattfleet.tui.fleet.prom_fleet import PrometheusFleetSource
from wattfleet.tui.fleet.prom_range import audit_runset, query_range_power
from wattfleet.tui.fleet.promql import PromClient, PromError, check_url, parse_duration_s


class _Answer(http.server.BaseHTTPRequestHandler):
    delay_s = 0.0
    status = 200
    body = b"<html>not prometheus</html>"

    def do_GET(self) -> None:
        time.sleep(self.delay_s)
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        try:
            self.wfile.write(self.body)
        except OSError:
            pass  # the client gave up waiting

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def fake_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real HTTP server on loopback that answers like `request.param` says (delay_s, status, body)."""
    handler = type("Handler", (_Answer,), dict(request.param))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _one_line(text: str) -> bool:
    return bool(text) and "\n" not in text


def test_unreachable_server_is_one_line_and_the_source_does_not_raise() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PromError, match=r"unreachable \(.*refused.*\); check --prometheus") as err:
        PromClient(url).query("up")
    assert _one_line(str(err.value)) and url in str(err.value)
    source = PrometheusFleetSource(url)
    snap = source.refresh()
    source.close()
    assert snap.status.level == "error" and "unreachable" in snap.status.message and _one_line(snap.status.message)
    assert snap.hosts == () and snap.stale


@pytest.mark.parametrize("fake_server", [{"delay_s": 2.0, "body": b"{}"}], indirect=True)
def test_slow_server_times_out_with_what_to_do(fake_server: str) -> None:
    with pytest.raises(PromError, match=r"no answer within 0\.3 s; the server is slow"):
        PromClient(fake_server, timeout_s=0.3).query("up")
    source = PrometheusFleetSource(fake_server, timeout_s=0.3)
    snap = source.refresh()
    source.close()
    assert snap.status.level == "error" and "no answer within 0.3 s" in snap.status.message


@pytest.mark.parametrize("fake_server", [{}], indirect=True)
def test_a_server_that_is_not_prometheus_is_named_as_such(fake_server: str) -> None:
    with pytest.raises(PromError, match="not JSON; is this URL a Prometheus server"):
        PromClient(fake_server).query("up")


@pytest.mark.parametrize("fake_server", [{"status": 503, "body": b"overloaded"}], indirect=True)
def test_an_http_error_without_an_api_body_says_its_status(fake_server: str) -> None:
    with pytest.raises(PromError, match="HTTP 503"):
        PromClient(fake_server).query("up")


def test_urls_and_ranges_are_checked_before_anything_is_asked() -> None:
    with pytest.raises(UsageError, match="expected the server's URL"):
        check_url("prometheus:9090")
    assert check_url("http://p:9090/") == "http://p:9090"
    assert parse_duration_s("24h") == 86400 and parse_duration_s("90s") == 90 and parse_duration_s("7d") == 604800
    for bad in ("24", "-1h", "0s", "1 day"):
        with pytest.raises(UsageError, match="expected a duration such as 30m, 24h or 7d"):
            parse_duration_s(bad)


def test_a_wrong_query_gets_prometheus_own_reason_in_one_line(fleet: Fleet) -> None:
    with pytest.raises(PromError, match=r"bad_data: .*parse error") as err:
        fleet.client.query("sum by (host_id (wattfleet_power_watts)")
    assert _one_line(str(err.value))


def test_a_selector_matching_nothing_is_a_status_not_an_error(fleet: Fleet) -> None:
    source = PrometheusFleetSource(fleet.prom.url, selector='job="no-such-job"')
    snap = source.refresh()
    source.close()
    assert snap.status.level == "warn" and 'no wattfleet series match {job="no-such-job"}' in snap.status.message
    assert snap.hosts == () and not snap.stale
    end = time.time()
    assert query_range_power(fleet.client, end - 60, end, base_selector='job="no-such-job"').hosts == ()


def test_audit_over_a_range_without_series_fails_in_one_line(fleet: Fleet) -> None:
    pytest.importorskip("wattfleet.tui.fleet.audit", reason="the audit package (issue 11) is not merged yet")
    with pytest.raises(WattfleetError, match=r"no wattfleet power series match \{job=\"no-such-job\"\} in the last 1h"):
        audit_runset(fleet.prom.url, "1h", base_selector='job="no-such-job"')
    runset = audit_runset(fleet.prom.url, "5m")
    assert {r.host for r in runset.runs} == {fleet.gpu.host_id, fleet.cpu.host_id}


def test_when_prometheus_goes_away_the_last_good_hosts_stay_marked_stale(fleet: Fleet, tmp_path: Path) -> None:
    prom = start_prometheus(tmp_path / "second", [{
        "job_name": "wattfleet", "honor_labels": True,
        "file_sd_configs": [{"files": [str(fleet.file_sd)], "refresh_interval": "1s"}]}], scrape_interval="250ms")
    source = PrometheusFleetSource(prom.url, timeout_s=2)
    try:
        good = wait_until(lambda: (s := source.refresh()).reporting == 2 and s, 30, "the second server to scrape")
        prom.stop()
        gone = source.refresh()
    finally:
        prom.stop()
        source.close()
    assert gone.status.level == "error" and gone.stale and _one_line(gone.status.message)
    assert "unreachable" in gone.status.message and "showing the hosts as of" in gone.status.message
    assert gone.hosts == good.hosts


def test_targets_are_matched_to_hosts_by_instance_when_sd_named_them_otherwise() -> None:
    from wattfleet.tui.fleet.prom_fleet import fold
    from wattfleet.tui.fleet.promql import Sample

    def s(value: float, **labels: str) -> Sample:
        return Sample(labels, value, 0.0)

    answers = {
        # sd named the first target by its inventory entry (no GetInfo); the agent calls itself gpu-7
        "targets": [s(1, instance="10.0.0.7:9400", host_id="rack2-slot7"), s(0, instance="10.0.0.8:9400", host_id="b"),
                    s(1, instance="exporter:9100")],
        "info": [s(1, instance="10.0.0.7:9400", host_id="gpu-7", site="ams"),
                 s(1, instance="exporter:9100", host_id="sim-1"), s(1, instance="exporter:9100", host_id="sim-2")],
        "power": [s(300, host_id="gpu-7", domain_kind="gpu-board")],
    }
    hosts = {h.host_id: h for h in fold(answers)}
    assert set(hosts) == {"gpu-7", "b", "sim-1", "sim-2"}
    assert hosts["gpu-7"].reporting and hosts["gpu-7"].labels == {"site": "ams"}
    assert hosts["gpu-7"].power_w == {"gpu-board": 300}
    assert not hosts["b"].reporting  # down: its series are stale, sd's host_id names it
    assert hosts["sim-1"].reporting and hosts["sim-2"].reporting  # one target for many hosts: fresh series say it
