"""depcanary client: tox 4 plugin, pytest plugin, pip shim and CI helpers (see README.md)."""

from importlib import metadata

try:
    __version__ = metadata.version("depcanary-client")
except metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0+unknown"
