"""The CI path (Zuul-style jobs): a pre-run step writes the job's cohort constraints file where
the job reads it, a post-run step turns the job's test results into one report.

    depcanary constraints [--branch B] --out PATH [--ci-key KEY]
    depcanary report (--from-subunit FILE | --from-junit FILE) [--ci-key KEY] [--env E] ...

Both steps of one job derive the same machine id from the same key (identity.ci_machine), and
the pre-run leaves a small state file in the depcanary cache so that the post-run knows which
candidate versions the job installed under (`pinned`).
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import constraints, envinfo, identity, pins, report, results, settings

if TYPE_CHECKING:
    from pathlib import Path


@dataclass
class Outcome:
    code: int
    message: str


def _state_path(machine: str) -> Path:
    return settings.cache_dir() / "ci" / f"{machine}.json"


def write_constraints(ident: identity.Identity, out: Path, branch: str | None) -> Outcome:
    """Write this job's cohort file to `out`: the overrides applied to `out` when it exists
    (a requirements checkout), else the server's file for the branch. With the server
    unreachable an existing file is left as it is (the base: the job runs as without
    depcanary) and the last good answer is used when there is one."""
    if ident.server is None:
        return Outcome(2, "no server configured: set DEPCANARY_URL")
    res = pins.fetch(ident.server, ident.machine if ident.consent else None, settings.timeout(), branch)
    if res.path is None:
        if out.is_file():
            return Outcome(0, f"{res.message}; {out} left as it is")
        return Outcome(1, f"{res.message}; {out} not written")
    try:
        if out.is_file():
            text = constraints.apply_overrides(out.read_text(encoding="utf-8", errors="replace"), res.overrides)
        else:
            text = res.path.read_text(encoding="utf-8")
        _write_atomic(out, text)
        if ident.consent and ident.machine:
            _write_atomic(
                _state_path(ident.machine),
                json.dumps(
                    {
                        "machine": ident.machine,
                        "branch": branch,
                        "served": res.served,
                        "overrides": res.overrides,
                        "file": str(out),
                    }
                ),
            )
    except OSError as err:
        return Outcome(1, f"cannot write {out}: {err.strerror or err}")
    what = f"candidate {pins.describe(res.overrides)}" if res.overrides else "no candidate for this job"
    where = "cached constraints" if res.source == "cache" else f"constraints from {ident.server}"
    note = f" ({res.note})" if res.note else ""
    return Outcome(
        0, f"wrote {out}: {where}{note}, {what}" + (f"; machine id {ident.machine}" if ident.consent else "")
    )


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _job_state(machine: str) -> tuple[dict[str, str], str | None]:
    """What the pre-run step wrote for this job: the overrides it pinned and the branch served."""
    try:
        data = json.loads(_state_path(machine).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, None
    if not isinstance(data, dict):
        return {}, None
    overrides = data.get("overrides")
    served = data.get("served")
    pinned = {str(k): str(v) for k, v in overrides.items()} if isinstance(overrides, dict) else {}
    return pinned, served if isinstance(served, str) else None


@dataclass
class JobFacts:
    project: str
    env: str
    python: Path | None  # the interpreter of the env the tests ran in (for `installed`)


def send_report(ident: identity.Identity, found: results.Results | None, facts: JobFacts) -> Outcome:
    """One report from a job's results; `found` None: the job left none (outcome error)."""
    if not ident.consent or ident.machine is None:
        return Outcome(2, f"nothing sent: {ident.why} (CI jobs pass --ci-key, or set DEPCANARY_TELEMETRY=1)")
    if ident.server is None:
        return Outcome(2, "no server configured: set DEPCANARY_URL")
    info = envinfo.probe(facts.python) if facts.python is not None else None
    now = datetime.now(timezone.utc)
    if found is None or found.tests == 0:
        outcome, reason, failed = "error", "no-results", []
    else:
        outcome, reason, failed = found.outcome, "tests", found.failed
    started = (found.started if found else None) or now
    finished = (found.finished if found else None) or now
    pinned, served = _job_state(ident.machine)
    data: dict[str, Any] = report.build(
        machine=ident.machine,
        outcome=outcome,
        reason=reason,
        installed=info.installed if info else {},
        pinned=pinned,
        branch=served,
        project=facts.project,
        env=facts.env,
        python=info.python if info else ".".join(map(str, sys.version_info[:3])),
        platform=info.platform if info else sysconfig.get_platform(),
        duration_s=max(0.0, (finished - started).total_seconds()),
        failed_tests=failed,
        started=started,
        finished=finished,
    )
    try:
        report.spool(data)
    except OSError as err:
        return Outcome(1, f"cannot keep the report ({err}); not sent")
    sent, problem = report.send_spool(ident.server, ident.machine, settings.timeout())
    summary = f"{outcome}, {len(data['failedTests'])} failing test(s)"
    if problem:
        return Outcome(0, f"report ({summary}) not sent: {problem}; kept in {report.spool_dir()}")
    return Outcome(0, f"sent {sent} report(s): {summary}, machine id {ident.machine}")
