# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaGenerationTrigger against the emulator: one event per outcome, faults ridden out."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import math
import re
import time

import pytest

from airflow_provider_gamma.hooks import _settings_cache
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.triggers.gamma import GammaExportTrigger, GammaGenerationTrigger

POLLS = "/v1.0/generations/"


def polls(emu):
    return [r for r in emu.requests if r.method == "GET" and r.path.startswith(POLLS)]


async def events_of(trigger: GammaGenerationTrigger, limit: float = 20):
    async def collect():
        return [event async for event in trigger.run()]

    return await asyncio.wait_for(collect(), limit)


def start(emu, text="Weekly numbers", **options):
    return GammaHook().create_generation(text, **options)


@pytest.mark.parametrize("trigger_class", [GammaGenerationTrigger, GammaExportTrigger])
def test_serialize_round_trip_is_plain_json_without_the_key(gamma_connection, trigger_class):
    trigger = trigger_class(
        "job_1", "gamma_default", poll_interval=2, end_time=1_900_000_000.5, first_poll_delay=3
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == f"airflow_provider_gamma.triggers.gamma.{trigger_class.__name__}"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert gamma_connection.api_key not in json.dumps(kwargs)
    assert "job_1" in kwargs.values()
    assert kwargs["first_poll_delay"] == 3
    again = trigger_class(**kwargs)
    assert again.serialize() == (classpath, kwargs)


def test_kwargs_survive_airflow_serde():
    try:
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:  # Airflow < 3.2 serializes trigger kwargs with core's serde
        from airflow.serialization.serde import deserialize, serialize

    _, kwargs = GammaGenerationTrigger("gen_1", end_time=time.time() + 60).serialize()
    assert deserialize(serialize(kwargs)) == kwargs


async def test_success_event_carries_the_completed_generation(gamma_connection):
    generation_id = start(gamma_connection, export_as="pdf")
    events = await events_of(
        GammaGenerationTrigger(generation_id, poll_interval=0.05, end_time=time.time() + 30)
    )
    assert len(events) == 1
    payload = events[0].payload
    assert payload["status"] == "success"
    assert payload["generation_id"] == generation_id
    assert payload["generation"]["gammaUrl"]  # the shareable link stays
    # The triggerer logs the payload and Airflow stores it: the signed download URL is not in it.
    assert "exportUrl" not in payload["generation"]
    assert payload["has_export_url"] is True
    assert "signature=" not in json.dumps(payload)


async def test_failed_event_carries_gammas_message(gamma_connection):
    gamma_connection.fail_next_generation(message="Image model unavailable")
    generation_id = start(gamma_connection)
    [event] = await events_of(GammaGenerationTrigger(generation_id, poll_interval=0.05))
    assert event.payload["status"] == "failed"
    assert "Image model unavailable" in event.payload["message"]
    assert event.payload["generation"]["error"]["message"] == "Image model unavailable"


async def test_deadline_in_the_past_polls_once_then_times_out(gamma_connection):
    gamma_connection.generation_seconds = 60
    generation_id = start(gamma_connection)
    [event] = await events_of(
        GammaGenerationTrigger(generation_id, poll_interval=5, end_time=time.time() - 10)
    )
    assert event.payload["status"] == "timeout"
    assert generation_id in event.payload["message"]
    assert len(polls(gamma_connection)) == 1


async def test_deadline_in_the_past_still_reports_a_finished_generation(gamma_connection):
    generation_id = start(gamma_connection)
    gamma_connection.complete_generation(generation_id)
    [event] = await events_of(GammaGenerationTrigger(generation_id, end_time=time.time() - 10))
    assert event.payload["status"] == "success"


async def test_timeout_while_pending(gamma_connection):
    gamma_connection.generation_seconds = 60
    generation_id = start(gamma_connection)
    began = time.monotonic()
    [event] = await events_of(
        GammaGenerationTrigger(generation_id, poll_interval=0.1, end_time=time.time() + 0.5)
    )
    assert event.payload["status"] == "timeout"
    assert event.payload["generation"]["status"] == "pending"
    assert time.monotonic() - began < 5


async def test_unknown_generation_is_an_error_event_at_once(gamma_connection):
    [event] = await events_of(GammaGenerationTrigger("nope", poll_interval=0.05))
    assert event.payload["status"] == "error"
    assert "404" in event.payload["message"]
    assert len(polls(gamma_connection)) == 1


async def test_transient_errors_and_429s_are_ridden_out(gamma_connection):
    generation_id = start(gamma_connection)
    gamma_connection.add_fault(path_prefix=POLLS, status=429, retry_after=0.05, times=3)
    gamma_connection.add_fault(path_prefix=POLLS, status=500, times=2)
    gamma_connection.add_fault(path_prefix=POLLS, drop=True, times=1)
    trigger = GammaGenerationTrigger(generation_id, poll_interval=0.05, end_time=time.time() + 30)
    [event] = await events_of(trigger)
    assert event.payload["status"] == "success"
    assert len(polls(gamma_connection)) >= 7


async def test_too_many_transient_errors_in_a_row_end_with_an_error_event(gamma_connection, monkeypatch):
    import functools

    from airflow_provider_gamma.triggers import gamma as trigger_module

    monkeypatch.setattr(
        trigger_module, "RetryPolicy", functools.partial(trigger_module.RetryPolicy, backoff=0.01)
    )
    generation_id = start(gamma_connection)
    gamma_connection.add_fault(path_prefix=POLLS, status=502, times=None)
    trigger = GammaGenerationTrigger(generation_id, poll_interval=0.01, max_consecutive_errors=3)
    [event] = await events_of(trigger)
    assert event.payload["status"] == "error"
    assert "4 failed polls in a row" in event.payload["message"]
    assert len(polls(gamma_connection)) == 4


async def test_429_storm_never_counts_against_the_error_budget(gamma_connection):
    generation_id = start(gamma_connection)
    gamma_connection.add_fault(path_prefix=POLLS, status=429, retry_after=0.01, times=15)
    trigger = GammaGenerationTrigger(generation_id, poll_interval=0.01, max_consecutive_errors=2)
    [event] = await events_of(trigger)
    assert event.payload["status"] == "success"


async def test_a_recreated_trigger_continues_the_same_generation(gamma_connection):
    gamma_connection.generation_seconds = 0.6
    generation_id = start(gamma_connection)
    first = GammaGenerationTrigger(generation_id, poll_interval=0.05, end_time=time.time() + 30)
    task = asyncio.ensure_future(events_of(first))
    await asyncio.sleep(0.2)
    task.cancel()  # the triggerer went away mid-poll
    with pytest.raises(asyncio.CancelledError):
        await task
    _, kwargs = first.serialize()
    [event] = await events_of(GammaGenerationTrigger(**kwargs))
    assert event.payload["status"] == "success"
    assert event.payload["generation_id"] == generation_id
    assert gamma_connection.post_count() == 1


async def test_rate_budget_running_low_slows_polling(gamma_connection):
    from airflow_provider_gamma.testing import GammaEmulator

    with GammaEmulator(burst_limit=150, generation_seconds=0.3) as emu:
        import os

        os.environ["AIRFLOW_CONN_GAMMA_SLOW"] = emu.connection_uri()
        try:
            generation_id = GammaHook("gamma_slow").create_generation("x")
            trigger = GammaGenerationTrigger(
                generation_id, "gamma_slow", poll_interval=0.01, end_time=time.time() + 2
            )
            [event] = await events_of(trigger)
        finally:
            del os.environ["AIRFLOW_CONN_GAMMA_SLOW"]
        seen = [r for r in emu.requests if r.path.startswith(POLLS)]
    # remaining-burst < 100 stretches the interval to 15 s, far beyond the 2 s deadline
    assert event.payload["status"] in ("success", "timeout")
    assert len(seen) <= 60


async def test_many_triggers_share_one_client(gamma_connection):
    ids = [start(gamma_connection) for _ in range(30)]
    triggers = [GammaGenerationTrigger(i, poll_interval=0.05, end_time=time.time() + 30) for i in ids]
    results = await asyncio.gather(*(events_of(t) for t in triggers))
    assert all(events[0].payload["status"] == "success" for events in results)
    assert not GammaHook._async_pools.get(asyncio.get_running_loop())


async def test_missing_connection_key_is_an_error_event(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps({"conn_type": "gamma"}))
    [event] = await events_of(GammaGenerationTrigger("gen_1"))
    assert event.payload["status"] == "error"
    assert "no API key" in event.payload["message"]


async def test_triggers_of_one_process_share_one_rate_budget_and_never_hit_429(monkeypatch):
    from airflow_provider_gamma import protocol
    from airflow_provider_gamma.testing import GammaEmulator

    # 30 generations polled every 0.1 s would need 300 requests/s; Gamma (here) allows 40 per 2 s.
    # Gamma's own "slow to 15 s below 100 left" rule is switched off to test the shared budget alone.
    monkeypatch.setattr(protocol._ratelimit, "LOW_BURST_REMAINING", 0)
    with GammaEmulator(burst_limit=40, burst_window_seconds=2.0, generation_seconds=4.0) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_TIGHT", emu.connection_uri())
        hook = GammaHook("gamma_tight")
        ids = [hook.create_generation(f"deck {i}") for i in range(30)]
        await asyncio.sleep(2.1)  # a fresh burst window for the pollers
        triggers = [
            GammaGenerationTrigger(i, "gamma_tight", poll_interval=0.1, end_time=time.time() + 40)
            for i in ids
        ]
        results = await asyncio.gather(*(events_of(t, limit=45) for t in triggers))
        statuses = [r.status for r in emu.requests if r.path.startswith(POLLS)]
    assert [events[0].payload["status"] for events in results] == ["success"] * 30
    assert 429 not in statuses


async def test_hooks_of_one_loop_share_one_read_of_the_connection(gamma_connection, monkeypatch):

    reads = []
    read_connection = GammaHook._read_connection

    async def counted(self):
        reads.append(self.gamma_conn_id)
        return await read_connection(self)

    monkeypatch.setattr(GammaHook, "_read_connection", counted)
    first = await asyncio.gather(*(GammaHook().aget_settings() for _ in range(20)))
    assert len(reads) == 1
    assert len({settings.base_url for settings in first}) == 1

    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps({"conn_type": "gamma", "password": "sk-new"}))
    assert await GammaHook().aget_settings() == first[0]  # still fresh: reused
    hook = GammaHook()
    await hook.aget_settings()
    assert (await hook.aget_settings(refresh=True)).api_key == "sk-new"
    assert len(reads) == 2
    assert (await GammaHook().aget_settings()).api_key == "sk-new"  # the refresh is shared
    monkeypatch.setattr(_settings_cache, "ASYNC_SETTINGS_TTL", 0.0)
    await GammaHook().aget_settings()
    assert len(reads) == 3


