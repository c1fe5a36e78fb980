"""The API's fixed facts, the connection's identity and defaults, and the output's defaults, declared once.

Standard library only: the provider-info entry point, the Airflow-free client and the sandbox all read it.
Whole numbers are written as ``int`` so that the connection form shows ``30``, not ``30.0``.
"""

from __future__ import annotations

__all__ = [
    "BASE_DELAY",
    "CASHFLOW_PATH",
    "CONN_TYPE",
    "DEFAULT_CONN_ID",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_REGION",
    "EXTRA_PREFIX",
    "GLOBAL_BASE_URL",
    "MAX_ATTEMPTS",
    "MAX_DELAY",
    "MAX_ELAPSED",
    "MAX_PAGE_SIZE",
    "OAUTH_TOKEN_PATH",
    "PARQUET_ROW_GROUP_SIZE",
    "RATE_LIMIT_CALLS",
    "RATE_LIMIT_MIN_INTERVAL",
    "RATE_LIMIT_PERIOD",
    "REGION_BASE_URLS",
    "TIMEOUT",
]

# The API -------------------------------------------------------------------------------------------------
GLOBAL_BASE_URL = "https://openapi.longportapp.com"
REGION_BASE_URLS = {"global": GLOBAL_BASE_URL, "cn": "https://openapi.longport.cn"}
DEFAULT_REGION = "global"
CASHFLOW_PATH = "/v1/asset/cashflow"
OAUTH_TOKEN_PATH = "/oauth2/token"
MAX_PAGE_SIZE = 10_000  # records per call the endpoint accepts
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE  # fewest calls under a 30-calls-per-30-s budget

# The connection --------------------------------------------------------------------------------------------
CONN_TYPE = "longport"
DEFAULT_CONN_ID = "longport_default"
# Airflow < 3.2's connection form stores a custom field as extra__<conn type>__<name>; newer ones as <name>.
EXTRA_PREFIX = f"extra__{CONN_TYPE}__"

# The trade API's rate limit per account, which the client keeps and the sandbox enforces -------------------
RATE_LIMIT_CALLS = 30
RATE_LIMIT_PERIOD: float = 30  # seconds
RATE_LIMIT_MIN_INTERVAL = 0.02  # seconds between two calls

# One call: timeout of an attempt, and the retry policy's bounds ---------------------------------------------
TIMEOUT: float = 30  # seconds, connect and read
MAX_ATTEMPTS = 8  # the first included
MAX_ELAPSED: float = 300  # seconds after the first attempt past which no new attempt starts
BASE_DELAY: float = 1  # seconds, the first backoff, doubled on every further attempt
MAX_DELAY: float = 30  # seconds, cap of one backoff

# The output ------------------------------------------------------------------------------------------------
PARQUET_ROW_GROUP_SIZE = 50_000  # records per Parquet row group
