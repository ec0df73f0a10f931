"""Under tox 3 the plugin says so once and changes nothing (tox 3 has none of the hooks
used here; pins still work there through `depcanary env` or `depcanary pip`)."""

from __future__ import annotations

import sys
from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("tox")


@hookimpl
def tox_configure(config: Any) -> None:  # noqa: ARG001
    sys.stderr.write("depcanary> tox 3 is not supported (needs tox >= 4.0.9): no pins, no reports\n")
