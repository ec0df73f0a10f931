"""A server that is down, slow (accepts and never answers) or answers garbage never fails
the developer's run nor slows it by more than the documented bound (DEPCANARY_TIMEOUT,
default 3 s), and the plugin says what it did in one line."""

from __future__ import annotations

import json

import pytest

from depcanary import settings

from .conftest import Rollout, Server, machine_factory
from .front import Front, closed_port_url

BOUND = settings.DEFAULT_TIMEOUT
SLACK = 2.0  # tox start-up jitter on a loaded 2-core machine
BROKEN = ["hang", "garbage-http", "garbage-bytes", "http-500", "refuse", "down"]


@pytest.fixture(scope="module")
def baseline(make_machine_module) -> float:
    """Time outside the env in a toy tox run with the plugin idle (no server configured)."""
    machine = make_machine_module(None)
    result = machine.tox()
    assert result.code == 0, result.output
    assert result.depcanary_lines() == [
        "unit: depcanary> no server configured (set DEPCANARY_URL or `depcanary opt-in --server URL`): doing nothing"
    ]
    return result.overhead


@pytest.fixture(scope="module")
def make_machine_module(venv, find_links, tmp_path_factory):
    return machine_factory(venv, find_links, tmp_path_factory.mktemp("baseline"))


def url_for(mode: str, front: Front) -> str:
    if mode == "down":
        return closed_port_url()
    front.mode = mode
    return front.url


@pytest.mark.parametrize("mode", BROKEN)
def test_broken_server_without_cache_changes_nothing(mode, front, make_machine, baseline, record_property):
    machine = make_machine(url_for(mode, front))
    machine.opt_in()
    result = machine.tox()
    # the developer's own result: tox.ini's default constraints (fakelib 1.0.0) pass
    assert result.code == 0, result.output
    assert machine.installed_fakelib() == "1.0.0"
    lines = result.depcanary_lines()
    assert len(lines) == 1, result.output
    assert "unreachable" in lines[0] and "no cached constraints: changing nothing" in lines[0], lines
    record_property("overhead_seconds", round(result.overhead, 2))
    record_property("baseline_overhead_seconds", round(baseline, 2))
    assert result.overhead < baseline + BOUND + SLACK, (result.overhead, baseline)
    # the report is kept on disk for a later run
    assert len(list(machine.spool.glob("*.json"))) == 1


def test_broken_server_with_cache_uses_last_good_answer_then_resends(
    front, server: Server, rollout: Rollout, make_machine, baseline
):
    machine = make_machine(front.url)
    machine.use_machine_id(rollout.candidate_machine)
    before = len(server.reports(rollout.candidate_machine))
    first = machine.tox()
    assert first.code == 1 and machine.installed_fakelib() == "1.1.0", first.output

    for mode in ("hang", "garbage-http", "garbage-bytes", "http-500", "refuse"):
        front.mode = mode
        result = machine.tox()
        # the cached candidate pins are still used: same env, same result
        assert result.code == 1, result.output
        assert machine.installed_fakelib() == "1.1.0"
        lines = result.depcanary_lines()
        assert len(lines) == 1, result.output
        assert "using cached constraints from" in lines[0], lines
        assert result.overhead < baseline + BOUND + SLACK, (mode, result.overhead, baseline)
    assert len(list(machine.spool.glob("*.json"))) == 5

    front.mode = "proxy"
    last = machine.tox()
    assert last.code == 1
    assert not list(machine.spool.glob("*.json"))
    reports = server.reports(rollout.candidate_machine)
    assert len(reports) == before + 7
    assert {r["outcome"] for r in reports[:7]} == {"fail"}


def test_lost_answer_is_resent_and_counted_once(front, server: Server, rollout: Rollout, make_machine):
    machine = make_machine(front.url)
    machine.use_machine_id(rollout.control_machine)
    before = len(server.reports(rollout.control_machine))
    front.mode = "lose-answer"  # the server stores the report, the client never hears back
    assert machine.tox().code == 0
    (spooled,) = machine.spool.glob("*.json")
    report_id = json.loads(spooled.read_text())["id"]
    assert len(server.reports(rollout.control_machine)) == before + 1

    front.mode = "proxy"
    assert machine.tox().code == 0
    assert not list(machine.spool.glob("*.json"))
    reports = server.reports(rollout.control_machine)
    assert len(reports) == before + 2  # the replayed id is not stored twice
    assert [r["id"] for r in reports].count(report_id) == 1
