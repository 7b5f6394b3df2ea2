# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Bad arguments to the operators, the sensor and the export operator fail when the DAG file is parsed,
with one clear error naming the argument and what is allowed; bad connections fail the task at once,
naming the connection and the field, without the key. (tests/test_parameters.py covers the request
body itself; this is the layer users touch.)"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gamma._compat import AirflowFailException

HEADER = """\
from datetime import datetime
from decimal import Decimal

from airflow.sdk import DAG
from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator as Export
from airflow_provider_gamma.operators.gamma import GammaAgentGenerateOperator as Agent
from airflow_provider_gamma.operators.gamma import GammaGenerateFromTemplateOperator as Template
from airflow_provider_gamma.operators.gamma import GammaGenerateOperator as Generate
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor as Sensor

with DAG("bad_{case}", schedule=None):
    {call}
"""

G = 'Generate(task_id="t", input_text="Weekly numbers", {})'
T = 'Template(task_id="t", gamma_id="g_tpl", prompt="Adapt it", {})'
E = 'Export(task_id="t", generation_id="gen_1", dest="/tmp/deck.pdf", {})'
S = 'Sensor(task_id="t", generation_id="gen_1", {})'
A = 'Agent(task_id="t", prompt="Board update", {})'

# case id: (call, the argument named, what the message says is allowed)
CASES: dict[str, tuple[str, str, str]] = {
    "text_mode_wrong_enum": (G.format('text_mode="Generate"'), "text_mode", "did you mean 'generate'"),
    "format_wrong_enum": (G.format('format="slides"'), "format", "presentation, document, social, webpage"),
    "num_cards_zero": (G.format("num_cards=0"), "num_cards", "1 to 75"),
    "num_cards_too_many": (G.format("num_cards=80"), "num_cards", "1 to 75"),
    "num_cards_wrong_type": (G.format('num_cards="ten"'), "num_cards", "whole number"),
    "card_split_wrong_enum": (G.format('card_split="manual"'), "card_split", "auto, inputTextBreaks"),
    "export_as_wrong_enum": (G.format('export_as="docx"'), "export_as", "pdf, pptx, png"),
    "input_text_empty": ('Generate(task_id="t", input_text="")', "input_text", "1 to 400,000 characters"),
    "input_text_wrong_type": ('Generate(task_id="t", input_text=42)', "input_text", "must be a string"),
    "text_options_unknown_key": (
        G.format('text_options={"amout": "brief"}'),
        "text_options",
        "did you mean 'amount'",
    ),
    "text_options_wrong_type": (G.format('text_options="brief"'), "text_options", "must be a dict"),
    "text_options_wrong_enum": (
        G.format('text_options={"amount": "huge"}'),
        "text_options.amount",
        "brief, medium, detailed, extensive",
    ),
    "image_options_wrong_enum": (
        G.format('image_options={"source": "unsplash"}'),
        "image_options.source",
        "aiGenerated",
    ),
    "card_options_wrong_dimensions": (
        G.format('card_options={"dimensions": "16:9"}'),
        "card_options.dimensions",
        "16x9",
    ),
    "sharing_options_wrong_enum": (
        G.format('sharing_options={"externalAccess": "fullAccess"}'),
        "sharing_options.externalAccess",
        "noAccess, view",
    ),
    "folder_ids_too_many": (
        G.format("folder_ids=['f1', 'f2']"),
        "folder_ids",
        "one folder only; pass folder_id=",
    ),
    "additional_instructions_too_long": (
        G.format('additional_instructions="x" * 5001'),
        "additional_instructions",
        "5,000",
    ),
    "extra_body_wrong_type": (G.format('extra_body=["x"]'), "extra_body", "dict"),
    "poll_interval_zero": (G.format("poll_interval=0"), "poll_interval", "positive number of seconds"),
    "poll_interval_wrong_type": (
        G.format('poll_interval="fast"'),
        "poll_interval",
        "positive number of seconds",
    ),
    "timeout_negative": (G.format("timeout=-5"), "timeout", "positive number of seconds"),
    "first_poll_delay_negative": (G.format("first_poll_delay=-1"), "first_poll_delay", "non-negative number"),
    "resubmit_failed_string": (G.format('resubmit_failed="False"'), "resubmit_failed", "True or False"),
    "wait_for_completion_string": (
        G.format('wait_for_completion="no"'),
        "wait_for_completion",
        "True or False",
    ),
    "deferrable_string": (G.format('deferrable="yes"'), "deferrable", "True or False"),
    "template_gamma_id_empty": (
        'Template(task_id="t", gamma_id="", prompt="Adapt it")',
        "gamma_id",
        "at least 1",
    ),
    "template_prompt_empty": (
        'Template(task_id="t", gamma_id="g_tpl", prompt="")',
        "prompt",
        "1 to 400,000 characters",
    ),
    "template_export_as_wrong_enum": (T.format('export_as="gif"'), "export_as", "pdf, pptx, png"),
    "export_if_exists_wrong_enum": (E.format('if_exists="replace"'), "if_exists", "overwrite, skip, fail"),
    "export_unpack_png_wrong_type": (E.format('unpack_png="yes"'), "unpack_png", "True or False"),
    "export_dest_relative": (
        'Export(task_id="t", generation_id="gen_1", dest="decks/deck.pdf")',
        "dest",
        "a local path must be absolute",
    ),
    "export_dest_unknown_scheme": (
        'Export(task_id="t", generation_id="gen_1", dest="ftpx://host/deck.pdf")',
        "dest",
        "no Airflow filesystem handles ftpx://",
    ),
    "export_dest_empty": ('Export(task_id="t", generation_id="gen_1", dest="")', "dest", "must be a URL"),
    "export_dest_wrong_type": (
        'Export(task_id="t", generation_id="gen_1", dest=42)',
        "dest",
        "must be a URL",
    ),
    "export_generation_id_empty": (
        'Export(task_id="t", generation_id="", dest="/tmp/deck.pdf")',
        "generation_id",
        "must be a generation id",
    ),
    "export_generation_id_wrong_type": (
        'Export(task_id="t", generation_id=7, dest="/tmp/deck.pdf")',
        "generation_id",
        "must be a generation id",
    ),
    "export_retry_policy_wrong_type": (
        E.format('download_retry_policy={"max_attempts": 3}'),
        "download_retry_policy",
        "RetryPolicy",
    ),
    "poll_interval_nan": (G.format('poll_interval=float("nan")'), "poll_interval", "at most 3600"),
    "poll_interval_inf": (G.format('poll_interval=float("inf")'), "poll_interval", "at most 3600"),
    "timeout_inf": (G.format('timeout=float("inf")'), "timeout", "at most 604800"),
    "timeout_absurd": (G.format("timeout=1e15"), "timeout", "at most 604800"),
    "first_poll_delay_nan": (G.format('first_poll_delay=float("nan")'), "first_poll_delay", "non-negative"),
    "reconcile_window_nan": (G.format('reconcile_window=float("nan")'), "reconcile_window", "positive"),
    "reconcile_string": (G.format('reconcile="no"'), "reconcile", "True or False"),
    "title_too_long": (G.format('title="t" * 501'), "title", "1 to 500"),
    "template_timeout_inf": (T.format('timeout=float("inf")'), "timeout", "at most 604800"),
    "template_poll_interval_nan": (T.format('poll_interval=float("nan")'), "poll_interval", "at most 3600"),
    "sensor_poke_interval_nan": (S.format('poke_interval=float("nan")'), "poke_interval", "at most 3600"),
    "sensor_timeout_inf": (S.format('timeout=float("inf")'), "timeout", "at most 604800"),
    "retry_policy_backoff_nan": (
        E.format('download_retry_policy=RetryPolicy(backoff=float("nan"))'),
        "backoff",
        "non-negative number of seconds",
    ),
    "retry_policy_attempts_zero": (
        E.format("download_retry_policy=RetryPolicy(max_attempts=0)"),
        "max_attempts",
        "1 to 100",
    ),
    "agent_format_webpage": (A.format('format="webpage"'), "format", "presentation, document, social"),
    "agent_quality_wrong_enum": (A.format('quality="high"'), "quality", "lite, standard, max"),
    "agent_num_cards_too_many": (A.format("num_cards=101"), "num_cards", "1 to 100"),
    "agent_source_urls_too_many": (
        A.format('source_urls=[f"https://example.com/{i}" for i in range(11)]'),
        "source_urls",
        "at most 10",
    ),
    "agent_source_urls_not_http": (
        A.format('source_urls=["file:///etc/passwd"]'),
        "source_urls",
        "http(s) URL",
    ),
    "agent_disable_connectors_string": (
        A.format('disable_connectors="False"'),
        "disable_connectors",
        "true or false",
    ),
    "agent_timeout_inf": (A.format('timeout=float("inf")'), "timeout", "positive number of seconds"),
    "agent_prompt_empty": ('Agent(task_id="t", prompt=" ")', "prompt", "1 to 400,000 characters"),
    "pages_and_input_text": (G.format('pages=[{"inputText": "North"}]'), "pages", "not both"),
    "pages_without_text": (
        'Generate(task_id="t", pages=[{"inputText": "North"}, {"title": "South"}])',
        "pages[1].inputText",
        "is required",
    ),
    "pages_too_many": (
        'Generate(task_id="t", pages=[{"inputText": str(i)} for i in range(51)])',
        "pages",
        "1 to 50 items",
    ),
    "page_key_typo": (
        'Generate(task_id="t", pages=[{"inputText": "North", "num_cards": 3}])',
        "pages[0]",
        "did you mean 'numCards'",
    ),
    "export_poll_interval_nan": (E.format('poll_interval=float("nan")'), "poll_interval", "positive number"),
    "export_timeout_absurd": (E.format("export_timeout=1e15"), "export_timeout", "positive number"),
    "export_deferrable_string": (E.format('deferrable="True"'), "deferrable", "True or False"),
    "sensor_generation_id_empty": (
        'Sensor(task_id="t", generation_id="")',
        "generation_id",
        "non-empty string",
    ),
    "sensor_generation_id_wrong_type": (
        'Sensor(task_id="t", generation_id=12)',
        "generation_id",
        "non-empty string",
    ),
    # Values Gamma cannot take as JSON: before, each was sent as null, dropped, or failed the task.
    "text_options_none_inside": (
        G.format('text_options={"language": None}'),
        "text_options.language",
        "leave the key out",
    ),
    "sharing_options_none_deep_inside": (
        G.format('sharing_options={"emailOptions": {"recipients": ["a@example.com"], "access": None}}'),
        "sharing_options.emailOptions.access",
        "leave the key out",
    ),
    "pages_none_inside": (
        'Generate(task_id="t", pages=[{"inputText": "North", "title": None}])',
        "pages[0].title",
        "leave the key out",
    ),
    "extra_body_nan": (
        G.format('extra_body={"cardOptions": {"scale": float("nan")}}'),
        "extra_body.cardOptions.scale",
        "finite number",
    ),
    "extra_body_datetime": (
        G.format('extra_body={"publishAt": datetime(2026, 12, 1)}'),
        "extra_body.publishAt",
        ".isoformat()",
    ),
    "extra_body_non_string_key": (G.format('extra_body={1: "x"}'), "extra_body", "keys must be strings"),
    "folder_ids_set": (G.format('folder_ids={"f1"}'), "folder_ids", "list of non-empty strings"),
    "input_text_bytes": ('Generate(task_id="t", input_text=b"Weekly numbers")', "input_text", "a string"),
    "num_cards_decimal": (G.format("num_cards=Decimal(8)"), "num_cards", "whole number"),
    "num_cards_superscript": (G.format('num_cards="²"'), "num_cards", "whole number"),
    "gamma_conn_id_none": (G.format("gamma_conn_id=None"), "gamma_conn_id", "connection id"),
    "template_gamma_conn_id_empty": (T.format('gamma_conn_id=" "'), "gamma_conn_id", "connection id"),
    "agent_gamma_conn_id_none": (A.format("gamma_conn_id=None"), "gamma_conn_id", "connection id"),
    "export_gamma_conn_id_none": (E.format("gamma_conn_id=None"), "gamma_conn_id", "connection id"),
    "sensor_gamma_conn_id_none": (S.format("gamma_conn_id=None"), "gamma_conn_id", "connection id"),
    "export_dest_relative_file_url": (
        'Export(task_id="t", generation_id="gen_1", dest="file:decks/deck.pdf")',
        "dest",
        "file:///",
    ),
    "export_dest_file_url_with_host": (
        'Export(task_id="t", generation_id="gen_1", dest="file://decks/deck.pdf")',
        "dest",
        "file:///",
    ),
    "export_generation_id_empty_dict": (
        'Export(task_id="t", generation_id={}, dest="/tmp/deck.pdf")',
        "generation_id",
        "generationId or gammaId",
    ),
    "agent_title": (A.format('title="Board update"'), "title", "names the deck itself"),
    "agent_extra_body_none": (A.format('extra_body={"quality": None}'), "extra_body.quality", "key out"),
    "agent_sharing_options_none": (
        A.format('sharing_options={"workspaceAccess": None}'),
        "sharing_options.workspaceAccess",
        "leave the key out",
    ),
}


