"""Who may call the sandbox, and where: its accounts, their tokens, and the data centre each one lives in.

The sandbox holds two accounts, as Longbridge runs two data centres:

- the **AP** account (``DEMO``): ``GET /v1/asset/cashflow``;
- the **US** account (``DEMO_US``, every credential starting with ``us_``): ``POST /v1/us/assets/transaction-history``.

An account is US when a credential starts with ``us_`` (in app-key mode any of app key, app secret and access
token; in OAuth mode the access token), the official SDK's rule; everything else is AP. This module reads the rule
on its own, not through the client's code, so a client that gets it wrong is caught. A call to the other data
centre's endpoint, or one whose ``x-dc-region`` header (absent: ``ap``) names the other centre, is refused as the
live gateway refuses it (code 12, HTTP 500) with the official SDK's wording.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from airflow_provider_cashflow.defaults import CASHFLOW_PATH, US_CREDENTIAL_PREFIX, US_HISTORY_PATH
from airflow_provider_cashflow.sandbox.params import ApiError

__all__ = ["DEMO", "DEMO_US", "Account", "Credentials", "DemoCredentials", "region_of", "wrong_centre"]


@dataclass
class Credentials:
    """One account's credentials, as they stand (a refresh replaces the token)."""

    app_key: str
    app_secret: str
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class DemoCredentials:
    """The sandbox's published demo credentials: not secret, valid nowhere but the sandbox."""

    app_key: str
    app_secret: str
    access_token: str
    refresh_token: str

    def fresh(self) -> Credentials:
        return Credentials(self.app_key, self.app_secret, self.access_token, self.refresh_token)


DEMO = DemoCredentials("sandbox-app-key", "sandbox-app-secret", "sandbox-access-token", "sandbox-refresh-token")
DEMO_US = DemoCredentials(
    "us_sandbox-app-key", "us_sandbox-app-secret", "us_sandbox-access-token", "us_sandbox-refresh-token"
)

_ONLY_IN = {CASHFLOW_PATH: "ap", US_HISTORY_PATH: "us"}
_INSTEAD = {
    "ap": f"use the US endpoint POST {US_HISTORY_PATH} (TradeContext US methods)",
    "us": f"use the AP endpoint GET {CASHFLOW_PATH} (TradeContext.cash_flow)",
}


def region_of(app_key: str, app_secret: str, access_token: str, *, bearer: bool = False) -> str:
    """``us`` or ``ap``, as the official SDK reads credentials (OAuth: the token alone)."""
    named = (access_token,) if bearer else (app_key, app_secret, access_token)
    return "us" if any(v.removeprefix("Bearer ").startswith(US_CREDENTIAL_PREFIX) for v in named) else "ap"


def wrong_centre(path: str, region: str, header: str | None) -> ApiError | None:
    """The gateway's refusal of a call to ``path`` by an account of ``region`` with this ``x-dc-region``, if any."""
    routed = (header or "ap").strip().lower()
    if routed != region:
        return ApiError(
            500,
            12,
            f"x-dc-region {routed!r} routed this call to the {routed.upper()} data center, which does not serve your "
            f"{region.upper()}-region account; send x-dc-region: {region}",
        )
    only = _ONLY_IN.get(path)
    if only and only != region:
        return ApiError(
            500,
            12,
            f"this API ({path}) is only available in the {only.upper()} data center and is not supported for your "
            f"{region.upper()}-region account; {_INSTEAD[only]}",
        )
    return None


@dataclass
class Account:
    """An account's credentials, region and tokens: a new token ends the old ones at once, as the live service."""

    credentials: Credentials
    valid_tokens: set[str] = field(default_factory=set)
    expired_tokens: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.valid_tokens = {self.credentials.access_token}

    @property
    def region(self) -> str:
        c = self.credentials
        return region_of(c.app_key, c.app_secret, c.access_token)

    def expire(self) -> None:
        with self._lock:
            self.expired_tokens |= self.valid_tokens
            self.valid_tokens = set()

    def issue_token(self, token: str | None = None) -> str:
        """A new valid access token (``us_``-prefixed for a US account, so OAuth mode reads its region too)."""
        prefix = US_CREDENTIAL_PREFIX if self.region == "us" else ""
        new = token or f"{prefix}sandbox-token-{uuid.uuid4().hex}"
        with self._lock:
            self.expired_tokens |= self.valid_tokens
            self.valid_tokens = {new}
            self.credentials.access_token = new
        return new

    def rotate_refresh_token(self) -> str:
        prefix = US_CREDENTIAL_PREFIX if self.region == "us" else ""
        self.credentials.refresh_token = f"{prefix}sandbox-refresh-{uuid.uuid4().hex}"
        return self.credentials.refresh_token
