# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The ``gamma`` connection: what its fields mean and how they become client settings.

The API key lives in the password field, the base URL in the host field (default
``https://public-api.gamma.app``), and the request timeout in the extra as ``timeout``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_gamma import __version__
from airflow_provider_gamma.exceptions import GammaConfigurationError
from airflow_provider_gamma.get_provider_info import CONN_TYPE, DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from airflow_provider_gamma.parameters import seconds_problem

#: Longest request timeout a connection may set: an hour for one answer is already a hang.
MAX_TIMEOUT = 3600.0

DEFAULT_CONN_ID = "gamma_default"
USER_AGENT = f"airflow-provider-gamma/{__version__}"


@dataclass(frozen=True)
class GammaSettings:
    """Resolved connection settings. ``api_key`` stays out of ``repr`` so it never reaches a log."""

    base_url: str
    api_key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    user_agent: str = USER_AGENT


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_from(host: str | None, port: int | None, conn_id: str) -> str:
    """Normalise the host field into ``scheme://host[:port]``; plain HTTP only for loopback (tests)."""
    host = (host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    parts = urlsplit(host if "://" in host else f"https://{host}")
    try:
        hostname, url_port = parts.hostname, parts.port
    except ValueError as error:
        raise GammaConfigurationError(
            f"Connection {conn_id!r}: malformed base URL {host!r}: {error}"
        ) from None
    if parts.scheme not in ("https", "http") or not hostname or parts.query or parts.fragment:
        raise GammaConfigurationError(
            f"Connection {conn_id!r}: malformed base URL {host!r}; expected https://host[:port], "
            f"e.g. {DEFAULT_BASE_URL}"
        )
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise GammaConfigurationError(
            f"Connection {conn_id!r}: base URL {host!r} uses plain http, which would send the API key "
            "unencrypted; use https (plain http is accepted only for a loopback test server)"
        )
    port = url_port or port
    netloc = f"[{hostname}]" if ":" in hostname else hostname
    if port:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{netloc}{path}"


def settings_from(
    conn_id: str,
    host: str | None,
    port: int | None,
    password: str | None,
    extra: dict[str, Any],
    timeout: float | None = None,
) -> GammaSettings:
    """Build :class:`GammaSettings` from a connection's fields; raise a clear error when unusable."""
    api_key = (password or "").strip()
    if not api_key:
        raise GammaConfigurationError(
            f"Connection {conn_id!r} has no API key: put your Gamma key (sk-gamma-...) in its password field"
        )
    if timeout is None:
        raw = extra.get("timeout", extra.get(f"extra__{CONN_TYPE}__timeout"))
        try:
            timeout = float(raw) if raw not in (None, "") else DEFAULT_TIMEOUT
        except (TypeError, ValueError):
            timeout = raw
    problem = seconds_problem(timeout, maximum=MAX_TIMEOUT)
    if problem is not None:
        raise GammaConfigurationError(f"Connection {conn_id!r}: extra 'timeout'={timeout!r} {problem}")
    assert isinstance(timeout, float | int)
    return GammaSettings(base_url=base_url_from(host, port, conn_id), api_key=api_key, timeout=timeout)
