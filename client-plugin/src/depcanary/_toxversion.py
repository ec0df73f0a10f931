from __future__ import annotations

import re


def _major() -> int:
    try:
        import tox  # noqa: PLC0415
    except ImportError:
        return 0
    match = re.match(r"(\d+)", str(getattr(tox, "__version__", "0")))
    return int(match.group(1)) if match else 0


TOX_MAJOR = _major()
