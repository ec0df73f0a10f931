"""Where an env's constraints come from: the branch a URL names, the user's own local file, and
one file for every variable."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from .conftest import FAKELIB, STABLE_BRANCH, STABLE_FAKELIB_PIN, Rollout, Server
from .front import Front


def test_a_stable_url_gets_its_branch_file(front: Front, server: Server, rollout: Rollout, make_machine):
    """`.../constraints/upper/2025.2` asks the server for that branch and installs from its file
    (stable/2025.2 pins fakelib 0.9.0, master 1.0.0), without a note: 2025.2 is stable/2025.2.
    (`.../upper/stable/2025.1` asks for `stable/2025.1` the same way: test_parse_and_choose.)"""
    url, branch = "https://releases.openstack.org/constraints/upper/2025.2", "2025.2"
    machine = make_machine(front.url)
    machine.use_machine_id(rollout.control_machine)
    before = len(server.reports(rollout.control_machine))
    result = machine.tox(extra={"TOX_CONSTRAINTS_FILE": url})
    assert result.code == 0, result.output
    assert machine.installed_fakelib() == STABLE_FAKELIB_PIN
    # the report names the branch its pins came from, as the server named it
    assert server.wait_reports(rollout.control_machine, before + 1)[0]["branch"] == STABLE_BRANCH
    (line,) = result.depcanary_lines()
    assert "master" not in line and "served as" not in line, line
    (asked,) = [p for p in front.paths if p.startswith("/v1/constraints.txt")]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(asked).query)
    assert query == {"machine": [rollout.control_machine], "branch": [branch]}


def test_a_server_without_branches_says_master_is_used(front: Front, rollout: Rollout, make_machine):
    """A server from before branches sends no X-Depcanary-Branch: one line says master is used."""
    front.mode = "no-branch-header"
    machine = make_machine(front.url)
    machine.use_machine_id(rollout.control_machine)
    result = machine.tox(extra={"TOX_CONSTRAINTS_FILE": "https://releases.openstack.org/constraints/upper/2025.2"})
    assert result.code == 0, result.output
    (line,) = result.depcanary_lines()
    assert "the server serves master only: master used for 2025.2" in line, line


def test_the_default_master_url_asks_for_master_without_a_note(front: Front, make_machine):
    machine = make_machine(front.url)
    ini = machine.project / "tox.ini"
    ini.write_text(
        ini.read_text().replace(
            "{toxinidir}/default-constraints.txt", "https://releases.openstack.org/constraints/upper/master"
        )
    )
    result = machine.tox()
    assert result.code == 0, result.output
    (line,) = result.depcanary_lines()
    assert "master only" not in line and "not opted in" in line
    (asked,) = [p for p in front.paths if p.startswith("/v1/constraints.txt")]
    assert asked == "/v1/constraints.txt?branch=master"  # without consent no machine id


def test_a_local_file_is_what_pip_gets_too(server: Server, rollout: Rollout, make_machine):
    """TOX_CONSTRAINTS_FILE names a local file and nothing sets PIP_CONSTRAINT: the installer
    gets that file (overrides applied), not the server's (the bug of the last release)."""
    machine = make_machine(server.url)
    machine.drop_deps_constraints()  # only PIP_CONSTRAINT reaches pip
    machine.use_machine_id(rollout.control_machine)  # the server would pin 1.0.0
    local = machine.root / "requirements" / "upper-constraints.txt"
    local.parent.mkdir()
    local.write_text(f"{FAKELIB}===1.1.0\n")  # the developer's checkout already has the new version
    result = machine.tox(extra={"TOX_CONSTRAINTS_FILE": str(local)})
    assert result.code == 1, result.output
    assert machine.installed_fakelib() == "1.1.0"


def test_a_file_named_directly_in_tox_ini_is_left_alone(server: Server, rollout: Rollout, make_machine):
    machine = make_machine(server.url)
    machine.use_machine_id(rollout.candidate_machine)
    ini = machine.project / "tox.ini"
    ini.write_text(
        ini.read_text().replace(
            "-c{env:TOX_CONSTRAINTS_FILE:{toxinidir}/default-constraints.txt}", "-c{toxinidir}/default-constraints.txt"
        )
    )
    result = machine.tox()
    assert result.code == 0, result.output  # the project's own 1.0.0, no clash with a second pin
    assert machine.installed_fakelib() == "1.0.0"
    assert any("names constraints" in line and "left as they are" in line for line in result.depcanary_lines())


def test_parse_and_choose(tmp_path: Path):
    from depcanary import sources  # noqa: PLC0415

    nested = sources.parse_ref(
        "{env:TOX_CONSTRAINTS_FILE:{env:UPPER_CONSTRAINTS_FILE:https://releases.openstack.org/constraints/upper/2024.1}}",
        tmp_path,
    )
    assert nested == sources.Ref(
        ("TOX_CONSTRAINTS_FILE", "UPPER_CONSTRAINTS_FILE"), "https://releases.openstack.org/constraints/upper/2024.1"
    )
    local = sources.parse_ref("{env:TOX_CONSTRAINTS_FILE:{toxinidir}/c.txt}", tmp_path)
    assert local == sources.Ref(("TOX_CONSTRAINTS_FILE",), f"{tmp_path}/c.txt")
    refs = sources.constraint_refs(
        ["-c{env:TOX_CONSTRAINTS_FILE:https://x/constraints/upper/master}", "-r{toxinidir}/r.txt"], [], tmp_path
    )
    assert refs == [sources.Ref(("TOX_CONSTRAINTS_FILE",), "https://x/constraints/upper/master")]
    assert sources.choose(refs, {}, tmp_path, None).branch == "master"
    # the shell's TOX_CONSTRAINTS_FILE wins over the default; a missing local file is named
    choice = sources.choose(refs, {"TOX_CONSTRAINTS_FILE": str(tmp_path / "nope.txt")}, tmp_path, None)
    assert (choice.kind, choice.why) == ("missing", f"the constraints file {tmp_path / 'nope.txt'} does not exist")
    (tmp_path / "uc.txt").write_text("a===1\n")
    choice = sources.choose([], {"PIP_CONSTRAINT": str(tmp_path / "uc.txt")}, tmp_path, "stable/2025.2")
    assert (choice.kind, choice.files, choice.branch) == ("local", (tmp_path / "uc.txt",), "stable/2025.2")
    assert (
        sources.choose(sources.constraint_refs(["--constraint=c.txt"], [], tmp_path), {}, tmp_path, None).kind
        == "fixed"
    )
    assert sources.series_of("https://releases.openstack.org/constraints/upper/2025.2?x=1") == "2025.2"
    assert sources.series_of("https://releases.openstack.org/constraints/upper/stable/2025.1") == "stable/2025.1"
    assert sources.series_of("https://example.org/constraints.txt") is None


def test_source_names(tmp_path: Path):
    from depcanary import sources  # noqa: PLC0415

    sibling = tmp_path / "oslo.log"
    sibling.mkdir()
    (sibling / "setup.cfg").write_text("[metadata]\nname = oslo.log\n")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "extra.txt").write_text("-e ../oslo.log\n")
    names = sources.source_names(
        [
            "-r{toxinidir}/extra.txt",
            "git+https://opendev.org/openstack/oslo.i18n#egg=oslo.i18n",
            "oslo_utils @ git+https://opendev.org/openstack/oslo.utils",
            "requests>=2",
            "-c{env:TOX_CONSTRAINTS_FILE}",
        ],
        tmp_path / "project",
    )
    assert names == {"oslo-log", "oslo-i18n", "oslo-utils"}