async def test_a_failed_read_of_the_connection_is_not_kept(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_GAMMA_DEFAULT", raising=False)
    GammaHook.clear_connection_cache()
    with pytest.raises(Exception, match="gamma_default"):
        await GammaHook().aget_settings()
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps({"conn_type": "gamma", "password": "sk-k"}))
    assert (await GammaHook().aget_settings()).api_key == "sk-k"
    GammaHook.clear_connection_cache()


async def test_a_rotated_key_is_read_again_when_gamma_refuses_the_cached_one(gamma_connection, monkeypatch):
    generation_id = start(gamma_connection)
    rotated = gamma_connection.connection_uri()
    old = json.loads(rotated) | {"password": "sk-revoked"}
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps(old))
    await GammaHook().aget_settings()  # another trigger read the connection before the rotation
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", rotated)

    [event] = await events_of(GammaGenerationTrigger(generation_id, poll_interval=0.05))

    assert event.payload["status"] == "success"
    statuses = [r.status for r in polls(gamma_connection)]
    assert statuses[:1] == [401]
    assert statuses.count(401) == 1


async def test_a_key_rotated_mid_watch_is_read_again_and_the_watch_carries_on(gamma_connection, monkeypatch):
    generation_id = start(gamma_connection)
    rotated = gamma_connection.connection_uri()
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps(json.loads(rotated) | {"password": "sk-old"}))
    trigger = GammaGenerationTrigger(generation_id, poll_interval=0.05, first_poll_delay=3.0)
    watch = asyncio.ensure_future(events_of(trigger))
    for _ in range(200):  # until the trigger has read (the old key) itself
        reads = _settings_cache._CACHES.get(asyncio.get_running_loop(), {})
        if any(read.settings is not None for read in reads.values()):
            break
        await asyncio.sleep(0.01)
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", rotated)

    [event] = await watch

    assert event.payload["status"] == "success"
    seen = polls(gamma_connection)
    assert [r.status for r in seen][:2] == [401, 200]
    assert seen[1].time - seen[0].time < 2.0  # carried on at once, without a second first_poll_delay


