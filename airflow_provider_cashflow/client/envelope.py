"""A LongPort answer as it came off the wire, and its JSON envelope ``{"code", "message", "data"}`` opened."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from airflow_provider_cashflow.errors import LongPortAPIError, LongPortTransportError

__all__ = ["Page", "RawAnswer", "open_envelope", "page_rows", "parse_retry_after"]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; ``None`` if absent or not a number."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP-date; LongPort sends seconds, so fall back to backoff
    return max(seconds, 0.0)


@dataclass(frozen=True)
class RawAnswer:
    """One HTTP answer whose body has been read but not looked at."""

    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    method: str = "GET"  # the US endpoint's calls are POSTs: error messages name the call as it was made

    @property
    def trace_id(self) -> str | None:
        return self.headers.get("x-trace-id")


class Page(list[Any]):
    """A page's records, with the ``x-trace-id`` of the answer that carried them (for error messages)."""

    trace_id: str | None = None

    @classmethod
    def of(cls, rows: Iterable[Any], trace_id: str | None) -> Page:
        page = cls(rows)
        page.trace_id = trace_id
        return page


def open_envelope(answer: RawAnswer) -> tuple[Any, str | None]:
    """The envelope's ``data`` and the answer's ``x-trace-id``, or a classified error.

    :raises LongPortAPIError: the envelope's ``code`` is not 0 (with the ``Retry-After`` the server sent).
    :raises LongPortTransportError: the body is not JSON, or not the API's envelope.
    """
    trace_id = answer.trace_id
    try:
        payload = json.loads(answer.body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        kind = answer.headers.get("Content-Type", "no content type")
        raise LongPortTransportError(
            f"{answer.method} {answer.path} answered HTTP {answer.status} with a body that is not JSON ({kind}, "
            f"{len(answer.body)} bytes)",
            trace_id=trace_id,
            http_status=answer.status,
        ) from None
    code = payload.get("code") if isinstance(payload, Mapping) else None
    if not isinstance(code, int) or isinstance(code, bool):
        raise LongPortTransportError(
            f"{answer.method} {answer.path} answered HTTP {answer.status} without the API's envelope",
            trace_id=trace_id,
            http_status=answer.status,
        )
    if code != 0:
        raise LongPortAPIError(
            code,
            str(payload.get("message", "")),
            trace_id=trace_id,
            http_status=answer.status,
            retry_after=parse_retry_after(answer.headers.get("Retry-After")),
        )
    return payload.get("data"), trace_id


def page_rows(data: Any, path: str, trace_id: str | None) -> list[Any]:
    """The envelope data's ``list``: a missing one is an empty page, anything but a list an error."""
    rows = data.get("list") if isinstance(data, Mapping) else None
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise LongPortTransportError(
            f"GET {path} answered with data.list of type {type(rows).__name__}", trace_id=trace_id
        )
    return rows
