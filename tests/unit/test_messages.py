"""Every message the package can raise says each thing once, and names the culprit it is about.

The scan reads every ``raise``/exception construction in the package's source (f-strings with their placeholders
kept as the expression's text, concatenations, module-level message constants) and the API error hints; the
messages whose repetition depends on the values are rendered with the values that used to repeat them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import airflow_provider_cashflow
from airflow_provider_cashflow.client.base_url import require_secure_base_url
from airflow_provider_cashflow.errors import _HINTS, LongPortConfigError
from tests.helpers.messages import repeated_phrase

pytestmark = pytest.mark.unit

PACKAGE = Path(airflow_provider_cashflow.__file__).parent


def _text(node: ast.AST, constants: dict[str, str]) -> str | None:
    """The text a message expression builds, placeholders as ``{expression}``; ``None`` if it is no text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{" + ast.unparse(part.value) + "}"  # type: ignore[attr-defined]
            for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left, constants), _text(node.right, constants)
        return None if left is None and right is None else (left or "{}") + (right or "{}")
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _messages() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                text = _text(node.value, {})
                if text is not None:
                    constants[node.targets[0].id] = text
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func).rsplit(".", 1)[-1]
            if not name.endswith(("Error", "Exception")):
                continue
            for argument in node.args:
                text = _text(argument, constants)
                if text is not None:
                    found.append((f"{path.relative_to(PACKAGE)}:{node.lineno}", text))
    found.extend((f"errors.py hint {code}", hint) for code, hint in _HINTS.items())
    return found


MESSAGES = _messages()


def test_the_scan_finds_the_package_s_messages() -> None:
    assert len(MESSAGES) > 100
    texts = [text for _, text in MESSAGES]
    assert any("file_format must be one of" in text for text in texts)  # an f-string
    assert any("isn't defined" in text or "is not defined" in text for text in texts)  # the missing connection


@pytest.mark.parametrize("where,text", MESSAGES, ids=[where for where, _ in MESSAGES])
def test_no_message_says_a_phrase_twice(where: str, text: str) -> None:
    assert repeated_phrase(text) is None, f"{where}: {repeated_phrase(text)!r} twice in {text!r}"


def test_the_phrase_finder_finds_what_it_is_for() -> None:
    assert repeated_phrase("use https:// (e.g. https://a.example, or https://a.example)") == "https://a.example"
    assert repeated_phrase("set the host to the base URL; set the host to the base URL") == "set the host to"
    assert repeated_phrase("file_format must be one of jsonl, csv, parquet; got 'xlsx'") is None


@pytest.mark.parametrize("host", ["openapi.longportapp.com", "proxy.example.com:8443"])
def test_the_https_hint_names_each_address_once(host: str) -> None:
    with pytest.raises(LongPortConfigError) as info:
        require_secure_base_url(f"http://{host}", where="connection 'longport_default': host")
    text = str(info.value)
    assert f"https://{host}" in text and "https://openapi.longportapp.com" in text
    assert repeated_phrase(text) is None, text