async def test_a_key_refused_after_a_fresh_read_is_an_error_event(gamma_connection, monkeypatch):
    revoked = json.loads(gamma_connection.connection_uri()) | {"password": "sk-revoked"}
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps(revoked))

    [event] = await events_of(GammaGenerationTrigger("abc123", poll_interval=0.05))

    assert event.payload["status"] == "error"
    assert event.payload["message"].startswith("HTTP 401: GET /v1.0/generations/abc123: Invalid API key.")
    assert [r.status for r in polls(gamma_connection)] == [401]  # the same key is not sent again


async def test_polls_never_come_sooner_than_the_interval(gamma_connection):
    # Jitter only stretches the interval, so a generation of d seconds costs at most ceil(d/i) + 1 polls.
    gamma_connection.generation_seconds = 2.0
    generation_id = start(gamma_connection)
    interval = 0.2

    [event] = await events_of(GammaGenerationTrigger(generation_id, poll_interval=interval))

    times = [r.time for r in polls(gamma_connection)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert event.payload["status"] == "success"
    assert len(gaps) >= 5
    assert min(gaps) >= 0.98 * interval  # the server saw them; a 0.9x jitter would break this at once
    assert len(times) <= math.ceil(2.0 / interval) + 1


def test_a_finished_event_loop_leaves_no_cached_connection_behind(gamma_connection):
    async def read():
        await GammaHook().aget_settings()
        return len(_settings_cache._CACHES)

    for _ in range(3):
        assert asyncio.run(read()) >= 1
    gc.collect()
    # The cache holds no reference to its loops; asgiref (Airflow's sync_to_async) keeps the last one.
    assert len(_settings_cache._CACHES) <= 1


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"poll_interval": float("nan")}, "poll_interval"),
        ({"poll_interval": float("inf")}, "poll_interval"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"end_time": float("nan")}, "end_time"),
        ({"end_time": 1e300}, "end_time"),
        ({"first_poll_delay": float("inf")}, "first_poll_delay"),
        ({"first_poll_delay": -1}, "first_poll_delay"),
        ({"max_consecutive_errors": -1}, "max_consecutive_errors"),
        ({"max_consecutive_errors": True}, "max_consecutive_errors"),
    ],
)
def test_kwargs_that_would_spin_or_overflow_are_refused(kwargs, named):
    """The triggerer re-creates the trigger from its kwargs: a NaN interval would poll in a tight loop."""
    from airflow_provider_gamma.exceptions import GammaParameterError

    with pytest.raises(GammaParameterError, match=named):
        GammaGenerationTrigger("gen_1", **kwargs)


