"""Layers import downwards only (DESIGN.md): a channel never imports the store, the store never
imports a channel, the sandbox stands alone, and nothing below the entry points imports them."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shopbridge"

# layer -> the shopbridge layers it may import (itself always allowed).
SHARED = {"errors", "domain", "config"}
ALLOWED = {
    "domain": {"errors"},
    "security": {"errors", "config"},
    "http": SHARED | {"security"},
    "store": SHARED | {"security", "http"},
    "channels": SHARED | {"http", "security"},
    "sync": SHARED | {"channels", "store", "http", "security"},
    "jobs": SHARED | {"sync", "channels", "store", "http", "security", "observability", "runtime"},
    "observability": SHARED | {"security", "store"},
    "runtime": SHARED | {"store"},
    "sandbox": set(),
}


def _layer(module: Path) -> str:
    parts = module.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_layers(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.startswith("shopbridge."):
                found.add(name.split(".")[1])
    return found


def test_layers_import_downwards_only() -> None:
    violations = []
    for module in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(module)
        if layer not in ALLOWED:
            continue  # entry points (cli, web) may import any layer
        for imported in _imported_layers(module) - {layer} - ALLOWED[layer]:
            violations.append(f"{module.relative_to(ROOT)} ({layer}) imports {imported}")
    assert violations == []


def test_test_modules_have_unique_names() -> None:
    """Tests are not packages, so pytest needs every test module's basename to be unique."""
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
