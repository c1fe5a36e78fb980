"""The Test button, through Airflow's real REST route: saved connections come back redacted, and Test stays truthful."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_cashflow.compat import AIRFLOW_VERSION
from airflow_provider_cashflow.sandbox import DEMO
from airflow_provider_cashflow.sandbox.process import SandboxProcess
from tests.helpers.airflow import PROGRAM_ENV, AirflowHome, program
from tests.helpers.connections import api_body, longport_connection, set_connection


def _body(conn_id: str, base_url: str, *, password: str, token: str, port: int | None = None) -> dict[str, Any]:
    conn = longport_connection(base_url, password=password, access_token=token, region="global")
    return api_body(conn_id, conn, port=port)


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Saves a good and a bad connection through the API, then tests them as the UI does; one Airflow for all."""
    with SandboxProcess("--days", "2", "--per-day", "5", "--no-rate-limit") as sandbox:
        home = AirflowHome(
            tmp_path_factory.mktemp("conn-test") / "home",
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        )
        home.migrate_db()
        url = sandbox.base_url
        # What the list's Test button posts for a saved connection: the secrets as shown (***), port 0 (hidden field).
        redacted = {"password": "***", "token": "***", "port": 0}
        requests = {
            # Saved with port 0, as the README advises: Airflow >= 3.3 then restores the secrets itself.
            "save good": [
                "POST",
                "/api/v2/connections",
                _body("lp_good", url, password=DEMO.app_secret, token=DEMO.access_token, port=0),
            ],
            "save bad": [
                "POST",
                "/api/v2/connections",
                _body("lp_bad", url, password="not-the-secret", token=DEMO.access_token, port=0),
            ],
            # Saved as the UI's own form saves it: no port.
            "save portless": [
                "POST",
                "/api/v2/connections",
                _body("lp_portless", url, password=DEMO.app_secret, token=DEMO.access_token),
            ],
            "read good": ["GET", "/api/v2/connections/lp_good", None],
            "good, redacted": ["POST", "/api/v2/connections/test", _body("lp_good", url, **redacted)],
            "bad, redacted": ["POST", "/api/v2/connections/test", _body("lp_bad", url, **redacted)],
            "portless, redacted": ["POST", "/api/v2/connections/test", _body("lp_portless", url, **redacted)],
            "good, redacted, other host": [
                "POST",
                "/api/v2/connections/test",
                _body("lp_good", "http://127.0.0.1:9", **redacted),
            ],
            "unsaved, typed": [
                "POST",
                "/api/v2/connections/test",
                _body("lp_new", url, password=DEMO.app_secret, token=DEMO.access_token),
            ],
            "unsaved, wrong secret": [
                "POST",
                "/api/v2/connections/test",
                _body("lp_new", url, password="not-the-secret", token=DEMO.access_token),
            ],
            "unsaved, redacted": ["POST", "/api/v2/connections/test", _body("lp_nowhere", url, **redacted)],
        }
        results = home.api(list(requests.values()))
        calls = sandbox.stats()["calls"]
    return {**dict(zip(requests, results, strict=True)), "sandbox calls": calls}


def _test(answers: dict[str, Any], case: str) -> tuple[bool, str]:
    status, body = answers[case]
    assert status == 200, f"{case}: HTTP {status} {body}"
    return body["status"], body["message"]


def test_the_api_redacts_saved_secrets_as_the_form_shows_them(answers: dict[str, Any]) -> None:
    assert [answers[case][0] for case in ("save good", "save bad", "save portless")] == [201, 201, 201]
    saved = answers["read good"][1]
    assert saved["password"] == "***" and json.loads(saved["extra"])["access_token"] == "***"


def test_a_good_saved_connection_passes_with_the_redacted_form(answers: dict[str, Any]) -> None:
    ok, message = _test(answers, "good, redacted")
    assert ok, message
    assert "successfully" in message


def test_a_bad_saved_secret_is_named_not_the_token(answers: dict[str, Any]) -> None:
    ok, message = _test(answers, "bad, redacted")
    assert not ok
    assert "403201" in message and "app secret" in message and "access token" not in message


def test_a_saved_connection_without_port(answers: dict[str, Any]) -> None:
    """The list's Test sends port 0 for the hidden port field. Airflow >= 3.3 compares it with the saved empty port
    and refuses before any provider code runs (documented in the README); before 3.3 the hook restores the secrets."""
    status, body = answers["portless, redacted"]
    if AIRFLOW_VERSION >= (3, 3):
        assert status == 400 and "host or port" in body["detail"]
    else:
        assert status == 200 and body["status"], body


def test_stored_secrets_never_go_to_another_host(answers: dict[str, Any]) -> None:
    """Airflow >= 3.3 refuses by itself; 3.1 and 3.2 merge the stored secrets by themselves whatever the host (the
    hook never sees a redaction there); on 3.0 the hook's own guard keeps them home."""
    status, body = answers["good, redacted, other host"]
    if AIRFLOW_VERSION >= (3, 3):
        assert status == 400 and "differs" in body["detail"]
        return
    ok, message = _test(answers, "good, redacted, other host")
    assert not ok and "access token" not in message
    if AIRFLOW_VERSION < (3, 1):
        assert "redacted" in message and "host differs" in message and "airflow connections test lp_good" in message


