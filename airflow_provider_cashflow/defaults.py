"""The API's fixed facts and the connection's defaults, declared once.

Standard library only: the provider-info entry point, the Airflow-free client and the sandbox all read it.
"""

from __future__ import annotations

__all__ = ["CASHFLOW_PATH", "GLOBAL_BASE_URL", "REGION_BASE_URLS"]

GLOBAL_BASE_URL = "https://openapi.longportapp.com"
REGION_BASE_URLS = {"global": GLOBAL_BASE_URL, "cn": "https://openapi.longport.cn"}
CASHFLOW_PATH = "/v1/asset/cashflow"
