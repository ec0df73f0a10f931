"""depcanary's pytest plugin: appends the ids of failing tests to $DEPCANARY_FAILURES_FILE.

The tox plugin sets that variable for each tox environment and reads the file when the
environment is torn down. Without the variable this plugin does nothing. It is a single
module with no imports beyond the standard library, so that the tox plugin can also put it
on PYTHONPATH of a tox environment that does not have depcanary-client installed (loaded
through PYTEST_PLUGINS=depcanary_pytest); it must stay importable on Python 3.7+.
"""

from __future__ import annotations

import os
from typing import Any

ENV_VAR = "DEPCANARY_FAILURES_FILE"
MAX_IDS = 100


class _Recorder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.seen: set[str] = set()

    def add(self, nodeid: str) -> None:
        if not nodeid or nodeid in self.seen or len(self.seen) >= MAX_IDS:
            return
        self.seen.add(nodeid)
        try:
            with open(self.path, "a", encoding="utf-8") as out:  # noqa: PTH123 (3.7-compatible, tiny)
                out.write(nodeid.replace("\n", " ") + "\n")
        except OSError:
            pass  # telemetry must never fail a test run


_recorder: _Recorder | None = None


def pytest_configure(config: Any) -> None:
    global _recorder  # noqa: PLW0603
    path = os.environ.get(ENV_VAR)
    if path and not hasattr(config, "workerinput"):  # xdist workers report to the controller
        _recorder = _Recorder(path)


def pytest_unconfigure(config: Any) -> None:  # noqa: ARG001
    global _recorder  # noqa: PLW0603
    _recorder = None


def pytest_runtest_logreport(report: Any) -> None:
    if _recorder is not None and report.failed:
        _recorder.add(report.nodeid)


def pytest_collectreport(report: Any) -> None:
    """A module that fails to import (the classic breakage by a new library) is a failure."""
    if _recorder is not None and report.failed:
        _recorder.add(report.nodeid)
