"""Commands beyond transfer/resume/demo; importing a module registers it."""

from . import paper  # noqa: F401
