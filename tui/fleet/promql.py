"""A small PromQL client over Prometheus's HTTP API (`/api/v1/query`, `/api/v1/query_range`).

Pure apart from urllib: the console's Prometheus source (prom_fleet.py) and the audit's range source
(prom_range.py) build on it. Every failure is a PromError with one line that names the server and says
what to do: unreachable, too slow, refused the query, or answered something that is not Prometheus.
"""

from __future__ import annotations

import json
import math
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wattfleet.core.errors import UsageError, WattfleetError

DEFAULT_TIMEOUT_S = 5.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_DURATION_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}
_LABEL_VALUE_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})


class PromError(WattfleetError):
    """A query could not be answered; the message is one line for a status strip or a terminal."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value at the evaluation time."""

    labels: Mapping[str, str]
    value: float
    t_s: float


@dataclass(frozen=True)
class Series:
    """One series of a range query (or of a range vector): its labels and (t_s, value) points."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(v for _, v in self.points)


def parse_duration_s(text: str, what: str = "--range") -> float:
    """A Prometheus duration ("90s", "15m", "24h", "7d") in seconds. Raises UsageError."""
    m = _DURATION.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"{what} {text!r}: expected a duration such as 30m, 24h or 7d")
    return float(m.group(1)) * _DURATION_S[m.group(2)]


def promql_duration(seconds: float) -> str:
    """Seconds as a PromQL range ("[86400s]"'s inside); whole seconds, at least 1."""
    return f"{max(1, round(seconds))}s"


def label_value(value: str) -> str:
    """A string quoted for a PromQL label matcher."""
    return '"' + value.translate(_LABEL_VALUE_ESCAPES) + '"'


def check_url(url: str) -> str:
    """The server's base URL without a trailing slash. Raises UsageError for anything but http(s)://host."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"--prometheus {url!r}: expected the server's URL, e.g. http://prometheus:9090")
    return url.strip().rstrip("/")


class PromClient:
    """`PromClient("http://prometheus:9090").query("up")`; blocking, so call it off the event loop.

    `headers` go with every request (e.g. {"Authorization": "Bearer ..."} for a server behind a proxy).
    Counts the requests and the bytes it received, for benchmarks and the console's status strip.
    """

    def __init__(
        self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, headers: Mapping[str, str] | None = None
    ) -> None:
        if not timeout_s > 0:
            raise UsageError(f"Prometheus timeout must be positive, got {timeout_s:g} s")
        self.url = check_url(url)
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})
        self.requests = 0
        self.bytes_received = 0
        self._count_lock = threading.Lock()  # the console's source asks several queries side by side

    def query(self, expr: str, at_s: float | None = None) -> list[Sample]:
        """An instant query; a scalar answer comes back as one sample without labels."""
        params = {"query": expr}
        if at_s is not None:
            params["time"] = f"{at_s:.3f}"
        data = self._get("/api/v1/query", params, expr)
        kind, result = data.get("resultType"), data.get("result")
        if kind == "vector" and isinstance(result, list):
            return [Sample(_labels(r), _value(r.get("value")), _time(r.get("value"))) for r in result]
        if kind == "scalar" and isinstance(result, list):
            return [Sample({}, _value(result), _time(result))]
        if kind == "matrix" and isinstance(result, list):
            raise PromError(f"{self.url}: {_short(expr)} is a range vector; use query_series() for it")
        raise PromError(f"{self.url}: the answer to {_short(expr)} is not a Prometheus vector; is this URL a "
                        "Prometheus server?")

    def query_series(self, expr: str, at_s: float | None = None) -> list[Series]:
        """An instant query whose answer is a range vector (`metric[5m]`): the raw samples Prometheus holds."""
        params = {"query": expr}
        if at_s is not None:
            params["time"] = f"{at_s:.3f}"
        return self._matrix(self._get("/api/v1/query", params, expr), expr)

    def query_range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[Series]:
        """A range query: the expression evaluated every `step_s` from `start_s` to `end_s`."""
        if not step_s > 0 or end_s < start_s:
            raise UsageError(f"query_range needs step > 0 and end >= start (got step {step_s:g}, "
                             f"{start_s:.0f}..{end_s:.0f})")
        params = {"query": expr, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}", "step": f"{step_s:g}"}
        return self._matrix(self._get("/api/v1/query_range", params, expr), expr)

    def _slow(self) -> str:
        return (f"{self.url}: no answer within {self.timeout_s:g} s; the server is slow or overloaded (raise the "
                "timeout, or query a shorter range)")

    def _received(self, n: int) -> None:
        with self._count_lock:
            self.bytes_received += n

    def _matrix(self, data: Mapping[str, Any], expr: str) -> list[Series]:
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            raise PromError(f"{self.url}: the answer to {_short(expr)} is not a range of samples")
        return [Series(_labels(r), tuple((_time(p), _value(p)) for p in r.get("values") or ())) for r in result]

    def _get(self, path: str, params: Mapping[str, str], expr: str) -> Mapping[str, Any]:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers={"Accept": "application/json", **self.headers})
        with self._count_lock:
            self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                body = reply.read()
        except urllib.error.HTTPError as exc:
            body = _read_error(exc)
            self._received(len(body))
            detail = _api_error(body) or f"HTTP {exc.code} {exc.reason}"
            raise PromError(f"{self.url}: {detail} (query {_short(expr)})") from None
        except TimeoutError:  # socket.timeout is TimeoutError since Python 3.10
            raise PromError(self._slow()) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise PromError(self._slow()) from None
            text = getattr(reason, "strerror", None) or str(reason)
            raise PromError(f"{self.url}: unreachable ({text}); check --prometheus and that the server "
                            "runs") from None
        except (OSError, ValueError) as exc:
            raise PromError(f"{self.url}: the request failed ({exc}); check --prometheus") from None
        self._received(len(body))
        try:
            doc = json.loads(body)
        except ValueError:
            raise PromError(f"{self.url}: answered something that is not JSON; is this URL a Prometheus "
                            "server (http://host:9090)?") from None
        if not isinstance(doc, dict) or doc.get("status") != "success" or not isinstance(doc.get("data"), dict):
            detail = _api_error(body) or "an answer without status success"
            raise PromError(f"{self.url}: {detail} (query {_short(expr)})")
        data: Mapping[str, Any] = doc["data"]
        return data


def _read_error(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read() or b""
    except OSError:
        return b""


def _api_error(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(doc, dict) or "error" not in doc:
        return ""
    return " ".join(f"{doc.get('errorType', 'error')}: {doc['error']}".split())


def _labels(r: Mapping[str, Any]) -> dict[str, str]:
    metric = r.get("metric")
    return {str(k): str(v) for k, v in metric.items()} if isinstance(metric, dict) else {}


def _value(pair: object) -> float:
    """A [t, "value"] pair's value; Prometheus writes NaN and ±Inf as strings, which float() reads."""
    if isinstance(pair, Sequence) and len(pair) == 2:
        try:
            return float(pair[1])
        except (TypeError, ValueError):
            return math.nan
    return math.nan


def _time(pair: object) -> float:
    if isinstance(pair, Sequence) and len(pair) == 2 and isinstance(pair[0], (int, float)):
        return float(pair[0])
    return math.nan


def _short(expr: str, limit: int = 80) -> str:
    one = " ".join(expr.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."
