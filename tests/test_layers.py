"""The layer graph of DESIGN.md, enforced: a module imports only from its own layer or below.

    cli / web  →  delivery, connectors, report  →  orchestrate, measure
               →  ingest, segments, models, channels  →  features  →  store, ops
    demo sits beside cli; config, errors and every package's ``settings`` are a cheap leaf.

Imports under ``if TYPE_CHECKING:`` count too (they are what a reader follows). And starting
the CLI must stay cheap: ``livebase --help`` loads none of the heavy libraries.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "livebase"

LAYERS: dict[str, int] = {
    # the cheap leaf: settings hang from config
    "_lazy": 0,
    # the user's language: messages are marked where they are written, in every layer
    "i18n": 0,
    "errors": 0,
    "config": 0,
    "settings": 0,
    "secrets": 0,
    "store": 1,
    "locks": 1,
    "ops": 1,
    "workspace": 1,
    "features": 2,
    "ingest": 3,
    "segments": 3,
    "models": 3,
    "channels": 3,
    "orchestrate": 4,
    "measure": 4,
    "delivery": 5,
    "connectors": 5,
    "report": 5,
    # a batch job opens both stores and bridges the inbox (ingest) before the job runs
    "jobs": 5,
    "cli": 6,
    "web": 6,
    "demo": 6,
}
ALLOWED = {
    ("livebase.config", "livebase.segments.names"): "segment rules are checked against the "
    "declared signals once livebase.yaml parsed (a pure module: no DuckDB, no pandas)",
    ("livebase.config", "livebase.ingest.presets"): "an unknown ingest preset is a config error",
}
"""Upward imports that are deliberate, each with its reason (inside a function, cheap)."""
HEAVY = ("duckdb", "pandas", "scipy", "sklearn", "pyspark", "numpy", "sqlalchemy", "pyarrow")


def layer_of(module: str) -> tuple[str, int]:
    """The layer of a ``livebase.x.y`` module: a ``settings`` module is the leaf."""
    parts = module.split(".")[1:]
    if not parts or parts[-1] == "settings":
        return "settings", 0
    name = parts[0]
    if name not in LAYERS:
        raise AssertionError(f"{module}: package '{name}' has no layer in tests/test_layers.py")
    return name, LAYERS[name]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("livebase"):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("livebase")]
    return found


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def violations() -> list[str]:
    """Every import from a higher layer (demo and cli may import each other: they sit beside)."""
    found: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        name, level = layer_of(module)
        for line, target in _imports(path):
            other, other_level = layer_of(target)
            same_package = module.split(".")[:2] == target.split(".")[:2]
            beside = {name, other} <= {"cli", "demo"}
            if (module, target) in ALLOWED or same_package or beside:
                continue
            if other_level > level:
                found.append(
                    f"{path.relative_to(SRC.parent)}:{line}: {name} (layer {level}) imports "
                    f"{target} ({other}, layer {other_level})"
                )
    return found


def test_no_module_imports_from_a_higher_layer() -> None:
    assert violations() == []


def test_the_layer_check_catches_an_upward_import() -> None:
    assert layer_of("livebase.segments.run") == ("segments", 3)
    assert layer_of("livebase.segments.settings") == ("settings", 0)
    with pytest.raises(AssertionError, match="has no layer"):
        layer_of("livebase.nowhere.x")


def test_cli_help_loads_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from livebase.cli import main\n"
        "import livebase.config\n"
        "assert main(['--help']) == 0\n"
        "assert main(['segment', '--help']) == 0\n"
        "import os; os.environ['LIVEBASE_LANG'] = 'ru'\n"  # the catalogue is no heavy load
        "assert main(['transitions', '--help']) == 0\n"
        "assert main(['--version']) == 0\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert "HEAVY=\n" in done.stdout + "\n", done.stdout[-300:]


def test_importing_config_is_cheap() -> None:
    code = f"import sys, livebase.config; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == ""
