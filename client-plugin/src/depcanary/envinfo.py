"""What a tox environment really has: asked of the environment's own interpreter.

The versions in a report are read after the run from the env's interpreter (in isolated
mode, so PYTHONPATH cannot add anything), never guessed from the pins. Failing test ids
come from the pytest plugin's file and, for stestr projects, from stestr's last run.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import constraints

if TYPE_CHECKING:
    from pathlib import Path

TIMEOUT = 20.0

# Runs under the env's Python (3.8+ has importlib.metadata; older ones have pkg_resources).
_PROBE = r"""
import json, platform, sysconfig
try:
    from importlib import metadata
    dists = {}
    for d in metadata.distributions():
        name = d.metadata["Name"]
        if name and name not in dists:
            dists[name] = d.version
except ImportError:
    import pkg_resources
    dists = {d.project_name: d.version for d in pkg_resources.working_set}
print(json.dumps({"installed": dists, "python": platform.python_version(),
                  "platform": sysconfig.get_platform()}))
"""


@dataclass
class EnvInfo:
    installed: dict[str, str] = field(default_factory=dict)
    python: str = "unknown"
    platform: str = "unknown"


def probe(python: Path) -> EnvInfo | None:
    """None when the interpreter is missing or does not answer (e.g. the env was never made)."""
    if not python.exists():
        return None
    try:
        proc = subprocess.run(
            [str(python), "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        installed = {str(k): str(v) for k, v in dict(data["installed"]).items()}
        return EnvInfo(installed, str(data["python"]), str(data["platform"]))
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError, TypeError):
        return None


def read_failures(path: Path) -> list[str]:
    """Test ids the pytest plugin appended, one per line, in order, without repeats."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return list(dict.fromkeys(line.strip() for line in lines if line.strip()))


def stestr_failures(python: Path, project_dir: Path, since: float) -> list[str]:
    """Failing ids of stestr's last run when the project has a .stestr repository that was
    written during this env's run; `stestr failing --list` runs in the env's interpreter."""
    repo = project_dir / ".stestr"
    try:
        if not repo.is_dir() or repo.stat().st_mtime < since - 1:
            return []
        newest = max((p.stat().st_mtime for p in repo.iterdir()), default=0.0)
        if newest < since - 1 or not python.exists():
            return []
        proc = subprocess.run(
            [str(python), "-m", "stestr", "failing", "--list"],
            cwd=str(project_dir),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    ids = []
    for line in proc.stdout.splitlines():
        test_id = line.strip().split("[", 1)[0]  # drop "[id,tags]" suffixes
        if test_id and " " not in test_id:
            ids.append(test_id)
    return ids


def project_name(root: Path) -> str:
    """The project's distribution name (pyproject.toml, then setup.cfg), else the dir name."""
    return metadata_name(root) or root.name


def metadata_name(root: Path) -> str | None:
    """The distribution name a project declares statically: `[project] name` in
    pyproject.toml, else `[metadata] name` in setup.cfg (pbr and setuptools projects)."""
    return _from_pyproject(root / "pyproject.toml") or _from_setup_cfg(root / "setup.cfg")


def _from_pyproject(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        import tomllib  # noqa: PLC0415 (3.11+)

        value = tomllib.loads(text).get("project", {}).get("name")
        return value if isinstance(value, str) else None
    except ImportError:
        pass
    except ValueError:
        return None
    in_project = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            in_project = stripped == "[project]"
        elif in_project and stripped.startswith("name") and "=" in stripped:
            return stripped.split("=", 1)[1].strip().strip("\"'") or None
    return None


def _from_setup_cfg(path: Path) -> str | None:
    import configparser  # noqa: PLC0415

    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
        return parser.get("metadata", "name", fallback=None) or None
    except (configparser.Error, OSError):
        return None


_LOG_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.,]+\s?")
_CONSTRAINT_LINE = re.compile(r"\(constraint\)\s+(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*===?")
MAX_LOG_TAIL = 2 * 1024 * 1024


def override_clash(pip_log: Path, overrides: dict[str, str]) -> tuple[str, str] | None:
    """(library, the requirement it clashed with) when pip's log (PIP_LOG) ends in a
    resolution conflict that involves one of depcanary's overrides; None otherwise."""
    if not overrides:
        return None
    try:
        with pip_log.open("rb") as log:
            log.seek(max(0, log.seek(0, 2) - MAX_LOG_TAIL))
            lines = [_LOG_STAMP.sub("", line) for line in log.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return None
    starts = [i for i, line in enumerate(lines) if line.strip() == "The conflict is caused by:"]
    if not starts:
        return None
    block: list[str] = []
    for line in lines[starts[-1] + 1 :]:
        if not line.startswith((" ", "\t")) or not line.strip():
            break
        block.append(line.strip())
    for line in block:
        match = _CONSTRAINT_LINE.search(line)
        name = constraints.normalize(match.group("name")) if match else None
        if name in overrides:
            others = [other for other in block if other != line]
            return name, (others[0] if others else line)
    return None
