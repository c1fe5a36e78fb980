"""A ``requests`` transport adapter whose connections say when a request has left, before its answer is awaited.

``requests`` sends and waits in one call. The pipelined pager needs the moment in between: it holds a decoded
page back until the next page's request is on the wire, so that the decoding thread does not take the GIL from
the sending one (see :func:`~airflow_provider_cashflow.client.pagination.iter_pages_pipelined`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["SignallingAdapter", "signal_when_sent"]

_pending = threading.local()


class _Signalling:
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        # urllib3 calls this right after the request's last byte is written
        callback = getattr(_pending, "callback", None)
        if callback is not None:
            _pending.callback = None
            callback()
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Signalling, HTTPConnection):
    pass


class _HTTPSConnection(_Signalling, HTTPSConnection):
    pass


class _HTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class SignallingAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose direct connections call the :func:`signal_when_sent` callback.

    Through a proxy the callback is not called; the caller must then not depend on it (the pager falls back to
    the end of the call).
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}


@contextmanager
def signal_when_sent(callback: Callable[[], None] | None) -> Iterator[None]:
    """Within this block, this thread's next request through a :class:`SignallingAdapter` calls ``callback``
    once it has been sent."""
    _pending.callback = callback
    try:
        yield
    finally:
        _pending.callback = None
