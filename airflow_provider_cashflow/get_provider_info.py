"""Provider metadata for Airflow's discovery; must import nothing but the standard library, ``defaults`` and the
package's version."""

from __future__ import annotations

from typing import Any

from airflow_provider_cashflow import __version__
from airflow_provider_cashflow.defaults import (
    CONN_TYPE,
    DC_REGIONS,
    DEFAULT_REGION,
    GLOBAL_BASE_URL,
    MAX_ATTEMPTS,
    RATE_LIMIT_CALLS,
    RATE_LIMIT_MIN_INTERVAL,
    RATE_LIMIT_PERIOD,
    REGION_BASE_URLS,
    TIMEOUT,
)

#: The integration's name, and the hook's in the connection type list.
HOOK_NAME = "LongPort OpenAPI"

# The connection's custom fields, declared once: Airflow >= 3.2 reads them from here, and the hook's legacy
# form methods (Airflow < 3.2) are derived from the same table.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "access_token": {
        "label": "Access token",
        "description": "App-key mode: the access token from the developer console. OAuth mode: the OAuth access token.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "region": {
        "label": "Region",
        "description": "Picks the default endpoint when Host is empty: global, or cn for mainland China.",
        "schema": {"type": ["string", "null"], "enum": [*REGION_BASE_URLS, None], "default": DEFAULT_REGION},
    },
    "dc_region": {
        "label": "Data centre",
        "description": (
            "auto: read from the credentials, as the official SDK does (a US account's start with us_); ap or us "
            "forces it. Sent as x-dc-region on every call; a US account reads POST /v1/us/assets/transaction-history."
        ),
        "schema": {"type": ["string", "null"], "enum": ["auto", *DC_REGIONS, None], "default": "auto"},
    },
    "refresh_token": {
        "label": "OAuth refresh token",
        "description": "OAuth mode only (Password empty): used once to renew an expired access token.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Connect and read timeout of one HTTP attempt.",
        "schema": {"type": ["number", "null"], "default": TIMEOUT},
    },
    "max_attempts": {
        "label": "Max attempts per call",
        "description": "Attempts per API call, the first included, before a retryable error fails the task.",
        "schema": {"type": ["integer", "null"], "default": MAX_ATTEMPTS},
    },
    "rate_limit_calls": {
        "label": "Rate limit: calls per period",
        "description": (
            f"Client-side budget of this account (LongPort: {RATE_LIMIT_CALLS}), shared by every task on a machine, "
            "or on every machine with a rate-limit storage."
        ),
        "schema": {"type": ["integer", "null"], "default": RATE_LIMIT_CALLS},
    },
    "rate_limit_period": {
        "label": "Rate limit: period (seconds)",
        "description": f"Length of the rate-limit window (LongPort: {RATE_LIMIT_PERIOD} s).",
        "schema": {"type": ["number", "null"], "default": RATE_LIMIT_PERIOD},
    },
    "rate_limit_min_interval": {
        "label": "Rate limit: least seconds between calls",
        "description": f"Least gap between two calls of this account (LongPort: {RATE_LIMIT_MIN_INTERVAL} s); 0 turns the gap off.",
        "schema": {"type": ["number", "null"], "default": RATE_LIMIT_MIN_INTERVAL},
    },
    "ca_bundle": {
        "label": "CA bundle (path)",
        "description": (
            "PEM file of extra CAs to trust, e.g. a corporate TLS proxy's, on every worker. Empty: the default "
            "store (REQUESTS_CA_BUNDLE when set). Certificate verification cannot be turned off."
        ),
        "schema": {"type": ["string", "null"]},
    },
    "rate_limit_storage": {
        "label": "Rate limit: shared storage (Redis URL)",
        "description": "Workers on several machines: keep the account's budget in this Redis, e.g. "
        "redis://redis-host:6379/0, so that all of them share it. Empty: each machine keeps its own.",
        "schema": {"type": ["string", "null"]},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "extra"],
    "relabeling": {
        "host": "Base URL",
        "login": "App key (OAuth: client id)",
        "password": "App secret (empty for OAuth)",
    },
    "placeholders": {
        "host": GLOBAL_BASE_URL,
        "login": "your app key",
        "password": "your app secret",
        "access_token": "your access token",
        "ca_bundle": "/etc/ssl/certs/corporate-proxy-ca.pem",
        "rate_limit_storage": "redis://redis-host:6379/0",
        # the other extras show their schema default as the placeholder
        **{name: str(spec["schema"]["default"]) for name, spec in CONN_FIELDS.items() if "default" in spec["schema"]},
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-cashflow",
        "name": "LongPort Cash Flow",
        "description": (
            "Extracts brokerage cash flows from the LongPort OpenAPI: `GET /v1/asset/cashflow` for AP accounts, "
            "`POST /v1/us/assets/transaction-history` for US accounts."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": HOOK_NAME,
                "external-doc-url": "https://open.longportapp.com/docs/trade/asset/cashflow",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": HOOK_NAME,
                "python-modules": ["airflow_provider_cashflow.hooks.cashflow"],
            }
        ],
        "operators": [
            {
                "integration-name": HOOK_NAME,
                "python-modules": ["airflow_provider_cashflow.operators.cashflow"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_cashflow.hooks.cashflow.CashflowHook",
                "hook-name": HOOK_NAME,
                "connection-type": CONN_TYPE,
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
