# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaHook, sync and async, over real HTTP against the emulator."""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_provider_gamma import protocol
from airflow_provider_gamma.exceptions import (
    GammaAuthenticationError,
    GammaConfigurationError,
    GammaEditInProgressError,
    GammaGenerationTimeoutError,
    GammaInsufficientCreditsError,
    GammaNotFoundError,
    GammaParameterError,
    GammaPermissionError,
    GammaRateLimitError,
    GammaServerError,
    GammaSubmissionUncertainError,
    GammaTransportError,
    GammaValidationError,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.testing.emulator import GammaEmulator

FAST = RetryPolicy(backoff=0.01, rate_limit_backoff=0.01, jitter=False)
GENERATIONS = "/v1.0/generations"


@pytest.fixture
def hook(gamma_connection):
    return GammaHook(retry_policy=FAST)


def api_calls(emu, method, prefix):
    return [r for r in emu.requests if r.method == method and r.path.startswith(prefix)]


def test_generate_wait_and_download_round_trip(hook, gamma_connection):
    emu = gamma_connection
    generation_id = hook.create_generation("Weekly numbers", export_as="pdf", num_cards=3)
    assert hook.get_generation(generation_id)["status"] == "pending"
    done = hook.wait_for_generation(generation_id, poll_interval=0.05, timeout=10)
    assert done["status"] == "completed"
    assert done["gammaUrl"].startswith("https://gamma.app/docs/")
    assert done["credits"]["deducted"] > 0
    received = bytearray()
    download = hook.download_export(done["exportUrl"], received.extend)
    assert bytes(received) == emu.export_bytes(generation_id)
    assert download.size == len(received)
    assert download.content_type == "application/pdf"
    post = api_calls(emu, "POST", GENERATIONS)
    assert len(post) == 1
    assert post[0].json == {
        "inputText": "Weekly numbers",
        "textMode": "generate",
        "numCards": 3,
        "exportAs": "pdf",
    }
    assert post[0].headers["x-api-key"] == emu.api_key
    assert post[0].headers["user-agent"].startswith("airflow-provider-gamma/")


def test_api_key_never_reaches_the_export_host(hook, gamma_connection):
    emu = gamma_connection
    generation_id = hook.create_generation("x", export_as="png", num_cards=2)
    done = hook.wait_for_generation(generation_id, poll_interval=0.05, timeout=10)
    hook.download_export(done["exportUrl"], lambda chunk: None)
    assert emu.export_requests
    for recorded in emu.export_requests:
        assert "x-api-key" not in recorded.headers
        assert "authorization" not in recorded.headers
        assert emu.api_key not in json.dumps(recorded.headers)


def test_template_generation(hook, gamma_connection):
    generation_id = hook.create_generation_from_template("g_template1", "Adapt for Acme", export_as="pptx")
    assert hook.wait_for_generation(generation_id, poll_interval=0.05, timeout=10)["status"] == "completed"
    post = api_calls(gamma_connection, "POST", f"{GENERATIONS}/from-template")
    assert post[0].json == {"gammaId": "g_template1", "prompt": "Adapt for Acme", "exportAs": "pptx"}


def test_unknown_template_is_gammas_400_with_its_message(hook):
    with pytest.raises(GammaValidationError, match="template not found"):
        hook.create_generation_from_template("nope", "p")


def test_warnings_are_returned_and_logged(hook, capsys):
    created = hook.submit_generation(
        {
            "inputText": "x",
            "textMode": "generate",
            "format": "presentation",
            "cardOptions": {"dimensions": "1x1"},
        }
    )
    assert "1x1" in created["warnings"]
    assert "Gamma warnings for generation" in capsys.readouterr().out


def test_failed_generation_is_returned_with_gammas_error(hook, gamma_connection):
    gamma_connection.fail_next_generation(message="The model refused")
    generation_id = hook.create_generation("x")
    done = hook.wait_for_generation(generation_id, poll_interval=0.05, timeout=10)
    assert done["status"] == "failed"
    assert done["error"]["message"] == "The model refused"


def test_wait_times_out_with_the_generation_id(hook, gamma_connection):
    gamma_connection.generation_seconds = 60
    generation_id = hook.create_generation("x")
    with pytest.raises(GammaGenerationTimeoutError) as caught:
        hook.wait_for_generation(generation_id, poll_interval=0.05, timeout=0.2)
    assert caught.value.generation_id == generation_id


def test_list_themes_and_folders_follow_every_page(hook, gamma_connection):
    themes = hook.list_themes()
    folders = hook.list_folders()
    assert len(themes) > 20  # more than one page of 20 and of our 50? at least every page was read
    assert len({t["id"] for t in themes}) == len(themes)
    assert all({"id", "name", "type"} <= set(t) for t in themes)
    assert folders
    theme_pages = api_calls(gamma_connection, "GET", "/v1.0/themes")
    assert all(r.query.get("limit") == "50" for r in theme_pages)
    subset = hook.list_themes(query=themes[0]["name"][:4])
    assert subset
    assert all(themes[0]["name"][:4].lower() in t["name"].lower() for t in subset)


def test_pagination_uses_the_cursor(gamma_connection):
    from airflow_provider_gamma.testing import GammaEmulator

    many = [{"id": f"t{i}", "name": f"Theme {i}", "type": "standard"} for i in range(120)]
    with GammaEmulator(themes=many) as emu:
        import os

        os.environ["AIRFLOW_CONN_GAMMA_PAGED"] = emu.connection_uri()
        try:
            themes = GammaHook("gamma_paged").list_themes()
        finally:
            del os.environ["AIRFLOW_CONN_GAMMA_PAGED"]
        pages = [r for r in emu.requests if r.path == "/v1.0/themes"]
    assert [t["id"] for t in themes] == [t["id"] for t in many]
    assert len(pages) == 3
    assert "after" not in pages[0].query
    assert pages[1].query["after"]


def test_archive_and_delete(hook):
    generation_id = hook.create_generation("x")
    gamma_id = hook.wait_for_generation(generation_id, poll_interval=0.05, timeout=10)["gammaId"]
    assert hook.archive_gamma(gamma_id) == {"gammaId": gamma_id, "archived": True}
    assert hook.archive_gamma(gamma_id)["archived"] is True  # idempotent
    assert hook.delete_gamma(gamma_id)["status"] == "deleted"
    with pytest.raises(GammaPermissionError):
        hook.archive_gamma("docs-slug-not-a-file-id")


def test_test_connection_reports_success_and_a_bad_key(gamma_connection, monkeypatch):
    ok, message = GammaHook().test_connection()
    assert ok
    assert gamma_connection.base_url in message
    bad = json.loads(gamma_connection.connection_uri())
    bad["password"] = "sk-gamma-wrong"
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps(bad))
    ok, message = GammaHook().test_connection()
    assert not ok
    assert "401" in message
    assert "sk-gamma-wrong" not in message


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, GammaValidationError),
        (401, GammaAuthenticationError),
        (403, GammaPermissionError),
        (404, GammaNotFoundError),
    ],
)
def test_client_errors_fail_at_once_without_retry(hook, gamma_connection, status, error_class):
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", status=status, times=None)
    with pytest.raises(error_class) as caught:
        hook.get_generation("abc_x")
    assert caught.value.request_id
    assert len(api_calls(gamma_connection, "GET", "/v1.0/generations/")) == 1


