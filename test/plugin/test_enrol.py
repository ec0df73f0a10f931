"""Enrolled reporters (docs/trust.md), against the real server: a report counts only with a
credential; the plugin enrols at opt-in or at its first run, keeps the credential (0600),
enrols again once when the server has forgotten it, keeps reports it cannot send, and after
a 429 sends nothing before Retry-After has passed."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from .conftest import Rollout, Server, start_server


def config_of(machine) -> dict:
    return json.loads((machine.root / "config" / "depcanary" / "config.json").read_text())


def test_a_new_user_enrols_at_its_first_run_and_its_report_counts(server: Server, make_machine):
    machine = make_machine(server.url)
    # opted in before any server was known: no enrolment yet
    proc = machine.depcanary("opt-in", extra={"DEPCANARY_URL": ""})
    assert proc.returncode == 0, proc.stderr
    mid = config_of(machine)["machine"]
    assert "credentials" not in config_of(machine)
    assert "enrolled:   not yet" in machine.depcanary("status").stdout
    result = machine.tox()  # (a random id: either arm, so the run may fail on the candidate)
    assert "depcanary> constraints from" in result.output, result.output
    assert config_of(machine)["credentials"][server.url]["machine"] == mid
    reports = server.wait_reports(mid, 1)
    assert len(reports) == 1 and reports[0]["outcome"] == ("pass" if result.code == 0 else "fail")
    assert not list(machine.spool.glob("*.json"))


def test_reports_without_a_credential_or_with_a_forged_one_are_refused_and_kept(server: Server, make_machine):
    machine = make_machine(server.url)
    mid = machine.opt_in()
    data = config_of(machine)
    data["credentials"][server.url]["credential"] = "dcm_" + "A" * 43  # forged
    (machine.root / "config" / "depcanary" / "config.json").write_text(json.dumps(data))
    posts = server.report_posts()
    result = machine.tox()  # (a random id: either arm, so the run may fail on the candidate)
    assert "depcanary> constraints from" in result.output, result.output
    # refused (401), enrolling again under the same id is refused too (the id is taken): kept
    assert server.report_posts() >= posts + 1
    assert server.reports(mid) == []
    assert len(list(machine.spool.glob("*.json"))) == 1
    # no credential at all: the server says what a report needs
    status, body = server.call("POST", "/v1/reports", {"reports": []}, auth=False)
    assert status == 401 and "enrolled source" in body["error"]["message"]


def test_a_forgotten_enrolment_is_renewed_once_and_the_report_sent(server: Server, make_machine):
    machine = make_machine(server.url)
    mid = machine.opt_in()
    credential = config_of(machine)["credentials"][server.url]["credential"]
    # the server forgets the machine (as after its opt-out elsewhere, or a wiped store)
    req = urllib.request.Request(
        f"{server.url}/v1/enrol", method="DELETE", headers={"Authorization": f"Bearer {credential}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    result = machine.tox()  # (either arm)
    assert "depcanary> constraints from" in result.output, result.output
    assert len(server.wait_reports(mid, 1)) == 1
    renewed = config_of(machine)["credentials"][server.url]
    assert renewed["machine"] == mid and renewed["credential"] != credential


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory):
    """A server allowing two reports a minute per source."""
    yield from start_server(tmp_path_factory.mktemp("limited"), DEPCANARY_LIMIT_REPORTS_PER_SOURCE_PER_MIN="2")


def test_429_keeps_the_report_and_nothing_is_sent_before_retry_after(limited: Server, make_machine):
    machine = make_machine(limited.url)
    mid = machine.opt_in()
    started = time.monotonic()
    assert machine.tox().code == 0 and machine.tox().code == 0
    assert len(limited.wait_reports(mid, 2)) == 2
    third = machine.tox()
    assert third.code == 0, third.output  # a 429 never fails the run
    assert len(list(machine.spool.glob("*.json"))) == 1
    until = float((machine.spool / ".retry-after").read_text())
    assert 0 < until - time.time() <= 60
    # a run before Retry-After has passed sends nothing: the server sees no further POST
    posts = limited.report_posts()
    assert machine.tox().code == 0
    assert limited.report_posts() == posts
    assert len(list(machine.spool.glob("*.json"))) == 2
    sent = machine.depcanary("send")
    assert sent.returncode == 1 and "HTTP 429" in sent.stdout + sent.stderr
    assert limited.report_posts() == posts
    time.sleep(max(0.0, until - time.time()) + 0.5)
    sent = machine.depcanary("send")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "sent 2 report(s)" in sent.stdout
    assert len(limited.reports(mid)) == 4
    assert not list(machine.spool.glob("*.json"))
    assert time.monotonic() - started < 120


def test_ci_job_without_a_reporter_token_does_not_borrow_an_enrolled_id(server: Server, rollout: Rollout, make_machine):
    machine = make_machine(server.url)
    before = len(server.reports(rollout.control_machine))
    result = machine.tox(extra={"DEPCANARY_MACHINE_ID": rollout.control_machine, "DEPCANARY_TELEMETRY": "1"})
    assert result.code == 0, result.output
    assert len(server.reports(rollout.control_machine)) == before
    assert len(list(machine.spool.glob("*.json"))) == 1
