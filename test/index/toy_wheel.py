"""Writes a toy wheel (a wheel is a zip file) with the given Requires-Python in its METADATA.

    python toy_wheel.py DIR NAME VERSION [REQUIRES_PYTHON]

Prints the wheel's path. Used by the index tests to fill a real devpi-server.
"""

import sys
import zipfile
from pathlib import Path


def main() -> None:
    directory, name, version = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    requires = sys.argv[4] if len(sys.argv) > 4 else ""
    dist = f"{name.replace('-', '_').replace('.', '_')}-{version}"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires:
        meta += f"Requires-Python: {requires}\n"
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name.replace('-', '_').replace('.', '_')}/__init__.py", f'__version__ = "{version}"\n')
        z.writestr(f"{dist}.dist-info/METADATA", meta + "\n")
        z.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: depcanary-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n")
        z.writestr(f"{dist}.dist-info/RECORD", "")
    print(wheel)


if __name__ == "__main__":
    main()
