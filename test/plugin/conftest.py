"""Fixtures for the client plugin tests: real tox (plain, and with tox-uv) and pytest in
venvs, a wheelhouse of toy libraries, the REAL depcanary server on loopback, and a toy
consumer project.

Run with the test venv's Python (scripts/test.sh does), or with any pytest: the `venv`
fixture then makes the venv itself through client-plugin/scripts/test-env.sh.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .front import Front

ROOT = Path(__file__).resolve().parents[2]
SERVER_MAIN = ROOT / "dist" / "server" / "main.js"
LISTENING = re.compile(r"depcanary: listening on (http://\S+)")
FAKELIB = "depcanary-fakelib"

# The fields a report carries (the `pinned` one only on machines with candidate overrides).
REPORT_FIELDS = {
    "id",
    "machine",
    "outcome",
    "installed",
    "project",
    "env",
    "python",
    "platform",
    "durationMs",
    "failedTests",
    "startedAt",
    "finishedAt",
    "client",
}

TOYLIB = "depcanary-toylib"
TOYLIB_PIN = "2.0.0"  # the served pin; the toy checkout itself is 2.0.1.dev1 (one commit past the tag)
BASE_CONSTRAINTS = f"""# toy base constraints for the plugin tests
{FAKELIB}===1.0.0
six===1.16.0;python_version>='3.6'
requests===2.31.0
# OpenStack-style: the library under test is pinned in the file it installs with
{TOYLIB}==={TOYLIB_PIN}
pbr===7.1.3
stestr===4.2.1
"""
# stable/2025.2 as the server serves it beside master (DEPCANARY_BRANCH_FILES=auto picks it up):
# an older fakelib pin, so a run shows which branch's file it got.
STABLE_BRANCH = "stable/2025.2"
STABLE_FAKELIB_PIN = "0.9.0"
STABLE_CONSTRAINTS = BASE_CONSTRAINTS.replace(f"{FAKELIB}===1.0.0", f"{FAKELIB}==={STABLE_FAKELIB_PIN}")
# Variables of the outer shell that must not leak into the runs under test.
SCRUB = re.compile(
    r"^(DEPCANARY_.*|DO_NOT_TRACK|TOX_.*|PIP_.*|UV_.*|VIRTUAL_ENV|PYTHONPATH|PYTEST_.*|XDG_.*|_TOX_.*|CI)$"
)
TOX_TIMEOUT = 150


@dataclass
class Venv:
    path: Path
    wheelhouse: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def sibling(self, suffix: str) -> Venv:
        """Another venv made by test-env.sh beside this one (`-tox3`, `-uv`), same wheelhouse."""
        return Venv(self.path.parent / f"{self.path.name}-{suffix}", self.wheelhouse)


@pytest.fixture(scope="session")
def venv() -> Venv:
    path = Path(os.environ.get("DEPCANARY_TEST_VENV", ROOT / "var" / "test-venv"))
    wheelhouse = Path(os.environ.get("DEPCANARY_TEST_WHEELHOUSE", ROOT / "var" / "plugin-wheelhouse"))
    inside = Path(sys.prefix).resolve() == path.resolve()
    if not (inside and os.environ.get("DEPCANARY_TEST_ENV_READY")):
        subprocess.run([str(ROOT / "client-plugin" / "scripts" / "test-env.sh")], cwd=ROOT, check=True, timeout=600)
    return Venv(
        path if path.is_absolute() else ROOT / path, wheelhouse if wheelhouse.is_absolute() else ROOT / wheelhouse
    )


@pytest.fixture(scope="session")
def find_links(venv: Venv, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Space-separated --find-links dirs: the toy fakelib wheels + pytest's wheels."""
    toys = tmp_path_factory.mktemp("toy-wheels")
    build_fakelib(toys, "0.9.0", answer=42)  # stable/2025.2's pin
    build_fakelib(toys, "1.0.0", answer=42)
    build_fakelib(toys, "1.1.0", answer=41)  # the candidate breaks a consumer test
    return f"{toys} {venv.wheelhouse}"


