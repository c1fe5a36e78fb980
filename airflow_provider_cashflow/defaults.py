"""The API's fixed facts, the connection's identity and defaults, and the output's defaults, declared once.

Standard library only: the provider-info entry point, the Airflow-free client and the sandbox all read it.
Whole numbers are written as ``int`` so that the connection form shows ``30``, not ``30.0``.
"""

from __future__ import annotations

__all__ = [
    "BASE_DELAY",
    "CASHFLOW_PATH",
    "CONN_TYPE",
    "DC_REGIONS",
    "DC_REGION_HEADER",
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
    "US_CREDENTIAL_PREFIX",
    "US_DEFAULT_PAGE_SIZE",
    "US_HISTORY_PATH",
    "US_TIMEZONE",
    "US_TRANSACTION_TYPES",
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

# The two data centres (official SDK >= 4.4): every call says which one it is for; the host stays the same.
DC_REGION_HEADER = "x-dc-region"
DC_REGIONS = ("ap", "us")
US_CREDENTIAL_PREFIX = "us_"  # a credential with it belongs to a US-region account
US_HISTORY_PATH = "/v1/us/assets/transaction-history"  # US accounts only; the cash-flow path is AP-only
# The US endpoint's maximum size is undocumented and the SDK's default is 20; 100 (the size of the SDK call captured
# in longport-api.md) makes five times fewer calls. A server that refuses it says so, and page_size lowers it.
US_DEFAULT_PAGE_SIZE = 10_000  # the largest page asked first; the US pager steps down to what the server serves
US_TIMEZONE = "America/New_York"  # a US account's business days, when nothing else names a zone
US_TRANSACTION_TYPES = (
    "TT_DEPOSIT_AND_WITHDRAWAL",
    "TT_STOCKS_AND_ETFS_TRADING",
    "TT_OPTIONS_TRADING",
    "TT_CRYPTO_TRADING",
    "TT_CORPORATE_ACTION",
    "TT_TRANSFER_IN_AND_OUT",
    "TT_CRYPTO_TRANSFER",
    "TT_MARGIN_FINANCING",
    "TT_OTHER",
)

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
