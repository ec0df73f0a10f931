"""Reports: what one test run sends, the on-disk spool, and sending it.

A report holds exactly the fields of the server contract (docs/api.md) and nothing else:
no paths, no output, no environment variables. It is written to the spool before any
network use and removed only once the server has stored it (202), so a report survives a
server outage and is resent by a later run; the server de-duplicates by report id.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import enrol, http, settings

if TYPE_CHECKING:
    from pathlib import Path

MAX_FAILED = 100
MAX_TEST_ID = 512
MAX_INSTALLED = 2000
MAX_BATCH = 100
MAX_SPOOL = 500
OUTCOMES = ("pass", "fail", "error")
# Why a run did not pass: "tests" (a test failed), "install" (deps or the project could not be
# installed), "override-clash" (pip refused depcanary's candidate: it clashes with another
# requirement), "no-results" (a CI job left no test results). docs/api.md lists them.
REASONS = ("tests", "install", "override-clash", "no-results")
# The branch the run's constraints came from, as the server named it (X-Depcanary-Branch).
_BRANCH = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,59}$")

# PEP 440 (public and local versions), as in packaging.version.VERSION_PATTERN.
_PEP440 = re.compile(
    r"^v?(?:(?:[0-9]+)!)?[0-9]+(?:\.[0-9]+)*(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?"
    r"(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?(?:[-_.]?dev[-_.]?[0-9]*)?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


def spool_dir() -> Path:
    return settings.cache_dir() / "spool"


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clean_installed(raw: dict[str, str]) -> dict[str, str]:
    """Keep valid names with PEP 440 versions (the server rejects anything else)."""
    out: dict[str, str] = {}
    for name, version in sorted(raw.items()):
        if isinstance(name, str) and isinstance(version, str) and _NAME.match(name) and _PEP440.match(version):
            out[name] = version
        if len(out) >= MAX_INSTALLED:
            break
    return out


def clean_failed(ids: list[str]) -> list[str]:
    out: list[str] = []
    for raw in ids:
        test_id = raw.strip()[:MAX_TEST_ID]
        if not test_id or test_id in out:
            continue
        out.append(test_id)
        if len(out) >= MAX_FAILED:
            break
    return out


def build(
    *,
    machine: str,
    outcome: str,
    reason: str = "",
    installed: dict[str, str],
    pinned: dict[str, str] | None = None,
    branch: str | None = None,
    project: str,
    env: str,
    python: str,
    platform: str,
    duration_s: float,
    failed_tests: list[str],
    started: datetime,
    finished: datetime,
) -> dict[str, Any]:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r}")
    if reason and reason not in REASONS:
        raise ValueError(f"reason {reason!r}")
    return {
        "id": str(uuid.uuid4()),
        "machine": machine,
        "outcome": outcome,
        **({"reason": reason} if reason and outcome != "pass" else {}),
        "installed": clean_installed(installed),
        **({"pinned": clean_installed(pinned)} if pinned else {}),
        **({"branch": branch} if branch and _BRANCH.match(branch) else {}),
        "project": project[:200] or "unknown",
        "env": env[:200] or "unknown",
        "python": python[:50] or "unknown",
        "platform": platform[:100] or "unknown",
        "durationMs": max(0, round(duration_s * 1000)),
        "failedTests": clean_failed(failed_tests),
        "startedAt": iso(started),
        "finishedAt": iso(finished),
        "client": settings.CLIENT,
    }


def spool(report: dict[str, Any]) -> Path:
    directory = spool_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{report['id']}.json"
    tmp = directory / f".{report['id']}.tmp"
    tmp.write_text(json.dumps(report, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path


def spooled() -> list[Path]:
    """The spooled reports, oldest first. A file that goes while they are listed (sent and
    removed by another tox run on this machine) is left out, not taken for an empty spool."""
    try:
        paths = list(spool_dir().glob("*.json"))
    except OSError:
        return []
    dated: list[tuple[float, Path]] = []
    for path in paths:
        with contextlib.suppress(OSError):
            dated.append((path.stat().st_mtime, path))
    files = [path for _, path in sorted(dated)]
    for extra in files[:-MAX_SPOOL]:  # a machine offline for months keeps only the newest
        _remove(extra)
    return files[-MAX_SPOOL:]


def clear_spool() -> int:
    files = spooled()
    for path in files:
        _remove(path)
    return len(files)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        _remove(path)
        return None
    return data if isinstance(data, dict) else None


def send_spool(server: str, machine: str, seconds: float) -> tuple[int, str | None]:
    """Send what is spooled for this machine; returns (reports stored, problem or None).

    Reports go with this machine's credential (enrolling first when it has none) or the CI
    system's reporter token (enrol.authorization). Reports the server refuses as malformed
    (4xx) are dropped one by one, so a bad report cannot block the spool forever; network,
    5xx, 401, 408 and 429 problems keep everything for later (after a 429 nothing is sent
    before its Retry-After has passed)."""
    wait = _retry_after_left()
    if wait > 0:
        return 0, f"the server asked to wait {wait:.0f}s more (HTTP 429)"
    budget = http.Budget(seconds)
    batch: list[tuple[Path, dict[str, Any]]] = []
    for path in spooled():
        data = _read(path)
        if data is not None and data.get("machine") == machine:
            batch.append((path, data))
    if not batch:
        return 0, None
    auth = _Auth(server, machine, budget)
    sent = 0
    try:
        for start in range(0, len(batch), MAX_BATCH):
            chunk = batch[start : start + MAX_BATCH]
            status = _post(server, [data for _, data in chunk], budget.left(), auth)
            if status != 202:  # a report in the chunk is refused: find it and drop it
                sent += _send_one_by_one(server, chunk, budget, auth)
                continue
            for path, _ in chunk:
                _remove(path)
            sent += len(chunk)
    except http.ServerProblem as err:
        return sent, str(err)
    return sent, None


def _send_one_by_one(server: str, chunk: list[tuple[Path, dict[str, Any]]], budget: http.Budget, auth: _Auth) -> int:
    sent = 0
    for path, data in chunk:
        if _post(server, [data], budget.left(), auth) == 202:
            sent += 1
        _remove(path)  # stored, or refused as malformed (anything else raised)
    return sent


class _Auth:
    """The Authorization header of one send, made once; renewed once after a 401 (the server
    forgot this machine's enrolment: it enrols again)."""

    def __init__(self, server: str, machine: str, budget: http.Budget) -> None:
        self.server, self.machine, self.budget = server, machine, budget
        self.renewed = False
        self.value = enrol.authorization(server, machine, budget.left())

    def header(self) -> dict[str, str]:
        if self.value is None:
            raise http.ServerProblem(
                "not enrolled with the server yet (`depcanary opt-in` enrols; CI: DEPCANARY_REPORTER_TOKEN)"
            )
        return {"Authorization": self.value}

    def renew(self) -> bool:
        if self.renewed or settings.reporter_token():
            return False
        self.renewed = True
        self.value = enrol.authorization(self.server, self.machine, self.budget.left(), renew=True)
        return self.value is not None


# Statuses that mean "later", not "this report is bad".
_RETRY_LATER = (401, 408, 429)
_RETRY_AFTER_FILE = ".retry-after"
MAX_RETRY_AFTER = 3600.0


def _post(server: str, reports: list[dict[str, Any]], seconds: float, auth: _Auth) -> int:
    """The one place reports leave the machine: 202, or the 4xx status of a refused batch;
    anything to retry later raises http.ServerProblem."""
    for _ in range(2):
        if seconds <= 0:
            raise http.ServerProblem("out of time")
        resp = http.request(
            "POST", f"{server}/v1/reports", seconds=seconds, body={"reports": reports}, headers=auth.header()
        )
        if resp.status != 401 or not auth.renew():
            break
        seconds = auth.budget.left()
    if resp.status == 429:
        _note_retry_after(resp.headers.get("retry-after"))
    if resp.status != 202 and (not 400 <= resp.status < 500 or resp.status in _RETRY_LATER):
        raise http.ServerProblem(
            f"HTTP {resp.status}" + (" (the credential was refused)" if resp.status == 401 else "")
        )
    return resp.status


def _note_retry_after(header: str | None) -> None:
    try:
        delay = min(max(float((header or "").strip()), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        delay = 60.0  # an HTTP-date or garbage: a minute
    with contextlib.suppress(OSError):
        spool_dir().mkdir(parents=True, exist_ok=True)
        (spool_dir() / _RETRY_AFTER_FILE).write_text(str(time.time() + delay), encoding="utf-8")


def _retry_after_left() -> float:
    try:
        until = float((spool_dir() / _RETRY_AFTER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0.0
    return min(until - time.time(), MAX_RETRY_AFTER)
