"""Reference tables generated from the code, so that no page keeps a copy that can drift from it.

A page asks for one with a line ``<!-- generated: NAME -->``; ``hooks.py`` puts the table in its place at build
time. Each table raises if the code lacks what the table needs (a parameter without a ``:param:`` line), so
``make docs`` fails rather than publishing a gap.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|attr|mod|exc|data|obj|const):`(~?)([^`]+)`")
_PARAM = re.compile(r"^\s*:param (\w+):(.*?)(?=^\s*:\w|^\s*$|\Z)", re.M | re.S)


def _docstring_params(obj: object) -> dict[str, str]:
    """``:param name: text`` of a reST docstring, each text on one line."""
    doc = inspect.getdoc(obj) or ""
    return {name: " ".join(text.split()) for name, text in _PARAM.findall(doc)}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(value: object) -> str:
    if value is inspect.Parameter.empty:
        return "required"
    return f"`{value!r}`"


def _documented_parameters(cls: type) -> list[tuple[str, inspect.Parameter, str]]:
    """The keywords of ``cls.__init__`` with their ``:param:`` text; a keyword without one fails the build."""
    docs = _docstring_params(cls)
    found = []
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if name not in docs:
            raise ValueError(f"{cls.__name__}'s docstring has no ':param {name}:' line")
        found.append((name, param, docs[name]))
    return found


def operator_parameters() -> str:
    """Every keyword of ``CashflowOperator.__init__``: default, templated or not, and its docstring line."""
    from airflow_provider_cashflow.operators.cashflow import CashflowOperator

    templated = set(CashflowOperator.template_fields)
    rows = ["| parameter | default | templated | meaning |", "|---|---|---|---|"]
    for name, param, text in _documented_parameters(CashflowOperator):
        yes = "yes" if name in templated else "no"
        meaning = text.replace("(templated)", "").strip()
        rows.append(f"| `{name}` | {_cell(_default(param.default))} | {yes} | {_cell(meaning)} |")
    return "\n".join(rows)


def hook_parameters() -> str:
    """The hook's constructor, as the operator's."""
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

    rows = ["| parameter | default | meaning |", "|---|---|---|"]
    for name, param, text in _documented_parameters(CashflowHook):
        rows.append(f"| `{name}` | {_cell(_default(param.default))} | {_cell(text)} |")
    return "\n".join(rows)


def connection_extras() -> str:
    """The connection's extra fields as the provider declares them to Airflow's form (``conn-fields``)."""
    from airflow_provider_cashflow.get_provider_info import get_provider_info

    (conn_type,) = get_provider_info()["connection-types"]
    rows = ["| extra | label in the form | default | secret | meaning |", "|---|---|---|---|---|"]
    for name, spec in conn_type["conn-fields"].items():
        schema = spec["schema"]
        default = f"`{schema['default']}`" if "default" in schema else ""
        if "enum" in schema:
            default += " (one of " + ", ".join(f"`{v}`" for v in schema["enum"] if v is not None) + ")"
        secret = "yes" if schema.get("format") == "password" else ""
        rows.append(f"| `{name}` | {_cell(spec['label'])} | {default} | {secret} | {_cell(spec['description'])} |")
    return "\n".join(rows)


def connection_standard_fields() -> str:
    """How the form relabels Airflow's standard fields, and which it hides."""
    from airflow_provider_cashflow.get_provider_info import get_provider_info

    (conn_type,) = get_provider_info()["connection-types"]
    behaviour = conn_type["ui-field-behaviour"]
    rows = ["| field | label in the form | placeholder |", "|---|---|---|"]
    for name, label in behaviour["relabeling"].items():
        placeholder = behaviour["placeholders"].get(name, "")
        rows.append(f"| `{name}` | {_cell(label)} | `{placeholder}` |")
    hidden = ", ".join(f"`{name}`" for name in behaviour["hidden-fields"])
    return "\n".join(rows) + f"\n\nHidden in the form: {hidden} (the extras have fields of their own)."


def error_codes() -> str:
    """The API codes the provider knows: retried by the client or not, and the hint every error carries."""
    from airflow_provider_cashflow import errors

    hints = errors._HINTS
    rows = ["| code | retried by the hook | what the error says to do |", "|---|---|---|"]
    for code in sorted(hints):
        retried = "yes" if code in errors.RETRYABLE_CODES else "no: the task fails at once"
        rows.append(f"| {code} | {retried} | {_cell(hints[code])} |")
    rows.append(f"| 400xxx | no: the task fails at once | {_cell(errors.hint_for(400001))} |")
    return "\n".join(rows)


def error_classes() -> str:
    """Every ``LongPortError`` the package defines: where, whether a retry can cure it, and its docstring's summary."""
    import importlib
    import pkgutil

    import airflow_provider_cashflow
    from airflow_provider_cashflow.errors import LongPortError

    for module in pkgutil.walk_packages(airflow_provider_cashflow.__path__, "airflow_provider_cashflow."):
        if ".sandbox" not in module.name:  # the sandbox is no part of what a task raises
            importlib.import_module(module.name)
    found: list[type] = []
    todo = [LongPortError]
    while todo:  # depth first: a subclass right under its base
        cls = todo.pop()
        if getattr(importlib.import_module(cls.__module__), cls.__name__, None) is not cls:
            continue  # hooks/no_retry.py's no-retry twin of a class, made at run time under the same name
        found.append(cls)
        todo.extend(sorted(cls.__subclasses__(), key=lambda c: c.__name__, reverse=True))
    rows = ["| error | retried | what it means |", "|---|---|---|"]
    for cls in found:
        flag = inspect.getattr_static(cls, "retryable")
        decided_per_error = not isinstance(flag, bool) or "self.retryable =" in inspect.getsource(cls)
        retried = "it depends (below)" if decided_per_error else ("yes" if flag else "no")
        summary = (inspect.getdoc(cls) or "").split("\n\n")[0]
        if not summary or cls.__doc__ is None:
            raise ValueError(f"{cls.__module__}.{cls.__name__} has no docstring")
        rows.append(f"| `{cls.__name__}` (`{cls.__module__}`) | {retried} | {_cell(' '.join(summary.split()))} |")
    return "\n".join(rows)


def layout() -> str:
    """Each module of the package and the first paragraph of its docstring: the layout as the code states it."""
    import ast
    from pathlib import Path

    import airflow_provider_cashflow

    root = Path(airflow_provider_cashflow.__file__).parent
    rows = ["| module | what it holds |", "|---|---|"]
    for path in sorted(root.rglob("*.py"), key=lambda p: (p.parent != root, p.relative_to(root).as_posix())):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        summary = " ".join(docstring.split("\n\n")[0].split())
        if not summary and path.name == "__init__.py":
            continue  # an empty package marker
        summary = _ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1]}`", summary) or "(no docstring)"
        rows.append(f"| `{path.relative_to(root.parent).as_posix()}` | {_cell(summary)} |")
    return "\n".join(rows)


TABLES: dict[str, Callable[[], str]] = {
    "layout": layout,
    "error-classes": error_classes,
    "operator-parameters": operator_parameters,
    "hook-parameters": hook_parameters,
    "connection-extras": connection_extras,
    "connection-standard-fields": connection_standard_fields,
    "error-codes": error_codes,
}