async def test_an_error_event_fails_the_task_as_the_worker_would(gamma_connection, tmp_path):
    """An unknown id seen by the triggerer fails the resumed task without retries (as in the worker);
    a trigger that gave up on transient errors leaves the task its retries."""
    from airflow_provider_gamma._compat import AirflowFailException
    from airflow_provider_gamma.exceptions import GammaError, GammaNotFoundError
    from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
    from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor

    [unknown] = await events_of(GammaGenerationTrigger("nope", poll_interval=0.05))
    assert unknown.payload["error_type"] == "GammaNotFoundError"
    [unknown_export] = await events_of(GammaExportTrigger("exp_nope", poll_interval=0.05))
    assert unknown_export.payload["status"] == "error"

    generate = GammaGenerateOperator(task_id="g", input_text="x")
    sensor = GammaGenerationSensor(task_id="s", generation_id="nope")
    land = GammaExportToObjectStorageOperator(
        task_id="e", gamma_id="g_1", export_as="pdf", dest=f"{tmp_path}/"
    )
    for resume, event in (
        (generate.execute_complete, unknown.payload),
        (sensor.execute_complete, unknown.payload),
        (land.execute_complete, unknown_export.payload),
    ):
        with pytest.raises(GammaNotFoundError, match="404") as caught:
            resume({}, event)
        assert isinstance(caught.value, AirflowFailException)

    gave_up = dict(unknown.payload, error_type="GammaServerError", message="gave up after 11 failed polls")
    without_type = {k: v for k, v in unknown.payload.items() if k != "error_type"}
    for event in (gave_up, without_type):
        with pytest.raises(GammaError, match="failed") as caught:
            generate.execute_complete({}, event)
        assert not isinstance(caught.value, AirflowFailException)


