# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Errors raised by the Gamma provider.

Every error that comes from an HTTP answer carries Gamma's own ``message``, the HTTP status and the
``x-request-id`` to quote to Gamma support. Errors that no retry can fix (a bad key, bad parameters, no
credits, no permission, an unknown id) subclass :class:`~airflow.sdk.exceptions.AirflowFailException`,
so Airflow fails the task at once instead of burning retries (and credits) on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_gamma._compat import AirflowException, AirflowFailException


class GammaError(AirflowException):
    """Base class of every error raised by the Gamma provider.

    :param message: what went wrong, in Gamma's words where Gamma said something.
    :param http_status: the HTTP status of the answer, ``None`` when no answer arrived.
    :param request_id: Gamma's ``x-request-id`` of the answer, to quote to Gamma support.
    """

    def __init__(self, message: str, *, http_status: int | None = None, request_id: str | None = None):
        self.message = message
        self.http_status = http_status
        self.request_id = request_id
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message
        if self.http_status is not None:
            text = f"HTTP {self.http_status}: {text}"
        if self.request_id:
            text = f"{text} (x-request-id: {self.request_id})"
        return text


class GammaParameterError(GammaError, ValueError):
    """A generation parameter is invalid; raised before anything is sent, usually when the DAG is parsed."""


class GammaConfigurationError(GammaError, AirflowFailException):
    """The ``gamma`` connection is missing or unusable (no API key, malformed base URL)."""


class GammaValidationError(GammaError, AirflowFailException):
    """Gamma rejected the request's parameters (HTTP 400 or 422)."""


class GammaAuthenticationError(GammaError, AirflowFailException):
    """The API key is missing, wrong, revoked, or its plan has no API access (HTTP 401)."""


class GammaPermissionError(GammaError, AirflowFailException):
    """The key may not do this: no edit or admin right, or the feature is not on the plan (HTTP 403)."""


class GammaInsufficientCreditsError(GammaPermissionError):
    """The workspace is out of credits (HTTP 402, or 403 "Insufficient credits"). Never retried."""


class GammaSearchNotEnabledError(GammaPermissionError):
    """``GET /v1.0/gammas/search`` answered 403: Gamma rolls search out gradually, and this workspace
    does not have it yet. Nothing can be looked up by title or text until it does; every other call
    works as before."""


class GammaArchivedError(GammaValidationError):
    """The gamma is archived, and Gamma exports no archived gamma. Unarchive it in the Gamma app (or
    export another gamma); retrying cannot help."""


class GammaEditInProgressError(GammaError):
    """Gamma refused an agent edit because another edit of the same gamma is running (Gamma runs one
    edit per gamma at a time). This edit was not started and nothing was billed for it.

    Retryable, and nothing was billed: a later try may start the edit. After an edit of this task's was
    sent again (its first answer lost), the edit operator takes this refusal as evidence that the first
    one runs after all.
    """


class GammaNotFoundError(GammaError, AirflowFailException):
    """The generation (or route) does not exist (HTTP 404)."""


class GammaRateLimitError(GammaError):
    """Gamma answered 429. ``retry_after`` holds the seconds Gamma asked to wait, when it said."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = 429,
        request_id: str | None = None,
        retry_after: float | None = None,
    ):
        self.retry_after = retry_after
        super().__init__(message, http_status=http_status, request_id=request_id)


class GammaServerError(GammaError):
    """Gamma failed on its side (HTTP 5xx). Retried for reads; never for a request that starts a generation."""


class GammaTransportError(GammaError):
    """No usable answer arrived: connection refused or dropped, timeout, truncated body.

    ``reached_server`` is ``False`` only when the request certainly never left this machine (the
    connection could not be opened), which is the one case where starting a generation may be retried.
    """

    def __init__(self, message: str, *, reached_server: bool):
        self.reached_server = reached_server
        super().__init__(message)


class GammaProtocolError(GammaError):
    """Gamma answered 2xx with a body this provider cannot read (not JSON, required field missing)."""


class GammaSubmissionUncertainError(GammaError, AirflowFailException):
    """A request that starts a generation may have reached Gamma but no answer arrived.

    Gamma may be generating (and billing) a deck whose id we never learnt, so the task fails without a
    retry rather than risk paying twice. Check the Gamma app before re-running it.
    """


class GammaGenerationFailedError(GammaError, AirflowFailException):
    """The generation ended with ``status: failed``; ``generation_id`` names it.

    Fails the task without retries, since a retry would pay for a new generation; operators raise a
    retryable :class:`GammaError` instead when the user opted in with ``resubmit_failed=True``.
    """

    def __init__(self, message: str, *, generation_id: str, http_status: int | None = None):
        self.generation_id = generation_id
        super().__init__(message, http_status=http_status)

    def _render(self) -> str:
        return f"Gamma generation {self.generation_id} failed: {super()._render()}"


class GammaEditFailedError(GammaGenerationFailedError):
    """An agent edit ended with ``status: failed``; ``edit_id`` and ``gamma_id`` name it. Fails the task
    without retries, as a retry would pay for a new edit (see ``resubmit_failed``)."""

    def __init__(
        self, message: str, *, edit_id: str = "", gamma_id: str = "", http_status: int | None = None
    ):
        self.edit_id = edit_id
        self.gamma_id = gamma_id
        super().__init__(message, generation_id=edit_id, http_status=http_status)

    def _render(self) -> str:
        return f"Gamma edit {self.edit_id} of gamma {self.gamma_id} failed: {GammaError._render(self)}"


class GammaGenerationTimeoutError(GammaError):
    """The generation was still pending at the deadline; ``generation_id`` names it for a sensor to pick up."""

    def __init__(self, message: str, *, generation_id: str):
        self.generation_id = generation_id
        super().__init__(message)


class GammaExportError(GammaError):
    """Downloading or landing an export failed; nothing was left at the destination."""


def error_from_event(event: Mapping[str, Any], message: str) -> GammaError:
    """The error a trigger's ``error`` event reports, as the class the worker would have raised, so an
    unknown id or a refused key fails the task at once in the triggerer too, instead of burning its
    retries; an event without a known class (an older trigger's) is a plain, retryable
    :class:`GammaError`."""
    found = globals().get(str(event.get("error_type")))
    if isinstance(found, type) and issubclass(found, GammaError):
        try:
            return found(message)
        except TypeError:  # a class that needs more than a message
            pass
    return GammaError(message)
