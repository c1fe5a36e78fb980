"""Which base URLs the client may send credentials to: https anywhere, plain http only to this machine.

Every call carries the access token and a signature in its headers; over plain http anyone on the path reads
them. Loopback stays allowed because the sandbox (and a local TLS-terminating proxy) live there. A URL that
carries a password (a Redis budget store's) is named in messages without it.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_cashflow.defaults import GLOBAL_BASE_URL
from airflow_provider_cashflow.errors import LongPortConfigError

__all__ = ["is_loopback", "redact_url", "require_secure_base_url", "validate_ca_bundle"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})
_OFF_WORDS = frozenset({"false", "0", "no", "off", "none", "disable", "disabled"})


def is_loopback(hostname: str | None) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (an IPv4-mapped loopback too); names are not resolved."""
    if not hostname:
        return False
    name = hostname.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # a name: resolving it would be a network call, and DNS can lie
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def require_secure_base_url(url: str, *, where: str = "base URL") -> None:
    """Refuse ``http://`` to any host that is not loopback, before anything is sent.

    :param url: the base URL the client will call.
    :param where: names the setting in the error, e.g. ``connection 'longport_default': host``.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() == "http" and not is_loopback(parts.hostname):
        secure = f"https://{parts.netloc}{parts.path}".rstrip("/")
        examples = secure if secure == GLOBAL_BASE_URL else f"{secure}, or {GLOBAL_BASE_URL}"
        raise LongPortConfigError(
            f"{where} {url!r} uses plain http:// to {parts.hostname!r}, which would send the access token and "
            f"request signatures in clear text; use https:// (e.g. {examples}); plain http "
            "is allowed only to loopback (127.0.0.1, localhost, ::1), such as the sandbox"
        )


def validate_ca_bundle(value: object, *, where: str = "ca_bundle") -> str | None:
    """A CA bundle path (PEM file, or a folder prepared with ``c_rehash``) that exists, or ``None``.

    Turning certificate verification off is not offered: a value such as ``false`` is refused.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.strip().lower() in _OFF_WORDS:
        raise LongPortConfigError(
            f"{where} {value!r} is not a path; certificate verification cannot be turned off. Set it to the PEM "
            "file of the CA that signs your proxy's certificates, or leave it empty to use the default trust store"
        )
    path = os.path.expanduser(value.strip())
    if not os.path.exists(path):
        raise LongPortConfigError(
            f"{where} {value!r} does not exist on this worker; set it to the PEM file of your proxy's CA "
            "(present on every worker), or leave it empty to use the default trust store"
        )
    return path


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))
