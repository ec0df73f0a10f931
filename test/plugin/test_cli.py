"""The `depcanary` command: opt-in/opt-out/status, `env` and the pip shim."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from .conftest import FAKELIB, Rollout, Server
from .front import closed_port_url


def test_opt_in_makes_a_random_uuid4_and_opt_out_forgets_it(server: Server, make_machine):
    first, second = make_machine(server.url), make_machine(server.url)
    a, b = first.opt_in(), second.opt_in()
    assert uuid.UUID(a).version == 4 and uuid.UUID(b).version == 4
    assert a != b
    assert first.opt_in() == a  # opting in again keeps the id
    path = first.root / "config" / "depcanary" / "config.json"
    config = json.loads(path.read_text())
    # opt-in enrolled the machine: the server's credential is kept for that server only, 0600
    assert set(config) == {"machine", "consent", "optedInAt", "credentials"}
    assert list(config["credentials"]) == [server.url]
    assert config["credentials"][server.url]["machine"] == a
    assert config["credentials"][server.url]["credential"].startswith("dcm_")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o077 == 0
    text = json.dumps(config)
    assert socket.gethostname() not in text

    status = first.depcanary("status")
    assert status.returncode == 0, status.stderr
    assert f"machine id: {a}" in status.stdout and "consent:    yes (opted in)" in status.stdout
    assert "enrolled:   yes" in status.stdout

    (first.spool).mkdir(parents=True)
    (first.spool / f"{uuid.uuid4()}.json").write_text("{}")
    credential = config["credentials"][server.url]["credential"]
    out = first.depcanary("opt-out")
    assert out.returncode == 0 and "1 unsent report(s) deleted" in out.stdout
    assert "its enrolment forgotten by the server" in out.stdout
    # the server forgot the credential too
    req = urllib.request.Request(
        f"{server.url}/v1/enrol", method="DELETE", headers={"Authorization": f"Bearer {credential}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 401
    assert not list(first.spool.glob("*.json"))
    config = json.loads((first.root / "config" / "depcanary" / "config.json").read_text())
    assert "machine" not in config and "credentials" not in config and config["consent"] is False
    assert "consent:    no (not opted in)" in first.depcanary("status").stdout


def test_status_shows_the_pins_that_differ_and_where_from(server: Server, rollout: Rollout, make_machine):
    machine = make_machine(server.url)
    machine.use_machine_id(rollout.candidate_machine)
    out = machine.depcanary("status")
    assert out.returncode == 0, out.stderr
    assert f"server:     {server.url}" in out.stdout
    assert "pins that differ from the base: 1" in out.stdout
    assert f"* {FAKELIB} 1.1.0 (base 1.0.0): candidate arm of rollout {rollout.id}" in out.stdout

    vetoed = machine.depcanary("status", extra={"DO_NOT_TRACK": "1"})
    assert "consent:    no (DO_NOT_TRACK is set)" in vetoed.stdout


def test_env_prints_exports_with_this_machines_pins(server: Server, rollout: Rollout, make_machine):
    machine = make_machine(server.url)
    machine.use_machine_id(rollout.candidate_machine)
    out = machine.depcanary("env")
    assert out.returncode == 0, out.stderr
    exports = dict(shlex.split(line)[1].split("=", 1) for line in out.stdout.splitlines())
    assert set(exports) == {"PIP_CONSTRAINT", "UV_CONSTRAINT", "TOX_CONSTRAINTS_FILE"}
    text = Path(exports["PIP_CONSTRAINT"]).read_text()
    assert f"{FAKELIB}===1.1.0" in text and "requests===2.31.0" in text
    # a shell can eval it
    shell = subprocess.run(
        ["bash", "-c", 'eval "$(depcanary env)" && echo "$PIP_CONSTRAINT"'],
        env=machine.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert shell.stdout.strip() == exports["PIP_CONSTRAINT"]


def test_env_without_server_or_cache_says_so(make_machine):
    machine = make_machine(closed_port_url())
    out = machine.depcanary("env")
    assert out.returncode == 1 and out.stdout == ""
    assert "no cached constraints" in out.stderr


def test_pip_shim_installs_with_this_machines_constraints(server: Server, rollout: Rollout, make_machine):
    machine = make_machine(server.url)
    machine.use_machine_id(rollout.candidate_machine)
    target = machine.root / "venv"
    made = machine.run(str(machine.venv.bin / "virtualenv"), "-q", str(target), timeout=60)
    assert made.returncode == 0, made.stderr
    out = machine.depcanary("pip", "install", "-q", FAKELIB, extra={**machine.tox_env(), "VIRTUAL_ENV": str(target)})
    assert out.returncode == 0, out.stdout + out.stderr
    version = subprocess.run(
        [str(target / "bin" / "python"), "-c", "import depcanary_fakelib as f; print(f.__version__)"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert version.stdout.strip() == "1.1.0"