# --- what the task's log shows while it is deferred -------------------------------------------------


class Lines:
    """Stands in for the trigger's logger: each line with the moment it was written."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def info(self, message: str, *args: object) -> None:
        self.seen.append((time.monotonic(), message % args))

    warning = error = info

    def texts(self, containing: str = "") -> list[str]:
        return [text for _, text in self.seen if containing in text]


def logged(trigger, every: float) -> Lines:
    lines = Lines()
    trigger._log = lines
    trigger.progress_every = every
    return lines


async def test_a_deferred_generation_logs_its_state_at_a_steady_rhythm_and_on_each_change(gamma_connection):
    gamma_connection.generation_seconds = 1.5
    generation_id = start(gamma_connection)
    interval, every = 0.05, 0.3
    trigger = GammaGenerationTrigger(generation_id, poll_interval=interval, end_time=time.time() + 600)
    lines = logged(trigger, every)

    [event] = await events_of(trigger)

    assert event.payload["status"] == "success"
    texts = lines.texts()
    assert texts[0].startswith(f"Watching Gamma generation {generation_id} from the triggerer: 0 s elapsed;")
    assert re.search(r"\(in (9 min 59 s|10 min)\)", texts[0]), texts[0]
    # Changes of state: the first answer and the end, each once.
    assert len(lines.texts(f"Gamma generation {generation_id} is pending: 0 s elapsed, 1 poll")) == 1
    assert len(lines.texts("is completed: ")) == 1
    assert texts[-1].startswith(f"Gamma generation {generation_id} is completed: ")
    # Between them, a line about every `every` seconds, however often it polls (about 25 polls here).
    beats = [(at, text) for at, text in lines.seen if "so far" in text]
    assert 3 <= len(beats) <= 6, texts
    for text in (text for _, text in beats):
        assert text.startswith(f"Gamma generation {generation_id} is pending: ")
        assert re.search(r" elapsed; deadline \d\d:\d\d:\d\d UTC ", text), text
        assert re.search(r"\(in (9 min 5\d s|10 min)\)", text), text
        assert "next poll in 0 s" in text or "polling now" in text
    moments = [at for at, _ in lines.seen]
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    assert max(gaps) < every * 1.5, gaps  # steady: never a silence much longer than `every`
    beat_gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(beats)]
    assert min(beat_gaps) >= every * 0.95, beat_gaps  # modest: never more often than `every`
    # Polls stay as they are: the log lines cost none.
    assert len(polls(gamma_connection)) <= math.ceil(1.5 / interval) + 1


async def test_progress_lines_come_between_polls_and_say_when_the_next_one_is(gamma_connection):
    gamma_connection.generation_seconds = 0.3
    generation_id = start(gamma_connection)
    trigger = GammaGenerationTrigger(generation_id, poll_interval=5, first_poll_delay=1.0)
    lines = logged(trigger, 0.3)

    [event] = await events_of(trigger)

    assert event.payload["status"] == "success"
    assert len(polls(gamma_connection)) == 1  # the first poll found it done; the lines polled nothing
    assert "no deadline" in lines.texts()[0]
    assert "first poll in 1 s" in lines.texts()[0]
    beats = lines.texts("so far")
    assert 2 <= len(beats) <= 4, lines.texts()
    assert all(f"{generation_id} is not polled yet: " in text for text in beats)
    assert all("next poll in 1 s" in text or "next poll in 0 s" in text for text in beats)
    assert "0 polls so far" in beats[0]


async def test_the_agents_progress_and_its_deck_appearing_are_logged(gamma_connection):
    gamma_connection.generation_seconds = 2.0
    generation_id = GammaHook().create_agent_generation("A deck about otters", num_cards=8)
    trigger = GammaGenerationTrigger(generation_id, poll_interval=0.05, end_time=time.time() + 60)
    lines = logged(trigger, 0.25)

    [event] = await events_of(trigger)

    assert event.payload["status"] == "success"
    gamma_id = event.payload["generation"]["gammaId"]
    # The deck exists from half-way, while the run is still pending: said once, with its link.
    [appeared] = lines.texts("the deck exists")
    assert f"gamma {gamma_id} https://gamma.app/docs/" in appeared
    # The emulator's pending answers carry progress {cardsCompleted, totalCards, percentComplete}:
    # passed through under Gamma's own names, as they change.
    with_progress = lines.texts("progress from Gamma: ")
    assert with_progress, lines.texts()
    assert all("totalCards=8" in text and "percentComplete=" in text for text in with_progress)
    completed = [int(text.split("cardsCompleted=")[1].split(",")[0]) for text in with_progress]
    assert completed == sorted(completed)
    assert all(0 <= cards <= 8 for cards in completed)
    assert "progress from Gamma" not in lines.texts()[0]  # nothing before Gamma said anything


async def test_the_elapsed_time_counts_from_when_the_task_deferred_across_a_restart(gamma_connection):
    gamma_connection.generation_seconds = 60
    generation_id = start(gamma_connection)
    deferred = GammaGenerationTrigger(generation_id, end_time=time.time() + 3600 + 20)
    deferred.started_at -= 125  # the task deferred two minutes ago; the triggerer restarts now
    _, kwargs = deferred.serialize()
    again = GammaGenerationTrigger(**kwargs)
    lines = logged(again, 60)
    task = asyncio.ensure_future(events_of(again))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [first, pending] = lines.texts()
    assert "from the triggerer: 2 min 05 s elapsed; deadline " in first
    assert "(in 1 h 00 min)" in first
    assert "is pending: 2 min 05 s elapsed, 1 poll" in pending


async def test_a_cancelled_watch_stops_logging(gamma_connection):
    gamma_connection.generation_seconds = 60
    trigger = GammaGenerationTrigger(start(gamma_connection), poll_interval=0.05)
    lines = logged(trigger, 0.05)
    task = asyncio.ensure_future(events_of(trigger))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count = len(lines.seen)
    await asyncio.sleep(0.3)
    assert len(lines.seen) == count  # the rhythm ended with the watch


@pytest.mark.parametrize(
    ("progress", "shown"),
    [
        ({"cardsCompleted": 3, "totalCards": 8}, "cardsCompleted=3, totalCards=8"),
        (
            {"cards": {"done": 3, "total": 8}, "eta": "2026-12-07T12:00:00Z"},
            "cards.done=3, cards.total=8, eta=",
        ),
        (
            {"stage": "images", "steps": [1, 2], "preview": "https://cdn.gamma.app/x.png?sig=1"},
            "stage=images",
        ),
        ({"text": "x" * 100}, ""),
        (None, ""),
        ("50%", ""),
    ],
)
def test_gammas_unpublished_progress_is_passed_through_by_its_own_names(progress, shown):
    from airflow_provider_gamma.triggers._progress import progress_text

    text = progress_text(progress)
    assert text.startswith(shown) if shown else text == ""
    assert "://" not in text


def test_durations_read_as_a_person_would_say_them():
    from airflow_provider_gamma.triggers._progress import duration

    assert [duration(s) for s in (0.4, 45, 60, 125, 3600 + 125, -3)] == [
        "0 s",
        "45 s",
        "1 min",
        "2 min 05 s",
        "1 h 02 min",
        "0 s",
    ]


async def test_the_export_event_carries_no_signed_url(gamma_connection):
    generation = GammaHook().get_generation(start(gamma_connection))
    while generation["status"] == "pending":
        await asyncio.sleep(0.05)
        generation = GammaHook().get_generation(generation["generationId"])
    export_id = GammaHook().export_gamma(generation["gammaId"], "pdf")

    [event] = await events_of(GammaExportTrigger(export_id, poll_interval=0.05))

    assert event.payload["status"] == "success"
    assert event.payload["export"]["gammaId"] == generation["gammaId"]
    assert "exportUrl" not in event.payload["export"]
    assert event.payload["has_export_url"] is True
    assert "signature=" not in json.dumps(event.payload)
