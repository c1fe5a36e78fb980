"""Registration with Airflow: entry point, provider info, connection form metadata."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_cashflow.get_provider_info import CONN_FIELDS, get_provider_info
from airflow_provider_cashflow.hooks.cashflow import CashflowHook

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def test_provider_info_is_consistent_with_the_hook() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-cashflow"
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == CashflowHook.conn_type == "longport"
    assert conn["hook-name"] == CashflowHook.hook_name == "LongPort OpenAPI"
    assert conn["hook-class-name"] == f"{CashflowHook.__module__}.{CashflowHook.__name__}"
    assert CashflowHook.conn_name_attr == "longport_conn_id" and CashflowHook.default_conn_name == "longport_default"
    sensitive = {name for name, spec in conn["conn-fields"].items() if spec["schema"].get("format") == "password"}
    assert sensitive == {"access_token", "refresh_token"}
    behaviour = CashflowHook.get_ui_field_behaviour()
    assert {"schema", "port"} <= set(behaviour["hidden_fields"])
    assert behaviour["placeholders"]["host"] == "https://openapi.longportapp.com"


def test_legacy_form_widgets_come_from_the_same_fields() -> None:
    widgets = CashflowHook.get_connection_form_widgets()
    assert set(widgets) == set(CONN_FIELDS)


def _airflow(*args: str, home: Path) -> str:
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run([AIRFLOW, *args], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_airflow_cli_lists_the_provider_and_its_hook(tmp_path: Path) -> None:
    assert "airflow-provider-cashflow" in _airflow("providers", "list", home=tmp_path)
    hooks = _airflow("providers", "hooks", home=tmp_path)
    line = next(line for line in hooks.splitlines() if line.startswith("longport"))
    assert "CashflowHook" in line and "longport_conn_id" in line and "LongPort OpenAPI" in line


def test_connection_form_metadata_reaches_the_providers_manager() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    assert widgets["extra__longport__access_token"].is_sensitive
    assert not widgets["extra__longport__region"].is_sensitive
    behaviour = manager.field_behaviours["longport"]
    assert "schema" in behaviour["hidden_fields"]
    assert behaviour["relabeling"]["login"].startswith("App key")


def test_connection_form_the_ui_renders() -> None:
    """What the UI's ``/ui/connections/hook_meta`` sends the browser, built in-process by the service behind it:
    Airflow >= 3.2 from our conn-fields, 3.0 and 3.1 from the hook's WTForms fields."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    from airflow.providers_manager import ProvidersManager

    # The service reads the hooks through its stand-in form classes only if it loads them first (3.0 clears them
    # itself, 3.1+ does not): forget what the other tests of this process loaded, as a fresh API server would.
    ProvidersManager()._cleanup()
    HookMetaService.hook_meta_data.cache_clear()
    (meta,) = [m.model_dump() for m in HookMetaService.hook_meta_data() if m.connection_type == "longport"]
    standard = meta["standard_fields"]
    assert standard["port"]["hidden"] and standard["url_schema"]["hidden"]
    assert standard["login"]["title"].startswith("App key") and standard["host"]["title"] == "Base URL"
    fields = meta["extra_fields"]
    assert set(fields) == set(CONN_FIELDS)
    for name, spec in CONN_FIELDS.items():
        schema = fields[name]["schema"]
        assert schema["title"] == spec["label"] and fields[name]["description"] == spec["description"]
        assert (schema.get("format") == "password") == (spec["schema"].get("format") == "password"), name
    assert [v for v in fields["region"]["schema"]["enum"] if v] == ["global", "cn"]
    assert "integer" in fields["max_attempts"]["schema"]["type"]