@pytest.fixture(scope="module")
def import_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One generated DAG file per case, parsed by one DagBag: file stem -> its import error."""
    try:  # Airflow >= 3.2
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    folder = tmp_path_factory.mktemp("bad_dags")
    for case, (call, _, _) in CASES.items():
        (folder / f"{case}.py").write_text(HEADER.format(case=case, call=call))
    bag = DagBag(dag_folder=str(folder), safe_mode=False)
    return {Path(path).stem: str(error) for path, error in bag.import_errors.items()}


def test_the_matrix_is_wide(import_errors: dict[str, str]) -> None:
    assert len(CASES) >= 30
    assert set(import_errors) == set(CASES), (
        f"parsed without an error: {sorted(set(CASES) - set(import_errors))}"
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_argument_fails_dag_parsing_with_one_clear_error(
    import_errors: dict[str, str], case: str
) -> None:
    _, field, allowed = CASES[case]
    error = import_errors[case]
    last = error.strip().splitlines()[-1]
    # The error raised is the provider's own, about this argument, not something from deep inside.
    assert last.startswith(
        "airflow_provider_gamma.exceptions.GammaParameterError: Invalid Gamma parameter "
    ), last
    assert field in last
    assert allowed in last
    # One error: no chained "During handling of the above exception" from a failure underneath.
    assert [line for line in error.splitlines() if "Error: " in line and not line.startswith(" ")] == [last]
    assert "During handling" not in error


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_argument_raises_inside_a_dag_context(case: str) -> None:
    from airflow_provider_gamma.exceptions import GammaParameterError

    call, field, _ = CASES[case]
    source = textwrap.dedent(HEADER.format(case=case, call=call))
    with pytest.raises(GammaParameterError) as caught:
        exec(compile(source, f"<{case}>", "exec"), {})  # noqa: S102 - the DAG file of the case
    assert field in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_templated_and_xcom_values_are_not_judged_at_parse_time() -> None:
    """What is only known when the task runs passes parsing (and is checked after rendering)."""
    from airflow.sdk import DAG

    from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
    from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor

    with DAG("templated_values", schedule=None):
        start = GammaGenerateOperator(
            task_id="start",
            input_text="{{ params.text }}",
            num_cards="{{ params.cards }}",
            wait_for_completion=False,
        )
        GammaGenerationSensor(
            task_id="wait", generation_id="{{ ti.xcom_pull('start', key='generation_id') }}"
        )
        output: Any = start.output
        GammaGenerationSensor(task_id="wait_arg", generation_id=output["generationId"])
        GammaExportToObjectStorageOperator(task_id="land", generation_id=output, dest="s3://b/{{ ds }}/")


# --- connections: known only when the task runs ------------------------------------------------------

KEY = "sk-gamma-SECRET-connection-matrix"
NO_CONTEXT: Any = {"ti": None}  # the connection is read before the task instance is used


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        ({"conn_type": "gamma"}, "has no API key: put your Gamma key (sk-gamma-...) in its password field"),
        ({"conn_type": "gamma", "password": "   "}, "has no API key"),
        ({"conn_type": "gamma", "password": KEY, "host": "ftp://public-api.gamma.app"}, "malformed base URL"),
        ({"conn_type": "gamma", "password": KEY, "host": "https://"}, "malformed base URL"),
        (
            {"conn_type": "gamma", "password": KEY, "host": "https://gamma.example:99999"},
            "malformed base URL",
        ),
        (
            {"conn_type": "gamma", "password": KEY, "host": "https://gamma.example/?x=1"},
            "expected https://host[:port]",
        ),
        ({"conn_type": "gamma", "password": KEY, "host": "http://public-api.gamma.app"}, "uses plain http"),
        (
            {"conn_type": "gamma", "password": KEY, "extra": {"timeout": "soon"}},
            "extra 'timeout'='soon' must be a positive number of seconds",
        ),
        (
            {"conn_type": "gamma", "password": KEY, "extra": {"timeout": -1}},
            "'timeout'=-1.0 must be a positive",
        ),
        ({"conn_type": "gamma", "password": KEY, "extra": {"timeout": "nan"}}, "'timeout'=nan must be"),
        ({"conn_type": "gamma", "password": KEY, "extra": {"timeout": "inf"}}, "'timeout'=inf must be"),
        ({"conn_type": "gamma", "password": KEY, "extra": {"timeout": 1e15}}, "at most 3600"),
    ],
)
def test_unusable_connection_fails_the_task_at_once_naming_it(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], message: str
) -> None:
    from airflow_provider_gamma.exceptions import GammaConfigurationError
    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator

    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_BROKEN", json.dumps(conn))
    op = GammaGenerateOperator(task_id="t", input_text="x", gamma_conn_id="gamma_broken")
    with pytest.raises(GammaConfigurationError) as caught:
        op.execute(NO_CONTEXT)
    assert isinstance(caught.value, AirflowFailException), "a retry cannot fix a connection"
    assert "Connection 'gamma_broken'" in str(caught.value)
    assert message in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)


def test_missing_connection_names_the_connection_id(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator

    monkeypatch.delenv("AIRFLOW_CONN_GAMMA_NOWHERE", raising=False)
    op = GammaGenerateOperator(task_id="t", input_text="x", gamma_conn_id="gamma_nowhere")
    with pytest.raises(Exception, match="gamma_nowhere") as caught:
        op.execute(NO_CONTEXT)
    assert "isn't defined" in str(caught.value)


# --- values known only once rendered: checked again before any request ------------------------------


class _NoRequest(Exception):
    """Raised by a stand-in for the POST: reaching it means nothing stopped the request."""


def _render(op: Any, **params: Any) -> None:
    """Render ``op``'s template fields as Airflow does, with ``params`` in the context."""
    op.render_template_fields({"params": params})


