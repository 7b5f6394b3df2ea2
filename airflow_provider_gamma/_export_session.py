# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The ``requests`` session that fetches exports: it carries no credentials of any kind."""

from __future__ import annotations

import requests


class NoCredentialsSession(requests.Session):
    """A session that sends no credentials after a redirect either: ``requests`` would otherwise add
    ``~/.netrc`` credentials for the redirect's target host (``Session.rebuild_auth``)."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        prepared_request.headers.pop("Authorization", None)


def no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An explicit 'no credentials' auth: stops requests from adding ~/.netrc credentials."""
    return request
