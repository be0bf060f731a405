"""tfstyle's version, as the installed metadata holds it (pyproject.toml's)."""

from __future__ import annotations


def installed_version() -> str:
    """The version pip installed; a source checkout never installed has none."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tfstyle")
    except PackageNotFoundError:
        return "0+unknown"
