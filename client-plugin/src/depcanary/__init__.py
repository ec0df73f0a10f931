"""depcanary client: tox 4 plugin, pytest plugin and pip shim (see README.md)."""

__version__ = "0.1.0"