def test_unknown_generation_is_404_with_gammas_message(hook):
    with pytest.raises(GammaNotFoundError, match="Generation ID not found"):
        hook.get_generation("does-not-exist")


def test_insufficient_credits_is_its_own_error_and_not_retried(hook, gamma_connection):
    gamma_connection.credits = 0
    with pytest.raises(GammaInsufficientCreditsError, match="Insufficient credits"):
        hook.create_generation("x")
    assert gamma_connection.post_count() == 1


def test_reads_ride_out_429_and_5xx(hook, gamma_connection):
    generation_id = hook.create_generation("x")
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", status=429, retry_after=0.05, times=2)
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", status=502, times=1)
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", drop=True, times=1)
    assert hook.get_generation(generation_id)["generationId"] == generation_id
    assert len(api_calls(gamma_connection, "GET", "/v1.0/generations/")) == 5


def test_429_without_retry_after_uses_the_policy_backoff(hook, gamma_connection):
    gamma_connection.add_fault(path_prefix="/v1.0/themes", status=429, times=1)
    assert hook.list_themes()


def test_reads_give_up_after_max_attempts(gamma_connection):
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", status=500, times=None)
    with pytest.raises(GammaServerError):
        GammaHook(retry_policy=RetryPolicy(max_attempts=3, backoff=0.01, jitter=False)).get_generation("g")
    assert len(api_calls(gamma_connection, "GET", "/v1.0/generations/")) == 3


