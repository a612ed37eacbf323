"""Prometheus service discovery for wattfleet agents: the target list, its file_sd file, its http_sd endpoint.

Pure (standard library only): `wattfleet sd` (sd_cli.py) feeds it endpoints from zeroconf, inventories and
credentials files, with what GetInfo said; this module turns them into Prometheus target groups, keeps the
last good list (a round that finds nothing never empties it), writes the file atomically and serves the
same list over HTTP. Prometheus reads either: `file_sd_configs` or `http_sd_configs`.

The scrape job should set `honor_labels: true`: every agent series already carries `host_id` (and
`wattfleet_agent_info` the agent's own labels), and with it Prometheus keeps those and adds ours
(device_model, site, rack, ...) where a series lacks them, instead of renaming clashes to `exported_*`.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from wattfleet.core.errors import UsageError
from wattfleet.core.model import AgentInfo
from wattfleet.tui.fleet.endpoints import AgentEndpoint

# Labels that the agent's own series carry (agent/service/exporter.py) and Prometheus's job/instance: a
# target label of the same name would be mixed into some series and not others, so agent labels with
# these names are left out (host_id and the device model are set by us). tests/prometheus checks this
# set against a real agent's /metrics.
SERIES_LABELS = frozenset({
    "job", "instance", "host_id", "version", "source", "domain", "domain_kind", "state", "profile", "run_id",
    "metric", "percentile", "definition", "figure", "unit",
})
_FOUND_BY_RANK = {"inventory": 0, "credentials": 1, "mdns": 2}  # whose entry wins when two name one address
_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
HTTP_SD_PATHS = ("/", "/targets")


@dataclass(frozen=True)
class Target:
    """One scrape target: an agent's /metrics address and the labels Prometheus attaches to its series."""

    address: str  # host:port of the agent's /metrics ([v6]:port for IPv6)
    labels: tuple[tuple[str, str], ...]  # sorted; includes __meta_wattfleet_* for relabelling
    key: str  # the endpoint's identity across rounds

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    def group(self) -> dict[str, object]:
        """The Prometheus target group: {"targets": [...], "labels": {...}}."""
        return {"targets": [self.address], "labels": self.label_map}


@dataclass(frozen=True)
class Skipped:
    """An agent that is known but cannot be a target, and what to do about it."""

    key: str
    reason: str


def label_name(key: str) -> str:
    """A Prometheus label name from an agent label key: invalid characters become "_" (as the exporter
    does), a leading digit gets "l_", and no name starts with "__" (reserved)."""
    name = _NOT_LABEL_CHAR.sub("_", key.strip())
    if name[:1].isdigit():
        name = f"l_{name}"
    return name.lstrip("_") if name.startswith("__") else name


def device_model(info: AgentInfo | None, device_summary: str = "") -> str:
    """The host's main device: its first GPU or SoC by GetInfo, else its CPU; else the first non-CPU entry
    of the advertised device summary ("1xH100,1xCPU" -> "H100"); "" when nothing says."""
    if info is not None and info.devices:
        accel = [d for d in info.devices if d.kind != "cpu"]
        return (accel or list(info.devices))[0].name
    parts = [p.split("x", 1)[-1] for p in device_summary.split(",") if p and p != "none"]
    accel_parts = [p for p in parts if p != "CPU"]
    return (accel_parts or parts or [""])[0]


def _host_port(host: str, port: int) -> str:
    try:
        v6 = ipaddress.ip_address(host.split("%", 1)[0]).version == 6
    except ValueError:
        v6 = False
    return f"[{host}]:{port}" if v6 else f"{host}:{port}"


def build_target(endpoint: AgentEndpoint, info: AgentInfo | None, default_metrics_port: int = 0) -> Target | Skipped:
    """The target for one agent, or why it cannot be one. Labels: host_id, device_model, the inventory's
    labels with the agent's own (GetInfo) on top, and __meta_wattfleet_* (found by, gRPC target, version).

    The agent's own labels win because its wattfleet_agent_info series carries them too, and with
    honor_labels the series keep theirs: one value everywhere. Inventory labels fill in what it does not say."""
    name = endpoint.label or endpoint.target
    port = endpoint.metrics_port or default_metrics_port
    if not port:
        return Skipped(endpoint.key, f"{name}: no /metrics port known; start the agent with --metrics-port, add "
                                     "metrics_port to its inventory entry, or give `wattfleet sd --metrics-port`")
    if not endpoint.addresses:
        return Skipped(endpoint.key, f"{name}: no address advertised")
    labels: dict[str, str] = {}
    own = dict(info.labels) if info is not None else {}
    for key, value in [*endpoint.labels, *own.items()]:
        lname = label_name(key)
        if lname and lname not in SERIES_LABELS:
            labels[lname] = value
    labels["host_id"] = (info.host_id if info is not None else "") or endpoint.host_id or endpoint.name
    model = device_model(info, endpoint.device_summary)
    if model:
        labels.setdefault("device_model", model)
    labels["__meta_wattfleet_found_by"] = endpoint.source
    labels["__meta_wattfleet_grpc_target"] = endpoint.target
    version = (info.agent_version if info is not None else "") or endpoint.agent_version
    if version:
        labels["__meta_wattfleet_agent_version"] = version
    return Target(_host_port(endpoint.host, port), tuple(sorted(labels.items())), endpoint.key)


