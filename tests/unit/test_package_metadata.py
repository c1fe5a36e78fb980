"""What PyPI, Airflow's providers page and the Airflow Provider Registry read agrees with the package itself."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import yaml

import airflow_provider_cashflow
from airflow_provider_cashflow.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
REGISTRY = yaml.safe_load((ROOT / ".airflow-registry.yaml").read_text(encoding="utf-8"))
MKDOCS = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
URLS = PROJECT["urls"]
DOCS = URLS["Documentation"]


def _import(dotted: str) -> type:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_names_and_version_agree() -> None:
    info = get_provider_info()
    assert REGISTRY["package-name"] == PROJECT["name"] == info["package-name"]
    assert REGISTRY["display-name"] == info["name"]
    assert info["versions"][0] == airflow_provider_cashflow.__version__


def test_urls_agree_between_pyproject_the_registry_and_the_site() -> None:
    assert set(URLS) >= {"Documentation", "Source", "Changelog", "Issues"}
    assert all(urlsplit(url).scheme == "https" for url in URLS.values())
    assert REGISTRY["docs-url"] == DOCS == MKDOCS["site_url"]
    assert REGISTRY["source-url"] == URLS["Source"] == MKDOCS["repo_url"]
    assert URLS["Issues"] == URLS["Source"] + "/issues"
    assert URLS["Changelog"] == DOCS + "changelog/"


def test_every_link_into_the_docs_site_names_a_page_that_exists() -> None:
    """The README is the PyPI page, where only absolute links work: each one into the site must land on a page."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = {link for link in re.findall(r"<?(https://[^\s)>]+)", readme) if link.startswith(DOCS)}
    links.add(URLS["Changelog"])
    assert len(links) >= 8
    for link in links:
        page = link[len(DOCS) :].strip("/") or "index"
        assert (ROOT / "docs" / f"{page}.md").is_file(), f"{link}: no docs/{page}.md"


def test_registry_modules_are_the_providers_hook_and_operator() -> None:
    from airflow.sdk import BaseHook, BaseOperator

    hooks = [_import(entry["module"]) for entry in REGISTRY["hooks"]]
    operators = [_import(entry["module"]) for entry in REGISTRY["operators"]]
    assert hooks and all(issubclass(hook, BaseHook) for hook in hooks)
    assert operators and all(issubclass(op, BaseOperator) for op in operators)
    assert all(entry["description"].strip() for entry in REGISTRY["hooks"] + REGISTRY["operators"])
    info = get_provider_info()
    # every hook and operator module Airflow is told about is in the registry file, and the other way round
    declared = {m for section in ("hooks", "operators") for entry in info[section] for m in entry["python-modules"]}
    assert declared == {cls.__module__ for cls in hooks + operators}
    assert {c["hook-class-name"] for c in info["connection-types"]} <= {e["module"] for e in REGISTRY["hooks"]}


def test_classifiers_are_pypis_and_match_the_supported_pythons() -> None:
    from trove_classifiers import classifiers

    assert set(PROJECT["classifiers"]) <= classifiers, set(PROJECT["classifiers"]) - classifiers
    assert "Framework :: Apache Airflow :: Provider" in PROJECT["classifiers"]
    minors = sorted(c.rsplit(".", 1)[1] for c in PROJECT["classifiers"] if re.fullmatch(r".*Python :: 3\.\d+", c))
    assert PROJECT["requires-python"] == f">=3.{minors[0]}"
    assert (ROOT / "airflow_provider_cashflow" / "py.typed").exists() == ("Typing :: Typed" in PROJECT["classifiers"])
    assert {"airflow", "airflow-provider", "longport", "longbridge"} <= set(PROJECT["keywords"])


def test_the_sdist_carries_the_docs_pages_with_their_tables() -> None:
    """The site is built from the sdist's pages, and a reader of the sdist reads them as they stand."""
    sdist = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"]["targets"]
    assert "docs" in sdist["sdist"]["include"]
    assert "<!-- end generated: operator-parameters -->" in (ROOT / "docs" / "operator.md").read_text(encoding="utf-8")
