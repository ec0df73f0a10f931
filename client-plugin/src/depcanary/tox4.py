"""tox 4 hooks (>= 4.0.9: tox_on_install and tox_env_teardown appeared there).

Thin on purpose: each hook turns tox objects into plain values and calls toxrun.Run.
Nothing here may fail the developer's run: every hook body is guarded, and errors are
logged as one line.
"""

from __future__ import annotations

import configparser
import functools
import logging
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from tox.plugin import impl
from tox.tox_env.errors import Recreate

from . import constraints, envinfo, sources
from .toxrun import CONSTRAINT_VARS, UV_VAR, EnvSpec, Run, say

if TYPE_CHECKING:
    from tox.config.sets import EnvConfigSet
    from tox.execute import Outcome
    from tox.session.state import State
    from tox.tox_env.api import ToxEnv

LOGGER = logging.getLogger("depcanary")
# Commands that run an env's tests: their outcome is evidence, reported when opted in.
TEST_COMMANDS = {"run", "r", "run-parallel", "p", "legacy", "le", None}
# Commands that install into envs without being a test run: pins, no report.
# `tox list`, `tox config` etc. stay offline.
RUN_COMMANDS = {*TEST_COMMANDS, "exec", "e", "devenv", "d"}
# The constraint variables the developer may already point at local files, in the shell or in
# tox.ini (the plugin then applies the overrides to those files), and the other vars it extends.
SHELL_VARS = (*CONSTRAINT_VARS, UV_VAR, "UPPER_CONSTRAINTS_FILE")
USER_VARS = (*SHELL_VARS, "PYTEST_PLUGINS", "PYTHONPATH", "PIP_LOG")

_run: Run | None = None
_lock = threading.Lock()
F = TypeVar("F", bound=Callable[..., None])


