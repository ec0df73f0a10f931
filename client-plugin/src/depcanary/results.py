"""Test results a CI job leaves behind: a subunit v2 stream (stestr's `last --subunit`) or a
JUnit XML file, read into the few facts a report carries.

subunit is read with python-subunit (the library stestr itself writes it with; the `ci` extra
installs it). JUnit XML is read with the standard library's expat parser, streaming, with
DOCTYPE and entity declarations refused (no billion laughs, no external entities), the way
defusedxml defuses it, and bounded in size.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, NoReturn
from xml.parsers import expat

if TYPE_CHECKING:
    from pathlib import Path

# subunit statuses that are a failure of the test (an unexpected success too, as stestr counts it)
FAILING = {"fail", "uxsuccess"}
FINAL = {"success", "fail", "skip", "xfail", "uxsuccess"}
PARSER_ID = "subunit.parser"  # the id python-subunit gives bytes it cannot parse
MAX_JUNIT_BYTES = 256 * 1024 * 1024
MAX_TESTS = 1_000_000


class ResultsError(ValueError):
    """The file cannot be read as test results (one clear sentence)."""


@dataclass
class Results:
    tests: int = 0
    failed: list[str] = field(default_factory=list)
    started: datetime | None = None
    finished: datetime | None = None

    @property
    def outcome(self) -> str:
        return "fail" if self.failed else "pass"


def from_subunit(path: Path) -> Results:
    try:
        import subunit  # noqa: PLC0415 (optional: the `ci` extra)
        import testtools  # noqa: PLC0415
    except ImportError as err:
        raise ResultsError(
            "reading subunit needs python-subunit: pip install 'depcanary-client[ci]' (stestr envs have it)"
        ) from err

    statuses: dict[str, str] = {}
    times: list[datetime] = []

    class Collect(testtools.StreamResult):
        def status(  # noqa: PLR0917 (StreamResult's signature)
            self,
            test_id: str | None = None,
            test_status: str | None = None,
            test_tags: set[str] | None = None,
            runnable: bool = True,
            file_name: str | None = None,
            file_bytes: bytes | None = None,
            eof: bool = False,
            mime_type: str | None = None,
            route_code: str | None = None,
            timestamp: datetime | None = None,
        ) -> None:
            del test_tags, runnable, file_name, file_bytes, eof, mime_type, route_code
            stamp = timestamp
            if isinstance(stamp, datetime):
                times.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc))
                del times[1:-1]  # keep the first and the last only
            if test_id and test_status in FINAL and len(statuses) < MAX_TESTS:
                statuses[test_id] = test_status

    try:
        with path.open("rb") as stream:
            collect = Collect()
            collect.startTestRun()
            subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout").run(collect)
            collect.stopTestRun()
    except OSError as err:
        raise ResultsError(f"cannot read {path}: {err.strerror or err}") from err
    if statuses.get(PARSER_ID) in FAILING:
        raise ResultsError(f"{path} is not a valid subunit v2 stream (python-subunit could not parse it)")
    failed = [test_id for test_id, status in statuses.items() if status in FAILING]
    return Results(len(statuses), failed, times[0] if times else None, times[-1] if times else None)


def from_junit(path: Path) -> Results:
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ResultsError(f"cannot read {path}: {err.strerror or err}") from err
    if size > MAX_JUNIT_BYTES:
        raise ResultsError(f"{path} is larger than {MAX_JUNIT_BYTES // (1024 * 1024)} MiB")
    reader = _JUnit()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = reader.refuse
    parser.EntityDeclHandler = reader.refuse
    parser.ExternalEntityRefHandler = reader.refuse
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    try:
        with path.open("rb") as stream:
            parser.ParseFile(stream)
    except expat.ExpatError as err:
        raise ResultsError(f"{path} is not well-formed XML ({expat.ErrorString(err.code)}, line {err.lineno})") from err
    except OSError as err:
        raise ResultsError(f"cannot read {path}: {err.strerror or err}") from err
    if not reader.seen_root:
        raise ResultsError(f"{path} is not a JUnit XML file (no <testsuite> or <testsuites>)")
    finished = reader.started + timedelta(seconds=reader.seconds) if reader.started else None
    return Results(reader.tests, reader.failed, reader.started, finished)


class _JUnit:
    def __init__(self) -> None:
        self.tests = 0
        self.failed: list[str] = []
        self.current: str | None = None
        self.current_failed = False
        self.started: datetime | None = None
        self.seconds = 0.0
        self.seen_root = False

    def refuse(self, *_: object) -> NoReturn:
        raise ResultsError("JUnit file declares a DOCTYPE or entities: refused (not something a test runner writes)")

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag in ("testsuites", "testsuite"):
            self.seen_root = True
            if tag == "testsuite":
                self._suite(attrs)
        elif tag == "testcase" and self.tests < MAX_TESTS:
            name, classname = attrs.get("name", ""), attrs.get("classname", "")
            self.current = f"{classname}.{name}" if classname and name else (name or classname or None)
            self.current_failed = False
        elif tag in ("failure", "error") and self.current is not None:
            self.current_failed = True

    def end(self, tag: str) -> None:
        if tag == "testcase" and self.current is not None:
            self.tests += 1
            if self.current_failed and self.current not in self.failed:
                self.failed.append(self.current)
            self.current = None

    def _suite(self, attrs: dict[str, str]) -> None:
        with contextlib.suppress(ValueError):
            self.seconds += max(0.0, float(attrs.get("time", "0") or 0))
        stamp = attrs.get("timestamp")
        if stamp and self.started is None:
            with contextlib.suppress(ValueError):
                parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                self.started = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
