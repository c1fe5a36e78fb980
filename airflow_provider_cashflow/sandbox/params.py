"""The data endpoints' parameters (the AP query string, the US JSON body), checked as strictly as the live service."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_cashflow.defaults import MAX_PAGE_SIZE, US_TRANSACTION_TYPES

__all__ = ["ApiError", "cash_flow_params", "us_history_params"]


class ApiError(Exception):
    """An error envelope the sandbox answers with: HTTP status, API code, message and extra headers."""

    def __init__(self, http_status: int, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.http_status, self.code, self.message, self.headers = http_status, code, message, headers or {}


def _param_error(message: str) -> ApiError:
    return ApiError(400, 400001, f"invalid parameter: {message}")


def _refusal(code: int, message: str) -> ApiError:
    if code == 602001:
        return ApiError(400, 602001, f"value does not match: {message}")
    return _param_error(message)


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


def us_history_params(
    body: bytes, max_size: int, max_span: int | None, *, clamp: bool = False, code: int = 400001
) -> dict[str, Any]:
    """``start``, ``end``, ``page``, ``size``, ``types`` and ``currency`` of the US endpoint's JSON body, as the
    official SDK sends it (integers as JSON integers; ``page`` default 1, ``size`` default 20).

    :param max_size: the largest ``size`` served (undocumented live; a sandbox setting).
    :param max_span: the longest ``end - start`` accepted, in seconds, or ``None``.
    :param clamp: serve at most ``max_size`` entries, silently, for a larger ``size``, instead of refusing it.
    :param code: the code of a refused size or span (400001, or the validation code 602001).
    :raises ApiError: 400001 (or ``code``) naming the field.
    """
    try:
        raw = json.loads(body or b"null")
    except ValueError:
        raise _param_error("the body must be JSON") from None
    if not isinstance(raw, dict):
        raise _param_error("the body must be a JSON object with start and end")
    params: dict[str, Any] = {}
    for name, default in (("start", None), ("end", None), ("page", 1), ("size", 20)):
        value = raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _param_error(
                f"{name} is required and must be a JSON integer"
                if default is None
                else f"{name} must be a JSON integer"
            )
        params[name] = value
    if params["start"] > params["end"]:
        raise _param_error("start must not be after end")
    if max_span is not None and params["end"] - params["start"] > max_span:
        raise _refusal(code, f"the window from start to end must not span more than {max_span} seconds")
    if params["page"] < 1:
        raise _param_error("page must be an integer >= 1")
    if params["size"] < 1 or (params["size"] > max_size and not clamp):
        raise _refusal(code, f"size must be an integer from 1 to {max_size}")
    params["served"] = min(params["size"], max_size)
    types = raw.get("types") or []
    if not isinstance(types, list) or any(t not in US_TRANSACTION_TYPES for t in types):
        raise _param_error(f"types must be a list of {', '.join(US_TRANSACTION_TYPES)}")
    currency = raw.get("currency")
    if currency is not None and not (isinstance(currency, str) and currency):
        raise _param_error("currency must be a currency code such as USD")
    params["types"], params["currency"] = tuple(types), currency or None
    return params
