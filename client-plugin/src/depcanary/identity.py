"""Machine identity and consent.

The machine id is a random UUID4 made at opt-in and kept in the user's config dir; it is
never derived from the host name, the user name or a MAC address. Consent is decided here
and only here, in this order:
  1. DEPCANARY_TELEMETRY=0 or DO_NOT_TRACK=1: no telemetry, whatever else is set;
  2. DEPCANARY_TELEMETRY=1 (CI jobs), or `depcanary opt-in`: telemetry on;
  3. otherwise: off ("not opted in").
Without consent the machine id is not sent anywhere, not even to ask for pins: the machine
gets the base constraints.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import settings

if TYPE_CHECKING:
    from pathlib import Path

CONFIG_NAME = "config.json"


@dataclass(frozen=True)
class Identity:
    server: str | None
    machine: str | None  # set only when consent is True
    consent: bool
    why: str  # one phrase saying where consent (or its absence) comes from
    saved_machine: str | None  # what the config file holds, for `status`


def config_path() -> Path:
    return settings.config_dir() / CONFIG_NAME


def load_config() -> dict[str, Any]:
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_config(data: dict[str, Any]) -> None:
    """Atomically, mode 0600 (it holds the machine's credential) in a 0700 directory."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with contextlib.suppress(OSError):
        tmp.chmod(0o600)
    tmp.replace(path)


def opt_in(server: str | None = None) -> dict[str, Any]:
    data = load_config()
    if not settings.parse_uuid(data.get("machine")):
        data["machine"] = str(uuid.uuid4())
    data["consent"] = True
    data["optedInAt"] = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    if server:
        data["server"] = server.rstrip("/")
    save_config(data)
    return data


def opt_out() -> dict[str, Any]:
    """Withdraw consent and forget the machine id and its credentials (a later opt-in makes a new one)."""
    data = load_config()
    data.pop("machine", None)
    data.pop("optedInAt", None)
    data.pop("credentials", None)
    data["consent"] = False
    save_config(data)
    return data


def resolve() -> Identity:
    data = load_config()
    saved_server = data.get("server") if isinstance(data.get("server"), str) else None
    server = settings.server_url(saved_server)
    saved_machine = settings.parse_uuid(data.get("machine"))
    env_machine_raw = os.environ.get("DEPCANARY_MACHINE_ID")
    env_machine = settings.parse_uuid(env_machine_raw)
    machine = env_machine or saved_machine

    if settings.env_flag("DEPCANARY_TELEMETRY") is False:
        return Identity(server, None, False, "DEPCANARY_TELEMETRY=0 is set", saved_machine)
    if settings.env_flag("DO_NOT_TRACK"):
        return Identity(server, None, False, "DO_NOT_TRACK is set", saved_machine)
    if env_machine_raw and not env_machine:
        return Identity(server, None, False, "DEPCANARY_MACHINE_ID is not a UUID", saved_machine)
    if settings.env_flag("DEPCANARY_TELEMETRY"):
        if not machine:
            return Identity(server, None, False, "DEPCANARY_TELEMETRY=1 but no machine id", saved_machine)
        return Identity(server, machine, True, "DEPCANARY_TELEMETRY=1", saved_machine)
    if data.get("consent") is True and machine:
        return Identity(server, machine, True, "opted in", saved_machine)
    return Identity(server, None, False, "not opted in", saved_machine)


# Machine ids of CI jobs are name-based UUIDs (RFC 4122 version 5, SHA-1) of the job's CI key in
# this namespace: the same change and patchset always get the same id (a recheck keeps its
# arm), and only this hash of the key leaves the job.
CI_NAMESPACE = uuid.UUID("6b1f8a52-3c1e-5d0a-9d57-0c7f2e4a9b31")


def ci_machine(key: str) -> str:
    return str(uuid.uuid5(CI_NAMESPACE, key.strip()))


def for_ci_key(key: str | None) -> Identity:
    """A CI job's identity: with --ci-key the derived id, the key itself counting as the job's
    consent (an operator put it in the job); DEPCANARY_TELEMETRY=0 and DO_NOT_TRACK=1 still
    win. Without a key: the machine's usual identity (resolve())."""
    ident = resolve()
    if not key or not key.strip():
        return ident
    if settings.env_flag("DEPCANARY_TELEMETRY") is False or settings.env_flag("DO_NOT_TRACK"):
        return ident
    return Identity(ident.server, ci_machine(key), True, "--ci-key", ident.saved_machine)