def build_fakelib(directory: Path, version: str, answer: int) -> Path:
    """Write the wheel of depcanary-fakelib at `version` by hand (a wheel is a zip file)."""
    name, dist = "depcanary_fakelib", f"depcanary_fakelib-{version}"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n\n\ndef answer():\n    return {answer}\n',
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: depcanary-fakelib\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: depcanary-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
        f"{len(text.encode())}"
        for path, text in files.items()
    ]
    files[f"{dist}.dist-info/RECORD"] = "\n".join([*record, f"{dist}.dist-info/RECORD,,"]) + "\n"
    wheel = directory / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


# --- the real server ----------------------------------------------------------------------


@dataclass
class Server:
    url: str
    token: str
    proc: subprocess.Popen
    stderr_lines: list[str] = field(default_factory=list)
    reporter: str = ""  # a CI system's reporter token (DEPCANARY_REPORTER_TOKEN)

    def enrol(self, machine: str | None = None) -> dict:
        """POST /v1/enrol (open), as a machine's opt-in does: {machine, credential}."""
        status, body = self.call("POST", "/v1/enrol", {"machine": machine} if machine else {}, auth=False)
        assert status == 201, body
        return body

    def call(self, method: str, path: str, body: object = None, auth: bool = True) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode()

    def reports(self, machine: str) -> list[dict]:
        """The machine's stored reports, newest first."""
        status, body = self.call("GET", f"/v1/reports?machine={machine}&limit=50")
        assert status == 200, body
        return body["reports"]

    def wait_reports(self, machine: str, count: int, seconds: float = 10) -> list[dict]:
        """The machine's reports once there are `count` of them (or as they are after `seconds`)."""
        deadline = time.monotonic() + seconds
        while True:
            reports = self.reports(machine)
            if len(reports) >= count or time.monotonic() > deadline:
                return reports
            time.sleep(0.2)

    def metric(self, name: str, *labels: str) -> int:
        """The sum of a /metrics sample over the series that carry all of `labels`
        (e.g. 'method="POST"')."""
        status, text = self.call("GET", "/metrics", auth=False)
        assert status == 200
        total = 0.0
        for line in str(text).splitlines():
            if line.startswith((f"{name}{{", f"{name} ")) and all(label in line for label in labels):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def report_posts(self) -> int:
        """POST /v1/reports requests the server has answered (any status)."""
        return self.metric("depcanary_http_request_duration_seconds_count", 'method="POST"', 'route="/v1/reports"')


def _ensure_built() -> None:
    if not SERVER_MAIN.exists():
        subprocess.run([str(ROOT / "scripts" / "ensure-node.sh")], cwd=ROOT, check=True, timeout=600)


