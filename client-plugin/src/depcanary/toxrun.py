"""State of one tox invocation, independent of tox's classes (the hooks stay thin).

Time bound: the whole tox run waits on the network for at most DEPCANARY_TIMEOUT seconds
(default 3) in total: the constraints fetch at configuration time, and at exit the wait
for reports still being sent. Reports are sent in a background thread while later envs
run; what is not stored by then stays in the spool for the next run.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.util import find_spec
from pathlib import Path

from . import envinfo, identity, pins, report, settings

LOGGER = logging.getLogger("depcanary")
PLUGIN_MODULE = "depcanary_pytest"
CONSTRAINT_VARS = ("TOX_CONSTRAINTS_FILE", "PIP_CONSTRAINT")
UV_VAR = "UV_CONSTRAINT"  # set too when tox-uv is installed (its envs install with uv)
MARKER = ".depcanary-constraints"


def say(message: str) -> None:
    """One line for the developer, visible at tox's default verbosity."""
    LOGGER.warning("depcanary> %s", message)


@dataclass
class EnvRun:
    name: str
    constraints: str | None  # the PIP_CONSTRAINT value given to the env
    failures: Path
    started: float | None = None  # monotonic
    started_at: datetime | None = None
    installing: bool = False
    exit_code: int | None = None