def _guarded(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Recreate:
            raise
        except Exception as err:
            LOGGER.debug("depcanary internal error", exc_info=True)
            say(f"internal error ignored: {type(err).__name__}: {err}")

    return wrapper  # type: ignore[return-value]


def _session() -> Run:
    global _run  # noqa: PLW0603
    with _lock:
        if _run is None:
            _run = Run.start()
        return _run


def _tracked(tox_env: ToxEnv) -> Any:
    return _run.envs.get(tox_env.name) if _run is not None else None


@impl
@_guarded
def tox_add_env_config(env_conf: EnvConfigSet, state: State) -> None:
    if "runner" not in env_conf:  # packaging environments build, they are not under test
        return
    if getattr(state.conf.options, "command", None) not in RUN_COMMANDS:
        return
    if env_conf.name == state.conf.core["provision_tox_env"]:
        return
    run = _session()
    set_env = env_conf["set_env"]
    root = Path(state.conf.core["tox_root"])
    deps, setting = _raw(env_conf, state, "deps"), _raw(env_conf, state, "constraints")
    refs = sources.constraint_refs(deps, setting, root)
    user = {}
    for var in (*USER_VARS, *(v for r in refs for v in r.via)):
        if var in set_env:
            user[var] = set_env.load(var)
        elif (var in SHELL_VARS or var not in USER_VARS) and os.environ.get(var):
            user[var] = os.environ[var]
    drop = sources.source_names(deps, root)
    if not _skips_install(env_conf):
        name = envinfo.metadata_name(root)
        if name:
            drop.add(constraints.normalize(name))
    options = state.conf.options
    test_run = getattr(options, "command", None) in TEST_COMMANDS and not getattr(options, "devenv_path", None)
    spec = EnvSpec(env_conf.name, root, user, refs, drop, test_run)
    set_env.update(run.env_vars(spec))


def _raw(env_conf: EnvConfigSet, state: State, key: str) -> list[str]:
    """The env's setting `key` as written (before substitution), one entry a line; a
    `{[section]key}` reference is followed in an ini file. [] when unset."""
    for loader in env_conf.loaders:
        try:
            raw = loader.load_raw(key, state.conf, env_conf.env_name)
        except KeyError:
            continue
        return _lines(raw, state, 0)
    return []


_SECTION_REF = re.compile(r"\{\[(?P<section>[^\]]+)\](?P<key>[A-Za-z_][A-Za-z0-9_]*)\}")


def _lines(raw: Any, state: State, depth: int) -> list[str]:
    if isinstance(raw, (list, tuple)):  # tox.toml / pyproject: a list of strings (or replace tables)
        out = []
        for item in raw:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and item.get("replace") == "env" and isinstance(item.get("name"), str):
                default = item.get("default")
                default = default if isinstance(default, str) else ""
                out.append("{env:" + item["name"] + (":" + default if default else "") + "}")
        return out
    lines = []
    for line in str(raw).splitlines():
        match = _SECTION_REF.fullmatch(line.strip())
        if match and depth < 3:
            lines.extend(_lines(_ini_value(state, match.group("section"), match.group("key")), state, depth + 1))
        else:
            lines.append(line)
    return lines


def _ini_value(state: State, section: str, key: str) -> str:
    path = Path(state.conf.core["config_file_path"] or "")
    if path.suffix not in (".ini", ".cfg"):
        return ""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
        return parser.get(section, key, fallback="")
    except (configparser.Error, OSError):
        return ""


def _skips_install(env_conf: EnvConfigSet) -> bool:
    """The project itself is not installed into the env (its own pin then stays)."""
    try:
        if env_conf["skip_install"]:
            return True
        return str(env_conf["package"]) == "skip"
    except KeyError:
        return False


@impl
@_guarded
def tox_on_install(tox_env: ToxEnv, arguments: Any, section: str, of_type: str) -> None:  # noqa: ARG001
    if _run is None:
        return
    env = _run.begin(tox_env.name)
    if env is None:
        return
    why = _run.needs_recreate(env, Path(tox_env.conf["env_dir"]))
    if why:
        raise Recreate(why)
    if of_type == "package" and isinstance(arguments, (list, tuple)):
        names = {n for n in (_package_name(p) for p in arguments) if n}
        changed = _run.package_vars(env, names)
        if changed:
            tox_env.conf["set_env"].update(changed)


def _package_name(package: Any) -> str | None:
    """The normalised name of what tox built (a wheel or sdist file name), or None."""
    path = getattr(package, "path", None)
    if not isinstance(path, Path) or not path.is_file():
        return None
    name = path.name
    if name.endswith(".whl"):  # name-version-tags.whl, the name's own dashes escaped
        return constraints.normalize(name.split("-", 1)[0])
    for suffix in (".tar.gz", ".zip"):  # name-version.tar.gz
        if name.endswith(suffix) and "-" in name:
            return constraints.normalize(name[: -len(suffix)].rsplit("-", 1)[0])
    return None


@impl
@_guarded
def tox_before_run_commands(tox_env: ToxEnv) -> None:
    if _run is not None:
        _run.begin(tox_env.name)


@impl
@_guarded
def tox_after_run_commands(tox_env: ToxEnv, exit_code: int, outcomes: list[Outcome]) -> None:  # noqa: ARG001
    env = _tracked(tox_env)
    if env is not None:
        env.exit_code = exit_code


@impl
@_guarded
def tox_env_teardown(tox_env: ToxEnv) -> None:
    env = _tracked(tox_env)
    if _run is None or env is None:
        return
    env_python = getattr(tox_env, "env_python", None)
    python = Path(env_python()) if callable(env_python) and Path(tox_env.conf["env_dir"]).exists() else None
    _run.teardown(
        env,
        no_test=bool(getattr(tox_env.options, "no_test", False)),
        python=python,
        project_root=Path(tox_env.core["tox_root"]),
        change_dir=Path(tox_env.conf["change_dir"]),
    )
