# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The ``gamma`` connection: what its fields mean and how they become client settings.

The API key lives in the password field, the base URL in the host field (default
``https://public-api.gamma.app``); the extra may hold ``timeout`` (seconds one attempt may take, in
all), ``proxy`` (a proxy URL, instead of ``HTTPS_PROXY``/``NO_PROXY`` from the environment),
``ca_bundle`` (a PEM file of the CAs to trust, e.g. a TLS-inspecting proxy's), ``verify``
(``false`` turns certificate checks off; for a test server only), ``title_reference`` (``false``
keeps every generate task of the connection from appending its reference, ``[k7q3m9]``, to deck
titles; see :mod:`airflow_provider_gamma.reconcile` for what a lost POST answer then costs) and
``credits_warning_below`` (a generate task warns when the workspace's credits left, as Gamma reports
them with a deck, fall below this number).
"""

from __future__ import annotations

import ipaddress
import math
import os
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
    #: Proxy URL from the connection (may hold credentials, so out of ``repr``); ``None``: the environment's.
    proxy: str | None = field(default=None, repr=False)
    #: ``True``: the default CAs; ``False``: no certificate checks; a path: that CA bundle.
    verify: bool | str = True
    #: Generate tasks append their reference to deck titles unless they say otherwise.
    title_reference: bool = True
    #: Generate tasks warn when fewer credits than this are left in the workspace; ``None``: never.
    credits_warning_below: float | None = None
    #: The connection these settings were read from, to tag metrics with; not part of the identity,
    #: so connections with one key and one URL still share a client and its rate budget.
    conn_id: str = field(default="", repr=False, compare=False)


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
    return GammaSettings(
        base_url=base_url_from(host, port, conn_id),
        api_key=api_key,
        timeout=timeout,
        proxy=_proxy_from(extra.get("proxy"), conn_id),
        verify=_verify_from(extra.get("verify"), extra.get("ca_bundle"), conn_id),
        title_reference=_flag(extra.get("title_reference"), "title_reference", conn_id) is not False,
        credits_warning_below=_credits_from(extra.get("credits_warning_below"), conn_id),
        conn_id=conn_id,
    )


def _credits_from(raw: Any, conn_id: str) -> float | None:
    """A number of credits, zero or more (JSON or the UI's string); ``None`` when not set."""
    if raw in (None, ""):
        return None
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise GammaConfigurationError(
            f"Connection {conn_id!r}: extra 'credits_warning_below' must be a number of credits, 0 or "
            f"more, got {raw!r}"
        )
    return value


def _proxy_from(raw: Any, conn_id: str) -> str | None:
    if raw in (None, ""):
        return None
    parts = urlsplit(raw) if isinstance(raw, str) else None
    # No SOCKS: neither driver can tell through it whether a request went out, nor bound a whole
    # attempt, and aiohttp does not speak it, so the worker and the triggerer would differ.
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        shown = parts._replace(netloc=parts.hostname or "").geturl() if parts else repr(raw)
        raise GammaConfigurationError(
            f"Connection {conn_id!r}: extra 'proxy' must be an http:// or https:// proxy URL such as "
            f"http://proxy.example:3128, got {shown!r}"
        )
    return str(raw).strip()


def _flag(raw: Any, name: str, conn_id: str) -> bool | None:
    """An extra that is true or false (JSON or the UI's strings); ``None`` when not set."""
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        raw = raw.strip().lower() == "true"
    if raw not in (None, "") and not isinstance(raw, bool):
        raise GammaConfigurationError(
            f"Connection {conn_id!r}: extra {name!r} must be true or false, got {raw!r}"
        )
    return raw if isinstance(raw, bool) else None


def _verify_from(raw: Any, ca_bundle: Any, conn_id: str) -> bool | str:
    raw = _flag(raw, "verify", conn_id)
    if ca_bundle not in (None, ""):
        if not isinstance(ca_bundle, str) or not os.path.isfile(ca_bundle):
            raise GammaConfigurationError(
                f"Connection {conn_id!r}: extra 'ca_bundle' must be the path of a PEM file of CA "
                f"certificates readable where the task runs, got {ca_bundle!r}"
            )
        if raw is False:
            raise GammaConfigurationError(
                f"Connection {conn_id!r}: extras 'ca_bundle' and verify=false contradict each other"
            )
        return ca_bundle
    return raw is not False