def test_generation_post_is_retried_on_429(hook, gamma_connection):
    gamma_connection.add_fault(method="POST", path_prefix=GENERATIONS, status=429, retry_after=0.05, times=2)
    assert hook.create_generation("x")
    assert gamma_connection.post_count() == 3
    assert len(gamma_connection.generations) == 1


@pytest.mark.parametrize("fault", [{"status": 500, "created": True}, {"drop": True, "created": True}])
def test_generation_post_that_may_have_started_is_never_retried(hook, gamma_connection, fault):
    gamma_connection.add_fault(method="POST", path_prefix=GENERATIONS, **fault)
    with pytest.raises(GammaSubmissionUncertainError) as caught:
        hook.create_generation("x")
    assert gamma_connection.post_count() == 1
    assert len(gamma_connection.generations) == 1  # Gamma did start (and bill) one; we did not start another
    assert "not sending it again blindly" in str(caught.value)


def test_read_timeout_on_a_read_is_retried(gamma_connection):
    generation_id = GammaHook().create_generation("x")
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", delay=1.0, times=1)
    hook = GammaHook(timeout=0.3, retry_policy=FAST)
    assert hook.get_generation(generation_id)["generationId"] == generation_id


def test_connection_refused_is_a_transport_error(monkeypatch):
    from tests.conftest import free_port

    monkeypatch.setenv(
        "AIRFLOW_CONN_GAMMA_DEFAULT",
        json.dumps(
            {"conn_type": "gamma", "host": f"http://127.0.0.1:{free_port()}", "password": "sk-gamma-x"}
        ),
    )
    with pytest.raises(GammaTransportError) as caught:
        GammaHook(retry_policy=RetryPolicy(max_attempts=2, backoff=0.01)).get_generation("g")
    assert not caught.value.reached_server


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        ({"conn_type": "gamma", "host": "https://public-api.gamma.app"}, "no API key"),
        ({"conn_type": "gamma", "password": "  "}, "no API key"),
        ({"conn_type": "gamma", "password": "k", "host": "ftp://x"}, "malformed base URL"),
        ({"conn_type": "gamma", "password": "k", "host": "https://x.test:99999"}, "malformed base URL"),
        ({"conn_type": "gamma", "password": "k", "host": "http://api.example.com"}, "plain http"),
        ({"conn_type": "gamma", "password": "k", "extra": {"timeout": "soon"}}, "timeout"),
    ],
)
def test_unusable_connection_gets_a_clear_error_without_the_key(monkeypatch, conn, message):
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps(conn))
    with pytest.raises(GammaConfigurationError, match=message) as caught:
        GammaHook().get_generation("g")
    assert "gamma_default" in str(caught.value)


def test_base_url_forms(monkeypatch):
    for host, expected in [
        (None, "https://public-api.gamma.app"),
        ("public-api.gamma.app", "https://public-api.gamma.app"),
        ("https://proxy.example.com/gamma/", "https://proxy.example.com/gamma"),
        ("http://localhost:8080", "http://localhost:8080"),
    ]:
        monkeypatch.setenv(
            "AIRFLOW_CONN_GAMMA_DEFAULT",
            json.dumps({"conn_type": "gamma", "host": host, "password": "sk-gamma-k"}),
        )
        assert GammaHook().settings.base_url == expected


def test_key_stays_out_of_repr_and_errors(gamma_connection):
    hook = GammaHook(retry_policy=FAST)
    assert gamma_connection.api_key not in repr(hook)
    assert gamma_connection.api_key not in repr(hook.settings)
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", status=500, times=None)
    with pytest.raises(GammaServerError) as caught:
        hook.get_generation("g")
    assert gamma_connection.api_key not in str(caught.value)
    assert gamma_connection.api_key not in repr(caught.value)


async def test_async_hook_polls_with_a_shared_session(gamma_connection):
    generation_id = GammaHook().create_generation("x")
    first, second = GammaHook(retry_policy=FAST), GammaHook(retry_policy=FAST)
    async with first.async_session(), second.async_session():
        assert first._shared is second._shared
        results = await asyncio.gather(
            first.aget_generation(generation_id), second.aget_generation(generation_id)
        )
        assert {r["generationId"] for r in results} == {generation_id}
        assert first.shared_rate_limit is not None
        assert first.shared_rate_limit.limit_burst is not None
    assert first._shared is None
    assert not GammaHook._async_pools.get(asyncio.get_running_loop())