def test_typed_values_are_tested_as_typed(answers: dict[str, Any]) -> None:
    ok, message = _test(answers, "unsaved, typed")
    assert ok, message
    ok, message = _test(answers, "unsaved, wrong secret")
    assert not ok and "403201" in message


def test_redacted_values_without_a_saved_connection_say_how_to_test(answers: dict[str, Any]) -> None:
    ok, message = _test(answers, "unsaved, redacted")
    assert not ok and "access token" not in message
    # Only Airflow 3.0's restore knows the saved id: it reads it from the route; elsewhere the message says <id>
    target = "lp_nowhere" if AIRFLOW_VERSION < (3, 1) else "<connection id>"
    assert "redacted" in message and f"airflow connections test {target}" in message


def test_only_airflow_30_reads_the_saved_connection_from_the_test_route(monkeypatch: pytest.MonkeyPatch) -> None:
    """Masks that reach the hook outside Airflow 3.0 are never swapped by the hook: it sends nothing and says why,
    even when a caller's frame holds a ``test_body`` naming a saved connection."""
    from airflow_provider_cashflow.hooks.cashflow import CashflowHook

    closed_port = "http://127.0.0.1:9"  # nothing listens: a call that were made would fail as a transport error
    set_connection(monkeypatch, "lp_masked", longport_connection(closed_port, password="***", access_token="***"))
    set_connection(monkeypatch, "lp_saved", longport_connection(closed_port))
    test_body = SimpleNamespace(connection_id="lp_saved")  # as Airflow 3.0's route holds it
    ok, message = CashflowHook("lp_masked").test_connection()
    assert test_body.connection_id == "lp_saved" and not ok
    if AIRFLOW_VERSION < (3, 1):
        assert "redacted" not in message  # restored, then sent: the closed port answers
    else:
        assert "redacted values ('***') for app secret (password), access_token" in message
        assert "airflow connections test <connection id>" in message and "lp_saved" not in message


# A connection that is there but cannot be read is not a missing one -------------------------------------------

SECRET = "s3cr3t-Value-9f2"  # in each malformed variable: must never reach a message


def _probe(tmp_path: Any, conn_ids: list[str], **env: str) -> dict[str, dict[str, Any]]:
    """``CashflowHook(ID).settings`` for each id in a process of its own, Airflow configured by ``env``."""
    home = AirflowHome(tmp_path / "home", **env)
    home.migrate_db()
    result = home.run(*program("connection_probe"), *conn_ids, program=sys.executable, **PROGRAM_ENV)
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("CONNECTION-PROBE ")]
    return {answer["id"]: answer for answer in json.loads(line.removeprefix("CONNECTION-PROBE "))}


def test_a_malformed_variable_says_it_cannot_be_parsed_not_that_it_is_missing(tmp_path: Any) -> None:
    answers = _probe(
        tmp_path,
        ["lp_json", "lp_uri", "lp_missing"],
        AIRFLOW_CONN_LP_JSON='{"conn_type": "longport", "login": "key", "password": "' + SECRET + '", ',
        # urllib's error quotes the port it could not read: here the secret, pasted one field too far
        AIRFLOW_CONN_LP_URI=f"longport://key:pw@127.0.0.1:{SECRET}",
    )
    broken_json, broken_uri, missing = answers["lp_json"], answers["lp_uri"], answers["lp_missing"]
    for answer, cause in ((broken_json, "JSONDecodeError: Expecting"), (broken_uri, "Port could not be cast")):
        assert answer["class"] == "LongPortConfigError" and answer["no_retry"], answer
        message = answer["message"]
        assert f"is set in AIRFLOW_CONN_{answer['id'].upper()}, but Airflow cannot parse it" in message, message
        assert cause in message and "not defined" not in message, message
        assert SECRET not in message and "s3cr3t" not in message, message
    assert "Port could not be cast to integer value as '***'" in broken_uri["message"]
    assert missing["class"] == "LongPortConfigError" and "connection 'lp_missing' is not defined" in missing["message"]
    assert "is not defined. " in missing["message"] or "did you mean" in missing["message"], missing["message"]


def test_a_failing_secrets_backend_is_named_with_its_error(tmp_path: Any) -> None:
    from tests.helpers.connection_probe import FailingSecretsBackend

    with SandboxProcess("--days", "1", "--per-day", "1", "--no-rate-limit") as sandbox:
        answers = _probe(
            tmp_path,
            ["longport_default", "lp_in_env"],
            AIRFLOW__SECRETS__BACKEND="tests.helpers.connection_probe.FailingSecretsBackend",
            AIRFLOW_CONN_LP_IN_ENV=json.dumps(longport_connection(sandbox.base_url)),
        )
    unreadable = answers["longport_default"]
    assert unreadable["class"] == "ConnectionReadError", unreadable
    assert unreadable["retryable"] and not unreadable["no_retry"]  # the store may answer on the task's next try
    message = unreadable["message"]
    assert "connection 'longport_default' could not be read: the secrets backend FailingSecretsBackend" in message
    assert f"PermissionError: {FailingSecretsBackend.ERROR}" in message and "not defined" not in message, message
    # Airflow reads on past a failing backend: a connection the environment holds is read as ever
    assert answers["lp_in_env"] == {"id": "lp_in_env", "read": True}
