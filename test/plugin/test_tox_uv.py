"""tox-uv (var/test-venv-uv): the envs are made and filled by uv, not pip. The pins reach uv
through UV_CONSTRAINT (and through the OpenStack-style `-c` in deps), and the report says what
uv really installed."""

from __future__ import annotations

import pytest

from .conftest import FAKELIB, REPORT_FIELDS, Rollout, Server, tox_at_once


@pytest.mark.parametrize("deps_constraints", [True, False], ids=["deps-c", "UV_CONSTRAINT-only"])
def test_tox_uv_candidate_gets_candidate_control_gets_stable(
    deps_constraints: bool, server: Server, rollout: Rollout, make_uv_machine
):
    candidate, control = make_uv_machine(server.url), make_uv_machine(server.url)
    candidate.use_machine_id(rollout.candidate_machine)
    control.use_machine_id(rollout.control_machine)
    if not deps_constraints:  # uv alone would take the newest fakelib: only the pins keep the control on 1.0.0
        candidate.drop_deps_constraints()
        control.drop_deps_constraints()
    n_cand, n_ctrl = len(server.reports(rollout.candidate_machine)), len(server.reports(rollout.control_machine))

    cand, ctrl = tox_at_once(candidate, control)

    assert cand.code == 1, cand.output
    assert ctrl.code == 0, ctrl.output
    for machine, result, version in ((candidate, cand, "1.1.0"), (control, ctrl, "1.0.0")):
        assert "uv venv" in result.output and "uv pip install" in result.output, result.output
        assert machine.installed_fakelib() == version, result.output
        assert (machine.fakelib_dist() / "INSTALLER").read_text().strip() == "uv"
        assert not (machine.project / ".tox" / "unit" / "bin" / "pip").exists()  # a uv venv has no pip
        assert "PIP_CONSTRAINT defined" not in result.output  # tox-uv's warning when UV_CONSTRAINT is missing

    fail = server.wait_reports(rollout.candidate_machine, n_cand + 1)[0]
    ok = server.wait_reports(rollout.control_machine, n_ctrl + 1)[0]
    assert set(fail) - {"receivedAt"} == REPORT_FIELDS | {"branch", "pinned", "reason"}
    assert set(ok) - {"receivedAt"} == REPORT_FIELDS | {"branch"}
    assert fail["branch"] == ok["branch"] == "master"  # the served branch, from X-Depcanary-Branch
    assert (fail["outcome"], fail["installed"][FAKELIB], fail["pinned"]) == ("fail", "1.1.0", {FAKELIB: "1.1.0"})
    assert fail["failedTests"] == ["tests/test_consumer.py::test_answer"]
    assert (ok["outcome"], ok["installed"][FAKELIB], ok["failedTests"]) == ("pass", "1.0.0", [])
    assert "pip" not in fail["installed"] and "pip" not in ok["installed"]  # read from the uv env itself

    if not deps_constraints:
        # new pins for a project that names none: the plugin rebuilds the env, as under pip
        control.use_machine_id(rollout.candidate_machine)
        again = control.tox()
        assert "recreate env because depcanary constraints changed" in again.output, again.output
        assert again.code == 1 and control.installed_fakelib() == "1.1.0", again.output


def test_tox_uv_keeps_the_developers_own_uv_constraint(server: Server, rollout: Rollout, make_uv_machine):
    """UV_CONSTRAINT set in the shell to a local file (as PIP_CONSTRAINT can be): uv gets that
    file, with this machine's overrides applied (none on the control arm), not the server's."""
    machine = make_uv_machine(server.url)
    machine.use_machine_id(rollout.control_machine)
    machine.drop_deps_constraints()
    local = machine.root / "requirements" / "upper-constraints.txt"
    local.parent.mkdir()
    local.write_text(f"{FAKELIB}===1.1.0\n")  # the developer tries the new version locally
    result = machine.tox(extra={"UV_CONSTRAINT": str(local)})
    assert result.code == 1 and machine.installed_fakelib() == "1.1.0", result.output