async def test_async_hook_rides_out_429_and_fails_fast_on_404(gamma_connection):
    generation_id = GammaHook().create_generation("x")
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", status=429, retry_after=0.05, times=1)
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", status=503, times=1)
    hook = GammaHook(retry_policy=FAST)
    assert (await hook.aget_generation(generation_id))["generationId"] == generation_id
    with pytest.raises(GammaNotFoundError):
        await hook.aget_generation("missing")


async def test_async_rate_limit_error_after_attempts(gamma_connection):
    gamma_connection.add_fault(path_prefix="/v1.0/generations/", status=429, retry_after=0.01, times=None)
    with pytest.raises(GammaRateLimitError):
        await GammaHook(retry_policy=RetryPolicy(max_attempts=2)).aget_generation("g")


def test_a_socks_proxy_is_refused_with_a_clear_error(monkeypatch):
    """Neither client can tell whether a request went out through SOCKS, nor bound a whole attempt:
    a POST could be sent twice, so the connection names the problem instead."""
    conn = {"conn_type": "gamma", "password": "sk-k", "extra": {"proxy": "socks5://127.0.0.1:1080"}}
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_SOCKS", json.dumps(conn))
    with pytest.raises(GammaConfigurationError, match="http:// or https:// proxy"):
        GammaHook("gamma_socks").settings  # noqa: B018


def test_a_socks_proxy_from_the_environment_is_refused_too(gamma_connection, monkeypatch):
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(GammaConfigurationError, match="SOCKS is not supported"):
        GammaHook(retry_policy=FAST).list_themes()
    assert gamma_connection.requests == []


# --- living decks: agent edits, analytics, template search ----------------------------------------------


@pytest.fixture
def living(monkeypatch):
    """An emulator whose edits end after 0.3 s, as ``gamma_default``; yields it and a generated gamma's id."""
    with GammaEmulator(generation_seconds=0.1, edit_seconds=0.3) as emu:
        GammaHook.clear_connection_cache()
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", emu.connection_uri())
        hook = GammaHook(retry_policy=FAST)
        generation = hook.wait_for_generation(hook.create_generation("Board deck"), poll_interval=0.05)
        yield emu, generation
        GammaHook.clear_connection_cache()


def test_an_edit_updates_the_same_gamma_at_the_same_link_with_its_files(living, tmp_path):
    emu, generation = living
    gamma_id = generation["gammaId"]
    hook = GammaHook(retry_policy=FAST)
    (tmp_path / "figures.csv").write_text("week,revenue\n49,4.2\n")
    files = [upload["uploadId"] for upload in hook.upload_files([tmp_path / "figures.csv"])]
    edit_id = hook.create_edit(gamma_id, "Revenue this week: $4.2M", files=files, quality="standard")
    assert hook.get_edit(edit_id)["status"] == "pending"
    edit = hook.wait_for_edit(edit_id, poll_interval=0.05, timeout=10)
    assert edit["status"] == "completed"
    assert (edit["editId"], edit["gammaId"], edit["gammaUrl"]) == (edit_id, gamma_id, generation["gammaUrl"])
    assert edit["credits"]["deducted"] > 0
    assert edit["summary"]
    assert emu.revision(gamma_id) == 1
    assert emu.uploads[files[0]].attached_to == edit_id
    (post,) = api_calls(emu, "POST", f"/v1.0/agent/gammas/{gamma_id}/edits")
    assert post.json == {"prompt": "Revenue this week: $4.2M", "files": files, "quality": "standard"}


def test_a_second_edit_while_one_runs_is_refused_and_not_resent(living):
    emu, generation = living
    hook = GammaHook(retry_policy=FAST)
    hook.create_edit(generation["gammaId"], "First")
    with pytest.raises(GammaEditInProgressError, match="one edit per gamma at a time"):
        hook.create_edit(generation["gammaId"], "Second")
    assert len(emu.edits) == 1
    assert len(api_calls(emu, "POST", "/v1.0/agent/gammas/")) == 2


