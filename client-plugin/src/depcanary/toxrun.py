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

from . import constraints, enrol, envinfo, identity, pins, report, settings, sources

LOGGER = logging.getLogger("depcanary")
PLUGIN_MODULE = "depcanary_pytest"
CONSTRAINT_VARS = ("TOX_CONSTRAINTS_FILE", "PIP_CONSTRAINT")
UV_VAR = "UV_CONSTRAINT"  # set too when tox-uv is installed (its envs install with uv)
MARKER = ".depcanary-constraints"
OPT_IN_HINT = "`depcanary opt-in` to take part"


def say(message: str) -> None:
    """One line for the developer, visible at tox's default verbosity."""
    LOGGER.warning("depcanary> %s", message)


@dataclass
class EnvSpec:
    """What the plugin needs to know of one env's configuration (plain values, no tox)."""

    name: str
    root: Path  # tox_root
    values: dict[str, str]  # what the project or the shell set for the variables we touch
    refs: list[sources.Ref]  # the env's constraints references (raw deps / constraints)
    drop: set[str]  # normalised names installed from source: kept out of the constraints
    test_run: bool  # a test run (evidence), not `tox exec` / `tox devenv`


@dataclass
class EnvRun:
    name: str
    constraints: str | None  # the PIP_CONSTRAINT value given to the env
    failures: Path
    pip_log: Path | None = None  # pip's log (PIP_LOG), read to explain an install failure
    report: bool = True  # a test run: its outcome is evidence
    dropped: set[str] = field(default_factory=set)
    file: Path | None = None  # the env's constraints file
    overrides: dict[str, str] = field(default_factory=dict)  # the candidate versions it installs under
    branch: str | None = None  # the branch the server answered for (X-Depcanary-Branch)
    set_vars: tuple[str, ...] = ()
    started: float | None = None  # monotonic
    started_at: datetime | None = None
    installing: bool = False
    exit_code: int | None = None


