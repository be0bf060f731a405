"""The packages are layers, and imports go down only.

The order, lowest first (a module may import its own unit and any unit of a
lower rank, never a sibling of the same rank nor anything above):

    0  vocabulary   errors, layers, preprocess, faults, version, events
    1  io, optim    files; optimiser drivers (optim: nothing of tfstyle but errors)
    2  settings     config, config_parse, beta, plan
    3  weights      where the kernels come from
    4  core         the paper's pipeline
    5  workflows    runs that write files
    6  bench        benchmarks
    7  top          tfstyle/__init__.py, __main__.py; the CLI (cli/) sits above all

Imports written inside functions count as well. The core and the drivers
open no file: the caches and the /proc readings go through io.
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

from tfstyle import PUBLIC_MODULES

PACKAGE = Path(__file__).resolve().parents[1] / "tfstyle"
UNITS = {
    "errors": "vocabulary", "layers": "vocabulary", "preprocess": "vocabulary",
    "faults": "vocabulary", "version": "vocabulary", "events": "vocabulary",
    "io": "io", "optim": "optim",
    "config": "settings", "config_parse": "settings", "plan": "settings", "beta": "settings",
    "weights": "weights", "core": "core", "workflows": "workflows", "bench": "bench",
    "__init__": "top", "__main__": "top",
}
RANK = {"vocabulary": 0, "io": 1, "optim": 1, "settings": 2, "weights": 3, "core": 4,
        "workflows": 5, "bench": 6, "top": 7}
# The one thing optim may take from tfstyle.
OPTIM_MAY_IMPORT = {"tfstyle.errors"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(dotted: str) -> str:
    """The unit of 'tfstyle.core.losses' ('core'); 'tfstyle' itself is the top.
    A public second name (tfstyle.runs) is its module's (tfstyle.workflows.runs)."""
    parts = dotted.split(".")
    if len(parts) == 1:
        return "top"
    if parts[1] in PUBLIC_MODULES and parts[1] not in UNITS:
        parts = ["tfstyle", *PUBLIC_MODULES[parts[1]].split(".")]
    return UNITS[parts[1]]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every tfstyle import in the file, at any depth;
    `from pkg import name` counts as importing pkg.name when that is a module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
            target = str(node.args[0].value)  # importlib.import_module("tfstyle.x")
            if target.split(".")[0] == "tfstyle":
                found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "tfstyle"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "tfstyle":
                target = node.module
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists() or \
                    (PACKAGE.parent / sub.replace(".", "/")).is_dir()
                found.append((node.lineno, sub if is_module else target))
    return found


def violations(path: Path) -> list[str]:
    own = unit_of(module_name(path))
    wrong = []
    for line, target in imported_modules(path):
        theirs = unit_of(target)
        if own == "optim" and theirs != "optim" and target not in OPTIM_MAY_IMPORT:
            wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} optim imports {target}")
        elif theirs != own and RANK[theirs] >= RANK[own]:
            wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} {own} imports {target} "
                         f"({theirs})")
    return wrong


def test_every_module_has_a_unit():
    for path in PACKAGE.rglob("*.py"):
        assert unit_of(module_name(path)) in RANK, path


def test_imports_go_down_the_layers_only():
    wrong = [v for path in sorted(PACKAGE.rglob("*.py")) for v in violations(path)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("unit, statement", [
    ("core", "from ..workflows import runs"),  # core reaching up to a workflow
    ("io", "from ..core.losses import gram_matrix"),
    ("optim", "from ..config import StyleConfig"),  # optim takes only errors
    ("optim", "from ..io.files import write_json"),  # a sibling of the same rank
    ("weights", "    from ..core import extractor"),  # inside a function
    ("core", "from tfstyle.runs import TransferRun"),  # a public second name
    ("core", "import importlib\nimportlib.import_module('tfstyle.workflows.runs')"),
])
def test_a_wrong_import_is_caught(tmp_path, monkeypatch, unit, statement):
    """The check fails when a module imports upwards: a module planted in a
    copy of the package (the real one stays as it is for the other tests)."""
    copy = tmp_path / "tfstyle"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    planted = copy / unit / "_planted_for_test.py"
    body = statement if not statement.startswith(" ") else f"def f():\n{statement}\n"
    planted.write_text(body + "\n")
    assert violations(planted)


FILE_CALLS = {"open"}
FILE_METHODS = {"read_text", "write_text", "read_bytes", "write_bytes", "mkdir", "unlink",
                "touch", "rename", "rmdir", "open", "home", "save", "savez", "load", "remove",
                "rmtree", "copyfile"}
FILE_MODULES = {"tempfile", "shutil"}


def file_access(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FILE_CALLS:
                found.append(f"{path.name}:{node.lineno} {func.id}()")
            elif isinstance(func, ast.Attribute) and func.attr in FILE_METHODS:
                found.append(f"{path.name}:{node.lineno} .{func.attr}()")
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.name if isinstance(node, ast.Import) else node.module or "") in FILE_MODULES
                for a in node.names):
            found.append(f"{path.name}:{node.lineno} imports a file module")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.startswith(("/proc", "~/")):
            found.append(f"{path.name}:{node.lineno} {node.value!r}")
    return found


@pytest.mark.parametrize("unit", ["core", "optim"])
def test_the_engine_opens_no_file(unit):
    found = [f for path in sorted((PACKAGE / unit).rglob("*.py")) for f in file_access(path)]
    assert not found, "\n".join(found)
