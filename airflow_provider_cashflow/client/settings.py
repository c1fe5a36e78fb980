"""Turns an Airflow ``longport`` connection into validated client settings, before any call is made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_cashflow.client.base_url import redact_url, require_secure_base_url, validate_ca_bundle
from airflow_provider_cashflow.defaults import (
    DC_REGIONS,
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
    US_CREDENTIAL_PREFIX,
)
from airflow_provider_cashflow.errors import DataCentreError, LongPortConfigError

__all__ = ["DC_REGION_CHOICES", "LongPortSettings", "credentials_region"]

DC_REGION_CHOICES = ("auto", *DC_REGIONS)
_BEARER = "Bearer "

REDIS_SCHEMES = ("redis", "rediss", "unix")  # what the Redis budget store connects to


def validate_storage_url(url: str, conn_id: str) -> str:
    """``url`` stripped, if it is a Redis URL (``""`` if blank); otherwise a config error naming the extra."""
    url = url.strip()
    if not url:
        return url
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES or not (parts.hostname or parts.path):
        raise LongPortConfigError(
            f"connection {conn_id!r}: extra 'rate_limit_storage' must be a Redis URL such as redis://host:6379/0 "
            f"(schemes: {', '.join(REDIS_SCHEMES)}), got {redact_url(url)!r}; leave it empty for the per-machine budget"
        )
    return url


def credentials_region(app_key: str, app_secret: str, access_token: str) -> tuple[str, str]:
    """The data centre the credentials belong to, as the official SDK reads them, and why.

    US when a credential starts with ``us_`` (after a leading ``Bearer ``): in app-key mode any of app key, app
    secret and access token, in OAuth mode (no app secret) the access token only, since a client id says nothing.
    """
    named = [("access token", access_token)]
    if app_secret:
        named = [("app key", app_key), ("app secret", app_secret), *named]
    for name, value in named:
        text = value[len(_BEARER) :] if value.startswith(_BEARER) else value
        if text.startswith(US_CREDENTIAL_PREFIX):
            return "us", f"its {name} starts with {US_CREDENTIAL_PREFIX!r}"
    return "ap", f"no credential starts with {US_CREDENTIAL_PREFIX!r}"


def _dc_region(extra: Mapping[str, Any], conn_id: str, credentials: tuple[str, str, str]) -> tuple[str, str]:
    chosen = _extra_value(extra, "dc_region")
    chosen = "auto" if chosen is None else str(chosen).strip().lower()
    if chosen not in DC_REGION_CHOICES:
        raise LongPortConfigError(
            f"connection {conn_id!r}: extra 'dc_region' must be one of {', '.join(DC_REGION_CHOICES)}, got "
            f"{_extra_value(extra, 'dc_region')!r}; auto reads the data centre from the credentials (a US "
            f"account's start with {US_CREDENTIAL_PREFIX!r})"
        )
    read, why = credentials_region(*credentials)
    if chosen == "auto":
        return read, why
    if chosen == "ap" and read == "us":
        # the US data centre serves a us_ credential alone: an AP call with it would be refused by the gateway
        raise DataCentreError(
            f"connection {conn_id!r}: extra dc_region='ap' ('Data centre' in the form) contradicts the credentials: "
            f"{why}, which only a US-region account has. Set dc_region to 'auto' or 'us', or use the AP account's "
            "credentials"
        )
    return chosen, f"the connection extra dc_region={chosen!r} says so"


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
    dc_region: str = "ap"  # the account's data centre, sent as x-dc-region on every call
    dc_region_reason: str = "no credential starts with 'us_'"  # why: for the messages that refuse a call

    def __repr__(self) -> str:
        return (
            f"LongPortSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, app_key={self.app_key!r}, "
            f"mode={self.mode!r}, dc_region={self.dc_region!r})"
        )

    def require_dc_region(self, region: str, call: str, instead: str) -> None:
        """Refuse, before it is sent, a call that only ``region``'s data centre serves, if the account is elsewhere.

        :param call: the call, e.g. ``GET /v1/asset/cashflow``.
        :param instead: what this account should use, said in the message.
        :raises DataCentreError: naming the account's region, why it was read so, and the setting to change.
        """
        if self.dc_region == region:
            return
        raise DataCentreError(
            f"connection {self.conn_id!r} is {_a(self.dc_region)}-region account ({self.dc_region_reason}), "
            f"and {call} is only available in the {region.upper()} data centre: {instead}. If the account is in fact "
            f"{_a(region)} one, set the connection extra dc_region={region!r} ('Data centre' in the form)"
        )

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
        app_secret = conn.password or ""
        dc_region, dc_reason = _dc_region(extra, conn_id, (app_key, app_secret, str(access_token).strip()))
        host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
        if dc_region == "us" and (host == "cn" or host.endswith(".cn")):
            raise DataCentreError(
                f"connection {conn_id!r} is a US-region account ({dc_reason}), and a US account is never served "
                f"through the mainland-China host {host!r}: its token works only through the global host. Leave "
                f"host empty with region 'global', or set host to {GLOBAL_BASE_URL}"
            )
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
            app_secret=app_secret,
            access_token=str(access_token).strip(),
            refresh_token=str(refresh_token) if refresh_token else None,
            timeout=float(timeout),
            max_attempts=int(max_attempts),
            rate_limit_calls=int(rate_calls),
            rate_limit_period=float(rate_period),
            rate_limit_min_interval=RATE_LIMIT_MIN_INTERVAL if min_interval is None else float(min_interval),
            ca_bundle=ca_bundle,
            rate_limit_storage=storage,
            dc_region=dc_region,
            dc_region_reason=dc_reason,
        )

    @staticmethod
    def _base_url(conn_id: str, host: str, port: int | None, region_default: str) -> str:
        if not host:
            return region_default
        given = f"{host}:{port}" if port else host  # a URI connection's port is a field of its own: show it too
        if "://" not in host:
            raise LongPortConfigError(
                f"connection {conn_id!r}: host {given!r} has no scheme; write the base URL in full, e.g. "
                f"{_distinct(f'https://{given}', GLOBAL_BASE_URL)} (or leave host empty to use the region's default)"
            )
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LongPortConfigError(
                f"connection {conn_id!r}: host {given!r} is not an http(s) base URL; use e.g. {GLOBAL_BASE_URL}"
            )
        url = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        if port and parts.port is None:
            url = f"{parts.scheme}://{parts.netloc}:{port}{parts.path}".rstrip("/")
        require_secure_base_url(url, where=f"connection {conn_id!r}: host")
        return url


def _a(region: str) -> str:
    """``an AP``, ``a US``: the article as the letters are read."""
    name = region.upper()
    return f"an {name}" if name[:1] in "AEFHILMNORSX" else f"a {name}"


def _distinct(*examples: str) -> str:
    return " or ".join(dict.fromkeys(examples))
