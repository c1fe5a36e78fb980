"""The cash-flow endpoint's query parameters, checked as strictly as the live service checks them."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from airflow_provider_cashflow.defaults import MAX_PAGE_SIZE

__all__ = ["ApiError", "cash_flow_params"]


class ApiError(Exception):
    """An error envelope the sandbox answers with: HTTP status, API code, message and extra headers."""

    def __init__(self, http_status: int, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.http_status, self.code, self.message, self.headers = http_status, code, message, headers or {}


def _param_error(message: str) -> ApiError:
    return ApiError(400, 400001, f"invalid parameter: {message}")


def cash_flow_params(query: str) -> dict[str, Any]:
    """``start_time``, ``end_time``, ``business_type``, ``symbol``, ``page`` and ``size`` of a query string.

    :raises ApiError: 400001 naming the parameter, as the live service answers.
    """
    raw = parse_qs(query, keep_blank_values=True)
    params: dict[str, Any] = {}
    for name in ("start_time", "end_time"):
        values = raw.get(name)
        if not values or not values[-1].lstrip("-").isdigit():
            raise _param_error(f"{name} is required and must be Unix seconds")
        params[name] = int(values[-1])
    if params["start_time"] > params["end_time"]:
        raise _param_error("start_time must not be after end_time")
    business_type = raw.get("business_type", [""])[-1]
    if business_type and business_type not in ("1", "2", "3"):
        raise _param_error("business_type must be 1, 2 or 3")
    params["business_type"] = int(business_type) if business_type else None
    params["symbol"] = raw.get("symbol", [""])[-1] or None
    page = raw.get("page", ["1"])[-1]
    size = raw.get("size", ["50"])[-1]
    if not page.isdigit() or int(page) < 1:
        raise _param_error("page must be an integer >= 1")
    if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
        raise _param_error(f"size must be an integer from 1 to {MAX_PAGE_SIZE}")
    params["page"], params["size"] = int(page), int(size)
    return params