def _no_post(op: Any) -> None:
    def send(body: Any, *, timeout: float | None) -> Any:
        raise _NoRequest

    op._send = send


@pytest.mark.parametrize(
    ("field", "template", "rendered", "named"),
    [
        ("text_options", "{{ params.value }}", {"language": None}, "text_options.language=None"),
        (
            "extra_body",
            "{{ params.value }}",
            {"textOptions": {"tone": float("nan")}},
            "extra_body.textOptions.tone",
        ),
        ("num_cards", "{{ params.value }}", "²", "num_cards"),
        ("pages", "{{ params.value }}", [{"inputText": "North", "title": None}], "pages[0].title=None"),
    ],
)
def test_a_rendered_value_gamma_cannot_take_fails_before_the_post(
    field: str, template: str, rendered: Any, named: str
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_gamma.exceptions import GammaParameterError
    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
    from tests import doubles

    text = {} if field == "pages" else {"input_text": "Weekly numbers"}
    with DAG("rendered_values", schedule=None, render_template_as_native_obj=True):
        op = GammaGenerateOperator(task_id="t", **text, **{field: template})  # passes parsing
    _render(op, value=rendered)
    _no_post(op)
    with pytest.raises(GammaParameterError, match=re.escape(named)):
        op.execute(doubles.context())


def test_an_xcom_value_gamma_cannot_take_fails_once_resolved() -> None:
    from datetime import datetime

    from airflow.sdk import DAG, BaseOperator

    from airflow_provider_gamma.exceptions import GammaParameterError
    from airflow_provider_gamma.operators.gamma import GammaAgentGenerateOperator
    from tests import doubles

    with DAG("xcom_values", schedule=None):
        upstream = BaseOperator(task_id="upstream")
        op = GammaAgentGenerateOperator(task_id="t", prompt="Board update", extra_body=upstream.output)
    op.extra_body = {"deadline": datetime(2026, 12, 1)}  # what the XCom resolved to
    _no_post(op)
    with pytest.raises(GammaParameterError, match=r"extra_body.deadline=.*isoformat"):
        op.execute(doubles.context())


@pytest.mark.parametrize("dest", ["file:decks/deck.pdf", "file://decks/deck.pdf", "decks/deck.pdf"])
def test_a_rendered_relative_dest_fails_before_any_request(dest: str) -> None:
    from airflow_provider_gamma.exceptions import GammaParameterError
    from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
    from tests import doubles

    op = GammaExportToObjectStorageOperator(task_id="t", generation_id="gen_1", dest="{{ params.dest }}")
    _render(op, dest=dest)
    op.__dict__["hook"] = None  # any request would fail on this instead
    with pytest.raises(GammaParameterError, match="dest="):
        op.execute(doubles.context())


def test_a_relative_object_storage_path_fails_dag_parsing() -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_gamma.exceptions import GammaParameterError
    from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator

    dest = ObjectStoragePath("decks/deck.pdf")
    if str(dest.path).startswith("/"):
        pytest.skip("this Airflow makes the path absolute itself (Airflow 3.1: from the root)")
    with pytest.raises(GammaParameterError, match="absolute path"):
        GammaExportToObjectStorageOperator(task_id="t", generation_id="gen_1", dest=dest)


def test_absolute_destinations_still_pass() -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator

    for dest in ("/tmp/deck.pdf", "file:///tmp/deck.pdf", ObjectStoragePath("file:///tmp/deck.pdf")):
        GammaExportToObjectStorageOperator(task_id="t", generation_id="gen_1", dest=dest)
    GammaExportToObjectStorageOperator(
        task_id="t", generation_id={"generationId": None, "gammaId": "g_1"}, dest="/tmp/", export_as="pdf"
    )


# --- card_split="inputTextBreaks" on a text without a break --------------------------------------------

ONE_CARD = "Revenue up 4 %\nCosts down 2 %"


def test_input_text_breaks_without_a_break_is_warned_of_when_the_dag_is_parsed() -> None:
    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
    from airflow_provider_gamma.parameters import GammaCardSplitWarning

    with pytest.warns(GammaCardSplitWarning, match="single card of it and ignore num_cards") as caught:
        GammaGenerateOperator(task_id="t", input_text=ONE_CARD, card_split="inputTextBreaks", num_cards=8)
    assert len(caught) == 1
    assert caught[0].filename == __file__, "the warning points at the DAG file's line"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_text": "Revenue up 4 %\n---\nCosts down 2 %", "card_split": "inputTextBreaks"},
        {"input_text": ONE_CARD, "card_split": "auto"},
        {"input_text": "{{ params.text }}", "card_split": "inputTextBreaks"},  # judged once rendered
    ],
)
def test_no_card_split_warning_where_the_text_splits_or_is_not_rendered_yet(kwargs: dict[str, Any]) -> None:
    import warnings

    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
    from airflow_provider_gamma.parameters import GammaCardSplitWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", GammaCardSplitWarning)
        GammaGenerateOperator(task_id="t", **kwargs)


def test_input_text_breaks_without_a_break_is_warned_of_in_the_task_log_before_the_post(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
    from tests import doubles

    # The task reads its connection before the POST (the connection may switch title references off).
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps({"conn_type": "gamma", "password": "sk-k"}))

    op = GammaGenerateOperator(task_id="t", input_text="{{ params.text }}", card_split="inputTextBreaks")
    _render(op, text=ONE_CARD)
    capsys.readouterr()
    logged_before_the_post: list[str] = []

    def send(body: Any, *, timeout: float | None) -> Any:
        logged_before_the_post.append(capsys.readouterr().out)
        raise _NoRequest

    op._send = send
    with pytest.raises(_NoRequest):
        op.execute(doubles.context())
    [log] = logged_before_the_post
    assert "input_text holds no" in log
    assert "single card of it and ignore num_cards" in log
