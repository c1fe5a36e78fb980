"""Provider metadata for Airflow's discovery; must import nothing but the standard library (and ``defaults``)."""

from __future__ import annotations

from airflow_provider_cashflow.defaults import GLOBAL_BASE_URL

# The connection's custom fields, declared once: Airflow >= 3.2 reads them from here, and the hook's legacy
# form methods (Airflow < 3.2) are derived from the same table.
CONN_FIELDS: dict[str, dict] = {
    "access_token": {
        "label": "Access token",
        "description": "App-key mode: the access token from the developer console. OAuth mode: the OAuth access token.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "region": {
        "label": "Region",
        "description": "Picks the default endpoint when Host is empty: global, or cn for mainland China.",
        "schema": {"type": ["string", "null"], "enum": ["global", "cn", None], "default": "global"},
    },
    "refresh_token": {
        "label": "OAuth refresh token",
        "description": "OAuth mode only (Password empty): used once to renew an expired access token.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Connect and read timeout of one HTTP attempt.",
        "schema": {"type": ["number", "null"], "default": 30},
    },
    "max_attempts": {
        "label": "Max attempts per call",
        "description": "Attempts per API call, the first included, before a retryable error fails the task.",
        "schema": {"type": ["integer", "null"], "default": 8},
    },
    "rate_limit_calls": {
        "label": "Rate limit: calls per period",
        "description": "Client-side budget of this account (LongPort: 30), shared by every task on a machine, or "
        "on every machine with a rate-limit storage.",
        "schema": {"type": ["integer", "null"], "default": 30},
    },
    "rate_limit_period": {
        "label": "Rate limit: period (seconds)",
        "description": "Length of the rate-limit window (LongPort: 30 s).",
        "schema": {"type": ["number", "null"], "default": 30},
    },
    "rate_limit_min_interval": {
        "label": "Rate limit: least seconds between calls",
        "description": "Least gap between two calls of this account (LongPort: 0.02 s); 0 turns the gap off.",
        "schema": {"type": ["number", "null"], "default": 0.02},
    },
    "rate_limit_storage": {
        "label": "Rate limit: shared storage (Redis URL)",
        "description": "Workers on several machines: keep the account's budget in this Redis, e.g. "
        "redis://redis-host:6379/0, so that all of them share it. Empty: each machine keeps its own.",
        "schema": {"type": ["string", "null"]},
    },
}

UI_FIELD_BEHAVIOUR: dict = {
    "hidden-fields": ["schema", "port", "extra"],
    "relabeling": {"host": "Base URL", "login": "App key (OAuth: client id)", "password": "App secret (empty for OAuth)"},
    "placeholders": {
        "host": GLOBAL_BASE_URL,
        "login": "your app key",
        "password": "your app secret",
        "access_token": "your access token",
        "region": "global",
        "timeout": "30",
        "max_attempts": "8",
        "rate_limit_calls": "30",
        "rate_limit_period": "30",
        "rate_limit_min_interval": "0.02",
        "rate_limit_storage": "redis://redis-host:6379/0",
    },
}


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-provider-cashflow",
        "name": "LongPort Cash Flow",
        "description": "Extracts brokerage cash flows from the LongPort OpenAPI (`GET /v1/asset/cashflow`).",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "LongPort OpenAPI",
                "external-doc-url": "https://open.longportapp.com/docs/trade/asset/cashflow",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "LongPort OpenAPI",
                "python-modules": ["airflow_provider_cashflow.hooks.cashflow"],
            }
        ],
        "operators": [
            {
                "integration-name": "LongPort OpenAPI",
                "python-modules": ["airflow_provider_cashflow.operators.cashflow"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_cashflow.hooks.cashflow.CashflowHook",
                "hook-name": "LongPort OpenAPI",
                "connection-type": "longport",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
