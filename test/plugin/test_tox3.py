"""Under tox 3 (which loads the same `tox` entry point group) the plugin warns once and does
nothing; the developer's run is unchanged."""

from __future__ import annotations

from .conftest import Server


def test_tox3_gets_one_warning_and_no_action(server: Server, make_machine, venv):
    machine = make_machine(server.url)
    machine.opt_in()
    tox3 = venv.sibling("tox3").bin / "tox"
    posts = server.report_posts()
    proc = machine.run(str(tox3), "-e", "unit", timeout=120, extra=machine.tox_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr  # tox.ini's own constraints: 1.0.0 passes
    assert machine.installed_fakelib() == "1.0.0"
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "depcanary>" in line]
    assert lines == ["depcanary> tox 3 is not supported (needs tox >= 4.0.9): no pins, no reports"]
    assert server.report_posts() == posts
    assert not (machine.root / "cache" / "depcanary").exists()
