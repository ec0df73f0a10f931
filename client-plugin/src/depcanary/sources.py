"""Where a tox env's constraints come from, and what it installs from source (pure: no tox).

Read from the env's raw configuration (its `deps` and `constraints` settings before tox
substitutes them), so the plugin knows whether `-c` goes through TOX_CONSTRAINTS_FILE (which it
may set) or names a file directly (which it must leave alone), and which OpenStack branch a
`.../constraints/upper/<series>` default asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import constraints, envinfo

# {env:NAME} or {env:NAME:default}; the default may itself hold {...} (one level of nesting is
# enough for `{env:TOX_CONSTRAINTS_FILE:{env:UPPER_CONSTRAINTS_FILE:https://...}}`, recursed).
_ENV_REF = re.compile(r"^\{env:(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<default>.*))?\}$", re.DOTALL)
_CONSTRAINT_OPT = re.compile(r"(?:^|\s)(?:-c|--constraint)(?:\s*=\s*|\s*)(?P<value>\S+)")
_ROOT_VARS = ("{toxinidir}", "{tox_root}")
# https://releases.openstack.org/constraints/upper/<series>, and mirrors of the same scheme
_SERIES_URL = re.compile(r"/constraints/upper/(?P<series>[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9._-]+)?)/?$")
_EGG = re.compile(r"#(?:.*&)?egg=(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")
_DIRECT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*@\s*\S")
MAX_DEPTH = 4


@dataclass(frozen=True)
class Ref:
    """One constraints reference of the env: the variables it is read through (outermost
    first; empty when it names a file or URL directly) and the value used when none is set."""

    via: tuple[str, ...]
    default: str | None


@dataclass(frozen=True)
class Choice:
    """What the env's constraints should be built from.

    kind: "server" (the server's file for `branch`), "local" (the user's own `files`, with
    this machine's overrides applied), "fixed" (tox.ini names constraints the plugin cannot
    redirect: the env is left alone) or "missing" (a named local file does not exist: left
    alone, tox says why)."""

    kind: str
    files: tuple[Path, ...] = ()
    branch: str | None = None
    set_vars: tuple[str, ...] = ("TOX_CONSTRAINTS_FILE",)
    why: str = ""


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "file://"))


def series_of(url: str) -> str | None:
    """`https://releases.openstack.org/constraints/upper/2025.2` -> "2025.2" (also for a
    mirror of the same scheme); None for a URL of another shape."""
    match = _SERIES_URL.search(url.split("?", 1)[0].split("#", 1)[0])
    return match.group("series") if match else None


def parse_ref(token: str, root: Path) -> Ref:
    via: list[str] = []
    value: str | None = token.strip()
    while value is not None:
        match = _ENV_REF.match(value)
        if not match:
            break
        via.append(match.group("name"))
        value = match.group("default")
    if value is not None:
        for var in _ROOT_VARS:
            value = value.replace(var, str(root))
        value = value.strip() or None
    return Ref(tuple(via), value)


def _constraint_tokens(lines: list[str], setting: bool) -> list[str]:
    """The values of -c/--constraint options (deps), or every entry (the `constraints`
    setting, which holds only files and URLs)."""
    tokens: list[str] = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if setting:
            tokens.extend(_split_braced(text))
            continue
        tokens.extend(_balanced_prefix(text[m.start("value") :]) for m in _CONSTRAINT_OPT.finditer(text))
    return tokens


def _split_braced(text: str) -> list[str]:
    """Whitespace-separated words, keeping whitespace inside {...} (rare, but legal)."""
    words: list[str] = []
    cur: list[str] = []
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char.isspace() and depth == 0:
            if cur:
                words.append("".join(cur))
                cur = []
            continue
        cur.append(char)
    if cur:
        words.append("".join(cur))
    return words


def _balanced_prefix(text: str) -> str:
    """The first word of text, where a word may contain balanced {...}."""
    words = _split_braced(text)
    return words[0] if words else ""


def constraint_refs(deps: list[str], setting: list[str], root: Path) -> list[Ref]:
    return [parse_ref(t, root) for t in _constraint_tokens(setting, True) + _constraint_tokens(deps, False)]


def choose(refs: list[Ref], values: dict[str, str], root: Path, branch: str | None) -> Choice:
    """Decide the env's source. `values` holds what the project (set_env) or the shell set
    for TOX_CONSTRAINTS_FILE, PIP_CONSTRAINT, UV_CONSTRAINT and any variable a ref goes
    through; `branch` is the one to ask for when no URL names one (DEPCANARY_BRANCH)."""
    fixed = [r for r in refs if not r.via and r.default]
    if fixed:
        return Choice("fixed", why=f"tox.ini names constraints {fixed[0].default} directly, not through a variable")
    set_vars = tuple(dict.fromkeys(["TOX_CONSTRAINTS_FILE", *(r.via[0] for r in refs if r.via)]))
    named = _named(refs, values)
    files: list[Path] = []
    for value in (v for v in named if not is_url(v)):
        path = Path(value) if Path(value).is_absolute() else root / value
        if not path.is_file():
            return Choice("missing", why=f"the constraints file {value} does not exist")
        files.append(path)
    if files:
        return Choice("local", tuple(dict.fromkeys(files)), branch, set_vars)
    series = next((s for s in (series_of(v) for v in named if is_url(v)) if s), None)
    return Choice("server", (), series or branch, set_vars)


def _named(refs: list[Ref], values: dict[str, str]) -> list[str]:
    """The files or URLs the env's constraints name: each ref's value (the first of its
    variables that is set, else its default); without refs TOX_CONSTRAINTS_FILE, else
    PIP_CONSTRAINT / UV_CONSTRAINT (space-separated lists, as pip allows)."""
    named = [v for v in (next((values[n] for n in r.via if values.get(n)), r.default) for r in refs) if v]
    if not refs and values.get("TOX_CONSTRAINTS_FILE"):
        named.append(values["TOX_CONSTRAINTS_FILE"])
    if not named:
        named = (values.get("PIP_CONSTRAINT") or values.get("UV_CONSTRAINT") or "").split()
    return named


@dataclass
class SourceScan:
    names: set[str] = field(default_factory=set)  # normalised names of what the env installs from source
    seen: set[Path] = field(default_factory=set)


def source_names(deps: list[str], root: Path) -> set[str]:
    """Normalised names of the distributions the env installs from source: local paths,
    editables and VCS or direct URLs in `deps` (and in local -r files they include), the way
    OpenStack's sibling handling finds them. A name that cannot be told is skipped."""
    scan = SourceScan()
    _scan_lines(deps, root, scan, 0)
    return scan.names