def start_server(data: Path, **extra_env: str):
    """The real server (node dist/server/main.js) on loopback with its own data dir; yields
    it and stops it. Enrolments from 127.0.0.1 are not limited (every test machine enrols
    from it) unless `extra_env` says so."""
    _ensure_built()
    base = data / "upper-constraints.txt"
    base.write_text(BASE_CONSTRAINTS)
    (data / "upper-constraints-stable-2025.2.txt").write_text(STABLE_CONSTRAINTS)
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not SCRUB.match(k) and not k.startswith("REDIS")}
    env.update(
        PORT="0",
        HOST="127.0.0.1",
        DEPCANARY_DATA_DIR=str(data / "data"),
        DEPCANARY_CONSTRAINTS_FILE=str(base),
        DEPCANARY_ADMIN_TOKEN=token,
        LOG_LEVEL="warn",
        # The toy library is on no index: Requires-Python is not looked up (issue 11).
        DEPCANARY_INDEX_URL="off",
        DEPCANARY_LIMIT_ENROLMENTS_PER_ADDRESS_PER_HOUR="0",
        DEPCANARY_LIMIT_ENROLMENTS_PER_BLOCK_PER_HOUR="0",
    )
    env.update(extra_env)
    proc = subprocess.Popen(
        ["node", str(SERVER_MAIN)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    srv = Server("", token, proc)
    threading.Thread(target=lambda: srv.stderr_lines.extend(proc.stderr), daemon=True).start()
    found: list[str] = []

    def read_stdout() -> None:
        for line in proc.stdout:
            match = LISTENING.search(line)
            if match and not found:
                found.append(match.group(1))

    threading.Thread(target=read_stdout, daemon=True).start()
    deadline = time.monotonic() + 30
    while not found and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not found:
        proc.kill()
        pytest.fail("depcanary server did not start:\n" + "".join(srv.stderr_lines[-20:]))
    srv.url = found[0]
    status, body = srv.call("POST", "/v1/tokens", {"name": "plugin-tests-ci", "role": "reporter"})
    assert status == 201, body
    srv.reporter = body["token"]
    yield srv
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    yield from start_server(tmp_path_factory.mktemp("server"))


@pytest.fixture
def front(server: Server):
    """A loopback server in front of the real one, to break or slow it on demand (front.py)."""
    f = Front(server.url)
    yield f
    f.close()


@dataclass
class Rollout:
    id: str
    candidate_machine: str
    control_machine: str


# Credentials of the machine ids the tests pin to known arms: each id is enrolled once per
# session (as that machine's opt-in did), and every test machine given the id keeps it.
ENROLLED: dict[str, str] = {}


@pytest.fixture(scope="session")
def rollout(server: Server) -> Rollout:
    status, body = server.call("POST", "/v1/rollouts", {"library": FAKELIB, "candidate": "1.1.0", "stages": [50, 100]})
    assert status == 201, body
    arms: dict[str, str] = {}
    for _ in range(200):
        machine = str(uuid.uuid4())
        status, pins = server.call("GET", f"/v1/pins?machine={machine}", auth=False)
        assert status == 200, pins
        for pin in pins["pins"]:
            if pin["library"] == FAKELIB:
                arms.setdefault(pin["arm"], machine)
        if len(arms) == 2:
            for machine in arms.values():
                ENROLLED[machine] = server.enrol(machine)["credential"]
            return Rollout(body["id"], arms["candidate"], arms["control"])
    pytest.fail(f"no machine found in each arm: {arms}")


# --- a developer machine ------------------------------------------------------------------

# OpenStack-style: the constraints file comes from TOX_CONSTRAINTS_FILE, else the project's own.
DEPS_CONSTRAINTS = "    -c{env:TOX_CONSTRAINTS_FILE:{toxinidir}/default-constraints.txt}\n"
TOX_INI = (
    """[tox]
env_list = unit

[testenv:unit]
skip_install = true
deps =
"""
    + DEPS_CONSTRAINTS
    + """    depcanary-fakelib
    pytest
commands =
    pytest -q -p no:cacheprovider tests {posargs}
"""
)
CONSUMER_TEST = """import depcanary_fakelib


def test_answer():
    assert depcanary_fakelib.answer() == 42


def test_name():
    assert depcanary_fakelib.__name__ == "depcanary_fakelib"
"""


@dataclass
class ToxResult:
    code: int
    output: str
    seconds: float

    @property
    def overhead(self) -> float:
        """Wall-clock time not spent inside the env (setup + commands, as tox reports it):
        tox start-up, configuration (where the plugin fetches) and exit (where it waits for
        reports). Robust to slow installs on a loaded machine, unlike the wall-clock total."""
        match = re.search(r"unit: (?:OK|FAIL code \d+) \(([\d.]+)", self.output)
        assert match, self.output
        return self.seconds - float(match.group(1))

    def depcanary_lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if "depcanary>" in line]


@dataclass
class Machine:
    """One developer machine: its own home (config, cache) and a copy of the toy project."""

    root: Path
    venv: Venv
    find_links: str
    env: dict[str, str]

    @property
    def project(self) -> Path:
        return self.root / "consumer"

    @property
    def spool(self) -> Path:
        return self.root / "cache" / "depcanary" / "spool"

    def run(self, *args: str, timeout: float = 60, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            args, cwd=self.project, env={**self.env, **(extra or {})}, capture_output=True, text=True, timeout=timeout
        )

    def depcanary(self, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return self.run(str(self.venv.bin / "depcanary"), *args, extra=extra)

    def drop_deps_constraints(self) -> None:
        """Make tox.ini name no constraints: the pins then reach the installer only through
        PIP_CONSTRAINT (or UV_CONSTRAINT under tox-uv)."""
        ini = self.project / "tox.ini"
        ini.write_text(ini.read_text().replace(DEPS_CONSTRAINTS, ""))

    def opt_in(self) -> str:
        proc = self.depcanary("opt-in")
        assert proc.returncode == 0, proc.stderr
        return json.loads((self.root / "config" / "depcanary" / "config.json").read_text())["machine"]

    def use_machine_id(self, machine: str) -> None:
        """Opt in, then pin the saved id to a known arm, with that id's credential for this
        machine's server (the id was enrolled once, by the `rollout` fixture)."""
        self.opt_in()
        path = self.root / "config" / "depcanary" / "config.json"
        data = json.loads(path.read_text())
        data["machine"] = machine
        if machine in ENROLLED and self.env.get("DEPCANARY_URL"):
            data["credentials"] = {
                self.env["DEPCANARY_URL"].rstrip("/"): {"machine": machine, "credential": ENROLLED[machine]}
            }
        path.write_text(json.dumps(data))

    def tox(self, *args: str, envs: str = "unit", extra: dict[str, str] | None = None) -> ToxResult:
        start = time.monotonic()
        proc = self.run(
            str(self.venv.bin / "tox"),
            "-e",
            envs,
            *args,
            timeout=TOX_TIMEOUT,
            extra={**self.tox_env(), **(extra or {})},
        )
        return ToxResult(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)

    def tox_env(self) -> dict[str, str]:
        """Installs from the local wheels only, with pip or (under tox-uv) with uv."""
        return {
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": self.find_links,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "UV_NO_INDEX": "1",
            "UV_OFFLINE": "1",
            "UV_FIND_LINKS": ",".join(self.find_links.split()),
            "UV_PYTHON_DOWNLOADS": "never",
        }

    def fakelib_dist(self, env: str = "unit", dist: str = "depcanary_fakelib") -> Path | None:
        """The .dist-info directory of depcanary-fakelib (or `dist`) in a tox env, if installed."""
        site = list((self.project / ".tox" / env / "lib").glob("python*/site-packages"))
        return next(site[0].glob(f"{dist}-*.dist-info"), None) if site else None

    def installed_fakelib(self, env: str = "unit", dist: str = "depcanary_fakelib") -> str | None:
        found = self.fakelib_dist(env, dist)
        return found.name.removesuffix(".dist-info").split("-")[1] if found else None

    def make_toylib(self, tox_ini: str | None = None) -> None:
        """Turn the project into the OpenStack-style toy library (toylib.py)."""
        from .toylib import write_toylib  # noqa: PLC0415

        write_toylib(self.project, tox_ini)


def tox_at_once(*machines: Machine, envs: str = "unit") -> list[ToxResult]:
    """`tox -e unit` (or `envs`) on several machines at the same time."""
    with concurrent.futures.ThreadPoolExecutor(len(machines)) as pool:
        return list(pool.map(lambda machine: machine.tox(envs=envs), machines))


def machine_factory(venv: Venv, find_links: str, base: Path):
    count = 0

    def make(url: str | None) -> Machine:
        nonlocal count
        count += 1
        root = base / f"machine{count}"
        project = root / "consumer"
        (project / "tests").mkdir(parents=True)
        (project / "tox.ini").write_text(TOX_INI)
        (project / "default-constraints.txt").write_text(f"{FAKELIB}===1.0.0\n")
        (project / "pyproject.toml").write_text('[project]\nname = "depcanary-consumer"\nversion = "0.0.1"\n')
        (project / "tests" / "test_consumer.py").write_text(CONSUMER_TEST)
        env = {k: v for k, v in os.environ.items() if not SCRUB.match(k)}
        env.update(
            HOME=str(root / "home"),
            XDG_CONFIG_HOME=str(root / "config"),
            XDG_CACHE_HOME=str(root / "cache"),
            XDG_DATA_HOME=str(venv.path.parent / "plugin-test-data"),  # virtualenv's app data: shared, faster
            PATH=f"{venv.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        if url:
            env["DEPCANARY_URL"] = url
        return Machine(root, venv, find_links, env)

    return make


@pytest.fixture
def make_machine(venv: Venv, find_links: str, tmp_path: Path):
    return machine_factory(venv, find_links, tmp_path)


@pytest.fixture
def make_uv_machine(venv: Venv, find_links: str, tmp_path: Path):
    """Machines whose tox has tox-uv installed (var/test-venv-uv): envs are made and
    installed by uv."""
    return machine_factory(venv.sibling("uv"), find_links, tmp_path / "uv")
