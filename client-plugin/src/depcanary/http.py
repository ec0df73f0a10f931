"""Small HTTP helpers on urllib with a hard wall-clock bound.

A socket timeout bounds each read, not the whole exchange (a server can trickle one byte a
second), so every call runs in a daemon thread that the caller waits on for at most
`seconds`; a call that overruns is abandoned and reported as a timeout.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from . import settings

MAX_BODY = 8 * 1024 * 1024
T = TypeVar("T")


class ServerProblem(Exception):
    """The server could not be reached or answered something unusable."""


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class Budget:
    """How long this process may still wait on the network in total."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def bounded(fn: Callable[[], T], seconds: float) -> T:
    """Run fn in a daemon thread; raise ServerProblem if it takes longer than `seconds`."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="depcanary-http", daemon=True)
    thread.start()
    thread.join(max(seconds, 0.0))
    if thread.is_alive():
        raise ServerProblem(f"no answer within {seconds:.1f}s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def request(
    method: str,
    url: str,
    *,
    seconds: float,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One HTTP exchange finished within `seconds`; any status is returned, never raised."""
    data = None
    hdrs = {"User-Agent": settings.CLIENT, **(headers or {})}
    if body is not None:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    if not url.startswith(("http://", "https://")):
        raise ServerProblem(f"not an http(s) URL: {url}")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)  # noqa: S310 (checked above)

    def exchange() -> Response:
        try:
            with urllib.request.urlopen(req, timeout=max(seconds, 0.1)) as resp:  # noqa: S310
                raw = resp.read(MAX_BODY + 1)
                return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, raw)
        except urllib.error.HTTPError as err:
            raw = err.read(MAX_BODY + 1) if err.fp else b""
            return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, raw)
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            raise ServerProblem(str(reason) or type(err).__name__) from err
        except Exception as err:  # http.client.BadStatusLine and friends: garbage on the wire
            raise ServerProblem(f"unusable answer ({type(err).__name__})") from err

    resp = bounded(exchange, seconds)
    if len(resp.body) > MAX_BODY:
        raise ServerProblem("answer too large")
    return resp
