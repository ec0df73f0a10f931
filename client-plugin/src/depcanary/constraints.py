"""Constraints text: validation, applying overrides, writing content-addressed files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

# name [extras] op version [; marker] [# comment]; the server's files use only === and ==.
_PIN = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*"
    r"(?P<op>===|==|~=|!=|<=|>=|<|>)\s*(?P<version>[^\s;#,]+)(?P<rest>.*)$"
)
_OVERRIDE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*=\s*([^\s,]+)\s*$")
KEEP_FILES = 20


class InvalidConstraints(ValueError):
    pass


def normalize(name: str) -> str:
    """PEP 503."""
    return re.sub(r"[-_.]+", "-", name).lower()


def validate(text: str) -> str:
    """Return text when it looks like a constraints file, else raise InvalidConstraints."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")):
            continue
        if not _PIN.match(line):
            raise InvalidConstraints(f"line {number} is not a constraint: {line[:80]!r}")
    return text


def pins(text: str) -> dict[str, str]:
    """Normalised name -> version of the exact (=== / ==) pins; the last line wins."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN.match(line)
        if match and match.group("op") in ("===", "=="):
            found[normalize(match.group("name"))] = match.group("version")
    return found


def parse_overrides(header: str | None) -> dict[str, str]:
    """`X-Depcanary-Overrides: oslo.log=7.1.0, pbr=6.0.0` -> {"oslo-log": "7.1.0", ...}."""
    result: dict[str, str] = {}
    for part in (header or "").split(","):
        match = _OVERRIDE.match(part)
        if match:
            result[normalize(match.group(1))] = match.group(2)
    return result


def apply_overrides(text: str, overrides: dict[str, str]) -> str:
    """Pin every line of an overridden library to its override (markers kept), so that no
    package ends up with two conflicting pins; libraries the text lacks are appended."""
    if not overrides:
        return text
    seen: set[str] = set()
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        match = _PIN.match(line.rstrip("\r\n"))
        key = normalize(match.group("name")) if match else None
        if match and key in overrides:
            seen.add(key)
            eol = line[len(line.rstrip("\r\n")) :]
            start, end = match.start("op"), match.end("version")
            body = line.rstrip("\r\n")
            out.append(f"{body[:start]}==={overrides[key]}{body[end:]}{eol}")
        else:
            out.append(line)
    missing = [k for k in sorted(overrides) if k not in seen]
    if missing:
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        out.extend(f"{k}==={overrides[k]}\n" for k in missing)
    return "".join(out)


def drop(text: str, names: set[str]) -> str:
    """Text without the lines that pin any of `names` (normalised), whatever their marker:
    what OpenStack's edit-constraints and Zuul's sibling step do for a project installed from
    source, so that pip never sees the project under test clash with its own pin."""
    if not names:
        return text
    kept = []
    for line in text.splitlines(keepends=True):
        match = _PIN.match(line.rstrip("\r\n"))
        if match and normalize(match.group("name")) in names:
            continue
        kept.append(line)
    return "".join(kept)


def join(texts: list[str]) -> str:
    """Several constraints files as one (pip reads several the same way)."""
    return "".join(t if t.endswith("\n") or not t else t + "\n" for t in texts)


def write_content_addressed(directory: Path, text: str) -> Path:
    """Write text to <dir>/constraints-<sha256 prefix>.txt (atomic) and return its path.

    A new content gets a new name, so tox sees a changed `-c` argument and reinstalls."""
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    path = directory / f"constraints-{digest}.txt"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = directory / f".constraints-{digest}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    os.utime(path)
    _prune(directory, keep=path)
    return path


def _prune(directory: Path, keep: Path) -> None:
    files = sorted(directory.glob("constraints-*.txt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP_FILES:]:
        if old != keep:
            with contextlib.suppress(OSError):
                old.unlink()
