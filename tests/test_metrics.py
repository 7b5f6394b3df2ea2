# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What a deck cost, said in words (log and result) and sent as metrics through Airflow's own stats
client: the words alone, the connection's warning threshold, the operators and the transports against
the emulator with the stats client recorded, and a whole ``airflow dags test`` run sending StatsD to a
UDP socket on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gamma import _cost, _metrics
from airflow_provider_gamma.connection import settings_from
from airflow_provider_gamma.exceptions import GammaConfigurationError, GammaGenerationFailedError
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.gamma import GammaAgentGenerateOperator, GammaGenerateOperator
from airflow_provider_gamma.testing import GammaEmulator
from tests import doubles
from tests.conftest import BIN, REPO

TASK_TAGS = {"dag_id": "costs", "task_id": "generate", "conn_id": "gamma_default"}
GENERATIONS = "/v1.0/generations"


class Recorder:
    """Airflow's stats client, recording: ``(kind, name, value, tags)`` per call."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, float, dict[str, str]]] = []

    def incr(self, name: str, count: float = 1, rate: float = 1, *, tags: dict[str, str]) -> None:
        self.sent.append(("count", name, count, tags))

    def gauge(self, name: str, value: float, rate: float = 1, *, tags: dict[str, str]) -> None:
        self.sent.append(("gauge", name, value, tags))

    def total(self, name: str, **tags: str) -> float:
        return sum(value for _, sent, value, got in self.sent if sent == name and tags.items() <= got.items())

    def named(self, name: str) -> list[tuple[str, str, float, dict[str, str]]]:
        return [sent for sent in self.sent if sent[1] == name]


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(_metrics, "_stats", lambda: recorder)
    return recorder


def generate(**kwargs: Any) -> GammaGenerateOperator:
    from airflow.sdk import DAG

    with DAG("costs", schedule=None):
        return GammaGenerateOperator(
            **{
                "task_id": "generate",
                "input_text": "Weekly figures",
                "deferrable": False,
                "poll_interval": 0.05,
            }
            | kwargs
        )


def connect(emulator: GammaEmulator, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    GammaHook.clear_connection_cache()
    conn = json.loads(emulator.connection_uri())
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps({**conn, "extra": extra}))


# --- the words ------------------------------------------------------------------------------------


def test_credits_read_as_words() -> None:
    assert _cost.credits(1) == "1 credit"
    assert _cost.credits(9994) == "9,994 credits"
    assert _cost.credits(2.5) == "2.5 credits"
    assert _cost.credits(0) == "0 credits"


@pytest.mark.parametrize("figure", [float("nan"), float("inf")])
def test_a_figure_no_sentence_can_print_is_not_reported_rather_than_failing_the_task(figure: float) -> None:
    """Before: NaN or 1e999 in Gamma's credits raised in the cost wording, after the deck was made."""
    deck: Any = {"generationId": "g", "status": "completed", "credits": {"deducted": figure, "remaining": 5}}
    assert isinstance(_cost.cost_of(deck).words, str)


def test_a_deck_says_what_it_cost_for_the_cards_asked_for_and_what_is_left() -> None:
    deck = {"generationId": "g1", "status": "completed", "credits": {"deducted": 6, "remaining": 9994}}
    assert _cost.cost_of(deck, cards=8).words == "6 credits (8 cards asked for); 9,994 left in the workspace"
    assert _cost.cost_of(deck).words == "6 credits; 9,994 left in the workspace"
    cost = _cost.cost_of({**deck, "credits": {"deducted": 1, "remaining": 0}}, cards=1)
    assert cost.words == "1 credit (1 card asked for); 0 left in the workspace"
    assert (cost.deducted, cost.remaining) == (1, 0)


