"""A LongPort-compatible sandbox on loopback: the demo's default backend and the real server behind the tests.

In-process use::

    with Sandbox() as sandbox:
        print(sandbox.base_url, sandbox.connection_json())      # the AP account (DEMO)
        print(sandbox.connection_json(us=True))                # the US account (DEMO_US, every credential us_...)

It serves both data centres: ``GET /v1/asset/cashflow`` to the AP account and
``POST /v1/us/assets/transaction-history`` to the US account (see :mod:`airflow_provider_cashflow.sandbox.accounts`
and :class:`~airflow_provider_cashflow.sandbox.state.UsOptions`).
"""

from __future__ import annotations

import json
import shlex
import threading
from datetime import UTC, datetime
from typing import Any

from airflow_provider_cashflow.defaults import DEFAULT_CONN_ID
from airflow_provider_cashflow.sandbox.accounts import DEMO, DEMO_US, Credentials
from airflow_provider_cashflow.sandbox.control import apply_control
from airflow_provider_cashflow.sandbox.data import Dataset, DatasetSpec, RevisionSpec
from airflow_provider_cashflow.sandbox.drift import DriftSpec, DriftTruth
from airflow_provider_cashflow.sandbox.faults import FAULT_KINDS, FaultPlan
from airflow_provider_cashflow.sandbox.server import SandboxServer
from airflow_provider_cashflow.sandbox.state import SandboxState, UsOptions
from airflow_provider_cashflow.sandbox.us_data import UsDataset

__all__ = [
    "DEMO",
    "DEMO_US",
    "FAULT_KINDS",
    "Dataset",
    "DatasetSpec",
    "DriftSpec",
    "DriftTruth",
    "FaultPlan",
    "RevisionSpec",
    "Sandbox",
    "UsDataset",
    "UsOptions",
]


