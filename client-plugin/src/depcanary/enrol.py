"""Enrolment: the credential this machine sends its reports with (docs/trust.md).

The server counts a report only from an enrolled source. An opted-in machine enrols once
per server (`POST /v1/enrol`, at `depcanary opt-in` or at the first run that reaches the
server) and keeps the credential the server made for it in its config file (mode 0600),
keyed by the server URL, so a credential is never sent to another server. The server keeps
only a hash of it. A CI system instead sets DEPCANARY_REPORTER_TOKEN (a `reporter` token
an admin made); its jobs then need no enrolment and may use any machine id.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from typing import Any

from . import http, identity, settings

_CREDENTIAL = re.compile(r"^dcm_[A-Za-z0-9_-]{20,200}$")


class EnrolFailed(Exception):
    """The server refused the enrolment (said why) or could not be reached."""


@dataclass(frozen=True)
class Enrolled:
    machine: str
    credential: str
    changed: bool  # the server gave another machine id than the one proposed


def saved(server: str, machine: str) -> str | None:
    """The credential kept for this server and machine id, or None."""
    entry = identity.load_config().get("credentials", {})
    entry = entry.get(server) if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or entry.get("machine") != machine:
        return None
    credential = entry.get("credential")
    return credential if isinstance(credential, str) and _CREDENTIAL.match(credential) else None


def _save(server: str, machine: str, credential: str, *, adopt: bool) -> None:
    data = identity.load_config()
    found = data.get("credentials")
    creds: dict[str, Any] = found if isinstance(found, dict) else {}
    creds[server] = {"machine": machine, "credential": credential}
    data["credentials"] = creds
    if adopt:  # the machine id the server gave replaces the one it refused
        data["machine"] = machine
    identity.save_config(data)


def forget(server: str) -> str | None:
    """Drops the credential kept for this server; returns it (for a last DELETE)."""
    data = identity.load_config()
    creds = data.get("credentials")
    if not isinstance(creds, dict) or server not in creds:
        return None
    entry = creds.pop(server)
    identity.save_config(data)
    return entry.get("credential") if isinstance(entry, dict) else None


def _post(server: str, body: dict[str, str], seconds: float) -> http.Response:
    if seconds <= 0:
        raise EnrolFailed("out of time")
    try:
        return http.request("POST", f"{server}/v1/enrol", seconds=seconds, body=body)
    except http.ServerProblem as err:
        raise EnrolFailed(f"server unreachable ({err})") from err


def _message(resp: http.Response) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
        return str(resp.json()["error"]["message"])[:300]
    return f"HTTP {resp.status}"


def enrol(server: str, machine: str, seconds: float, *, may_change: bool) -> Enrolled:
    """Enrol `machine` with `server` and keep the credential. When the id is enrolled already
    (another machine took it) and `may_change`, enrol under an id the server picks; that id
    then becomes this machine's. Raises EnrolFailed (with the server's reason)."""
    budget = http.Budget(seconds)
    resp = _post(server, {"machine": machine}, budget.left())
    changed = False
    if resp.status == 409 and may_change:
        resp = _post(server, {}, budget.left())
        changed = True
    if resp.status == 429:
        raise EnrolFailed(f"enrolment refused for now (HTTP 429: {_message(resp)})")
    if resp.status != 201:
        raise EnrolFailed(f"enrolment refused (HTTP {resp.status}: {_message(resp)})")
    try:
        data = resp.json()
        got, credential = str(data["machine"]), str(data["credential"])
    except (ValueError, KeyError, TypeError) as err:
        raise EnrolFailed(f"unusable enrolment answer ({err})") from err
    if not _CREDENTIAL.match(credential) or settings.parse_uuid(got) is None or (not changed and got != machine):
        raise EnrolFailed("unusable enrolment answer")
    _save(server, got, credential, adopt=changed)
    return Enrolled(got, credential, changed)


def is_own(machine: str) -> bool:
    """The machine id is this machine's opted-in one (not a CI job's DEPCANARY_MACHINE_ID or
    --ci-key id): only such an id enrols; a CI job reports with a reporter token."""
    return identity.load_config().get("machine") == machine and not os.environ.get("DEPCANARY_MACHINE_ID")


def authorization(server: str, machine: str, seconds: float, *, renew: bool = False) -> str | None:
    """The Authorization header for this machine's reports to `server`: the reporter token
    (CI), else the machine's credential, enrolling its own id when it has none (or `renew`,
    after the server said 401). None when there is no way to get one now."""
    token = settings.reporter_token()
    if token:
        return f"Bearer {token}"
    credential = None if renew else saved(server, machine)
    if credential is None and not is_own(machine):
        return None
    if credential is None:
        try:
            credential = enrol(server, machine, seconds, may_change=False).credential
        except EnrolFailed:
            return None
    return f"Bearer {credential}"
