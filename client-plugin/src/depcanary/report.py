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
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import http, settings

MAX_FAILED = 100
MAX_TEST_ID = 512
MAX_INSTALLED = 2000
MAX_BATCH = 100
MAX_SPOOL = 500
OUTCOMES = ("pass", "fail", "error")

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
    installed: dict[str, str],
    pinned: dict[str, str] | None = None,
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
    return {
        "id": str(uuid.uuid4()),
        "machine": machine,
        "outcome": outcome,
        "installed": clean_installed(installed),
        **({"pinned": clean_installed(pinned)} if pinned else {}),
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

    Reports the server refuses as malformed (4xx) are dropped one by one, so a bad report
    cannot block the spool forever; network or 5xx problems keep everything for later."""
    budget = http.Budget(seconds)
    batch: list[tuple[Path, dict[str, Any]]] = []
    for path in spooled():
        data = _read(path)
        if data is not None and data.get("machine") == machine:
            batch.append((path, data))
    sent = 0
    for start in range(0, len(batch), MAX_BATCH):
        chunk = batch[start : start + MAX_BATCH]
        try:
            status = _post(server, [data for _, data in chunk], budget.left())
        except http.ServerProblem as err:
            return sent, str(err)
        if status == 202:
            for path, _ in chunk:
                _remove(path)
            sent += len(chunk)
            continue
        if not 400 <= status < 500 or status in (408, 429):
            return sent, f"HTTP {status}"
        for path, data in chunk:  # find and drop the report(s) the server refuses
            try:
                one = _post(server, [data], budget.left())
            except http.ServerProblem as err:
                return sent, str(err)
            if one == 202:
                sent += 1
            if one == 202 or (400 <= one < 500 and one not in (408, 429)):
                _remove(path)
    return sent, None


def _post(server: str, reports: list[dict[str, Any]], seconds: float) -> int:
    if seconds <= 0:
        raise http.ServerProblem("out of time")
    resp = http.request("POST", f"{server}/v1/reports", seconds=seconds, body={"reports": reports})
    return resp.status
