"""Install what is used (issue 18 point 8): `make demo` installs the runtime alone, `make test`
the development tools on top; every runtime dependency is imported by shopbridge (or named here
with the reason it is not), and the demo runs with no development package importable."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Distribution -> the module shopbridge imports, where the two names differ.
MODULES = {
    "argon2-cffi": "argon2",
    "psycopg[binary]": "psycopg",
    "pydantic-settings": "pydantic_settings",
    "python-multipart": "multipart",
}
NOT_IMPORTED = {
    # Starlette parses form bodies with it (the Etsy sandbox's OAuth token endpoint).
    "python-multipart": "request.form()",
    # Pinned ahead of the dashboard (DESIGN.md web/: login, sessions, templates).
    "argon2-cffi": None,
    "itsdangerous": None,
    "jinja2": None,
}
DEV_MODULES = ("aiosmtpd", "etsyv3", "hypothesis", "jsonschema", "matplotlib", "mypy",
               "openapi_core", "playwright", "psutil", "pytest", "ruff", "woocommerce")


def make_dry_run(target: str) -> str:
    done = subprocess.run(
        ["make", "-n", "-B", "-C", str(ROOT), target],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_make_demo_installs_the_runtime_only() -> None:
    commands = make_dry_run("demo")
    installs = [line for line in commands.splitlines() if "pip install" in line and "-c " in line]
    assert installs == [".venv/bin/python -m pip install -q -c constraints.txt -e ."]
    assert "[dev]" not in commands


def test_make_test_installs_the_dev_tools_and_runs_lint_types_and_tests() -> None:
    commands = make_dry_run("test")
    assert "pip install -q -c constraints.txt -e '.[dev]'" in commands
    for step in ("ruff check shopbridge tests bench", "mypy", "pytest -q"):
        assert step in commands
    # The browser tests' Chromium comes from Debian, installed only when it is missing.
    assert "test -x /usr/bin/chromium || {" in commands
    assert "apt-get install -y chromium" in commands
    assert commands.index("apt-get install -y chromium") < commands.index("pytest -q")


def _imported_top_level() -> set[str]:
    pattern = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", re.M)
    found: set[str] = set()
    for path in (ROOT / "shopbridge").rglob("*.py"):
        found.update(pattern.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_runtime_dependency_is_used() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[=<>~!]", spec, maxsplit=1)[0].strip() for spec in project["dependencies"]]
    imported = _imported_top_level()
    unused = [
        name
        for name in names
        if MODULES.get(name, name.replace("-", "_")) not in imported and name not in NOT_IMPORTED
    ]
    assert unused == []
    assert "pyrate-limiter" not in names
    assert "pyrate-limiter" not in (ROOT / "constraints.txt").read_text()
    for name, how in NOT_IMPORTED.items():
        if how:
            assert how in "".join(p.read_text() for p in (ROOT / "shopbridge").rglob("*.py"))
        assert name in names  # a name here that left pyproject should leave this list too


BLOCK_DEV = """
import importlib.abc, sys
DEV = set(sys.argv[1].split(","))
class NoDevTools(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in DEV:
            raise ImportError(f"{name} is a development tool, not installed by make demo")
        return None
sys.meta_path.insert(0, NoDevTools())
sys.argv = ["shopbridge", *sys.argv[2:]]
from shopbridge.cli.app import main
main()
"""


def test_the_demo_runs_without_any_development_package(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    small = ["--listings", "20", "--receipts", "120", "--new-orders", "5", "--latency-ms", "0"]
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_DEV, ",".join(DEV_MODULES), "demo", "--json", *small],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["orders"] == 125
