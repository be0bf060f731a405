"""Commands beyond transfer/resume/demo; importing a module registers it."""

from . import export, paper  # noqa: F401
