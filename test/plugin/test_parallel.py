"""`tox -p`: the envs run at the same time in threads of one tox process. The constraints
are fetched once for all of them, every env installs the pins, and every env's run is
reported exactly once (counted at the server), also when the envs finish together and their
reports are spooled while an earlier one is still being sent."""

from __future__ import annotations

import pytest

from .conftest import FAKELIB, TOX_INI, Rollout, Server
from .front import Front

HTTP_COUNT = "depcanary_http_request_duration_seconds_count"
ENVS = ("unit", "smoke", "names")
# Three envs from one [testenv]: `unit` runs all tests (the candidate fails test_answer),
# `smoke` and `names` only test_name (they pass), so each report must carry its own env's
# failures. commands_post (run also after a failure) holds every env until all are there:
# they finish, and are torn down and reported, at the same moment.
PARALLEL_INI = (
    TOX_INI.replace("env_list = unit", f"env_list = {', '.join(ENVS)}")
    .replace("[testenv:unit]", "[testenv]")
    .replace("skip_install = true\n", "skip_install = true\nset_env =\n    smoke,names: PYTEST_ADDOPTS=-k test_name\n")
    + f"commands_post =\n    python barrier.py {{env_name}} {len(ENVS)}\n"
)
BARRIER = """import sys, time
from pathlib import Path

here = Path("barrier")
here.mkdir(exist_ok=True)
(here / sys.argv[1]).touch()
deadline = time.monotonic() + 60
while len(list(here.iterdir())) < int(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.01)
"""


def totals(server: Server) -> dict[str, int]:
    return {
        "fetches": server.metric(HTTP_COUNT, 'method="GET"', 'route="/v1/constraints.txt"'),
        "posts": server.report_posts(),
        "stored": server.metric("depcanary_reports_ingested_total"),
        "duplicates": server.metric("depcanary_reports_duplicate_total"),
    }


@pytest.mark.parametrize("make", ["make_machine", "make_uv_machine"], ids=["pip", "tox-uv"])
def test_parallel_envs_each_get_the_pins_and_are_reported_once(
    make: str, server: Server, rollout: Rollout, front: Front, request: pytest.FixtureRequest
):
    machine = request.getfixturevalue(make)(front.url)
    machine.use_machine_id(rollout.candidate_machine)
    (machine.project / "tox.ini").write_text(PARALLEL_INI)
    (machine.project / "barrier.py").write_text(BARRIER)
    # a slow link: the first report is still on its way when the others are spooled
    front.report_delay = 0.5
    seen, before = {report["id"] for report in server.reports(rollout.candidate_machine)}, totals(server)

    result = machine.tox("-p", "all", envs=",".join(ENVS), extra={"DEPCANARY_TIMEOUT": "20"})
    assert result.code == 1, result.output  # unit fails, smoke and names pass
    assert sorted(p.name for p in (machine.project / "barrier").iterdir()) == sorted(ENVS)
    assert all(machine.installed_fakelib(env) == "1.1.0" for env in ENVS), result.output
    (line,) = result.depcanary_lines()  # one fetch, one line for the whole run
    assert f"candidate {FAKELIB} 1.1.0" in line
    # everything was sent before tox exited
    assert not list(machine.spool.glob("*")), result.output  # no report left, no stray temp file
    after = totals(server)
    assert after["fetches"] - before["fetches"] == 1
    assert after["stored"] - before["stored"] == len(ENVS)
    assert after["duplicates"] == before["duplicates"]  # nothing was sent twice
    assert 1 <= after["posts"] - before["posts"] <= len(ENVS)  # batched: at most one POST a report

    reports = [report for report in server.reports(rollout.candidate_machine) if report["id"] not in seen]
    new = {report["env"]: report for report in reports}
    assert len(reports) == len(ENVS) and sorted(new) == sorted(ENVS), reports  # one report per env
    assert (new["unit"]["outcome"], new["unit"]["failedTests"]) == ("fail", ["tests/test_consumer.py::test_answer"])
    for env in ("smoke", "names"):
        assert (new[env]["outcome"], new[env]["failedTests"]) == ("pass", [])
    for report in new.values():
        assert report["installed"][FAKELIB] == "1.1.0"
        assert report["pinned"] == {FAKELIB: "1.1.0"}