@pytest.mark.parametrize(
    ("body", "cards"),
    [
        ({"inputText": "x", "numCards": 8}, 8),
        ({"inputText": "x", "numCards": "8"}, 8),
        ({"inputText": "a\n---\nb\n---\nc", "cardSplit": "inputTextBreaks", "numCards": 10}, 3),
        ({"inputText": "one card", "cardSplit": "inputTextBreaks"}, 1),
        ({"inputText": "x"}, None),  # Gamma decides
        ({"pages": [{"inputText": "x", "numCards": 4}], "numCards": 4}, None),
        ({"gammaId": "g_template", "prompt": "x"}, None),
    ],
)
def test_the_cards_asked_for_are_read_from_the_request(body: dict[str, Any], cards: int | None) -> None:
    assert _cost.cards_asked(body) == cards


def test_a_settled_deck_says_its_cost_cannot_be_told_and_why() -> None:
    settled = {"generationId": None, "status": "completed", "gammaId": "g1", "reconciled": True}
    cost = _cost.cost_of(settled, cards=8)
    assert cost.words.startswith("cannot be told: the POST's answer, which held the generation id, was lost")
    assert "Gamma reports credits only with a generation's status" in cost.words
    assert (cost.deducted, cost.remaining) == (None, None)


def test_a_deck_without_credits_says_gamma_did_not_report_them() -> None:
    agent = _cost.cost_of({"generationId": "gen_1", "status": "completed"}, cards=6)
    assert agent.words.startswith("not reported: the agent reports credits only when its lookups succeed")
    classic = _cost.cost_of({"generationId": "g1", "status": "completed", "credits": {"remaining": 40}})
    assert classic.words == (
        "not reported: Gamma sent no credits with this generation (see the workspace's credit usage in "
        "Gamma); 40 left in the workspace"
    )
    assert (classic.deducted, classic.remaining) == (None, 40)


def test_a_low_balance_is_told_only_below_the_threshold() -> None:
    assert _cost.low_balance(500, 500, "gamma_default") is None
    assert _cost.low_balance(10, None, "gamma_default") is None
    warning = _cost.low_balance(499, 500, "gamma_default")
    assert warning is not None
    assert warning.startswith("Only 499 credits left in the Gamma workspace, below the 500 set by connection")
    assert "'gamma_default' (extra credits_warning_below)" in warning


# --- the connection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"), [(500, 500.0), ("1500", 1500.0), (0, 0.0), ("", None), (None, None)]
)
def test_the_warning_threshold_is_a_connection_extra(raw: Any, value: float | None) -> None:
    settings = settings_from("gamma_default", None, None, "sk-gamma-x", {"credits_warning_below": raw})
    assert settings.credits_warning_below == value


@pytest.mark.parametrize("raw", [-1, "lots", True, "nan", [500]])
def test_a_threshold_that_is_not_a_number_of_credits_fails_naming_the_extra(raw: Any) -> None:
    with pytest.raises(GammaConfigurationError, match="extra 'credits_warning_below' must be a number"):
        settings_from("gamma_default", None, None, "sk-gamma-x", {"credits_warning_below": raw})


def test_the_connection_id_tags_metrics_without_splitting_a_shared_client() -> None:
    first, second = (settings_from(conn_id, None, None, "sk-gamma-x", {}) for conn_id in ("a", "b"))
    assert (first.conn_id, second.conn_id) == ("a", "b")
    assert first == second
    assert repr(first) == repr(second)  # the triggerer's client pool is keyed by it


# --- the operators against the emulator -----------------------------------------------------------


