"""`wattfleet sd` without a Prometheus server: target labels, the last good list kept through empty and
failed rounds, atomic file_sd writes, the http_sd endpoint, and the CLI's bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from agents import free_port
from promserver import wait_until

from wattfleet.agent.service.advertise import build_txt
from wattfleet.core.errors import ConfigError
from wattfleet.core.model import AgentInfo, Device
from wattfleet.tui.fleet.endpoints import AgentEndpoint
from wattfleet.tui.fleet.inventory import parse_inventory
from wattfleet.tui.fleet.sd import (
    HttpSdServer,
    Skipped,
    Target,
    TargetBook,
    build_target,
    dedupe,
    device_model,
    label_name,
    parse_listen,
    render,
    write_file_sd,
)


def _endpoint(name: str = "edge-1", *, metrics_port: int = 9400, source: str = "inventory",
              labels: tuple[tuple[str, str], ...] = (), address: str = "10.0.0.5") -> AgentEndpoint:
    return AgentEndpoint(host_id="", addresses=(address,), port=50551, source=source,  # type: ignore[arg-type]
                         name=name, labels=labels, metrics_port=metrics_port, device_summary="1xOrin,1xCPU")


def _target(host: str, address: str, key: str = "") -> Target:
    t = build_target(_endpoint(host, address=address.split(":")[0], metrics_port=int(address.split(":")[1])), None)
    assert isinstance(t, Target)
    return Target(t.address, t.labels, key or t.key)


def test_labels_join_getinfo_and_inventory_and_keep_series_labels_off() -> None:
    info = AgentInfo(host_id="edge-1-id", hostname="h", agent_version="0.1.0",
                     devices=(Device("cpu", 0, "Cortex-A78AE"), Device("soc", 0, "Jetson AGX Orin")),
                     labels={"site": "agent-site", "owner.team": "ml", "domain": "clash", "9x": "v"})
    endpoint = _endpoint(labels=(("site", "inventory-site"), ("rack", "r7")))
    t = build_target(endpoint, info)
    assert isinstance(t, Target)
    assert t.address == "10.0.0.5:9400"
    assert t.label_map == {
        "host_id": "edge-1-id", "device_model": "Jetson AGX Orin", "site": "agent-site", "rack": "r7",
        "owner_team": "ml", "l_9x": "v", "__meta_wattfleet_found_by": "inventory",
        "__meta_wattfleet_grpc_target": "10.0.0.5:50551", "__meta_wattfleet_agent_version": "0.1.0"}


def test_without_getinfo_the_advertised_summary_names_the_device() -> None:
    assert device_model(None, "1xRTX 4090,1xCPU") == "RTX 4090"
    assert device_model(None, "1xCPU") == "CPU"
    assert device_model(None, "none") == ""
    t = build_target(_endpoint(), None)
    assert isinstance(t, Target) and t.label_map["device_model"] == "Orin" and t.label_map["host_id"] == "edge-1"


def test_an_agent_without_a_metrics_port_is_skipped_with_what_to_do() -> None:
    skipped = build_target(_endpoint(metrics_port=0), None)
    assert isinstance(skipped, Skipped) and "--metrics-port" in skipped.reason and "metrics_port" in skipped.reason
    assert isinstance(build_target(_endpoint(metrics_port=0), None, default_metrics_port=9500), Target)


def test_label_names_are_valid_prometheus_names() -> None:
    assert [label_name(k) for k in ("site", "a.b-c", "1st", "__x", "_ok")] == ["site", "a_b_c", "l_1st", "x", "_ok"]


def test_ipv6_targets_are_bracketed() -> None:
    t = build_target(_endpoint(address="fd00::5"), None)
    assert isinstance(t, Target) and t.address == "[fd00::5]:9400"


def test_one_target_per_address_and_the_inventory_entry_wins() -> None:
    mdns = build_target(_endpoint("a", source="mdns"), None)
    inv = build_target(_endpoint("a-inv", source="inventory"), None)
    assert isinstance(mdns, Target) and isinstance(inv, Target)
    assert dedupe([mdns, inv]) == [inv] and dedupe([inv, mdns]) == [inv]


def test_a_round_that_finds_nothing_keeps_the_last_good_list() -> None:
    book = TargetBook(forget_after_s=60)
    a, b = _target("a", "10.0.0.1:9400"), _target("b", "10.0.0.2:9400")
    assert book.update([a, b], now_s=0) and book.targets == [a, b]
    assert not book.update([], now_s=1000) and book.targets == [a, b] and book.kept_last_good
    book.failed_round()
    assert book.targets == [a, b]


def test_an_agent_unseen_for_long_is_dropped_and_a_moved_one_replaced() -> None:
    book = TargetBook(forget_after_s=60)
    a, b = _target("a", "10.0.0.1:9400"), _target("b", "10.0.0.2:9400")
    book.update([a, b], now_s=0)
    book.update([a], now_s=30)
    assert book.targets == [a, b]  # b missed a round: still listed (Prometheus shows it down)
    book.update([a], now_s=61)
    assert book.targets == [a]
    a_again = _target("a", "10.0.0.1:9400", key="mdns:a-restarted")
    book.update([a_again], now_s=62)
    assert [t.key for t in book.targets] == ["mdns:a-restarted"]


def test_file_sd_is_written_atomically_only_on_change_and_never_emptied(tmp_path: Path) -> None:
    path = tmp_path / "targets.json"
    a = _target("a", "10.0.0.1:9400")
    assert write_file_sd(path, [a])
    assert json.loads(path.read_text()) == [{"targets": ["10.0.0.1:9400"], "labels": a.label_map}]
    inode = path.stat().st_ino
    assert not write_file_sd(path, [a]) and path.stat().st_ino == inode  # unchanged: not rewritten
    assert not write_file_sd(path, []) and json.loads(path.read_text())[0]["targets"] == ["10.0.0.1:9400"]
    b = _target("b", "10.0.0.2:9400")
    assert write_file_sd(path, [a, b]) and path.stat().st_ino != inode  # a new file renamed over the old
    assert [p.name for p in tmp_path.iterdir()] == ["targets.json"]  # no temporary file left


def test_http_sd_serves_the_full_list_on_every_get() -> None:
    server = HttpSdServer("127.0.0.1", 0)
    url = server.start()
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            assert reply.headers["Content-Type"] == "application/json" and json.loads(reply.read()) == []
        a, b = _target("a", "10.0.0.1:9400"), _target("b", "10.0.0.2:9400")
        server.publish([a, b])
        server.publish([])  # an empty round never replaces the list
        for _ in range(2):
            with urllib.request.urlopen(url, timeout=5) as reply:
                assert json.loads(reply.read()) == json.loads(render([a, b]))
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url.replace("/targets", "/nope"), timeout=5)
        assert missing.value.code == 404
    finally:
        server.stop()


def test_http_sd_listen_values() -> None:
    assert parse_listen("9451") == ("127.0.0.1", 9451)
    assert parse_listen("0.0.0.0:9451") == ("0.0.0.0", 9451)
    assert parse_listen("[::1]:9451") == ("::1", 9451)
    with pytest.raises(Exception, match="expected PORT or ADDR:PORT"):
        parse_listen("localhost")


def test_the_txt_record_carries_the_metrics_port() -> None:
    txt = build_txt(agent_version="0.1.0", host_id="h", device_summary="1xCPU", auth_required=True, tls=False,
                    extra={"mp": "9400"})
    assert txt["mp"] == "9400"


def test_inventory_metrics_port_is_read_and_checked(tmp_path: Path) -> None:
    doc = {"agents": [{"name": "a", "address": "10.0.0.1", "port": 50551, "metrics_port": 9400}]}
    (endpoint,) = parse_inventory(doc, tmp_path / "inv.toml")
    assert endpoint.metrics_port == 9400
    doc["agents"][0]["metrics_port"] = 70000
    with pytest.raises(ConfigError, match=r"agents\[0\]\.metrics_port: expected an integer 1-65535"):
        parse_inventory(doc, tmp_path / "inv.toml")


# --- the command ----------------------------------------------------------------------------------


def _sd(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "sd", *args], capture_output=True, text=True,
                          timeout=timeout)


def _inventory(path: Path, *entries: tuple[str, int | None]) -> Path:
    text = ""
    for i, (name, metrics_port) in enumerate(entries):
        text += f'[[agents]]\nname = "{name}"\naddress = "127.0.0.{i + 1}"\nport = 50551\n'
        text += f"metrics_port = {metrics_port}\n\n" if metrics_port else "\n"
    path.write_text(text)
    return path


def test_once_writes_the_file_and_a_round_finding_nothing_leaves_it_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "targets.json"
    good = _inventory(tmp_path / "good.toml", ("a", 9400), ("b", 9401))
    done = _sd("--once", "--no-mdns", "--no-info", "--inventory", str(good), "--file-sd", str(out))
    assert done.returncode == 0, done.stderr
    written = out.read_text()
    assert [g["labels"]["host_id"] for g in json.loads(written)] == ["a", "b"]
    no_port = _inventory(tmp_path / "noport.toml", ("c", None))
    done = _sd("--once", "--no-mdns", "--no-info", "--inventory", str(no_port), "--file-sd", str(out))
    assert done.returncode == 1 and "left as it was" in done.stderr and "c: no /metrics port" in done.stderr
    assert out.read_text() == written
    (tmp_path / "broken.toml").write_text("[[agents]\n")
    done = _sd("--once", "--no-mdns", "--inventory", str(tmp_path / "broken.toml"), "--file-sd", str(out))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not valid TOML" in done.stderr
    assert out.read_text() == written


def test_once_without_a_file_prints_the_list(tmp_path: Path) -> None:
    done = _sd("--once", "--no-mdns", "--no-info", "--inventory", str(_inventory(tmp_path / "i.toml", ("a", 9400))))
    assert done.returncode == 0 and json.loads(done.stdout)[0]["targets"] == ["127.0.0.1:9400"]


def test_a_running_sd_keeps_the_last_good_list_through_broken_and_empty_inventories(tmp_path: Path) -> None:
    out, inv = tmp_path / "targets.json", tmp_path / "inv.toml"
    _inventory(inv, ("a", 9400))
    port = free_port()
    log = tmp_path / "sd.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "wattfleet.core.cli", "sd", "--no-mdns", "--no-info",
                                 "--inventory", str(inv), "--file-sd", str(out), "--http-sd", f"127.0.0.1:{port}",
                                 "--interval-s", "0.2"], stderr=err)
    try:
        wait_until(lambda: out.exists(), 30, "the first list")
        written = out.read_text()
        inv.write_text("this is [not toml\n")
        wait_until(lambda: "kept its last good version" in log.read_text(), 30, "the broken inventory noticed")
        _inventory(inv, ("c", None))
        wait_until(lambda: "kept the last good list of 1" in log.read_text(), 30, "an empty round noticed")
        time.sleep(0.5)
        assert out.read_text() == written
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/targets", timeout=5) as reply:
            assert json.loads(reply.read()) == json.loads(written)
        _inventory(inv, ("a", 9400), ("b", 9401))
        wait_until(lambda: len(json.loads(out.read_text())) == 2, 30, "the second agent listed")
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, log.read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--no-mdns", "--file-sd", "x.json"], "--no-mdns leaves no agents"),
    (["--no-mdns", "--inventory", "i.toml"], "say where the list goes"),
    (["--once", "--http-sd", "9451", "--no-mdns", "--inventory", "i.toml"], "--once exits after one round"),
    (["--file-sd", "/no/such/folder/t.json"], "does not exist; create it first"),
    (["--http-sd", "localhost", "--no-mdns", "--inventory", "i.toml"], "expected PORT or ADDR:PORT"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    _inventory(tmp_path / "i.toml", ("a", 9400))
    done = subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "sd", *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