@dataclass
class Run:
    ident: identity.Identity
    bound: float  # seconds this run may wait on the network in total
    waited: float = 0.0
    resolutions: dict[str | None, pins.Resolution] = field(default_factory=dict)  # per branch asked for
    envs: dict[str, EnvRun] = field(default_factory=dict)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="depcanary-")))
    _sender: threading.Thread | None = None
    _again: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fetch_lock: threading.Lock = field(default_factory=threading.Lock)
    _said: set[str] = field(default_factory=set)

    @classmethod
    def start(cls) -> Run:
        run = cls(identity.resolve(), settings.timeout())
        atexit.register(run.finish)
        if run.ident.server is None:
            say("no server configured (set DEPCANARY_URL or `depcanary opt-in --server URL`): doing nothing")
        return run

    def left(self) -> float:
        return max(0.0, self.bound - self.waited)

    @property
    def reporting(self) -> bool:
        return self.ident.consent and self.ident.server is not None

    @property
    def server_ok(self) -> bool:
        return any(r.server_ok for r in self.resolutions.values())

    def say_once(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            say(message)

    def resolution(self, branch: str | None) -> pins.Resolution | None:
        """This machine's constraints for `branch` (None: the server's default), fetched once
        per tox run and branch, with one line saying what was got."""
        ident = self.ident
        server = ident.server
        if server is None:
            return None
        with self._fetch_lock:
            if branch in self.resolutions:
                return self.resolutions[branch]
            begun = time.monotonic()
            res = pins.fetch(server, ident.machine, self.left(), branch)

            def remaining() -> float:
                return max(0.0, self.bound - self.waited - (time.monotonic() - begun))

            # a server that answered is asked to enrol this machine (once); should it give another
            # id, the pins are fetched again for that one, so pins and reports go together
            if res.server_ok and self.enrol(remaining()):
                ident = self.ident
                self.resolutions.clear()
                res = pins.fetch(server, ident.machine, remaining(), branch)
            self.waited += time.monotonic() - begun
            self.resolutions[branch] = res
        first = len(self.resolutions) == 1
        if res.source == "server":
            note = f"; {res.note}" if res.note else ""
            if ident.consent:
                what = f"candidate {pins.describe(res.overrides)}" if res.overrides else "no candidate for this machine"
                say(f"constraints from {ident.server}{note}, {what}; reports on ({ident.why})")
            else:
                say(f"{ident.why}: base constraints from {ident.server}{note}, no reports ({OPT_IN_HINT})")
        else:
            tail = "; reports are kept and resent later" if ident.consent and not res.server_ok else ""
            say(res.message + tail)
        if first and res.server_ok and self.reporting and report.spooled():
            self.kick()
        return res

    def enrol(self, seconds: float) -> bool:
        """An opted-in machine without a credential for this server enrols (once); True when
        the server gave it another machine id (its own was taken)."""
        ident = self.ident
        if not self.reporting or ident.machine is None or ident.server is None or settings.reporter_token():
            return False
        if enrol.saved(ident.server, ident.machine) or not enrol.is_own(ident.machine):
            return False  # enrolled already, or a CI job's id (it reports with a reporter token)
        try:
            got = enrol.enrol(ident.server, ident.machine, seconds, may_change=True)
        except enrol.EnrolFailed as err:
            LOGGER.info(
                "depcanary> not enrolled with %s yet (%s); reports are kept and sent once it is", ident.server, err
            )
            return False
        if got.changed:
            say(f"machine id {ident.machine} is enrolled by another machine: this one is now {got.machine}")
            self.ident = identity.resolve()
            return True
        LOGGER.info("depcanary> enrolled with %s: machine id %s", ident.server, got.machine)
        return False

    # configuration -------------------------------------------------------------------
    def env_vars(self, spec: EnvSpec) -> dict[str, str]:
        """Variables to add to an env's set_env."""
        failures = self.tmp / (re.sub(r"[^A-Za-z0-9._-]", "_", spec.name) + ".failures")
        env = EnvRun(spec.name, None, failures, report=spec.test_run)
        self.envs[spec.name] = env
        out: dict[str, str] = {}
        if self.ident.server is None:
            return out
        choice = sources.choose(spec.refs, spec.values, spec.root, settings.branch())
        if choice.kind in ("fixed", "missing"):
            self.say_once(f"{spec.name}: {choice.why}: this env's constraints are left as they are")
            res = None
        else:
            res = self.resolution(choice.branch)
        if res is not None and res.path is not None:
            try:
                path = pins.cohort_file(res, choice.files, spec.drop)
            except OSError as err:
                self.say_once(f"cannot write the constraints file ({err}): changing nothing")
            else:
                env.file, env.dropped = path, set(spec.drop)
                LOGGER.info(
                    "depcanary> %s: %s constraints%s%s -> %s",
                    spec.name,
                    choice.kind,
                    f" for {choice.branch}" if choice.branch else "",
                    f" without {', '.join(sorted(spec.drop))}" if spec.drop else "",
                    path,
                )
                env.overrides = {k: v for k, v in res.overrides.items() if k not in spec.drop}
                env.branch = res.served
                env.set_vars = (*choice.set_vars, "PIP_CONSTRAINT", *((UV_VAR,) if find_spec("tox_uv") else ()))
                out.update(dict.fromkeys(env.set_vars, str(path)))
                env.constraints = str(path)
                if spec.values.get("PIP_LOG") is None and self.reporting and spec.test_run and res.overrides:
                    env.pip_log = failures.with_suffix(".pip.log")
                    out["PIP_LOG"] = str(env.pip_log)
        plugin_dir = self._plugin_dir() if self.reporting and spec.test_run else None
        if plugin_dir is not None:
            out["DEPCANARY_FAILURES_FILE"] = str(failures)
            plugins = [p.strip() for p in spec.values.get("PYTEST_PLUGINS", "").split(",") if p.strip()]
            out["PYTEST_PLUGINS"] = ",".join(plugins if PLUGIN_MODULE in plugins else [*plugins, PLUGIN_MODULE])
            paths = [p for p in spec.values.get("PYTHONPATH", "").split(os.pathsep) if p]
            out["PYTHONPATH"] = os.pathsep.join([*paths, str(plugin_dir)])
        return out

    def package_vars(self, env: EnvRun, names: set[str]) -> dict[str, str]:
        """Before tox installs the project itself: when what it built (`names`) is still pinned
        in the env's file (a name no static metadata gave), a file without it for the
        variables pip reads at that install; {} when nothing needs to change."""
        if env.file is None:
            return {}
        missing = {n for n in names if n not in env.dropped}
        if not missing:
            return {}
        try:
            text = env.file.read_text(encoding="utf-8")
            if not missing & set(constraints.pins(text)):
                return {}
            env.dropped |= missing
            path = constraints.write_content_addressed(pins.constraints_dir(), constraints.drop(text, missing))
        except OSError:
            return {}
        env.file = path
        return dict.fromkeys(env.set_vars, str(path))

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

    def outcome(self, env: EnvRun, no_test: bool) -> tuple[str, str] | None:
        """(outcome, reason code) of the env's run, None when nothing ran."""
        if env.exit_code is not None:
            return ("pass", "") if env.exit_code == 0 else ("fail", "tests")
        if no_test or not env.installing:
            return None  # nothing ran (skip, --notest, devenv): nothing to say
        return "error", "install"  # setup or install failed before the commands

    def teardown(self, env: EnvRun, no_test: bool, python: Path | None, project_root: Path, change_dir: Path) -> None:
        if not self.reporting or env.started is None or not env.report:
            return
        result = self.outcome(env, no_test)
        if result is None:
            return
        outcome, reason = result
        if outcome == "error" and env.pip_log is not None:
            clash = envinfo.override_clash(env.pip_log, env.overrides)
            if clash:
                reason = "override-clash"
                say(
                    f"{env.name}: pip could not install depcanary's candidate {clash[0]} {env.overrides[clash[0]]}: "
                    f"it clashes with another requirement ({clash[1]}); reported as evidence against the candidate"
                )
        info = envinfo.probe(python) if python is not None else None
        info = info or envinfo.EnvInfo()
        failed = envinfo.read_failures(env.failures)
        if python is not None:
            failed += envinfo.stestr_failures(python, change_dir, time.time() - (time.monotonic() - env.started))
        data = report.build(
            machine=self.ident.machine or "",
            outcome=outcome,
            reason=reason,
            installed=info.installed,
            # The overrides this run installed under: they tell the server the arm of a
            # report whose install of the candidate failed (so `installed` lacks it).
            pinned=env.overrides,
            branch=env.branch,
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
        if self.server_ok or not self.resolutions:  # known good, or not asked yet (an env left alone)
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
        server, machine = self.ident.server, self.ident.machine
        if server is None or machine is None:  # never: reporting implies both
            return
        while True:
            with self._lock:
                if not self._again:
                    self._sender = None
                    return
                self._again = False
            _, problem = report.send_spool(server, machine, settings.timeout())
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
