"""depcanary's pytest plugin: appends the ids of failing tests to $DEPCANARY_FAILURES_FILE.

The tox plugin sets that variable for each tox environment and reads the file when the
environment is torn down. Without the variable this plugin does nothing.

It is a single module using only the standard library, because the tox plugin also puts it
on PYTHONPATH of tox environments that do not have depcanary-client installed (loaded through
PYTEST_PLUGINS=depcanary_pytest). Whatever Python such an environment runs, a plugin that
fails to import would abort the developer's tests, so this file keeps to syntax every
Python since 2.7 accepts: no annotations (type comments instead), no f-strings.
"""

import io
import os

ENV_VAR = "DEPCANARY_FAILURES_FILE"
MAX_IDS = 100


class _Recorder(object):
    def __init__(self, path):
        # type: (str) -> None
        self.path = path
        self.seen = set()  # type: set[str]

    def add(self, nodeid):
        # type: (str) -> None
        if not nodeid or nodeid in self.seen or len(self.seen) >= MAX_IDS:
            return
        self.seen.add(nodeid)
        try:
            with io.open(self.path, "a", encoding="utf-8") as out:
                out.write("%s\n" % nodeid.replace("\n", " "))
        except Exception:
            pass  # telemetry must never fail a test run


_recorder = None  # type: _Recorder | None


def pytest_configure(config):
    # type: (object) -> None
    global _recorder
    path = os.environ.get(ENV_VAR)
    if path and not hasattr(config, "workerinput"):  # xdist workers report to the controller
        _recorder = _Recorder(path)


def pytest_unconfigure(config):
    # type: (object) -> None
    global _recorder
    _recorder = None


def pytest_runtest_logreport(report):
    # type: (object) -> None
    if _recorder is not None and getattr(report, "failed", False):
        _recorder.add(getattr(report, "nodeid", ""))


def pytest_collectreport(report):
    # type: (object) -> None
    """A module that fails to import (the classic breakage by a new library) is a failure."""
    if _recorder is not None and getattr(report, "failed", False):
        _recorder.add(getattr(report, "nodeid", ""))
