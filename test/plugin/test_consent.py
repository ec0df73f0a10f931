"""Without consent nothing is sent, counted at the server itself (its POST /v1/reports
request counter in /metrics), and no machine id leaves the machine."""

from __future__ import annotations

import pytest

from .conftest import Rollout, Server


@pytest.mark.usefixtures("rollout")
def test_not_opted_in_sends_no_report_and_gets_base(server: Server, make_machine):
    machine = make_machine(server.url)
    posts = server.report_posts()
    result = machine.tox()
    assert result.code == 0, result.output
    (line,) = result.depcanary_lines()
    assert "not opted in" in line
    assert machine.installed_fakelib() == "1.0.0"
    assert server.report_posts() == posts
    assert not machine.spool.exists()
    assert not (machine.root / "config" / "depcanary" / "config.json").exists()


def test_machine_id_without_consent_is_not_used(server: Server, rollout: Rollout, make_machine):
    """A CI job that sets DEPCANARY_MACHINE_ID but not DEPCANARY_TELEMETRY=1 stays out."""
    machine = make_machine(server.url)
    before = len(server.reports(rollout.candidate_machine))
    posts = server.report_posts()
    result = machine.tox(extra={"DEPCANARY_MACHINE_ID": rollout.candidate_machine})
    assert result.code == 0, result.output
    assert machine.installed_fakelib() == "1.0.0"  # the id was not sent: base constraints
    assert server.report_posts() == posts
    assert len(server.reports(rollout.candidate_machine)) == before


@pytest.mark.parametrize("veto", [{"DO_NOT_TRACK": "1"}, {"DEPCANARY_TELEMETRY": "0"}])
def test_opted_in_but_vetoed_sends_nothing(veto, server: Server, rollout: Rollout, make_machine):
    machine = make_machine(server.url)
    machine.use_machine_id(rollout.candidate_machine)
    before = len(server.reports(rollout.candidate_machine))
    posts = server.report_posts()
    # DEPCANARY_TELEMETRY=1 does not beat DO_NOT_TRACK=1
    extra = {**veto, "DEPCANARY_TELEMETRY": "1"} if "DO_NOT_TRACK" in veto else veto
    result = machine.tox(extra=extra)
    assert result.code == 0, result.output
    (line,) = result.depcanary_lines()
    assert ("DO_NOT_TRACK" in line) if "DO_NOT_TRACK" in veto else ("DEPCANARY_TELEMETRY=0" in line)
    assert machine.installed_fakelib() == "1.0.0"
    assert server.report_posts() == posts
    assert len(server.reports(rollout.candidate_machine)) == before
    assert not machine.spool.exists()


def test_ci_job_with_explicit_machine_id_and_consent_reports(server: Server, rollout: Rollout, make_machine):
    """A CI job reports with its CI system's reporter token (no enrolment, any machine id)."""
    machine = make_machine(server.url)
    before = len(server.reports(rollout.control_machine))
    result = machine.tox(
        extra={
            "DEPCANARY_MACHINE_ID": rollout.control_machine,
            "DEPCANARY_TELEMETRY": "1",
            "DEPCANARY_REPORTER_TOKEN": server.reporter,
        }
    )
    assert result.code == 0, result.output
    reports = server.reports(rollout.control_machine)
    assert len(reports) == before + 1
    assert reports[0]["outcome"] == "pass"
    assert reports[0]["installed"]["depcanary-fakelib"] == "1.0.0"