def _scan_lines(lines: list[str], base: Path, scan: SourceScan, depth: int) -> None:
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        for var in _ROOT_VARS:
            line = line.replace(var, str(base))
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r", "--requirement")):
            target = re.sub(r"^(-r|--requirement)\s*=?\s*", "", line)
            _scan_file(target, base, scan, depth)
            continue
        if line.startswith(("-c", "--constraint")) or (
            line.startswith("-") and not line.startswith(("-e", "--editable"))
        ):
            continue
        line = re.sub(r"^(-e|--editable)\s*=?\s*", "", line)
        name = _source_name(line, base)
        if name:
            scan.names.add(constraints.normalize(name))


def _scan_file(target: str, base: Path, scan: SourceScan, depth: int) -> None:
    if depth >= MAX_DEPTH or is_url(target) or "{" in target:
        return
    path = (base / target).resolve()
    if path in scan.seen:
        return
    scan.seen.add(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    _scan_lines(lines, path.parent, scan, depth + 1)


def _source_name(line: str, base: Path) -> str | None:
    direct = _DIRECT.match(line)
    if direct:
        return direct.group("name")
    egg = _EGG.search(line)
    if egg:
        return egg.group("name")
    if line.startswith("file:"):
        line = re.sub(r"^file:(//)?", "", line)
    elif not line.startswith((".", "/", "~")):
        return None  # a plain requirement (name, specifier): from the index
    path = Path(line.split("[", 1)[0]).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_dir():
        return None
    return envinfo.metadata_name(path)