def dedupe(targets: Sequence[Target]) -> list[Target]:
    """One target per address: an inventory entry wins over a credentials entry, which wins over zeroconf
    (an operator's labels are the ones to keep)."""
    best: dict[str, tuple[int, Target]] = {}
    for target in targets:
        rank = _FOUND_BY_RANK.get(target.label_map.get("__meta_wattfleet_found_by", ""), 3)
        if target.address not in best or rank < best[target.address][0]:
            best[target.address] = (rank, target)
    return _ordered(t for _, t in best.values())


def _ordered(targets: Iterable[Target]) -> list[Target]:
    return sorted(targets, key=lambda t: (t.label_map.get("host_id", ""), t.address))


class TargetBook:
    """The list to publish, across discovery rounds.

    A target found in a round is kept (and its labels updated); one not seen for `forget_after_s` is
    dropped, so an agent that restarts or misses a zeroconf answer does not vanish from Prometheus (it
    shows as down instead). A round that would leave the list empty changes nothing: the last good list
    stays. `failed_round()` records a round that errored, which never changes the list either.
    """

    def __init__(self, forget_after_s: float = 600.0) -> None:
        if forget_after_s < 0:
            raise UsageError(f"--forget-after-s must be 0 or more, got {forget_after_s:g}")
        self.forget_after_s = forget_after_s
        self._targets: dict[str, Target] = {}
        self._seen_s: dict[str, float] = {}
        self.kept_last_good = False  # the last round found nothing (or failed) and the old list was kept

    @property
    def targets(self) -> list[Target]:
        return _ordered(self._targets.values())

    def update(self, found: Sequence[Target], now_s: float) -> bool:
        """Fold in one round's targets; True when the published list changed."""
        if not found:
            self.kept_last_good = bool(self._targets)
            return False
        before = self.targets
        merged = dict(self._targets)
        seen = dict(self._seen_s)
        for target in found:
            for key in [k for k, t in merged.items() if t.address == target.address and k != target.key]:
                merged.pop(key)  # the same address under another identity (an agent re-advertised)
            merged[target.key] = target
            seen[target.key] = now_s
        for key in [k for k in merged if now_s - seen.get(k, now_s) > self.forget_after_s]:
            merged.pop(key)
            seen.pop(key, None)
        self._targets, self._seen_s = merged, seen
        self.kept_last_good = False
        return self.targets != before

    def failed_round(self) -> None:
        self.kept_last_good = bool(self._targets)


def render(targets: Sequence[Target]) -> str:
    """The file_sd / http_sd JSON: one target group per agent, in a stable order."""
    return json.dumps([t.group() for t in targets], indent=2, sort_keys=True) + "\n"


def write_file_sd(path: Path, targets: Sequence[Target]) -> bool:
    """Write the list atomically (a temporary file in the same folder, fsync, rename), so Prometheus never
    reads half a file. Refuses an empty list (the last good file stays). True when the file changed."""
    if not targets:
        return False
    text = render(targets)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    except OSError as exc:
        raise UsageError(
            f"--file-sd {path}: cannot read it ({exc.strerror or exc}); check the folder's permissions") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"--file-sd {path}: cannot write it ({exc.strerror or exc}); check the folder exists "
                         "and is writable") from None
    _fsync_dir(path.parent)
    return True


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every filesystem lets a folder be opened; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass  # fsync of a folder is best effort (the rename itself is atomic)
    finally:
        os.close(fd)


class _Server(http.server.ThreadingHTTPServer):
    """Holds the current answer; the discovery loop replaces it, request threads read it."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self._lock = threading.Lock()
        self._body = b"[]\n"

    def body(self) -> bytes:
        with self._lock:
            return self._body

    def set_body(self, body: bytes) -> None:
        with self._lock:
            self._body = body


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # the http.server API
        if self.path.split("?", 1)[0] not in HTTP_SD_PATHS:
            self._send(404, b'{"error": "not found: the target list is at /targets"}\n')
            return
        self._send(200, self.server.body())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # the http.server API
        return  # Prometheus asks every refresh_interval; no line per request


class HttpSdServer:
    """The http_sd endpoint: GET /targets answers the full current list (200, application/json), as
    Prometheus's http_sd_configs expect; `[]` until the first good list. Loopback unless told otherwise."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._requested = (host, port)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Bind and serve on a thread; returns the URL Prometheus should be given."""
        host, port = self._requested
        try:
            self._httpd = _Server((host, port))
        except OSError as exc:
            raise UsageError(f"--http-sd {host}:{port}: cannot listen there ({exc.strerror or exc}); pick another "
                             "port or address") from None
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="wattfleet-http-sd", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        if self._httpd is None:
            return ""
        host, port = self._httpd.server_address[:2]
        return f"http://{_host_port(str(host), int(port))}/targets"

    def publish(self, targets: Sequence[Target]) -> None:
        if self._httpd is not None and targets:
            self._httpd.set_body(render(targets).encode())

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def parse_listen(text: str) -> tuple[str, int]:
    """`--http-sd` value: PORT (loopback) or ADDR:PORT ([v6]:PORT)."""
    host, port_text = "127.0.0.1", text.strip()
    if port_text.startswith("["):
        inner, sep, rest = port_text[1:].partition("]:")
        host, port_text = (inner, rest) if sep else (host, "")
    elif ":" in port_text:
        host, _sep, port_text = port_text.rpartition(":")
    if not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise UsageError(f"--http-sd {text!r}: expected PORT or ADDR:PORT (e.g. 9451 or 127.0.0.1:9451)")
    return host or "127.0.0.1", int(port_text)
