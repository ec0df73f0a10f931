"""tox entry point (group `tox`). tox 4 (>= 4.0.9) gets the real hooks; tox 3, which loads
the same entry point group, gets one warning and no action."""

from __future__ import annotations

from ._toxversion import TOX_MAJOR

if TOX_MAJOR >= 4:
    from .tox4 import (
        tox_add_env_config,
        tox_after_run_commands,
        tox_before_run_commands,
        tox_env_teardown,
        tox_on_install,
    )

    __all__ = [
        "tox_add_env_config",
        "tox_after_run_commands",
        "tox_before_run_commands",
        "tox_env_teardown",
        "tox_on_install",
    ]
else:
    from .tox3 import tox_configure

    __all__ = ["tox_configure"]