class Sandbox:
    """Runs a :class:`SandboxServer` in a background thread; stops it on exit, also when the body failed.

    :param dataset: the data to serve (default: 90 realistic days up to now).
    :param rate_limit: enforce 30 calls / 30 s and 0.02 s between calls per app key.
    :param faults: what to inject.
    :param expire_token_after: the access token expires after this many authenticated calls.
    :param latency: seconds added to every cash-flow answer, to play a wide-area network.
    :param as_of: the moment (Unix seconds) whose view of a revising history it serves (default: now).
    :param as_of_after_request: serve each paging run the view this many seconds after its ``end_time`` (see
        :meth:`SandboxState.view_for`).
    :param drift: postings and cancellations between calls (:mod:`airflow_provider_cashflow.sandbox.drift`).
    :param end_inclusive: serve a call's ``end_time`` second (True, as before) or stop just before it (False);
        the US endpoint's ``end`` alike.
    :param us_dataset: the US account's entries (default: generated from ``dataset``'s spec, filtered on
        ``create_at``; ``UsDataset(spec, "done_at")`` filters on ``done_at``).
    :param us: the US endpoint's undocumented behaviour: order, largest size, longest span.
    :param us_credentials: the US account (default: ``DEMO_US``).
    """

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        app_key: str = DEMO.app_key,
        app_secret: str = DEMO.app_secret,
        access_token: str = DEMO.access_token,
        refresh_token: str = DEMO.refresh_token,
        rate_limit: bool = True,
        faults: FaultPlan | None = None,
        expire_token_after: int | None = None,
        latency: float = 0.0,
        as_of: int | None = None,
        as_of_after_request: int | None = None,
        drift: DriftSpec | None = None,
        end_inclusive: bool = True,
        us_dataset: UsDataset | None = None,
        us: UsOptions | None = None,
        us_credentials: Credentials | None = None,
    ):
        self.state = SandboxState(
            dataset=dataset or Dataset(DatasetSpec()),
            credentials=Credentials(app_key, app_secret, access_token, refresh_token),
            rate_limit=rate_limit,
            faults=faults or FaultPlan(),
            expire_token_after=expire_token_after,
            latency=latency,
            as_of=as_of,
            as_of_after_request=as_of_after_request,
            drift=drift or DriftSpec(),
            end_inclusive=end_inclusive,
            us_dataset=us_dataset,
            us=us or UsOptions(),
            us_credentials=us_credentials,
        )
        self._server = SandboxServer(self.state, host, port)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def dataset(self) -> Dataset:
        return self.state.dataset

    @property
    def us_dataset(self) -> UsDataset:
        assert self.state.us_dataset is not None
        return self.state.us_dataset

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self._server.serve_forever, name="longport-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=10)

    def serve_forever(self) -> None:
        """Serve in the calling thread (the command line's way); :meth:`close` afterwards."""
        self._server.serve_forever()

    def close(self) -> None:
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def control(self, **change: Any) -> None:
        """Same as POST /__sandbox/control: ``faults={...}``, ``expire_token=True``, ``access_token=...``,
        ``as_of=...``, ``as_of_after_request=...``, ``drift={...}`` (DriftSpec fields, ``None`` stops it),
        ``drift_reset=True``, ``end_time="inclusive"|"exclusive"``."""
        apply_control(self.state, change)

    def mark(self) -> int:
        """The current tick (pages served so far), as ``GET /__sandbox/mark``: pass it to :meth:`drift_truth`."""
        return self.state.tick

    def drift_truth(
        self,
        start_time: int,
        end_time: int,
        *,
        after: int = 0,
        app_key: str | None = None,
        as_of: int | None = None,
        us: bool = False,
    ) -> DriftTruth:
        """Which records of ``[start_time, end_time)`` existed throughout the pages served after mark ``after``
        (of ``app_key`` only, if given), which came and which went; as ``GET /__sandbox/drift``. ``us=True``: the
        US endpoint's entries, windowed on its filtered time field."""
        history = self.state.us_history if us else self.state.history
        return history.truth(start_time, end_time, after=after, app_key=app_key, as_of=as_of)

    def us_records(self, start_time: int, end_time: int, as_of: int | None = None) -> list[dict[str, Any]]:
        """Ground truth: the US entries of ``[start_time, end_time)`` as they stand now, newest first by the filtered
        time field (as ``GET /__sandbox/records?endpoint=us``)."""
        return self.state.us_history.now(start_time, end_time, as_of)

    def connection(self, *, oauth: bool = False, us: bool = False, **extra: Any) -> dict[str, Any]:
        """An Airflow connection (JSON form) for this sandbox's AP account, or its US one, in signature or OAuth
        mode."""
        creds = self.state.accounts[self.state.us_app_key].credentials if us else self.state.credentials
        fields: dict[str, Any] = {"access_token": creds.access_token, **extra}
        if oauth:
            fields.setdefault("refresh_token", creds.refresh_token)
        return {
            "conn_type": "longport",
            "host": self.base_url,
            "login": creds.app_key,
            "password": "" if oauth else creds.app_secret,
            "extra": fields,
        }

    def connection_json(self, **kwargs: Any) -> str:
        return json.dumps(self.connection(**kwargs))

    def connection_line(self, conn_id: str = DEFAULT_CONN_ID, *, us: bool = False) -> str:
        """``export AIRFLOW_CONN_<ID>='<connection JSON>'``: a shell line that makes ``conn_id`` this sandbox."""
        return f"export AIRFLOW_CONN_{conn_id.upper()}={shlex.quote(self.connection_json(us=us))}"

    def banner(self) -> str:
        """What ``python -m airflow_provider_cashflow.sandbox`` prints on start, after its base URL: the connection
        lines to copy, the demo credentials, the data range; ends with an empty line."""
        ap, us, data, us_data = self.state.credentials, self.connection(us=True), self.dataset, self.us_dataset

        def moment(seconds: int) -> str:
            return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        return "\n".join(
            [
                "# the sandbox as your Airflow connection (paste into a shell; without 'export ' into a .env file):",
                self.connection_line(),
                "# its US-region account, for POST /v1/us/assets/transaction-history:",
                self.connection_line("longport_us", us=True),
                f"# demo credentials (published, valid nowhere but here): AP app key {ap.app_key!r}, app secret "
                f"{ap.app_secret!r}, access token {ap.access_token!r}; US app key {us['login']!r}, app secret "
                f"{us['password']!r}, access token {us['extra']['access_token']!r}",
                f"# data: [{moment(data.start)}, {moment(data.end)}) half-open, {len(data)} AP records and "
                f"{len(us_data)} US entries (by {us_data.time_field}); ground truth: GET {self.base_url}/__sandbox/records"
                "?start_time=..&end_time=.. (Unix seconds or ISO 8601 with an offset)",
                self._drift_line(),
                "",
            ]
        )

    def _drift_line(self) -> str:
        drift = self.state.drift
        if not drift.active:
            return "# drift: off (the history holds still between calls; --drift-postings N turns it on)"
        pages = "every page" if drift.every == 1 else f"every {drift.every} pages"
        until = "" if drift.max_pages is None else f", for {drift.max_pages} pages at most"
        return (
            f"# drift: ON, {drift.postings} postings and {drift.cancellations} cancellations after {pages}{until} "
            f"(seed {drift.seed}): the history changes between the calls of a paging run; what a run should have "
            f"read: GET {self.base_url}/__sandbox/drift"
        )
