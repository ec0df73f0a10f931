"""The CI path, as a Zuul job runs it: a pre-run `depcanary constraints` writes the job's
cohort file into a requirements checkout, tox reads it through TOX_CONSTRAINTS_FILE (the tox
plugin not configured, as on a CI node without DEPCANARY_URL), and a post-run
`depcanary report --from-subunit` sends stestr's results."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest

from depcanary import identity

from .conftest import FAKELIB, TOYLIB, TOYLIB_PIN, Server
from .toylib import STESTR_FAILING_ID

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<testsuite name="x" tests="1"><testcase classname="a" name="&lol2;"><failure/></testcase></testsuite>
"""


def key_in_arm(server: Server, arm: str) -> str:
    """A CI key (change and patchset) whose derived machine id is in `arm` of the fakelib rollout."""
    for change in range(1000):
        key = f"change-{900000 + change}-patchset-1"
        _, body = server.call("GET", f"/v1/pins?machine={identity.ci_machine(key)}", auth=False)
        if any(p["library"] == FAKELIB and p["arm"] == arm for p in body["pins"]):
            return key
    pytest.fail(f"no key in the {arm} arm")


@pytest.mark.usefixtures("rollout")
def test_pre_run_file_is_used_by_tox_and_post_run_reports_the_stestr_ids(server: Server, make_machine, tmp_path: Path):
    key = key_in_arm(server, "candidate")
    machine_id = identity.ci_machine(key)
    requirements = tmp_path / "src" / "opendev.org" / "openstack" / "requirements"
    requirements.mkdir(parents=True)
    with urllib.request.urlopen(f"{server.url}/v1/constraints.txt", timeout=10) as resp:
        (requirements / "upper-constraints.txt").write_bytes(resp.read())  # the checkout: the base
    job = make_machine(None)  # the tox plugin has no server: only the CI commands talk to depcanary
    job.make_toylib()
    ci = {"DEPCANARY_URL": server.url, "DEPCANARY_REPORTER_TOKEN": server.reporter}

    pre = job.depcanary("constraints", "--branch", "master", "--out", str(requirements / "upper-constraints.txt"),
                        "--ci-key", key, extra=ci)  # fmt: skip
    assert pre.returncode == 0, pre.stderr
    assert f"candidate {FAKELIB} 1.1.0" in pre.stdout and machine_id in pre.stdout
    assert key not in pre.stdout + pre.stderr  # only the hash leaves the job
    written = (requirements / "upper-constraints.txt").read_text()
    assert f"{FAKELIB}===1.1.0" in written and f"{TOYLIB}==={TOYLIB_PIN}" in written  # the checkout's form

    run = job.tox(envs="py3", extra={"TOX_CONSTRAINTS_FILE": str(requirements / "upper-constraints.txt"),
                                     "TOYLIB_EXACT": "1"})  # fmt: skip
    assert run.code == 1, run.output  # the candidate breaks test_exact_answer
    assert job.installed_fakelib("py3") == "1.1.0"

    subunit = tmp_path / "testrepository.subunit"
    with subunit.open("wb") as out:  # what Zuul's fetch-subunit-output role runs
        subprocess.run([str(job.project / ".tox" / "py3" / "bin" / "stestr"), "last", "--subunit"],
                       cwd=job.project, stdout=out, check=True, timeout=60)  # fmt: skip
    posts = server.report_posts()
    post = job.depcanary("report", "--from-subunit", str(subunit), "--ci-key", key, "--env", "py3", extra=ci)
    assert post.returncode == 0, post.stderr
    assert server.report_posts() == posts + 1
    (report,) = server.reports(machine_id)
    assert (report["outcome"], report["reason"], report["env"]) == ("fail", "tests", "py3")
    assert report["failedTests"] == [STESTR_FAILING_ID]
    assert report["project"] == TOYLIB
    assert report["pinned"] == {FAKELIB: "1.1.0"}
    assert report["installed"][FAKELIB] == "1.1.0"  # read from the job's env
    assert report["durationMs"] >= 0

    # a recheck of the same change and patchset keeps its arm
    again = job.depcanary("constraints", "--out", str(tmp_path / "fresh.txt"), "--ci-key", key, extra=ci)
    assert again.returncode == 0, again.stderr
    assert f"{FAKELIB}===1.1.0" in (tmp_path / "fresh.txt").read_text()  # no file there: the server's


@pytest.mark.usefixtures("rollout")
def test_junit_report_and_hostile_junit(server: Server, make_machine, tmp_path: Path):
    job = make_machine(server.url)
    key = key_in_arm(server, "control")
    (tmp_path / "test_x.py").write_text("def test_ok():\n    pass\n\n\ndef test_bad():\n    assert 0\n")
    junit = tmp_path / "junit.xml"
    subprocess.run([str(job.venv.bin / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                    str(tmp_path / "test_x.py")], cwd=tmp_path, capture_output=True, timeout=60)  # fmt: skip
    # without the CI system's reporter token the report is kept, not counted (a job never enrols)
    kept = job.depcanary("report", "--from-junit", str(junit), "--ci-key", key, "--env", "unit", "--project", "nova")
    assert kept.returncode == 0 and "not sent" in kept.stdout + kept.stderr, kept.stdout + kept.stderr
    assert server.reports(identity.ci_machine(key)) == []
    token = {"DEPCANARY_REPORTER_TOKEN": server.reporter}
    post = job.depcanary(
        "report", "--from-junit", str(junit), "--ci-key", key, "--env", "unit", "--project", "nova", extra=token
    )
    assert post.returncode == 0, post.stderr
    assert "sent 2 report(s)" in post.stdout  # the kept one goes too
    report = server.reports(identity.ci_machine(key))[0]
    assert (report["outcome"], report["failedTests"], report["project"]) == ("fail", ["test_x.test_bad"], "nova")

    hostile = tmp_path / "hostile.xml"
    hostile.write_text(BILLION_LAUGHS)
    posts = server.report_posts()
    refused = job.depcanary("report", "--from-junit", str(hostile), "--ci-key", key)
    assert refused.returncode == 2
    assert "DOCTYPE" in refused.stderr and "nothing sent" in refused.stderr
    assert server.report_posts() == posts


def test_ci_commands_say_what_is_wrong(make_machine, server: Server, tmp_path: Path):
    job = make_machine(server.url)
    missing = job.depcanary("report", "--from-subunit", str(tmp_path / "none.subunit"))
    assert missing.returncode == 2  # no consent: neither --ci-key nor DEPCANARY_TELEMETRY=1
    assert "nothing sent: not opted in" in missing.stderr
    vetoed = job.depcanary(
        "constraints", "--out", str(tmp_path / "c.txt"), "--ci-key", "k", extra={"DO_NOT_TRACK": "1"}
    )
    assert vetoed.returncode == 0 and "machine id" not in vetoed.stdout  # the base file, no id sent
    assert f"{FAKELIB}===1.0.0" in (tmp_path / "c.txt").read_text()
    garbage = tmp_path / "garbage.subunit"
    garbage.write_bytes(b"\xb3\x29\x01\x0c garbage that is not a subunit packet" * 3)
    bad = job.depcanary("report", "--from-subunit", str(garbage), "--ci-key", "k")
    assert bad.returncode == 2 and "not a valid subunit v2 stream" in bad.stderr, bad.stderr