@pytest.mark.parametrize("status", [None, 502])
def test_an_edit_whose_answer_is_lost_is_never_sent_again(living, status):
    emu, generation = living
    emu.lose_next_edit_answer(status=status)
    with pytest.raises(GammaSubmissionUncertainError):
        GammaHook(retry_policy=FAST).create_edit(generation["gammaId"], "Update")
    assert len(emu.edits) == 1  # Gamma acted once; the client did not send it again
    assert len(api_calls(emu, "POST", "/v1.0/agent/gammas/")) == 1


def test_a_failed_edit_is_returned_with_gammas_reason(living):
    emu, generation = living
    emu.fail_next_edit(message="The agent could not apply the edit")
    hook = GammaHook(retry_policy=FAST)
    edit = hook.wait_for_edit(hook.create_edit(generation["gammaId"], "x"), poll_interval=0.05, timeout=10)
    assert edit["status"] == "failed"
    assert protocol.edit_failure_reason(edit) == "The agent could not apply the edit"
    assert emu.revision(generation["gammaId"]) == 0


def test_waiting_for_an_edit_times_out_naming_it(living):
    _, generation = living
    hook = GammaHook(retry_policy=FAST)
    edit_id = hook.create_edit(generation["gammaId"], "x")
    with pytest.raises(GammaGenerationTimeoutError, match=f"edit {edit_id} was still pending") as caught:
        hook.wait_for_edit(edit_id, poll_interval=0.05, timeout=0.1)
    assert caught.value.generation_id == edit_id


async def test_async_edit_status(living):
    _, generation = living
    edit_id = GammaHook().create_edit(generation["gammaId"], "x")
    edit = await GammaHook(retry_policy=FAST).aget_edit(edit_id)
    assert (edit["editId"], edit["status"], edit["gammaId"]) == (edit_id, "pending", generation["gammaId"])


def test_analytics_totals_and_cards(living):
    _, generation = living
    gamma_id = generation["gammaId"]
    hook = GammaHook(retry_policy=FAST)
    totals = hook.get_gamma_analytics(gamma_id)
    assert totals["gammaId"] == gamma_id
    assert totals["scope"] == "all"
    assert totals["totalViews"] >= totals["uniqueViewers"] > 0
    assert len(protocol.daily_views(totals)) == 30
    cards = hook.get_card_analytics(gamma_id)["cards"]
    assert [card["cardPosition"] for card in cards] == list(range(1, totals["cardCount"] + 1))
    assert all({"cardId", "cardName", "viewTimeSeconds", "viewersPercent"} <= set(card) for card in cards)


@pytest.mark.parametrize(("viewers", "pages"), [(0, 1), (120, 3), (700, 10)])
def test_every_page_of_viewers_up_to_gammas_500(living, viewers, pages):
    emu, generation = living
    gamma_id = generation["gammaId"]
    emu.set_viewer_count(gamma_id, viewers)
    listed = GammaHook(retry_policy=FAST).list_viewer_analytics(gamma_id)
    assert len(listed) == min(viewers, protocol.MAX_VIEWERS)
    assert len({row["viewerId"] for row in listed}) == len(listed)  # each viewer once, in order
    calls = api_calls(emu, "GET", f"/v1.0/gammas/{gamma_id}/analytics/viewers")
    assert len(calls) == pages
    assert all(call.query["limit"] == "50" for call in calls)
    assert "after" not in calls[0].query
    assert all(call.query.get("after") for call in calls[1:])


def test_analytics_without_edit_permission_name_what_is_missing(living):
    emu, generation = living
    emu.analytics_access = "none"
    hook = GammaHook(retry_policy=FAST)
    for read in (hook.get_gamma_analytics, hook.get_card_analytics, hook.list_viewer_analytics):
        with pytest.raises(GammaPermissionError, match=f"edit permission on gamma {generation['gammaId']}"):
            read(generation["gammaId"])
    assert len(api_calls(emu, "GET", "/v1.0/gammas/")) == 3  # refused at once, not retried


def test_template_search(living):
    emu, _ = living
    hook = GammaHook(retry_policy=FAST)
    found = hook.search_templates("report", limit=5)
    assert found["workspaceTemplates"] or found["exploreTemplates"]
    assert all(template["id"] for template in found["workspaceTemplates"] + found["exploreTemplates"])
    assert api_calls(emu, "GET", "/v1.0/templates/search")[-1].query == {"q": "report", "limit": "5"}
    with pytest.raises(GammaParameterError, match="limit must be 1 to 25"):
        hook.search_templates(limit=26)
    assert len(api_calls(emu, "GET", "/v1.0/templates/search")) == 1
