"""Everything the client reads from the environment, in one place.

Environment variables (all optional):
  DEPCANARY_URL          server base URL, e.g. https://depcanary.example.org (else the `server`
                         saved by `depcanary opt-in --server`; neither: the plugin does nothing)
  DEPCANARY_TIMEOUT      seconds the client may wait on the network in one tox run (default 3)
  DEPCANARY_MACHINE_ID   a UUID to use instead of the saved one (CI jobs)
  DEPCANARY_TELEMETRY    "0" never report; "1" consent without `depcanary opt-in` (CI jobs)
  DEPCANARY_BRANCH       the branch to ask for when no constraints URL names one (default master)
  DEPCANARY_REPORTER_TOKEN a CI system's `reporter` token: reports go with it, no enrolment
  DO_NOT_TRACK           "1" never report (https://consoledonottrack.com)
  XDG_CONFIG_HOME        config (consent, machine id) lives in $XDG_CONFIG_HOME/depcanary
  XDG_CACHE_HOME         constraints cache and report spool live in $XDG_CACHE_HOME/depcanary
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from . import __version__

DEFAULT_TIMEOUT = 3.0
MAX_TIMEOUT = 30.0
CLIENT = f"depcanary-client/{__version__}"

_FALSY = {"", "0", "false", "no", "off"}


def env_flag(name: str) -> bool | None:
    """True/False when the variable is set to a clear value, None when unset."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    return raw.strip().lower() not in _FALSY


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "depcanary"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "depcanary"


def timeout() -> float:
    raw = os.environ.get("DEPCANARY_TIMEOUT", "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return min(max(value, 0.1), MAX_TIMEOUT)


def parse_uuid(raw: str | None) -> str | None:
    """The canonical lower-case form of a UUID, or None when raw is not one."""
    if not raw:
        return None
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        return None


def reporter_token() -> str | None:
    """DEPCANARY_REPORTER_TOKEN (CI systems): sent with reports instead of an enrolment."""
    value = os.environ.get("DEPCANARY_REPORTER_TOKEN", "").strip()
    return value or None


def server_url(saved: str | None) -> str | None:
    url = os.environ.get("DEPCANARY_URL") or saved
    if not url:
        return None
    return url.strip().rstrip("/") or None


def branch() -> str | None:
    """DEPCANARY_BRANCH: the branch to ask for when no constraints URL names one (CI jobs of a
    stable branch set it); None: the server's default (master)."""
    value = os.environ.get("DEPCANARY_BRANCH", "").strip()
    return value or None
