"""Every code sample in the README is run, parsed or checked against the code it describes."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from airflow.sdk import Connection

from airflow_provider_cashflow.client.settings import LongPortSettings
from airflow_provider_cashflow.operators.cashflow import CashflowOperator

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S)


def _connection(spec: dict) -> Connection:
    return Connection(conn_id="readme", **{**spec, "extra": json.dumps(spec.get("extra", {}))})


def test_the_two_setup_commands_are_there() -> None:
    first = BLOCKS[0][1].split("\n")
    assert first[0].startswith("make demo") and first[1].startswith("make test")


def test_python_samples_run() -> None:
    samples = [code for lang, code in BLOCKS if lang == "python"]
    assert samples
    for code in samples:
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)  # imports resolve, definitions build
        assert any(callable(v) for k, v in namespace.items() if not k.startswith("__"))


def test_json_samples_parse_and_connections_are_accepted() -> None:
    samples = [json.loads(code) for lang, code in BLOCKS if lang == "json"]
    assert len(samples) >= 2
    connections = [s for s in samples if s.get("conn_type") == "longport"]
    for connection in connections:
        settings = LongPortSettings.from_connection(_connection(connection))
        assert settings.mode == "signature" and settings.base_url == "https://openapi.longportapp.com"
    assert any(LongPortSettings.from_connection(_connection(c)).rate_limit_storage for c in connections)
    manifest = next(s for s in samples if "files" in s)
    assert set(manifest) >= {"interval", "format", "records", "files", "api_calls"}


def test_shell_samples_carry_valid_connections() -> None:
    found = 0
    for lang, code in BLOCKS:
        if lang == "json":
            continue
        for line in code.splitlines():
            if "conn_type" not in line:
                continue
            words = shlex.split(line)
            value = next(w.split("=", 1)[1] if w.startswith("AIRFLOW_CONN_") else w for w in words if "conn_type" in w)
            conn = json.loads(value)
            LongPortSettings.from_connection(_connection(conn))
            found += 1
    assert found >= 3


def test_operator_reference_lists_every_parameter() -> None:
    import inspect

    params = [p for p in inspect.signature(CashflowOperator.__init__).parameters if p not in ("self", "kwargs")]
    for name in params:
        assert f"| `{name}`" in README or f"`{name}`, `" in README or f", `{name}` |" in README, name
    for name in CashflowOperator.template_fields:
        row = next(line for line in README.splitlines() if f"`{name}`" in line and line.startswith("|"))
        assert "| yes |" in row, f"{name} is templated but the README does not say so"
