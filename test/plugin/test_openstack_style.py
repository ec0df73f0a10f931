"""The OpenStack-style toy library (toylib.py) under real tox with the plugin: it is pinned in
the served constraints, like every OpenStack library, and still installs and passes in the
candidate arm, the control arm and not opted in."""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import FAKELIB, TOYLIB, TOYLIB_PIN, Machine, Rollout, Server, ToxResult, machine_factory, tox_at_once
from .toylib import STESTR_FAILING_ID, TOX_INI_PACKAGE

TOY_DIST = "depcanary_toylib"
USED_FILE = re.compile(r"(\S+/constraints-[0-9a-f]{16}\.txt)")


@dataclass
class Arms:
    candidate: Machine
    control: Machine
    not_opted_in: Machine
    results: dict[str, ToxResult]


@pytest.fixture(scope="module")
def arms(server: Server, rollout: Rollout, venv, find_links, tmp_path_factory) -> Arms:
    """One tox run of the toy library per arm, at the same time: the candidate and the
    not-opted-in machines have python-novaclient's tox.ini (usedevelop, `-c` in deps), the
    control machine oslo.config's (a built package, tox's `constraints` setting)."""
    make = machine_factory(venv, find_links, tmp_path_factory.mktemp("openstack-style"))
    candidate, control, none = make(server.url), make(server.url), make(server.url)
    candidate.make_toylib()
    control.make_toylib(TOX_INI_PACKAGE)
    none.make_toylib()
    candidate.use_machine_id(rollout.candidate_machine)
    control.use_machine_id(rollout.control_machine)
    results = tox_at_once(candidate, control, none, envs="py3")
    return Arms(candidate, control, none, dict(zip(("candidate", "control", "none"), results)))


def test_library_pinned_in_its_own_constraints_passes_in_both_arms_and_not_opted_in(
    arms: Arms, server: Server, rollout: Rollout
):
    for arm, result in arms.results.items():
        assert result.code == 0, (arm, result.output)
        assert "Cannot install" not in result.output
    # the candidate env really has the candidate; the others the base pin
    assert arms.candidate.installed_fakelib("py3") == "1.1.0"
    assert arms.control.installed_fakelib("py3") == "1.0.0"
    assert arms.not_opted_in.installed_fakelib("py3") == "1.0.0"
    for machine in (arms.candidate, arms.control, arms.not_opted_in):
        # the project itself comes from the checkout, not the pin
        assert machine.installed_fakelib("py3", TOY_DIST) == "2.0.1.dev1"
    # the one file every variable got: the served constraints without the project's own line
    used = {Path(p) for p in USED_FILE.findall(arms.results["candidate"].output)}
    assert len(used) == 1, used
    text = used.pop().read_text()
    assert f"{FAKELIB}===1.1.0" in text and "stestr===4.2.1" in text
    assert TOYLIB not in text
    _, served = _served(server)
    assert f"{TOYLIB}==={TOYLIB_PIN}" in served  # …though the server pins it
    # the runs are evidence in their arms
    (report,) = [r for r in server.reports(rollout.candidate_machine) if r["project"] == TOYLIB][:1]
    assert (report["outcome"], report["env"], report["pinned"]) == ("pass", "py3", {FAKELIB: "1.1.0"})
    assert report["installed"][TOYLIB] == "2.0.1.dev1" and report["installed"]["stestr"] == "4.2.1"


def _served(server: Server) -> tuple[int, str]:
    with urllib.request.urlopen(f"{server.url}/v1/constraints.txt", timeout=10) as resp:
        return resp.status, resp.read().decode()


def test_the_toy_is_faithful_the_whole_file_as_pip_constraint_clashes(server: Server, make_machine, tmp_path: Path):
    """Without the plugin, the served file in PIP_CONSTRAINT (what the plugin used to do) makes
    pip refuse the project under test, exactly as on oslo.config."""
    served = tmp_path / "served.txt"
    served.write_text(_served(server)[1])
    machine = make_machine(None)
    machine.make_toylib()
    result = machine.tox(envs="py3", extra={"PIP_CONSTRAINT": str(served), "TOX_CONSTRAINTS_FILE": str(served)})
    assert result.code != 0
    assert f"(constraint) {TOYLIB}==={TOYLIB_PIN}" in result.output, result.output


def test_tox_exec_gets_the_pins_and_sends_nothing(arms: Arms, server: Server):
    posts = server.report_posts()
    proc = arms.candidate.run(
        str(arms.candidate.venv.bin / "tox"),
        "exec",
        "-e",
        "py3",
        "--",
        "python",
        "-c",
        "import depcanary_fakelib as f; print('fakelib', f.__version__)",
        timeout=120,
        extra=arms.candidate.tox_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fakelib 1.1.0" in proc.stdout
    assert server.report_posts() == posts
    assert not list(arms.candidate.spool.glob("*.json"))


def test_a_failing_test_arrives_with_its_stestr_id(arms: Arms, server: Server, rollout: Rollout):
    before = len(server.reports(rollout.candidate_machine))
    result = arms.candidate.tox(envs="py3", extra={"TOYLIB_EXACT": "1"})
    assert result.code == 1, result.output
    report = server.wait_reports(rollout.candidate_machine, before + 1)[0]
    assert (report["outcome"], report["reason"]) == ("fail", "tests")
    assert report["failedTests"] == [STESTR_FAILING_ID]
    assert report["project"] == TOYLIB


def test_a_candidate_that_clashes_with_another_requirement_is_named(server: Server, rollout: Rollout, make_machine):
    machine = make_machine(server.url)
    machine.make_toylib()
    (machine.project / "requirements.txt").write_text(f"{FAKELIB}>=1.0.0,<1.1 # Apache-2.0\n")
    machine.use_machine_id(rollout.candidate_machine)
    before = len(server.reports(rollout.candidate_machine))
    result = machine.tox(envs="py3")
    assert result.code != 0
    (hint,) = [line for line in result.depcanary_lines() if "clashes" in line]
    assert f"candidate {FAKELIB} 1.1.0" in hint and f"{FAKELIB}<1.1" in hint, hint
    report = server.wait_reports(rollout.candidate_machine, before + 1)[0]
    assert (report["outcome"], report["reason"], report["pinned"]) == ("error", "override-clash", {FAKELIB: "1.1.0"})


def test_a_project_without_static_metadata_is_left_out_by_what_tox_built(server: Server, make_machine):
    """A setup.py-only project: no name in pyproject.toml or setup.cfg, so the plugin learns it
    from the sdist tox built, just before installing it."""
    machine = make_machine(server.url)
    machine.make_toylib(TOX_INI_PACKAGE)
    (machine.project / "setup.cfg").unlink()
    (machine.project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    (machine.project / "setup.py").write_text(
        "import setuptools\n\nsetuptools.setup(name='depcanary-toylib', version='2.0.1.dev1',\n"
        "    packages=['toylib', 'toylib.tests'], install_requires=['depcanary-fakelib>=1.0.0'])\n"
    )
    result = machine.tox(envs="py3", extra={"PIP_CONSTRAINT": ""})
    assert result.code == 0, result.output
    assert machine.installed_fakelib("py3", TOY_DIST) == "2.0.1.dev1"
