"""The API reference (docs/reference) shows every type a user meets: each one the hook's public methods take or
give, and each one a manifest holds, so no field has to be guessed."""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path

import pytest

from airflow_provider_cashflow.hooks.cashflow import CashflowHook
from airflow_provider_cashflow.output.manifest import Manifest

pytestmark = pytest.mark.unit

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"
PACKAGE = "airflow_provider_cashflow"


def _documented() -> set[str]:
    return {m for page in REFERENCE.glob("*.md") for m in re.findall(r"^::: ([\w.]+)", page.read_text(), re.M)}


def _our_types(annotation: object, module: object) -> set[str]:
    """The package's classes named in an annotation (text, under ``from __future__ import annotations``)."""
    names = set(re.findall(r"\b[A-Z]\w+", str(annotation)))
    namespace = vars(sys.modules[module.__module__]) if hasattr(module, "__module__") else {}  # type: ignore[arg-type]
    found = set()
    for name in names:
        value = namespace.get(name)
        if inspect.isclass(value) and value.__module__.startswith(PACKAGE):
            found.add(f"{value.__module__}.{value.__qualname__}")
    return found


def _hook_types() -> set[str]:
    found: set[str] = set()
    for name, member in vars(CashflowHook).items():
        if (name.startswith("_") and name != "__init__") or name in (
            "get_ui_field_behaviour",
            "get_connection_form_widgets",
        ):
            continue
        function = getattr(member, "fget", None) or getattr(member, "func", None) or member
        function = getattr(function, "__func__", function)
        if not callable(function):
            continue
        signature = inspect.signature(function)
        annotations = [signature.return_annotation, *(p.annotation for p in signature.parameters.values())]
        for annotation in annotations:
            found |= _our_types(annotation, CashflowHook)
    return found


def _manifest_types() -> set[str]:
    found: set[str] = set()
    for cls in (Manifest,):
        for field in dataclasses.fields(cls):
            found |= _our_types(field.type, cls)
    return found


def test_every_type_the_hook_takes_or_gives_and_the_manifest_holds_is_in_the_reference() -> None:
    wanted = _hook_types() | _manifest_types()
    assert f"{PACKAGE}.domain.us_transactions.UsTransaction" in wanted  # what iter_us_transactions yields
    assert f"{PACKAGE}.output.manifest.FileEntry" in wanted
    missing = wanted - _documented()
    assert not missing, f"add a ::: line for each to a page of docs/reference: {sorted(missing)}"
