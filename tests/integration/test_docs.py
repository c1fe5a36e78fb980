"""Every example in README.md and docs/ runs, parses or is checked against the code it describes.

Python blocks run as they stand, with ``longport_default`` on a fresh sandbox; every ``CashflowOperator`` of a DAG a
block builds runs for the last data interval of its timetable, with its files moved under the test's tmp folder.
A block whose info string says ``notest`` is left alone (docs/contributing.md says when that is right).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shlex
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from airflow.sdk import DAG, Connection
from airflow.sdk.execution_time.context import VariableAccessor

from airflow_provider_cashflow.client.settings import LongPortSettings
from airflow_provider_cashflow.compat import timetable_expression, timetable_timezone
from airflow_provider_cashflow.operators.cashflow import CashflowOperator
from airflow_provider_cashflow.sandbox import Sandbox
from tests.helpers.data import END
from tests.helpers.tables import sqlite_catalog

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# a fence of three or more backticks, maybe indented (inside a list), closed by the same fence at the same indent
FENCE = re.compile(
    r"^(?P<indent>[ ]*)(?P<fence>`{3,})(?P<info>[^`\n]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ ]*$", re.M | re.S
)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    flags: frozenset[str]
    code: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def _blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        lang, *flags = match["info"].split() or [""]
        body = textwrap.dedent(match["body"]) if match["indent"] else match["body"]
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(str(path.relative_to(ROOT)), line, lang, frozenset(flags), body))
    return found


BLOCKS = [block for page in PAGES for block in _blocks(page)]
PYTHON = [b for b in BLOCKS if b.lang == "python" and "notest" not in b.flags]


def _connection(spec: dict[str, Any]) -> Connection:
    return Connection(conn_id="docs", **{**spec, "extra": json.dumps(spec.get("extra", {}))})


def test_the_readme_keeps_the_two_setup_commands_and_stays_short() -> None:
    setup = [b.code.splitlines() for b in BLOCKS if b.page == "README.md" and "make demo" in b.code]
    assert len(setup) == 1 and len(setup[0]) == 2, setup
    assert setup[0][0].startswith("make demo ") and setup[0][1].startswith("make test "), setup
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150


def test_every_page_has_examples_that_run() -> None:
    assert len(PYTHON) >= 8
    assert {b.page for b in PYTHON} >= {"README.md", "docs/hook.md", "docs/operator.md", "docs/sandbox.md"}


def _redirect_output(op: CashflowOperator, root: Path) -> None:
    """``s3://my-bucket/cashflow/date={date}/x.jsonl`` of an example to ``file://<tmp>/<task>/cashflow/...``; a
    lake table to a local Delta folder, or into an embedded Iceberg catalog there."""
    if op.table:
        table_format, _, _ = op.table.partition(":")
        if table_format == "iceberg":
            catalog = sqlite_catalog(root / op.task_id / "catalog")
            os.environ[f"AIRFLOW_CONN_{(op.output_conn_id or 'iceberg_default').upper()}"] = json.dumps(catalog)
        else:
            op.table, op.output_conn_id = f"delta:{(root / op.task_id / 'delta').as_uri()}", None
    if op.output_path:
        parts = urlsplit(op.output_path)
        op.output_path = f"{(root / op.task_id).as_uri()}/{parts.path.lstrip('/')}"
        op.output_conn_id = None


def _last_interval(timetable: Any) -> tuple[datetime, datetime]:
    """The last data interval of a cron timetable that ends by the sandbox's last record, in UTC."""
    from croniter import croniter

    tz = ZoneInfo(str(timetable_timezone(timetable) or "UTC"))
    ticks = croniter(timetable_expression(timetable), start_time=END.astimezone(tz).replace(tzinfo=None))
    end = ticks.get_prev(datetime).replace(tzinfo=tz)
    start = ticks.get_prev(datetime).replace(tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _run_dag(dag: DAG, root: Path) -> dict[str, Any]:
    """Each task in dependency order for the last data interval before the sandbox's end: a CashflowOperator
    through execute(), a TaskFlow task through its function with its upstream results."""
    start, end = _last_interval(dag.timetable)
    context: dict[str, Any] = {
        "dag": dag,
        "data_interval_start": start,
        "data_interval_end": end,
        "params": {},
        "var": {"value": VariableAccessor(deserialize_json=False), "json": VariableAccessor(deserialize_json=True)},
    }
    results: dict[str, Any] = {}
    for task in dag.topological_sort():
        if isinstance(task, CashflowOperator):
            _redirect_output(task, root)
            task.render_template_fields(context)
            results[task.task_id] = task.execute(context)
        elif callable(getattr(task, "python_callable", None)):
            args = [results[a.operator.task_id] if hasattr(a, "operator") else a for a in task.op_args]
            kwargs = {
                k: results[v.operator.task_id] if hasattr(v, "operator") else v for k, v in task.op_kwargs.items()
            }
            results[task.task_id] = task.python_callable(*args, **kwargs)
    return results


def _check_result(task_id: str, result: Any) -> None:
    if isinstance(result, dict) and "files" in result:  # a manifest: every file it names was written
        assert result["records"] > 0, f"{task_id} wrote no records of the sandbox's data"
        for entry in result["files"]:
            assert Path(urlsplit(entry["path"]).path).is_file(), entry
    elif isinstance(result, list):  # records as XCom
        assert result and {"balance", "business_time"} <= set(result[0]), task_id


@pytest.mark.parametrize("block", PYTHON, ids=str)
def test_python_block(block: Block, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", os.environ.copy())  # what a block exports stays in it
    monkeypatch.chdir(tmp_path)
    if re.search(r"^with DAG\(", block.code, re.M):  # a DAG file: loaded as Airflow's DAG processor does, then run
        for dag in _load_dags(block, tmp_path):
            for task_id, result in _run_dag(dag, tmp_path / dag.dag_id).items():
                _check_result(task_id, result)
        return
    namespace: dict[str, Any] = {"__name__": f"docs_example_{block.line}"}
    exec(compile("\n" * block.line + block.code, block.page, "exec"), namespace)
    tasks = [v for v in namespace.values() if inspect.isfunction(v) or hasattr(v, "function")]
    shows = any(word in block.code for word in ("assert ", "print(", "for "))
    assert shows or tasks, f"{block}: neither a DAG, a task, nor a statement whose effect shows"


def _load_dags(block: Block, folder: Path) -> list[DAG]:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    source = folder / f"{Path(block.page).stem}_{block.line}.py"
    source.write_text("\n" * block.line + block.code, encoding="utf-8")  # tracebacks name the page's line
    bag = DagBag(dag_folder=str(source))  # AIRFLOW__CORE__LOAD_EXAMPLES is False (conftest)
    assert bag.import_errors == {}, f"{block}: {bag.import_errors}"
    assert bag.dags, f"{block} builds no DAG"
    return list(bag.dags.values())


def _real_manifest(sandbox: Sandbox, tmp_path: Path) -> dict[str, Any]:
    with DAG("docs_manifest", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        CashflowOperator(task_id="extract", output_path=f"{tmp_path.as_uri()}/date={{date}}/cashflow.jsonl")
    context = {"dag": dag, "data_interval_start": END.replace(day=19), "data_interval_end": END, "params": {}}
    (task,) = dag.tasks
    task.render_template_fields(context)
    return task.execute(context)


def test_json_samples_parse_connections_are_accepted_and_the_manifest_is_real(sandbox: Sandbox, tmp_path: Path) -> None:
    samples = [(b, json.loads(b.code)) for b in BLOCKS if b.lang == "json" and "notest" not in b.flags]
    assert len(samples) >= 3
    connections = [(b, s) for b, s in samples if s.get("conn_type") == "longport"]
    assert connections
    for block, connection in connections:
        settings = LongPortSettings.from_connection(_connection(connection))
        assert settings.mode in ("signature", "oauth"), block
    assert any(LongPortSettings.from_connection(_connection(c)).rate_limit_storage for _, c in connections)
    real = _real_manifest(sandbox, tmp_path)
    manifests = [(b, s) for b, s in samples if "files" in s]
    assert manifests
    for block, manifest in manifests:
        assert set(manifest) <= set(real), f"{block}: keys a run does not write: {set(manifest) - set(real)}"
        assert set(real) <= set(manifest), (
            f"{block}: keys a run writes that the example lacks: {set(real) - set(manifest)}"
        )
        for entry in manifest["files"]:
            assert set(entry) <= set(real["files"][0]), f"{block}: file keys {set(entry) - set(real['files'][0])}"


def test_shell_samples_carry_valid_connections() -> None:
    found = 0
    for block in BLOCKS:
        if block.lang in ("json", "python", "markdown"):
            continue
        for line in block.code.splitlines():
            if "conn_type" not in line:
                continue
            words = shlex.split(line)
            value = next(w.split("=", 1)[1] if w.startswith("AIRFLOW_CONN_") else w for w in words if "conn_type" in w)
            LongPortSettings.from_connection(_connection(json.loads(value)))
            found += 1
    assert found >= 3


def test_generated_tables_cover_the_code() -> None:
    """The tables ``make docs`` puts in the pages: each raises where the code lacks what it needs."""
    sys.path.insert(0, str(ROOT / "docs" / "_gen"))
    try:
        from tables import TABLES
    finally:
        sys.path.remove(str(ROOT / "docs" / "_gen"))
    operator_table = TABLES["operator-parameters"]()
    for name in inspect.signature(CashflowOperator.__init__).parameters:
        if name not in ("self", "kwargs"):
            row = next(line for line in operator_table.splitlines() if line.startswith(f"| `{name}` |"))
            assert ("| yes |" in row) == (name in CashflowOperator.template_fields), row
    markers = {m for page in PAGES for m in re.findall(r"^<!-- generated: ([\w-]+) -->$", page.read_text(), re.M)}
    assert markers <= set(TABLES), markers - set(TABLES)
    for name in markers:
        assert TABLES[name]().count("\n") >= 2, name
