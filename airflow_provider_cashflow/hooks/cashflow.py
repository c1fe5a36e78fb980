"""``CashflowHook``: a ``longport`` connection made into one client, for an AP account's cash flows or a US
account's transaction history."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_cashflow.client.account_budget import shared_limiter
from airflow_provider_cashflow.client.auth import BearerAuth, OAuthRefresher, SignatureAuth
from airflow_provider_cashflow.client.longport_client import LongPortClient
from airflow_provider_cashflow.client.retry import RetryBounds
from airflow_provider_cashflow.client.settings import LongPortSettings
from airflow_provider_cashflow.compat import HOOK_RESTORES_TEST_SECRETS, AirflowNotFoundException, BaseHook
from airflow_provider_cashflow.defaults import (
    CASHFLOW_PATH,
    CONN_TYPE,
    DEFAULT_CONN_ID,
    OAUTH_TOKEN_PATH,
    US_HISTORY_PATH,
)
from airflow_provider_cashflow.domain.models import BusinessType, CashFlow
from airflow_provider_cashflow.domain.query import CashFlowQuery
from airflow_provider_cashflow.domain.us_query import UsHistoryQuery
from airflow_provider_cashflow.domain.us_transactions import UsTransaction
from airflow_provider_cashflow.domain.windows import Window
from airflow_provider_cashflow.errors import LongPortConfigError, LongPortError
from airflow_provider_cashflow.get_provider_info import CONN_FIELDS, HOOK_NAME, UI_FIELD_BEHAVIOUR
from airflow_provider_cashflow.hooks.no_retry import (
    fail_fast,
    fail_fast_records,
    fails_fast,
    missing_connection,
    no_retry,
)
from airflow_provider_cashflow.hooks.redaction import cannot_test_message, redacted_fields
from airflow_provider_cashflow.hooks.unreadable import unreadable_connection

__all__ = ["CashflowHook"]


def _mask(value: str | None) -> None:
    if not value:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - only outside a full Airflow install
        return
    mask_secret(value)


class CashflowHook(BaseHook):
    """Signed (or OAuth bearer) calls to ``GET /v1/asset/cashflow``, paged to the end, paced and retried.

    :param longport_conn_id: an Airflow connection of type ``longport``.
    :param retry_bounds: how often and how long the client retries one API call (default: the connection's
        ``max_attempts``, 300 s); Airflow's task ``retry_policy`` is another thing, set on the operator.
    """

    conn_name_attr = "longport_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(
        self,
        longport_conn_id: str = default_conn_name,
        *,
        retry_bounds: RetryBounds | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.longport_conn_id = longport_conn_id
        self._retry_bounds = retry_bounds

    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        """As ``BaseHook.get_connection``; a missing connection fails the task at once, naming what exists, and one
        that a secrets backend or its ``AIRFLOW_CONN_...`` variable could not give says what failed."""
        try:
            return super().get_connection(conn_id)
        except AirflowNotFoundException:
            unreadable = unreadable_connection(conn_id)
            if unreadable is not None:
                raise (unreadable if unreadable.retryable else no_retry(unreadable)) from None
            raise no_retry(missing_connection(conn_id)) from None

    @cached_property
    @fails_fast
    def settings(self) -> LongPortSettings:
        return self._settings_from(self.get_connection(self.longport_conn_id))

    @staticmethod
    def _settings_from(conn: Any) -> LongPortSettings:
        settings = LongPortSettings.from_connection(conn)
        storage_password = urlsplit(settings.rate_limit_storage).password if settings.rate_limit_storage else None
        for secret in (settings.app_secret, settings.access_token, settings.refresh_token, storage_password):
            _mask(secret)
        return settings

    def get_conn(self) -> LongPortClient:
        """The hook's one client (and so one HTTP session), built from the connection on first use."""
        return self.client

    @cached_property
    @fails_fast
    def client(self) -> LongPortClient:
        settings = self.settings
        if settings.app_secret:
            auth: Any = SignatureAuth(
                settings.app_key, settings.app_secret, settings.access_token, dc_region=settings.dc_region
            )
            refresher = None
        else:
            auth = BearerAuth(settings.app_key, settings.access_token, dc_region=settings.dc_region)
            refresher = (
                OAuthRefresher(
                    f"{settings.base_url}{OAUTH_TOKEN_PATH}",
                    settings.app_key,
                    settings.refresh_token,
                    dc_region=settings.dc_region,
                )
                if settings.refresh_token
                else None
            )
        return LongPortClient(
            settings.base_url,
            auth,
            limiter=shared_limiter(
                settings.app_key,
                settings.rate_limit_calls,
                settings.rate_limit_period,
                settings.rate_limit_min_interval,
                storage=settings.rate_limit_storage,
            ),
            retry_bounds=self._retry_bounds or RetryBounds(max_attempts=settings.max_attempts),
            timeout=settings.timeout,
            refresher=refresher,
            on_new_secret=_mask,
            ca_bundle=settings.ca_bundle,
        )

    def iter_cash_flows(
        self,
        start: datetime,
        end: datetime,
        *,
        business_type: BusinessType | int | None = None,
        symbol: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[CashFlow]:
        """Every record with ``start <= business_time < end``, newest first.

        Exact while the account's history changes during the paging: a record that existed throughout comes
        back exactly once, one posted or cancelled meanwhile at most once (see docs/paging.md).

        :param start: aware datetime, inclusive.
        :param end: aware datetime, exclusive.
        :param business_type: 1 cash, 2 stock, 3 fund, or ``None`` for all.
        :param symbol: one security code, e.g. ``AAPL.US``.
        :param page_size: records per call, 1 to 10000 (default 10000: fewest calls under the rate limit).
        """
        with fail_fast():
            query = CashFlowQuery.of(
                Window.of(start, end), business_type=business_type, symbol=symbol, page_size=page_size
            )
        return self.iter_query(query)

    @fails_fast
    def iter_query(self, query: CashFlowQuery) -> Generator[CashFlow, None, None]:
        """Every record of an already validated query, as :meth:`iter_cash_flows` gives them."""
        self._require_ap()
        return fail_fast_records(self.client.iter_cash_flows(query))

    def iter_us_transactions(
        self,
        start: datetime,
        end: datetime,
        *,
        types: str | Sequence[str] | None = None,
        currency: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[UsTransaction]:
        """A US account's entries of ``[start, end)`` as the server returns them (in no promised order).

        :param start: aware datetime, inclusive.
        :param end: aware datetime, exclusive.
        :param types: ``TT_...`` kinds (e.g. ``["TT_DEPOSIT_AND_WITHDRAWAL"]``), or ``None`` for all.
        :param currency: one currency code, e.g. ``USD``, or ``None`` for all.
        :param page_size: the largest page to ask (default 10000); the endpoint's maximum is undocumented, and a
            smaller one it refuses or serves silently is learnt and used.
        """
        with fail_fast():
            query = UsHistoryQuery.of(Window.of(start, end), types=types, currency=currency, page_size=page_size)
        return self.iter_us_query(query)

    @fails_fast
    def iter_us_query(self, query: UsHistoryQuery) -> Iterator[UsTransaction]:
        """Every entry of an already validated US query, as :meth:`iter_us_transactions` gives them."""
        self._require_us()
        return fail_fast_records(self.client.us_history.iter_window(query))

    @fails_fast
    def iter_us_days(self, query: UsHistoryQuery, tz: tzinfo) -> Iterator[tuple[Window, Iterator[UsTransaction]]]:
        """``(day, entries)`` per local day of ``tz``, newest first, each day read by its own query."""
        self._require_us()
        return ((day, fail_fast_records(entries)) for day, entries in self.client.us_history.iter_days(query, tz))

    def _require_us(self) -> None:
        self.settings.require_dc_region(
            "us",
            f"POST {US_HISTORY_PATH}",
            f"an AP account's cash flows come from GET {CASHFLOW_PATH} (iter_cash_flows; CashflowOperator picks it "
            "by itself for an AP connection)",
        )

    def _require_ap(self) -> None:
        self.settings.require_dc_region(
            "ap",
            f"GET {CASHFLOW_PATH}",
            f"a US account's cash movements come from POST {US_HISTORY_PATH}; CashflowOperator reads it by itself "
            "for a US connection, and the hook's iter_us_transactions reads it directly",
        )

    @fails_fast
    def get_cash_flow_page(
        self,
        start: datetime,
        end: datetime,
        *,
        page: int = 1,
        page_size: int = 50,
        business_type: BusinessType | int | None = None,
        symbol: str | None = None,
    ) -> list[dict[str, Any]]:
        """One raw page as the API sends it (no window cut, no parsing), for users who page themselves."""
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise LongPortConfigError(f"page must be an integer >= 1, got {page!r}")
        query = CashFlowQuery.of(Window.of(start, end), business_type=business_type, symbol=symbol, page_size=page_size)
        self._require_ap()
        return self.client.get_cash_flow_page(query, page)

    def test_connection(self) -> tuple[bool, str]:
        """One cheap signed call (the last minute, one record); the API's own error text on failure.

        Where the UI's Test button hands the hook saved secrets as ``***``, nothing is sent and the message says how
        to test the saved connection; on Airflow 3.0 the saved connection's own secrets are used where they can be.
        """
        try:
            conn = self.get_connection(self.longport_conn_id)
            masked = redacted_fields(conn)
            if masked:
                if HOOK_RESTORES_TEST_SECRETS:
                    from airflow_provider_cashflow.hooks.airflow30_test_button import restore_secrets

                    conn, problem = restore_secrets(conn, masked, self.get_connection)
                else:
                    problem = cannot_test_message(masked)
                if problem:
                    return False, problem
            self.__dict__["settings"] = self._settings_from(conn)
            client = self.client
        except Exception as error:  # a bad connection: the UI shows what to fix
            return False, str(error)
        policy, client.retry_bounds = client.retry_bounds, RetryBounds(max_attempts=2, max_elapsed=20)  # answer fast
        try:
            now = datetime.now(UTC)
            if self.settings.dc_region == "us":
                query = UsHistoryQuery(Window.of(now - timedelta(minutes=1), now), page_size=1)
                self.client.us_history.page(query, *query.window.seconds_starting_in(), number=1, size=1)
            else:
                self.get_cash_flow_page(now - timedelta(minutes=1), now, page=1, page_size=1)
        except LongPortError as error:
            return False, str(error)
        except Exception as error:  # the UI must show something useful whatever went wrong
            return False, f"{type(error).__name__}: {error}"
        finally:
            client.retry_bounds = policy
            self.close()  # the API server makes a hook per press of Test: its session must not outlive it
        return (
            True,
            f"Connection successfully tested: {self.settings.base_url} accepted a signed call ({self.settings.mode} mode, "
            f"{self.settings.dc_region.upper()} data centre: {self.settings.dc_region_reason})",
        )

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()

    # Connection form for Airflow < 3.2 (newer versions read conn-fields from the provider info) ----------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """WTForms fields for Airflow 3.0 and 3.1, whose UI builds the form from them (wtforms is all they need:
        those Airflows' UI swaps in stand-ins for these classes and reads label, description, default, choices)."""
        from wtforms import IntegerField, PasswordField, StringField
        from wtforms.validators import Optional, any_of

        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            schema = spec["schema"]
            validators = [Optional()]
            if "enum" in schema:
                validators.append(any_of([value for value in schema["enum"] if value is not None]))
            if schema.get("format") == "password":
                field: Any = PasswordField
            elif "integer" in schema["type"]:
                field = IntegerField
            else:  # wtforms' number fields are not among the classes Airflow accepts: numbers travel as text
                field = StringField
            widgets[name] = field(
                spec["label"], validators=validators, description=spec["description"], default=schema.get("default")
            )
        return widgets
