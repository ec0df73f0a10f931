"""Pure helpers of the client: no tox, no server."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from depcanary import constraints, envinfo, identity, report

from .conftest import REPORT_FIELDS


def test_apply_overrides_pins_every_line_of_the_library_and_keeps_the_rest():
    text = (
        "# header\r\n"
        "oslo.log===6.0.0;python_version>='3.9'\r\n"
        "Oslo_Log===5.0.0;python_version<'3.9'\r\n"
        "pbr===6.1.0\r\n"
        "six===1.16.0"
    )
    out = constraints.apply_overrides(text, {"oslo-log": "7.1.0", "new-lib": "1.0"})
    assert out == (
        "# header\r\n"
        "oslo.log===7.1.0;python_version>='3.9'\r\n"
        "Oslo_Log===7.1.0;python_version<'3.9'\r\n"
        "pbr===6.1.0\r\n"
        "six===1.16.0\n"
        "new-lib===1.0\n"
    )
    assert constraints.pins(out)["oslo-log"] == "7.1.0"
    assert constraints.apply_overrides(text, {}) == text


def test_validate_rejects_what_is_not_a_constraints_file():
    constraints.validate("a===1\n# c\n\n-c other.txt\nb==2 ; python_version<'3'\n")
    with pytest.raises(constraints.InvalidConstraints):
        constraints.validate("<html><body>captive portal</body></html>")
    assert constraints.parse_overrides("oslo.log=7.1.0, pbr=6.0.0,") == {"oslo-log": "7.1.0", "pbr": "6.0.0"}
    assert constraints.parse_overrides("") == {}


def test_content_addressed_files(tmp_path: Path):
    a = constraints.write_content_addressed(tmp_path, "a===1\n")
    b = constraints.write_content_addressed(tmp_path, "a===2\n")
    assert a != b and a.read_text() == "a===1\n"
    assert constraints.write_content_addressed(tmp_path, "a===1\n") == a


def test_report_has_exactly_the_contract_fields_and_respects_its_limits():
    now = datetime.now(timezone.utc)
    data = report.build(
        machine=str(uuid.uuid4()),
        outcome="fail",
        installed={"ok-lib": "1.0.0", "weird": "not a version", "bad name!": "1.0", "local": "1.0+abc.1"},
        project="p",
        env="py311",
        python="3.11.7",
        platform="linux-x86_64",
        duration_s=1.2345,
        failed_tests=[f"t{i}" for i in range(150)] + ["t1", "x" * 600],
        started=now,
        finished=now,
    )
    assert set(data) == REPORT_FIELDS
    assert data["installed"] == {"ok-lib": "1.0.0", "local": "1.0+abc.1"}
    assert len(data["failedTests"]) == report.MAX_FAILED
    assert data["durationMs"] == 1234 or data["durationMs"] == 1235
    assert data["finishedAt"].endswith("Z")
    with pytest.raises(ValueError, match="outcome"):
        report.build(**{**_args(), "outcome": "flaky"})


def test_report_names_a_served_branch_only_when_it_is_one():
    assert report.build(**_args(), branch="stable/2025.2")["branch"] == "stable/2025.2"
    for bad in (None, "", "Stable/2025.2", "../x", "a" * 61, "stable 2025.2"):
        assert "branch" not in report.build(**_args(), branch=bad)


def _args() -> dict:
    now = datetime.now(timezone.utc)
    return {
        "machine": str(uuid.uuid4()),
        "outcome": "pass",
        "installed": {},
        "project": "p",
        "env": "e",
        "python": "3",
        "platform": "x",
        "duration_s": 0,
        "failed_tests": [],
        "started": now,
        "finished": now,
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("DEPCANARY_URL", "DEPCANARY_MACHINE_ID", "DEPCANARY_TELEMETRY", "DO_NOT_TRACK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.usefixtures("home")
def test_consent_precedence(monkeypatch: pytest.MonkeyPatch):
    assert identity.resolve().why == "not opted in"
    machine = identity.opt_in("http://example.invalid")["machine"]
    ident = identity.resolve()
    assert ident.consent and ident.machine == machine and ident.server == "http://example.invalid"
    monkeypatch.setenv("DEPCANARY_TELEMETRY", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    assert not identity.resolve().consent and identity.resolve().machine is None
    monkeypatch.delenv("DO_NOT_TRACK")
    monkeypatch.setenv("DEPCANARY_TELEMETRY", "0")
    assert not identity.resolve().consent
    monkeypatch.setenv("DEPCANARY_TELEMETRY", "1")
    other = str(uuid.uuid4())
    monkeypatch.setenv("DEPCANARY_MACHINE_ID", other)
    assert identity.resolve().machine == other
    monkeypatch.setenv("DEPCANARY_MACHINE_ID", "my-laptop")
    assert identity.resolve().why == "DEPCANARY_MACHINE_ID is not a UUID"
    identity.opt_out()
    monkeypatch.delenv("DEPCANARY_MACHINE_ID")
    monkeypatch.delenv("DEPCANARY_TELEMETRY")
    assert not identity.resolve().consent and identity.resolve().saved_machine is None


@pytest.mark.usefixtures("home")
def test_spool_keeps_only_valid_reports():
    data = report.build(**_args())
    path = report.spool(data)
    (path.parent / "broken.json").write_text("{not json")
    assert {p.name for p in report.spooled()} == {"broken.json", path.name}
    # a server that is not there: the report stays, the unreadable file goes
    sent, problem = report.send_spool("http://127.0.0.1:9", data["machine"], 1.0)
    assert sent == 0 and problem
    assert path.exists() and not (path.parent / "broken.json").exists()
    assert report.clear_spool() == 1


@pytest.mark.usefixtures("home")
def test_spool_listing_survives_a_report_removed_meanwhile():
    """Another tox run on the machine sent and removed a report while this one lists the
    spool (stood for by a link whose target is gone): the other reports are still listed."""
    path = report.spool(report.build(**_args()))
    (path.parent / f"{uuid.uuid4()}.json").symlink_to(path.parent / "gone.json")
    assert report.spooled() == [path]


def test_pytest_plugin_writes_failing_ids(tmp_path: Path):
    (tmp_path / "test_a.py").write_text("def test_ok():\n    pass\n\ndef test_bad():\n    assert 0\n")
    (tmp_path / "test_broken.py").write_text("import no_such_module_here\n")
    out = tmp_path / "failures"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={"DEPCANARY_FAILURES_FILE": str(out), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout  # collection error
    assert envinfo.read_failures(out) == ["test_broken.py"]
    (tmp_path / "test_broken.py").unlink()
    out.unlink()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={"DEPCANARY_FAILURES_FILE": str(out), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert envinfo.read_failures(out) == ["test_a.py::test_bad"]


def test_stestr_failures_come_from_the_envs_stestr(tmp_path: Path):
    """`python -m stestr failing --list` in the env; here a stand-in module prints ids."""
    (tmp_path / ".stestr").mkdir()
    (tmp_path / ".stestr" / "0").write_text("")
    fake = tmp_path / "stestr"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        "import sys\nassert sys.argv[1:] == ['failing', '--list']\n"
        "print('nova.tests.unit.test_x.TestY.test_z')\nprint('nova.tests.unit.test_x.TestY.test_w[id-1,smoke]')\n"
        "sys.exit(1)\n"
    )
    ids = envinfo.stestr_failures(Path(sys.executable), tmp_path, since=0)
    assert ids == ["nova.tests.unit.test_x.TestY.test_z", "nova.tests.unit.test_x.TestY.test_w"]
    assert envinfo.stestr_failures(Path(sys.executable), tmp_path / "nothing", since=0) == []


def test_project_name(tmp_path: Path):
    assert envinfo.project_name(tmp_path) == tmp_path.name
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = nova\n")
    assert envinfo.project_name(tmp_path) == "nova"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "oslo.log"\n')
    assert envinfo.project_name(tmp_path) == "oslo.log"


def test_probe_reads_the_interpreter():
    info = envinfo.probe(Path(sys.executable))
    assert info is not None
    assert info.installed["depcanary-client"] == "0.1.0"
    assert info.python == ".".join(map(str, sys.version_info[:3]))
    assert envinfo.probe(Path("/nonexistent/python")) is None


def test_drop_removes_every_line_of_the_named_libraries():
    text = "# c\noslo.config===10.7.0\nOslo_Config===9.0.0;python_version=='3.9'\nstevedore===5.9.1\n"
    assert constraints.drop(text, {"oslo-config"}) == "# c\nstevedore===5.9.1\n"
    assert constraints.drop(text, set()) == text


def test_ci_machine_is_a_stable_hash_of_the_key():
    a = identity.ci_machine("change-123-patchset-4")
    assert a == identity.ci_machine(" change-123-patchset-4 ")  # a recheck keeps its arm
    assert a != identity.ci_machine("change-123-patchset-5")
    assert uuid.UUID(a).version == 5 and "123" not in a


def test_junit_with_an_external_entity_is_refused(tmp_path: Path):
    from depcanary import results  # noqa: PLC0415

    xxe = tmp_path / "xxe.xml"
    xxe.write_text(
        '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<testsuite><testcase classname="a" name="&x;"/></testsuite>'
    )
    with pytest.raises(results.ResultsError, match="DOCTYPE"):
        results.from_junit(xxe)
    (tmp_path / "not.xml").write_text("<html><body>")
    with pytest.raises(results.ResultsError, match="well-formed"):
        results.from_junit(tmp_path / "not.xml")
    (tmp_path / "other.xml").write_text("<html/>")
    with pytest.raises(results.ResultsError, match="not a JUnit"):
        results.from_junit(tmp_path / "other.xml")


def test_override_clash_is_read_from_pips_log(tmp_path: Path):
    log = tmp_path / "pip.log"
    log.write_text(
        "2026-12-01T20:00:00,001 Collecting depcanary-fakelib\n"
        "2026-12-01T20:00:01,002 The conflict is caused by:\n"
        "2026-12-01T20:00:01,002     depcanary-toylib 2.0.1.dev1 depends on depcanary-fakelib<1.1\n"
        "2026-12-01T20:00:01,002     The user requested (constraint) depcanary-fakelib===1.1.0\n"
        "2026-12-01T20:00:01,003 \n"
    )
    clash = envinfo.override_clash(log, {"depcanary-fakelib": "1.1.0"})
    assert clash == ("depcanary-fakelib", "depcanary-toylib 2.0.1.dev1 depends on depcanary-fakelib<1.1")
    assert envinfo.override_clash(log, {"other": "1"}) is None
    assert envinfo.override_clash(tmp_path / "none.log", {"depcanary-fakelib": "1.1.0"}) is None


@pytest.mark.usefixtures("home")
def test_after_a_429_nothing_is_sent_before_retry_after():
    data = report.build(**_args())
    report.spool(data)
    report._note_retry_after("120")  # as _post does on a 429
    sent, problem = report.send_spool("http://127.0.0.1:9", data["machine"], 1.0)
    assert sent == 0
    assert re.search(r"the server asked to wait 1(19|20)s more \(HTTP 429\)", problem), problem
    assert len(report.spooled()) == 1
    with pytest.raises(ValueError, match="reason"):
        report.build(**{**_args(), "outcome": "error", "reason": "because"})


def test_the_name_of_what_tox_built(tmp_path: Path):
    from depcanary import tox4  # noqa: PLC0415

    class Built:
        def __init__(self, name: str) -> None:
            self.path = tmp_path / name
            self.path.write_text("")

    assert tox4._package_name(Built("oslo_config-10.6.1.dev3-py3-none-any.whl")) == "oslo-config"
    assert tox4._package_name(Built("python-novaclient-18.13.1.dev2.tar.gz")) == "python-novaclient"
    assert tox4._package_name(Built("oslo_config-10.6.1.dev3.tar.gz")) == "oslo-config"
    assert tox4._package_name(object()) is None
