"""Turns an Airflow ``longport`` connection into validated client settings, before any call is made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_cashflow.client.base_url import require_secure_base_url, validate_ca_bundle
from airflow_provider_cashflow.client.ratelimit_redis import validate_storage_url
from airflow_provider_cashflow.defaults import (
    DEFAULT_CONN_ID,
    DEFAULT_REGION,
    EXTRA_PREFIX,
    GLOBAL_BASE_URL,
    MAX_ATTEMPTS,
    RATE_LIMIT_CALLS,
    RATE_LIMIT_MIN_INTERVAL,
    RATE_LIMIT_PERIOD,
    REGION_BASE_URLS,
    TIMEOUT,
)
from airflow_provider_cashflow.errors import LongPortConfigError

__all__ = ["LongPortSettings"]


def _extra_value(extra: Mapping[str, Any], name: str) -> Any:
    # Airflow >= 3.2 stores form fields as bare keys, older UIs as extra__<type>__<name>.
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"{EXTRA_PREFIX}{name}")
    return None if value == "" else value


def _number(value: Any, name: str, conn_id: str, *, integer: bool, zero: bool = False) -> float | int | None:
    if value is None:
        return None
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number"
        raise LongPortConfigError(f"connection {conn_id!r}: extra {name!r} must be {kind}, got {value!r}") from None
    if number < 0 or (number == 0 and not zero):
        kind = "zero or more" if zero else "positive"
        raise LongPortConfigError(f"connection {conn_id!r}: extra {name!r} must be {kind}, got {value!r}")
    return number


@dataclass(frozen=True)
class LongPortSettings:
    """Everything a client needs, validated. ``app_secret`` empty means OAuth bearer mode."""

    conn_id: str
    base_url: str
    app_key: str
    app_secret: str
    access_token: str
    refresh_token: str | None
    timeout: float
    max_attempts: int
    rate_limit_calls: int = RATE_LIMIT_CALLS
    rate_limit_period: float = RATE_LIMIT_PERIOD
    rate_limit_min_interval: float = RATE_LIMIT_MIN_INTERVAL
    ca_bundle: str | None = None
    rate_limit_storage: str | None = None  # a Redis URL: the budget shared by every machine

    def __repr__(self) -> str:
        return f"LongPortSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, app_key={self.app_key!r}, mode={self.mode!r})"

    @property
    def mode(self) -> str:
        return "signature" if self.app_secret else "oauth"

    @classmethod
    def from_connection(cls, conn: Any) -> LongPortSettings:
        """Read host, login, password and extras; every problem is named with the field to fix."""
        conn_id = conn.conn_id or DEFAULT_CONN_ID
        extra = conn.extra_dejson or {}
        if not isinstance(extra, Mapping):
            raise LongPortConfigError(f"connection {conn_id!r}: extra must be a JSON object")
        region = _extra_value(extra, "region") or DEFAULT_REGION
        if region not in REGION_BASE_URLS:
            raise LongPortConfigError(
                f"connection {conn_id!r}: region {region!r} is not known; use one of {sorted(REGION_BASE_URLS)}"
            )
        base_url = cls._base_url(conn_id, (conn.host or "").strip(), conn.port, REGION_BASE_URLS[region])
        app_key = (conn.login or "").strip()
        if not app_key:
            raise LongPortConfigError(
                f"connection {conn_id!r} has no login: set it to your LongPort app key (OAuth: the client id)"
            )
        access_token = _extra_value(extra, "access_token")
        if not access_token or not str(access_token).strip():
            raise LongPortConfigError(
                f"connection {conn_id!r} has no access_token extra: copy the access token from the LongPort "
                "developer console into the connection's 'Access token' field (extra key access_token)"
            )
        refresh_token = _extra_value(extra, "refresh_token")
        timeout = _number(_extra_value(extra, "timeout"), "timeout", conn_id, integer=False) or TIMEOUT
        max_attempts = (
            _number(_extra_value(extra, "max_attempts"), "max_attempts", conn_id, integer=True) or MAX_ATTEMPTS
        )
        rate_calls = (
            _number(_extra_value(extra, "rate_limit_calls"), "rate_limit_calls", conn_id, integer=True)
            or RATE_LIMIT_CALLS
        )
        rate_period = (
            _number(_extra_value(extra, "rate_limit_period"), "rate_limit_period", conn_id, integer=False)
            or RATE_LIMIT_PERIOD
        )
        min_interval = _number(
            _extra_value(extra, "rate_limit_min_interval"), "rate_limit_min_interval", conn_id, integer=False, zero=True
        )
        storage = _extra_value(extra, "rate_limit_storage")
        if storage is not None:
            storage = validate_storage_url(str(storage), conn_id) or None
        ca_bundle = validate_ca_bundle(
            _extra_value(extra, "ca_bundle"), where=f"connection {conn_id!r}: extra 'ca_bundle'"
        )
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            app_key=app_key,
            app_secret=conn.password or "",
            access_token=str(access_token).strip(),
            refresh_token=str(refresh_token) if refresh_token else None,
            timeout=float(timeout),
            max_attempts=int(max_attempts),
            rate_limit_calls=int(rate_calls),
            rate_limit_period=float(rate_period),
            rate_limit_min_interval=RATE_LIMIT_MIN_INTERVAL if min_interval is None else float(min_interval),
            ca_bundle=ca_bundle,
            rate_limit_storage=storage,
        )

    @staticmethod
    def _base_url(conn_id: str, host: str, port: int | None, region_default: str) -> str:
        if not host:
            return region_default
        if "://" not in host:
            raise LongPortConfigError(
                f"connection {conn_id!r}: host {host!r} has no scheme; write the base URL in full, e.g. "
                f"{GLOBAL_BASE_URL} (or leave host empty to use the region's default)"
            )
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LongPortConfigError(
                f"connection {conn_id!r}: host {host!r} is not an http(s) base URL; use e.g. {GLOBAL_BASE_URL}"
            )
        url = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        if port and parts.port is None:
            url = f"{parts.scheme}://{parts.netloc}:{port}{parts.path}".rstrip("/")
        require_secure_base_url(url, where=f"connection {conn_id!r}: host")
        return url
