"""Getting this machine's constraints: the server first, the last good answer on disk next.

One call per tox run. The server is asked with If-None-Match and the answer is checked
before use; anything unusable counts as the server being down. What was fetched is kept
under $XDG_CACHE_HOME/depcanary (content-addressed file + a small state file per server
and machine), so that a later run without the server uses the last good answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import constraints, http, settings


@dataclass
class Resolution:
    path: Path | None  # the constraints file to use; None: change nothing
    source: str  # "server", "cache" or "none"
    message: str  # one line for the developer
    overrides: dict[str, str] = field(default_factory=dict)  # normalised name -> version
    server_ok: bool = False
    fetched_at: str | None = None
    branch: str | None = None  # the branch asked for (None: the server's default, master)
    served: str | None = None  # the branch the server says it answered (X-Depcanary-Branch)

    @property
    def note(self) -> str:
        """One phrase when the server answered for another branch than the one asked for."""
        if self.source != "server" or not self.branch or self.served == self.branch:
            return ""
        if self.served is not None and self.served.endswith(f"/{self.branch}"):
            return ""  # a release id served as its stable/ (or unmaintained/) branch, as asked
        if self.served is None:
            return "" if self.branch == "master" else f"the server serves master only: master used for {self.branch}"
        return f"{self.branch} is served as {self.served}"


def constraints_dir() -> Path:
    return settings.cache_dir() / "constraints"


def _state_path(server: str, machine: str | None, branch: str | None) -> Path:
    key = hashlib.sha256(f"{server}\n{machine or '-'}\n{branch or '-'}".encode()).hexdigest()[:16]
    return settings.cache_dir() / f"state-{key}.json"


def _load_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("file"), str):
        return {}
    if not Path(data["file"]).is_file():
        return {}
    return data


def _save_state(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def constraints_url(server: str, machine: str | None, branch: str | None = None) -> str:
    query = {k: v for k, v in (("machine", machine), ("branch", branch)) if v}
    return f"{server}/v1/constraints.txt" + ("?" + urllib.parse.urlencode(query) if query else "")


def describe(overrides: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(overrides.items())) or "none"


def fetch(server: str, machine: str | None, seconds: float, branch: str | None = None) -> Resolution:
    """Never raises: every failure becomes a Resolution saying what happened."""
    state_path = _state_path(server, machine, branch)
    state = _load_state(state_path)
    headers = {"Accept": "text/plain"}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    try:
        resp = http.request("GET", constraints_url(server, machine, branch), seconds=seconds, headers=headers)
        served = _served_branch(resp.headers.get("x-depcanary-branch"))
        if resp.status == 304 and state:
            overrides = state.get("overrides") or {}
            state["checkedAt"] = _now()
            _save_state(state_path, state)
            return Resolution(
                Path(state["file"]), "server", "", overrides, True, state.get("fetchedAt"), branch, served
            )
        if resp.status == 404 and branch and _is_not_found(resp):
            return Resolution(
                None, "none", f"server {server} has no constraints for branch {branch}: changing nothing", {}, True
            )
        if resp.status != 200:
            raise http.ServerProblem(f"HTTP {resp.status}")
        try:
            text = constraints.validate(resp.body.decode("utf-8"))
        except (UnicodeDecodeError, constraints.InvalidConstraints) as err:
            raise http.ServerProblem(f"answer is not a constraints file ({err})") from err
        overrides = constraints.parse_overrides(resp.headers.get("x-depcanary-overrides"))
        path = constraints.write_content_addressed(constraints_dir(), text)
        fetched_at = _now()
        _save_state(
            state_path,
            {
                "server": server,
                "etag": resp.headers.get("etag"),
                "file": str(path),
                "overrides": overrides,
                "fetchedAt": fetched_at,
                "checkedAt": fetched_at,
            },
        )
        return Resolution(path, "server", "", overrides, True, fetched_at, branch, served)
    except http.ServerProblem as err:
        return _fallback(server, state, str(err), branch)
    except OSError as err:  # cache dir not writable: treat like no cache
        return Resolution(None, "none", f"cannot use the cache ({err}): changing nothing")


def _served_branch(header: str | None) -> str | None:
    value = (header or "").strip()
    return value if value and len(value) <= 100 and value.isprintable() else None


def _is_not_found(resp: http.Response) -> bool:
    """The server's own 404 (`{"error": {"code": "not_found", ...}}`), not a proxy's page."""
    try:
        error = resp.json().get("error")
    except (ValueError, AttributeError):
        return False
    return isinstance(error, dict) and error.get("code") == "not_found"


def _fallback(server: str, state: dict[str, Any], reason: str, branch: str | None) -> Resolution:
    if state:
        return Resolution(
            Path(state["file"]),
            "cache",
            f"server {server} unreachable ({reason}), using cached constraints from "
            f"{state['file']} (fetched {state.get('fetchedAt', '?')})",
            state.get("overrides") or {},
            False,
            state.get("fetchedAt"),
            branch,
        )
    return Resolution(
        None, "none", f"server {server} unreachable ({reason}) and no cached constraints: changing nothing"
    )


def cached(server: str, machine: str | None, branch: str | None = None) -> Resolution | None:
    """The last good answer without asking the server (for `depcanary env` offline)."""
    state = _load_state(_state_path(server, machine, branch))
    if not state:
        return None
    return Resolution(Path(state["file"]), "cache", "", state.get("overrides") or {}, False, state.get("fetchedAt"))


def fetch_pins(server: str, machine: str, seconds: float) -> list[dict[str, Any]]:
    """GET /v1/pins for `depcanary status`; raises http.ServerProblem."""
    url = f"{server}/v1/pins?" + urllib.parse.urlencode({"machine": machine})
    resp = http.request("GET", url, seconds=seconds, headers={"Accept": "application/json"})
    if resp.status != 200:
        raise http.ServerProblem(f"HTTP {resp.status}")
    try:
        data = resp.json()
        pins = data["pins"]
        if not isinstance(pins, list):
            raise TypeError("pins is not a list")
    except (ValueError, KeyError, TypeError) as err:
        raise http.ServerProblem(f"unusable answer ({err})") from err
    return [p for p in pins if isinstance(p, dict)]


def cohort_file(res: Resolution, local: tuple[Path, ...] | list[Path], drop: set[str]) -> Path:
    """The one file for TOX_CONSTRAINTS_FILE, PIP_CONSTRAINT and UV_CONSTRAINT: the user's own
    local files with this machine's overrides applied (every line of an overridden library,
    markers kept), else the server's file (the overrides already in it); in both cases
    without the lines of `drop` (the project under test and what is installed from source).
    Raises OSError when a file cannot be read or written."""
    if res.path is None:
        raise OSError("no constraints to build from")
    if local:
        texts = [Path(p).read_text(encoding="utf-8", errors="replace") for p in local]
        text = constraints.apply_overrides(constraints.join(texts), res.overrides)
    elif not drop:
        return res.path
    else:
        text = res.path.read_text(encoding="utf-8")
    return constraints.write_content_addressed(constraints_dir(), constraints.drop(text, drop))