def test_a_deck_logs_and_returns_what_it_cost_and_counts_it(
    gamma_connection: GammaEmulator, metrics: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    result = generate(num_cards=4).execute(doubles.context())

    assert result["cost"] == "8 credits (4 cards asked for); 9,992 left in the workspace"
    log = capsys.readouterr().out
    assert "Cost: 8 credits (4 cards asked for); 9,992 left in the workspace" in log
    assert "left in the Gamma workspace, below" not in log  # no threshold on this connection
    assert metrics.named(_metrics.DECKS_COMPLETED) == [("count", _metrics.DECKS_COMPLETED, 1, TASK_TAGS)]
    assert metrics.named(_metrics.CREDITS_DEDUCTED) == [("count", _metrics.CREDITS_DEDUCTED, 8, TASK_TAGS)]
    assert metrics.named(_metrics.CREDITS_REMAINING) == [
        ("gauge", _metrics.CREDITS_REMAINING, 9992, TASK_TAGS)
    ]
    assert metrics.named(_metrics.CREDITS_LOW) == []
    assert metrics.total(_metrics.POLLS, conn_id="gamma_default") >= 1


def test_credits_below_the_connections_threshold_warn_and_count(
    gamma_emulator: GammaEmulator,
    metrics: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connect(gamma_emulator, monkeypatch, credits_warning_below="10000")
    generate(num_cards=2).execute(doubles.context())

    [warning] = [
        line for line in capsys.readouterr().out.splitlines() if "left in the Gamma workspace" in line
    ]
    assert "warning" in warning
    assert "Only 9,996 credits left in the Gamma workspace, below the 10,000 set by connection" in warning
    assert metrics.named(_metrics.CREDITS_LOW) == [("count", _metrics.CREDITS_LOW, 1, TASK_TAGS)]


def test_a_failed_generation_says_what_it_cost_before_failing(
    gamma_connection: GammaEmulator, metrics: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    gamma_connection.fail_next_generation(message="No images today")
    with pytest.raises(GammaGenerationFailedError, match="No images today"):
        generate().execute(doubles.context())

    left = f"{gamma_connection.credits:,} left in the workspace"
    assert re.search(rf"Cost of the failed generation: \d+ credits?; {left}", capsys.readouterr().out)
    assert metrics.total(_metrics.DECKS_FAILED, **TASK_TAGS) == 1
    assert metrics.named(_metrics.DECKS_COMPLETED) == []


def test_a_settled_deck_says_its_cost_cannot_be_told_and_counts_a_settlement(
    gamma_connection: GammaEmulator, metrics: Recorder
) -> None:
    gamma_connection.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)
    result = generate(reconcile_window=3).execute(doubles.context())

    assert result["reconciled"] is True
    assert result["cost"].startswith("cannot be told: ")
    assert metrics.total(_metrics.SETTLEMENTS, **TASK_TAGS) == 1
    assert metrics.total(_metrics.DECKS_COMPLETED, **TASK_TAGS) == 1
    assert metrics.named(_metrics.CREDITS_DEDUCTED) == metrics.named(_metrics.CREDITS_REMAINING) == []


def test_an_agent_deck_says_what_it_cost(gamma_connection: GammaEmulator, metrics: Recorder) -> None:
    agent = GammaAgentGenerateOperator(
        task_id="agent", prompt="Board update", num_cards=5, deferrable=False, poll_interval=0.05
    )
    result = agent.execute(doubles.context())

    assert (
        result["cost"]
        == f"10 credits (5 cards asked for); {gamma_connection.credits:,} left in the workspace"
    )
    assert metrics.total(_metrics.CREDITS_DEDUCTED, task_id="agent") == 10


def test_a_generation_not_waited_for_has_no_cost_yet(
    gamma_connection: GammaEmulator, metrics: Recorder
) -> None:
    result = generate(wait_for_completion=False).execute(doubles.context())
    assert "cost" not in result
    assert [name for _, name, _, _ in metrics.sent if not name.startswith("gamma.polls")] == []


# --- the transports: one count per answer ---------------------------------------------------------


def test_each_poll_answer_and_each_429_is_counted_once_by_both_drivers(
    gamma_connection: GammaEmulator, metrics: Recorder
) -> None:
    hook = GammaHook()
    generation_id = hook.submit_generation({"inputText": "x", "textMode": "generate"})["generationId"]
    assert metrics.sent == []  # a POST is no poll

    gamma_connection.add_fault(method="GET", path_prefix=GENERATIONS, status=429, retry_after=0.01)
    hook.get_generation(generation_id)
    assert metrics.total(_metrics.POLLS, conn_id="gamma_default") == 2  # the 429 and the answer
    assert metrics.total(_metrics.RATE_LIMITED, conn_id="gamma_default") == 1

    gamma_connection.add_fault(method="GET", path_prefix=GENERATIONS, status=429, retry_after=0.01)
    asyncio.run(GammaHook().aget_generation(generation_id))
    assert metrics.total(_metrics.POLLS, conn_id="gamma_default") == 4
    assert metrics.total(_metrics.RATE_LIMITED, conn_id="gamma_default") == 2

    gamma_connection.add_fault(method="GET", path_prefix="/v1.0/themes", status=429, retry_after=0.01)
    hook.list_themes()
    assert metrics.total(_metrics.POLLS) == 4  # listing themes is no poll
    assert metrics.total(_metrics.RATE_LIMITED) == 3


def test_a_failing_metrics_backend_never_fails_the_task(
    gamma_connection: GammaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def incr(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("statsd host unreachable")

        gauge = incr

    monkeypatch.setattr(_metrics, "_stats", Broken)
    assert generate(num_cards=1).execute(doubles.context())["status"] == "completed"


# --- Airflow's own StatsD client, end to end ------------------------------------------------------


class StatsdServer:
    """A StatsD server on a loopback UDP port, reading from a thread so no datagram is dropped."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.3)
        self.port: int = self.socket.getsockname()[1]
        self.lines: list[str] = []
        self.quiet = threading.Event()  # set once a read found nothing for 0.3 s
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        while True:
            try:
                datagram = self.socket.recv(65535)
            except TimeoutError:
                self.quiet.set()
                continue
            except OSError:  # closed
                return
            self.quiet.clear()
            self.lines.extend(datagram.decode().splitlines())

    def received(self) -> list[str]:
        """Every line so far, once nothing more arrived for a moment."""
        self.quiet.clear()
        self.quiet.wait(timeout=5)
        return list(self.lines)

    def close(self) -> None:
        self.socket.close()
        self.thread.join(timeout=5)


@pytest.fixture
def statsd() -> Iterator[StatsdServer]:
    server = StatsdServer()
    yield server
    server.close()


def test_airflow_sends_the_metrics_to_statsd_tagged_by_dag_task_and_connection(
    airflow_home: Path, tmp_path: Path, statsd: StatsdServer
) -> None:
    """The deferrable generate DAG of tests/dags under ``airflow dags test``: the task, then the trigger
    (inline), then the task again, each sending through Airflow's StatsD client as configured."""
    shutil.copyfile(airflow_home / "airflow.db", tmp_path / "airflow.db")
    with GammaEmulator(generation_seconds=0.2) as emulator:
        emulator.add_fault(method="GET", path_prefix=GENERATIONS, status=429, retry_after=0.05)
        conn = {**json.loads(emulator.connection_uri()), "extra": {"credits_warning_below": 100_000}}
        run = subprocess.run(
            [str(BIN / "airflow"), "dags", "test", "gamma_generate_deferrable", "2026-01-05"],
            env={
                **os.environ,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "tests" / "dags"),
                "AIRFLOW_CONN_GAMMA_DEFAULT": json.dumps(conn),
                "AIRFLOW__METRICS__STATSD_ON": "True",
                "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
                "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
                "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",  # tags on the wire: name,k=v:1|c
            },
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Cost: 8 credits (4 cards asked for); 9,992 left in the workspace" in output
    assert "Only 9,992 credits left in the Gamma workspace, below the 100,000 set by connection" in output

    task = "dag_id=gamma_generate_deferrable,task_id=generate,conn_id=gamma_default"
    received = [line for line in statsd.received() if line.startswith("airflow.gamma.")]
    for expected in (
        f"airflow.gamma.decks.completed,{task}:1|c",
        f"airflow.gamma.credits.deducted,{task}:8|c",
        f"airflow.gamma.credits.remaining,{task}:9992|g",
        f"airflow.gamma.credits.low,{task}:1|c",
        "airflow.gamma.rate_limited,conn_id=gamma_default:1|c",
    ):
        assert expected in received, f"{expected} not among {received}"
    polls = [line for line in received if line.startswith("airflow.gamma.polls,conn_id=gamma_default:")]
    assert len(polls) >= 2  # the 429 and the completed generation, counted in the trigger
