"""Every distribution the package imports is declared in pyproject.toml: a dependency, or the extra that needs it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_provider_cashflow"


def _imported_modules() -> dict[str, set[str]]:
    """Top-level module name -> the package files that import it (at module level or inside a function)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.partition(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for name, extra in project["optional-dependencies"].items():
        if not name.startswith(("test", "bench", "lint")):
            requirements += extra
    return {re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def test_every_imported_distribution_is_declared() -> None:
    owners = packages_distributions()
    declared = _declared()
    missing = {}
    for module, files in _imported_modules().items():
        if module in sys.stdlib_module_names or module in ("airflow_provider_cashflow", "__future__"):
            continue
        distributions = {name.lower() for name in owners.get(module, [module])}
        if module == "airflow":  # every Airflow distribution installs into this namespace; we declare the core one
            distributions = {"apache-airflow"}
        if not distributions & declared:
            missing[module] = sorted(files)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_make_demo_installs_the_package_alone() -> None:
    """A demo needs Airflow, the sandbox and JSONL on ``file://``: not the test, bench, lint or docs extras."""
    import subprocess

    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "demo"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    installs = [line for line in planned if " pip install " in line and "--upgrade pip uv" not in line]
    assert installs and all(line.endswith(" -e .") for line in installs), installs
    assert planned[-1].endswith("scripts/demo.py")
