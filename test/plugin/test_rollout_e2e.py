"""The whole loop against the real server: pins into tox, then reports out of it."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import FAKELIB, REPORT_FIELDS, Rollout, tox_at_once


def test_candidate_arm_gets_candidate_and_reports_fail_control_reports_pass(server, rollout: Rollout, make_machine):
    candidate, control = make_machine(server.url), make_machine(server.url)
    candidate.use_machine_id(rollout.candidate_machine)
    control.use_machine_id(rollout.control_machine)
    n_cand, n_ctrl = len(server.reports(rollout.candidate_machine)), len(server.reports(rollout.control_machine))

    cand, ctrl = tox_at_once(candidate, control)

    # the developer's own result: the candidate breaks test_answer, the control passes
    assert cand.code == 1, cand.output
    assert ctrl.code == 0, ctrl.output
    assert candidate.installed_fakelib() == "1.1.0"
    assert control.installed_fakelib() == "1.0.0"
    assert any(f"{FAKELIB} 1.1.0" in line for line in cand.depcanary_lines()), cand.output

    fails = server.wait_reports(rollout.candidate_machine, n_cand + 1)
    oks = server.wait_reports(rollout.control_machine, n_ctrl + 1)
    assert (len(fails), len(oks)) == (n_cand + 1, n_ctrl + 1)
    fail, ok = fails[0], oks[0]  # newest first
    # the candidate also says which overrides it installed under; the control has none
    assert set(fail) - {"receivedAt"} == REPORT_FIELDS | {"branch", "pinned", "reason"}
    assert fail["pinned"] == {FAKELIB: "1.1.0"}
    assert fail["reason"] == "tests"
    assert set(ok) - {"receivedAt"} == REPORT_FIELDS | {"branch"}
    assert fail["branch"] == ok["branch"] == "master"  # the served branch, from X-Depcanary-Branch
    assert fail["outcome"] == "fail"
    assert fail["installed"][FAKELIB] == "1.1.0"
    assert fail["failedTests"] == ["tests/test_consumer.py::test_answer"]
    assert fail["project"] == "depcanary-consumer"
    assert fail["env"] == "unit"
    assert fail["machine"] == rollout.candidate_machine
    assert fail["installed"]["pytest"]
    assert fail["durationMs"] > 0
    assert ok["outcome"] == "pass"
    assert ok["installed"][FAKELIB] == "1.0.0"
    assert ok["failedTests"] == []
    # nothing that identifies the person or the machine beyond the random id
    for report in (fail, ok):
        text = repr(report)
        assert "/tmp" not in text and str(candidate.root) not in text and "/home" not in text

    # the spool is empty once the server has stored the reports
    assert not list(candidate.spool.glob("*.json"))


def test_rerun_reuses_env_and_install_failure_reports_error(server, rollout: Rollout, make_machine):
    machine = make_machine(server.url)
    machine.use_machine_id(rollout.control_machine)
    # a dependency that cannot be installed: an `error` outcome, reported at env teardown
    ini = machine.project / "tox.ini"
    ini.write_text(ini.read_text().replace("    pytest\n", "    pytest\n    depcanary-missing-lib\n"))
    before = len(server.reports(rollout.control_machine))
    _, view = server.call("GET", f"/v1/rollouts/{rollout.id}")
    errors_before = view["evidence"]["total"]["control"]["errors"]
    result = machine.tox()
    assert result.code != 0, result.output
    reports = server.wait_reports(rollout.control_machine, before + 1)
    assert reports[0]["outcome"] == "error"
    assert reports[0]["reason"] == "install"
    assert reports[0]["env"] == "unit"
    # nothing got installed, yet the server counts the install failure in this machine's arm
    _, view = server.call("GET", f"/v1/rollouts/{rollout.id}")
    assert view["evidence"]["total"]["control"]["errors"] == errors_before + 1


def test_project_without_constraints_in_deps_gets_pins_via_pip_constraint(server, rollout: Rollout, make_machine):
    """A tox.ini that names no constraints installs through PIP_CONSTRAINT; when this
    machine's pins change the env is rebuilt (tox alone would not notice)."""
    machine = make_machine(server.url)
    machine.drop_deps_constraints()
    machine.use_machine_id(rollout.control_machine)
    first = machine.tox()
    assert first.code == 0 and machine.installed_fakelib() == "1.0.0", first.output

    machine.use_machine_id(rollout.candidate_machine)
    second = machine.tox()
    assert "recreate env because depcanary constraints changed" in second.output, second.output
    assert second.code == 1 and machine.installed_fakelib() == "1.1.0", second.output

    third = machine.tox()  # same pins: the env is reused as is
    assert "recreate" not in third.output and machine.installed_fakelib() == "1.1.0"


def test_local_constraints_file_of_the_developer_gets_the_overrides(server, rollout: Rollout, make_machine):
    """TOX_CONSTRAINTS_FILE already pointing at a local checkout (as Zuul sets it): that file,
    with this machine's override applied to every line of the library, is what pip sees."""
    machine = make_machine(server.url)
    machine.use_machine_id(rollout.candidate_machine)
    local = machine.root / "requirements" / "upper-constraints.txt"
    local.parent.mkdir()
    local.write_text(
        f"{FAKELIB}===1.0.0;python_version>='3.8'\n{FAKELIB}===0.9.0;python_version<'3.8'\nlocal-only-lib===3.0\n"
    )
    result = machine.tox(extra={"TOX_CONSTRAINTS_FILE": str(local)})
    assert result.code == 1 and machine.installed_fakelib() == "1.1.0", result.output
    used = re.search(r"-c ?(\S+/constraints-[0-9a-f]+\.txt)", result.output).group(1)
    text = Path(used).read_text()
    assert text == (
        f"{FAKELIB}===1.1.0;python_version>='3.8'\n{FAKELIB}===1.1.0;python_version<'3.8'\nlocal-only-lib===3.0\n"
    )
    assert local.read_text().startswith(f"{FAKELIB}===1.0.0")  # the developer's file is untouched