@dataclass
class Run:
    ident: identity.Identity
    bound: float  # seconds this run may wait on the network in total
    waited: float = 0.0
    resolution: pins.Resolution | None = None
    envs: dict[str, EnvRun] = field(default_factory=dict)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="depcanary-")))
    _sender: threading.Thread | None = None
    _again: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls) -> Run:
        run = cls(identity.resolve(), settings.timeout())
        atexit.register(run.finish)
        run.resolve()
        return run

    def left(self) -> float:
        return max(0.0, self.bound - self.waited)

    @property
    def reporting(self) -> bool:
        return self.ident.consent and self.ident.server is not None

    def resolve(self) -> None:
        ident = self.ident
        if ident.server is None:
            say("no server configured (set DEPCANARY_URL or `depcanary opt-in --server URL`): doing nothing")
            return
        begun = time.monotonic()
        res = pins.fetch(ident.server, ident.machine, self.left())
        self.waited += time.monotonic() - begun
        self.resolution = res
        if res.source == "server":
            if ident.consent:
                what = f"candidate {pins.describe(res.overrides)}" if res.overrides else "no candidate for this machine"
                say(f"constraints from {ident.server}, {what}; reports on ({ident.why})")
            else:
                say(f"{ident.why}: base constraints from {ident.server}, no reports (`depcanary opt-in` to take part)")
        else:
            tail = "; reports are kept and resent later" if ident.consent else ""
            say(res.message + tail)
        if res.server_ok and self.reporting and report.spooled():
            self.kick()

    # configuration -------------------------------------------------------------------
    def env_vars(self, name: str, user: dict[str, str]) -> dict[str, str]:
        """Variables to add to an env's set_env; `user` holds what the project or the shell
        already set for the variables we touch."""
        res = self.resolution
        failures = self.tmp / (re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".failures")
        out: dict[str, str] = {}
        if res is not None and res.path is not None:
            names = [*CONSTRAINT_VARS, UV_VAR] if find_spec("tox_uv") else list(CONSTRAINT_VARS)
            for var in names:
                out[var] = pins.merged_value(user.get(var), res.path, res.overrides)
        self.envs[name] = EnvRun(name, out.get("PIP_CONSTRAINT"), failures)
        plugin_dir = self._plugin_dir() if self.reporting else None
        if plugin_dir is not None:
            out["DEPCANARY_FAILURES_FILE"] = str(failures)
            plugins = [p.strip() for p in user.get("PYTEST_PLUGINS", "").split(",") if p.strip()]
            out["PYTEST_PLUGINS"] = ",".join(plugins if PLUGIN_MODULE in plugins else [*plugins, PLUGIN_MODULE])
            paths = [p for p in user.get("PYTHONPATH", "").split(os.pathsep) if p]
            out["PYTHONPATH"] = os.pathsep.join([*paths, str(plugin_dir)])
        return out

    def _plugin_dir(self) -> Path | None:
        """A directory holding only a copy of the pytest plugin, for PYTHONPATH."""
        target = self.tmp / "pytest-plugin"
        if (target / f"{PLUGIN_MODULE}.py").exists():
            return target
        spec = find_spec(PLUGIN_MODULE)
        if spec is None or spec.origin is None:
            return None
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec.origin, target / f"{PLUGIN_MODULE}.py")
        return target

    # execution ----------------------------------------------------------------------
    def begin(self, name: str) -> EnvRun | None:
        env = self.envs.get(name)
        if env is not None and env.started is None:
            env.started = time.monotonic()
            env.started_at = datetime.now(timezone.utc)
            with contextlib.suppress(OSError):
                env.failures.unlink()
        return env

    def needs_recreate(self, env: EnvRun, env_dir: Path) -> str | None:
        """Why the env must be rebuilt: its packages were installed under other pins (tox
        itself only notices changed deps, not a changed PIP_CONSTRAINT)."""
        if env.installing:
            return None
        env.installing = True
        if env.constraints is None:  # no pins this run: change nothing
            return None
        marker = env_dir / MARKER
        want = env.constraints
        try:
            have = marker.read_text(encoding="utf-8").strip() if marker.exists() else None
            env_dir.mkdir(parents=True, exist_ok=True)
            marker.write_text(want + "\n", encoding="utf-8")
        except OSError:
            return None
        if have is not None and have != want:
            env.installing = False
            return "depcanary constraints changed"
        return None

    def outcome(self, env: EnvRun, no_test: bool) -> str | None:
        if env.exit_code is not None:
            return "pass" if env.exit_code == 0 else "fail"
        if no_test or not env.installing:
            return None  # nothing ran (skip, --notest, devenv): nothing to say
        return "error"  # setup or install failed before the commands

    def teardown(self, env: EnvRun, no_test: bool, python: Path | None, project_root: Path, change_dir: Path) -> None:
        if not self.reporting or env.started is None:
            return
        outcome = self.outcome(env, no_test)
        if outcome is None:
            return
        info = envinfo.probe(python) if python is not None else None
        info = info or envinfo.EnvInfo()
        failed = envinfo.read_failures(env.failures)
        if python is not None:
            failed += envinfo.stestr_failures(python, change_dir, time.time() - (time.monotonic() - env.started))
        assert self.ident.machine is not None  # noqa: S101 (reporting implies it)
        data = report.build(
            machine=self.ident.machine,
            outcome=outcome,
            installed=info.installed,
            # The overrides this run installed under: they tell the server the arm of a
            # report whose install of the candidate failed (so `installed` lacks it).
            pinned=dict(self.resolution.overrides) if self.resolution is not None else None,
            project=envinfo.project_name(project_root),
            env=env.name,
            python=info.python,
            platform=info.platform,
            duration_s=time.monotonic() - env.started,
            failed_tests=failed,
            started=env.started_at or datetime.now(timezone.utc),
            finished=datetime.now(timezone.utc),
        )
        try:
            report.spool(data)
        except OSError as err:
            say(f"cannot keep the report ({err}); not sent")
            return
        if self.resolution is not None and self.resolution.server_ok:
            self.kick()

    # sending ------------------------------------------------------------------------
    def kick(self) -> None:
        """Send the spool in the background; a kick while a send is under way makes the
        sender go round once more (both decisions are taken under the lock)."""
        with self._lock:
            self._again = True
            if self._sender is not None:
                return
            self._sender = threading.Thread(target=self._send_loop, name="depcanary-send", daemon=True)
            self._sender.start()

    def _send_loop(self) -> None:
        assert self.ident.server is not None and self.ident.machine is not None  # noqa: S101
        while True:
            with self._lock:
                if not self._again:
                    self._sender = None
                    return
                self._again = False
            _, problem = report.send_spool(self.ident.server, self.ident.machine, settings.timeout())
            if problem:
                LOGGER.info("depcanary> reports kept for a later run: %s", problem)
                with self._lock:
                    self._again = False
                    self._sender = None
                return

    def finish(self) -> None:
        with self._lock:
            sender = self._sender
        if sender is not None and sender.is_alive():
            begun = time.monotonic()
            sender.join(self.left())
            self.waited += time.monotonic() - begun
            if sender.is_alive():
                say("server slow: reports kept and resent by a later run")
        shutil.rmtree(self.tmp, ignore_errors=True)
