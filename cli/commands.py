"""Commands beyond transfer/resume/demo; importing a module registers it."""

from . import bench, export, paper  # noqa: F401
