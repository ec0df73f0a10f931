"""tox 4 hooks (>= 4.0.9: tox_on_install and tox_env_teardown appeared there).

Thin on purpose: each hook turns tox objects into plain values and calls toxrun.Run.
Nothing here may fail the developer's run: every hook body is guarded, and errors are
logged as one line.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from tox.plugin import impl
from tox.tox_env.errors import Recreate

from .toxrun import CONSTRAINT_VARS, UV_VAR, Run, say

if TYPE_CHECKING:
    from tox.config.sets import EnvConfigSet
    from tox.execute import Outcome
    from tox.session.state import State
    from tox.tox_env.api import ToxEnv

LOGGER = logging.getLogger("depcanary")
# Commands that install into and run environments; `tox list`, `tox config` etc. stay offline.
RUN_COMMANDS = {"run", "r", "run-parallel", "p", "legacy", "le", "exec", "e", "devenv", "d", None}
# The constraint variables the developer may already point at local files, in the shell or in
# tox.ini (the plugin then applies the overrides to those files), and the other vars it extends.
SHELL_VARS = (*CONSTRAINT_VARS, UV_VAR)
USER_VARS = (*SHELL_VARS, "PYTEST_PLUGINS", "PYTHONPATH")

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
    user = {}
    for var in USER_VARS:
        if var in set_env:
            user[var] = set_env.load(var)
        elif var in SHELL_VARS and os.environ.get(var):
            user[var] = os.environ[var]
    set_env.update(run.env_vars(env_conf.name, user))


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
