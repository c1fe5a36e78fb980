"""The sandbox's own surface, beside the API it plays: stats, ground truth, drift's truth, and run-time control.

Every answer is JSON; a call it cannot read is answered 400 with the reason, never a dropped connection.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_cashflow.sandbox.drift import ORDERS, DriftSpec
from airflow_provider_cashflow.sandbox.faults import FaultPlan
from airflow_provider_cashflow.sandbox.history import History
from airflow_provider_cashflow.sandbox.state import SandboxState

__all__ = ["BadRequest", "apply_control", "control_answer", "parse_as_of", "parse_end_time", "parse_refusal_code"]


class BadRequest(Exception):
    """A control call the sandbox cannot read: answered 400 with the reason, never a dropped connection."""


def _query_args(query: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


def _time_arg(args: dict[str, str], name: str) -> int:
    """Unix seconds from ``name``: an integer, or an ISO 8601 date-time with a UTC offset (``Z`` too)."""
    moment = _optional_time_arg(args, name)
    if moment is None:
        raise BadRequest(
            f"{name} is required: Unix seconds (1763596800) or ISO 8601 with an offset (2025-11-20T00:00:00+00:00)"
        )
    return moment


def _optional_time_arg(args: dict[str, str], name: str) -> int | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    # an unencoded "+00:00" arrives as " 00:00" (a "+" in a query string is a space)
    value = re.sub(r" (\d\d:?\d\d)$", r"+\1", value)
    try:
        return parse_as_of(value)
    except ValueError:
        raise BadRequest(
            f"{name}={value!r} is neither Unix seconds (1763596800) nor an ISO 8601 date-time with an offset "
            "(2025-11-20T00:00:00+00:00 or 2025-11-20T00:00:00Z)"
        ) from None


def control_answer(state: SandboxState, method: str, path: str, query: str, body: bytes) -> tuple[int, bytes]:
    """The HTTP status and JSON body for a call to ``/__sandbox/...``."""
    try:
        return _answer(state, method, path, query, body)
    except BadRequest as error:
        return 400, json.dumps({"error": str(error)}, ensure_ascii=False).encode("utf-8")


def _history(state: SandboxState, args: dict[str, str]) -> History:
    endpoint = args.get("endpoint", "ap")
    if endpoint not in ("ap", "us"):
        raise BadRequest(f"endpoint must be 'ap' (GET /v1/asset/cashflow) or 'us' (the US history), not {endpoint!r}")
    return state.us_history if endpoint == "us" else state.history


def _answer(state: SandboxState, method: str, path: str, query: str, body: bytes) -> tuple[int, bytes]:
    """Test hooks: stats, ground truth, drift's truth, and changing faults, tokens or drift at run time.

    ``GET /__sandbox/records?start_time=..&end_time=..[&as_of=..]``: every record of the half-open window
    ``[start_time, end_time)`` as it stands now (drift included), newest first; times in Unix seconds or
    ISO 8601 with an offset, anything else is answered 400 with the reason. ``&endpoint=us``: the US account's
    entries, windowed and ordered by the time field the US endpoint filters on (``us_time_field``). ``GET /__sandbox/mark`` and
    ``GET /__sandbox/drift``: see :mod:`airflow_provider_cashflow.sandbox.drift`.
    """
    if path == "/__sandbox/stats":
        return 200, json.dumps(state.snapshot()).encode()
    elif path == "/__sandbox/signatures":  # for leak scans in tests: every signature it has seen
        with state._lock:
            seen = sorted(state._seen_signatures)
        return 200, json.dumps(seen).encode()
    elif path == "/__sandbox/records":
        args = _query_args(query)
        start, end = _time_arg(args, "start_time"), _time_arg(args, "end_time")
        as_of = _optional_time_arg(args, "as_of")  # absent: the converged history
        rows = _history(state, args).now(start, end, as_of)
        return 200, json.dumps(rows, ensure_ascii=False).encode("utf-8")
    elif path == "/__sandbox/mark":
        return 200, json.dumps({"mark": state.tick}).encode()
    elif path == "/__sandbox/drift":
        args = _query_args(query)
        start, end = _time_arg(args, "start_time"), _time_arg(args, "end_time")
        after = args.get("after", "0")
        if not after.isdigit():
            raise BadRequest(f"after must be a mark (a tick from /__sandbox/mark), not {after!r}")
        truth = _history(state, args).truth(
            start,
            end,
            after=int(after),
            app_key=args.get("app_key") or None,
            as_of=_optional_time_arg(args, "as_of"),
        )
        return 200, json.dumps(truth.to_json(), ensure_ascii=False).encode("utf-8")
    elif path == "/__sandbox/control" and method == "POST":
        try:
            change = json.loads(body or b"{}")
            if not isinstance(change, dict):
                raise ValueError("the body must be a JSON object")
            apply_control(state, change)
        except (ValueError, TypeError) as error:
            raise BadRequest(str(error)) from None
        return 200, json.dumps({"ok": True}).encode()
    else:
        return 404, b'{"error":"unknown sandbox control path"}'


def apply_control(state: SandboxState, change: dict[str, Any]) -> None:
    """Change a running sandbox: ``faults`` (FaultPlan fields), ``expire_token``, ``access_token``, ``rate_limit``,
    ``token_faults`` (the OAuth token endpoint's next answers, in order: an HTTP status, JSON
    ``{"error": "temporarily_unavailable"}``, or ``"reset"``),
    ``as_of`` (Unix seconds or ISO 8601; ``None``: now), ``as_of_after_request`` (seconds after a call's
    ``end_time``; ``None``: off), ``drift`` (DriftSpec fields; ``None``: stop drifting, the changes made stay),
    ``drift_reset`` (undo every posting and cancellation), ``end_time`` (``"inclusive"`` or ``"exclusive"``), and
    the US endpoint's ``us_order`` (newest, oldest, shuffled), ``us_max_size``, ``us_max_span`` (seconds or
    ``None``), ``us_time_field`` (``create_at`` or ``done_at``: a new US history, drift's changes dropped),
    ``us_end`` (``"inclusive"``, ``"exclusive"``, ``None``: as ``end_time``), ``us_clamp`` (serve ``us_max_size``
    entries silently above it) and ``us_refusal_code`` (400001 or 602001).

    Unknown keys are refused, so a typo does not pass for a setting.
    """
    unknown = set(change) - _CONTROL_KEYS
    if unknown:
        raise ValueError(f"unknown sandbox control keys {sorted(unknown)}; known: {', '.join(sorted(_CONTROL_KEYS))}")
    if "drift" in change:
        state.set_drift(DriftSpec.from_json(change["drift"]))
    if change.get("drift_reset"):
        state.history.reset()
        state.us_history.reset()
    if "us_time_field" in change:
        state.set_us_time_field(change["us_time_field"])
    if "us_order" in change:
        if change["us_order"] not in ORDERS:
            raise ValueError(f"us_order must be one of {', '.join(ORDERS)}, not {change['us_order']!r}")
        state.us.order = change["us_order"]
    if "us_max_size" in change:
        state.us.max_size = int(change["us_max_size"])
    if "us_max_span" in change:
        state.us.max_span = None if change["us_max_span"] is None else int(change["us_max_span"])
    if "us_end" in change:
        state.us.end_inclusive = None if change["us_end"] is None else parse_end_time(change["us_end"])
    if "us_clamp" in change:
        state.us.clamp = bool(change["us_clamp"])
    if "us_refusal_code" in change:
        state.us.refusal_code = parse_refusal_code(change["us_refusal_code"])
    if "end_time" in change:
        state.end_inclusive = parse_end_time(change["end_time"])
    if "as_of" in change:
        state.as_of = parse_as_of(change["as_of"])
    if "as_of_after_request" in change:
        after = change["as_of_after_request"]
        state.set_as_of_after_request(None if after is None else int(after))
    if "faults" in change:
        spec = dict(change["faults"])
        spec["kinds"] = tuple(spec.get("kinds", FaultPlan().kinds))
        state.faults = FaultPlan(**spec)
    if "token_faults" in change:
        faults = list(change["token_faults"])
        if not all(f == "reset" or (isinstance(f, int) and 400 <= f < 600) for f in faults):
            raise ValueError('token_faults is a list of HTTP statuses (400-599) or "reset"')
        state.token_faults = faults
    if change.get("expire_token"):
        state.expire_current_tokens()
    if "expire_token_after" in change:
        state.expire_token_after = state.stats["authenticated_calls"] + int(change["expire_token_after"])
    if change.get("access_token"):
        state.issue_token(change["access_token"])
    if "rate_limit" in change:
        state.rate_limit = bool(change["rate_limit"])


_CONTROL_KEYS = {
    "as_of",
    "as_of_after_request",
    "faults",
    "expire_token",
    "expire_token_after",
    "token_faults",
    "access_token",
    "rate_limit",
    "drift",
    "drift_reset",
    "end_time",
    "us_order",
    "us_max_size",
    "us_max_span",
    "us_time_field",
    "us_end",
    "us_clamp",
    "us_refusal_code",
}


def parse_refusal_code(value: Any) -> int:
    """400001 or 602001: the code the US endpoint refuses a size or span with."""
    if int(value) not in (400001, 602001):
        raise ValueError(f"us_refusal_code must be 400001 or 602001, not {value!r}")
    return int(value)


def parse_end_time(value: str) -> bool:
    """``"inclusive"`` -> True, ``"exclusive"`` -> False."""
    if value not in ("inclusive", "exclusive"):
        raise ValueError(f"end_time must be 'inclusive' or 'exclusive', not {value!r}")
    return value == "inclusive"


def parse_as_of(value: Any) -> int | None:
    """Unix seconds from a number, its text, or an ISO 8601 date-time with an offset; ``None`` stays ``None``."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"as_of {text!r} needs a UTC offset, e.g. 2026-11-01T00:00:00+00:00")
    return int(moment.timestamp())
