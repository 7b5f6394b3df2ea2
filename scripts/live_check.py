# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""``make live-check``: run the provider's own client against the real Gamma API for a few credits and
compare every answer, key for key, with what the bundled emulator answers to the same calls.

Opt-in: nothing runs without ``GAMMA_API_KEY`` (never set in CI). The steps, in order (:data:`STEPS`):

* ``list_themes``: a free read that proves the key works before anything is paid for;
* ``classic_deck``: the cheapest classic deck (1 card, ``textMode: preserve``, no images) and its
  status polls;
* ``get_gamma``, ``export_pdf`` (a new PDF export of the gamma, polled and downloaded), ``search``
  (the deck found by a word of its title, ``createdBy=me``; reports how long until it showed);
* ``agent_deck``, only with ``GAMMA_LIVE_AGENT=1``: a 1-card Gamma 5 agent run at ``quality: lite``;
* ``analytics`` (the deck's analytics, cards and viewers) and ``search_templates``: free reads;
* ``upload``, only with ``GAMMA_LIVE_EDIT=1``: a 1 KiB CSV streamed to ``POST /v1.0/uploads`` (free);
* ``edit_deck``, only with ``GAMMA_LIVE_EDIT=1``: an agent edit of the classic deck at ``quality:
  lite`` reading that upload, and its polls (billed like an agent run);
* ``archive``: every gamma the run created is archived (free), even after a failure.

The same steps run first against an in-process emulator on loopback (so a broken step costs nothing),
then against Gamma. Each answer is kept as its *shape* (keys and JSON types, see
:mod:`airflow_provider_gamma.testing.shape`) and written in the contract-fixture format, one file per
call, to ``--out`` (Gamma's) and ``--out/emulator`` (the emulator's). No file and no printed line
carries the key, an id, a URL, a title or any other value of the workspace.

``GAMMA_API_BASE_URL`` (or ``--base-url``) points the check elsewhere, e.g. at an emulator in tests.
Exit status: 0 when every step passed and the emulator agrees with Gamma key for key, else 1 (2 when
there is no key).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from airflow_provider_gamma import parameters, protocol
from airflow_provider_gamma.connection import GammaSettings
from airflow_provider_gamma.exceptions import GammaError, GammaPermissionError, GammaSubmissionUncertainError
from airflow_provider_gamma.hooks._transport import SyncTransport
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.protocol import ApiRequest, ApiResponse, GenerationCreated, Outcome, Send
from airflow_provider_gamma.testing.shape import Shape, differences, shape

T = TypeVar("T")

TITLE = "airflow-provider-gamma live check"
#: What the answer body's shape is when it was not JSON (not a JSON type name, so it never matches one).
NOT_JSON = "not JSON"
#: Cost figures of Gamma's pricing (gamma-api.md §13): text 1-3 credits a card, images by model tier.
CREDITS_PER_CARD = (1, 3)


@dataclass(frozen=True)
class Options:
    """How one pass waits: seconds between status polls and searches, and how long it waits at most."""

    poll_interval: float = 5.0
    search_every: float = 10.0
    search_wait: float = 180.0
    timeout: float = 900.0
    agent: bool = False
    edit: bool = False


class StepFailed(Exception):
    """A step saw something wrong; the message holds no value of the workspace."""


class Skipped(Exception):
    """A step needs what an earlier step did not get (e.g. no gamma, so nothing to export)."""


@dataclass
class Call:
    """One named call: its request and the answers it got (kept in memory; only shapes are written)."""

    request: ApiRequest
    status: int
    bodies: list[Any]


class RecordingTransport(SyncTransport):
    """The hook's own ``requests`` driver, handing every attempt's outcome to ``on_outcome``."""

    def __init__(self, settings: GammaSettings, on_outcome: Callable[[ApiRequest, Outcome], None]) -> None:
        super().__init__(settings)
        self._on_outcome = on_outcome

    def send(self, step: Send) -> Outcome:
        outcome = super().send(step)
        self._on_outcome(step.request, outcome)
        return outcome


class Run:
    """One pass of the steps against one Gamma: its hook, the answers by call, what the steps found
    out, and every value that must never be shown (see :meth:`scrub`)."""

    def __init__(self, hook: GammaHook, options: Options, secret_values: set[str]) -> None:
        self.hook = hook
        self.options = options
        self.calls: dict[str, Call] = {}
        self.found: dict[str, str] = {}
        self.gammas: list[str] = []
        self.started_generations = 0
        self.credits_deducted = 0.0
        self.token = "lc" + secrets.token_hex(5)
        self.started = datetime.now(UTC)
        self._secrets = {*secret_values, self.token}
        self._answer: tuple[ApiRequest, ApiResponse] | None = None
        hook._transport = RecordingTransport(hook.settings, self._answered)
        self._quiet_hook_log()

    def _answered(self, request: ApiRequest, outcome: Outcome) -> None:
        self._secrets.update(_path_ids(request.path))
        if isinstance(outcome, ApiResponse):
            self._answer = (request, outcome)

    def call(self, name: str | Callable[[int, Any], str], send: Callable[[], T], *, merge: bool = False) -> T:
        """Make one call through the hook and keep its final answer under ``name`` (a function of the
        status and body for polls); ``merge`` keeps every answer of that name (their shapes are united)."""
        self._answer = None
        try:
            return send()
        finally:
            if self._answer is not None:
                self._keep(name, *self._answer, merge=merge)

    def _keep(
        self,
        name: str | Callable[[int, Any], str],
        request: ApiRequest,
        response: ApiResponse,
        *,
        merge: bool,
    ) -> None:
        try:
            body: Any = json.loads(response.body)
        except ValueError:
            body = NOT_JSON
        self._secrets.update(_private_strings(body))
        key = name if isinstance(name, str) else name(response.status, body)
        kept = self.calls.get(key)
        if merge and kept is not None and kept.status == response.status:
            kept.bodies.append(body)
        else:
            self.calls[key] = Call(request, response.status, [body])

    def need(self, what: str) -> str:
        if what not in self.found:
            raise Skipped(f"no {what} (an earlier step did not get one)")
        return self.found[what]

    def adopt(self, job: Mapping[str, Any]) -> None:
        """Note the gamma of a generation as soon as an answer names it, so it is archived at the end."""
        gamma_id = job.get("gammaId")
        if isinstance(gamma_id, str) and gamma_id and gamma_id not in self.gammas:
            self.gammas.append(gamma_id)

    def scrub(self, text: str) -> str:
        """``text`` with the key, ids, URLs, titles and other workspace values blanked out."""
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, "…")
        return protocol.redact(text)

    def transcript(self, source: str) -> dict[str, dict[str, Any]]:
        """Every call in the contract-fixture format: request and answer as shapes, never values."""
        return {name: _fixture(source, name, call) for name, call in sorted(self.calls.items())}

    def _quiet_hook_log(self) -> None:
        """The hook logs ids at INFO: keep only its warnings (retries), scrubbed."""
        run = self

        class Scrubbed(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                print(f"    ({run.scrub(record.getMessage())})", file=sys.stderr, flush=True)

        log = logging.getLogger(f"live_check.{id(self)}")
        log.handlers = [Scrubbed()]
        log.propagate = False
        log.setLevel(logging.WARNING)
        self.hook._log = log  # type: ignore[assignment]  # a stdlib logger takes the hook's calls


# --- the steps ------------------------------------------------------------------------------------


def list_themes(run: Run) -> str:
    themes = run.call("list_themes", run.hook.list_themes, merge=True)
    return f"{len(themes)} themes visible"


def classic_deck(run: Run) -> str:
    body = parameters.generation_body(
        input_text=f"# {TITLE} {run.token}\nA one-card check of the Airflow provider; safe to delete.",
        text_mode="preserve",
        num_cards=1,
        format="presentation",
        title=f"{TITLE} {run.token}",
        image_options={"source": "noImages"},
    )
    created = _submit(run, "create_generation", lambda: run.hook.submit_generation(body))
    generation_id = created["generationId"]
    done = _poll(run, "get_generation", lambda: run.hook.get_generation(generation_id))
    return _settled(run, done, "gamma")


def get_gamma(run: Run) -> str:
    gamma_id = run.need("gamma")
    run.call("get_gamma", lambda: run.hook.get_gamma(gamma_id))
    return "read"


def export_pdf(run: Run) -> str:
    gamma_id = run.need("gamma")
    export_id = run.call("export_gamma", lambda: run.hook.export_gamma(gamma_id, "pdf"))
    export = _poll(run, "get_export", lambda: run.hook.get_export(export_id))
    url = export.get("exportUrl")
    if export["status"] != "completed" or not isinstance(url, str):
        raise StepFailed(f"the export ended {export['status']}: {protocol.export_failure_reason(export)}")
    head, size = bytearray(), 0

    def write(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)
        if len(head) < 5:
            head.extend(chunk[: 5 - len(head)])

    run.hook.download_export(url, write)
    if not head.startswith(b"%PDF-"):
        raise StepFailed(f"the export's download ({size} bytes) is not a PDF")
    return f"a {size}-byte PDF downloaded"


def search(run: Run) -> str:
    gamma_id = run.need("gamma")
    since, began = run.started - timedelta(minutes=5), time.monotonic()
    while True:
        try:
            hits = run.call(
                "search_gammas",
                lambda: run.hook.search_gammas(run.token, created_by="me", updated_after=since, limit=5),
            )
        except GammaPermissionError as error:
            if error.http_status == 403:
                return "search is not enabled for this workspace yet (403)"
            raise
        waited = time.monotonic() - began
        if any(hit.get("id") == gamma_id for hit in hits):
            return f"the deck showed in search after {waited:.0f} s"
        if waited >= run.options.search_wait:
            return f"the deck did not show in search within {waited:.0f} s (Gamma documents no delay)"
        time.sleep(run.options.search_every)


def agent_deck(run: Run) -> str:
    body = parameters.agent_body(
        prompt=f"A one-slide note titled '{TITLE} {run.token}' saying this deck is safe to delete.",
        format="presentation",
        num_cards=1,
        quality="lite",
    )
    created = _submit(run, "create_agent_generation", lambda: run.hook.submit_agent_generation(body))
    generation_id = created["generationId"]
    done = _poll(run, "get_agent_generation", lambda: run.hook.get_generation(generation_id))
    return _settled(run, done, "agent gamma")


def analytics(run: Run) -> str:
    gamma_id = run.need("gamma")
    try:
        summary = run.call("get_gamma_analytics", lambda: run.hook.get_gamma_analytics(gamma_id))
    except GammaPermissionError as error:
        return f"analytics refused ({error.http_status}): the key's user lacks edit permission"
    cards = run.call("get_card_analytics", lambda: run.hook.get_card_analytics(gamma_id))
    # One row keeps the transcript's shape independent of how many (and which) people viewed the deck.
    first = protocol.viewer_analytics_request(gamma_id, limit=1)
    run.call("get_viewer_analytics", lambda: protocol.read_viewer_page(first, run.hook._call(first)))
    viewers = run.hook.list_viewer_analytics(gamma_id)
    return (
        f"scope {summary.get('scope')}, {len(cards.get('cards') or [])} card rows, {len(viewers)} viewer rows"
    )


def search_templates(run: Run) -> str:
    found = run.call("search_templates", lambda: run.hook.search_templates(limit=3))
    return f"{len(found.get('workspaceTemplates') or [])} workspace templates listed"


def upload(run: Run) -> str:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "live-check-figures.csv"
        source.write_text("region,revenue\n" + "".join(f"region-{i},{i * 1000}\n" for i in range(60)))
        uploaded = run.call("upload_file", lambda: run.hook.upload_file(source))
        size = source.stat().st_size
    run.found["upload"] = uploaded["uploadId"]
    return f"{size} bytes uploaded"


def edit_deck(run: Run) -> str:
    gamma_id, upload_id = run.need("gamma"), run.need("upload")
    body = parameters.edit_body(
        prompt="Add one sentence to the card: 'Checked by the Airflow provider; safe to delete.'",
        files=[{"uploadId": upload_id, "filename": "live-check-figures.csv"}],
        quality="lite",
    )
    before = run.hook.get_gamma(gamma_id).get("updatedTime")
    # An edit makes no new gamma: the one it edits is archived with the others.
    created = run.call("create_edit", lambda: run.hook.submit_edit(gamma_id, body))
    done = _poll(run, "get_edit", lambda: run.hook.get_edit(created["editId"]))
    line = _settled(run, done, "edited gamma")
    # The edit operator settles a lost answer by this: an edit must move the gamma's updatedTime.
    after = run.hook.get_gamma(gamma_id).get("updatedTime")
    if not isinstance(after, str) or after == before:
        raise StepFailed("the edit completed but the gamma's updatedTime did not move (rule E1 relies on it)")
    return f"{line}; updatedTime moved"


def archive(run: Run) -> str:
    archived = 0
    for gamma_id in run.gammas:
        try:
            run.call("archive_gamma", functools.partial(run.hook.archive_gamma, gamma_id))
            archived += 1
        except GammaError as error:
            print(f"    could not archive a gamma: {run.scrub(_describe(error))}", file=sys.stderr)
    missing = run.started_generations - len(run.gammas)
    if missing > 0:
        raise StepFailed(
            f"{missing} generation(s) may have made a deck this check never saw: "
            f"archive the deck named '{TITLE} …' in Gamma"
        )
    if archived < len(run.gammas):
        raise StepFailed(f"archived {archived} of {len(run.gammas)} gammas; archive the rest in Gamma")
    return f"archived {archived} gamma(s)"


def _submit(run: Run, name: str, send: Callable[[], GenerationCreated]) -> GenerationCreated:
    """A paid POST; one whose answer was lost may still have made a deck, which archive then reports."""
    try:
        created = run.call(name, send)
    except GammaSubmissionUncertainError:
        run.started_generations += 1
        raise
    run.started_generations += 1
    return created


def _poll(run: Run, name: str, fetch: Callable[[], Any]) -> Any:
    """Poll until the job ends, keeping the answers by status (``get_generation.pending`` ...)."""
    end = time.monotonic() + run.options.timeout
    while True:
        job = run.call(lambda status, body: f"{name}.{_status_of(status, body)}", fetch, merge=True)
        run.adopt(job)
        if job["status"] in protocol.TERMINAL_STATUSES:
            return job
        if time.monotonic() >= end:
            raise StepFailed(f"still pending after {run.options.timeout:.0f} s")
        time.sleep(run.options.poll_interval)


def _settled(run: Run, job: Mapping[str, Any], what: str) -> str:
    deducted = (job.get("credits") or {}).get("deducted")
    if isinstance(deducted, int | float):
        run.credits_deducted += deducted
    if job["status"] != "completed":
        raise StepFailed(f"the generation failed: {(job.get('error') or {}).get('message', 'no message')}")
    if not job.get("gammaId"):
        raise StepFailed("the completed generation names no gammaId")
    run.found[what] = job["gammaId"]
    return f"completed, {deducted if deducted is not None else 'no'} credits deducted"


@dataclass(frozen=True)
class Step:
    """One entry of the check: a new call is a new entry in :data:`STEPS`.

    :param run: does the step and returns a line for the report; raises to fail (or :class:`Skipped`).
    :param credits: least and most credits the step may cost, from Gamma's pricing.
    :param when: whether the step runs with these options (e.g. the agent only with GAMMA_LIVE_AGENT=1).
    :param gate: a failure stops the run (before anything is paid for).
    :param always: runs even after a gate failed (cleanup).
    """

    name: str
    does: str
    run: Callable[[Run], str]
    credits: tuple[int, int] = (0, 0)
    when: Callable[[Options], bool] = field(default=lambda options: True)
    gate: bool = False
    always: bool = False


STEPS: list[Step] = [
    Step("list_themes", "GET /v1.0/themes, free: checks the key", list_themes, gate=True),
    Step(
        "classic_deck",
        "a 1-card classic deck (textMode preserve, no images) and its status polls",
        classic_deck,
        credits=CREDITS_PER_CARD,
    ),
    Step("get_gamma", "GET /v1.0/gammas/{id}, free", get_gamma),
    Step("export_pdf", "a PDF export of the gamma, polled and downloaded; Gamma charges none", export_pdf),
    Step("search", "GET /v1.0/gammas/search for the deck, createdBy=me, free", search),
    Step(
        "agent_deck",
        "a 1-card Gamma 5 agent deck at quality lite and its polls (GAMMA_LIVE_AGENT=1)",
        agent_deck,
        credits=CREDITS_PER_CARD,
        when=lambda options: options.agent,
    ),
    Step("analytics", "the gamma's analytics, cards and viewers, free", analytics),
    Step("search_templates", "GET /v1.0/templates/search, free", search_templates),
    Step(
        "upload",
        "a 1 KiB CSV streamed to POST /v1.0/uploads, free (GAMMA_LIVE_EDIT=1)",
        upload,
        when=lambda options: options.edit,
    ),
    Step(
        "edit_deck",
        "an agent edit of the deck at quality lite reading the upload, and its polls (GAMMA_LIVE_EDIT=1)",
        edit_deck,
        credits=CREDITS_PER_CARD,
        when=lambda options: options.edit,
    ),
    Step("archive", "POST /v1.0/gammas/{id}/archive for every gamma made, free", archive, always=True),
]


def run_steps(run: Run, steps: list[Step]) -> list[str]:
    """Run ``steps`` in order, printing one line each; returns the failures (scrubbed)."""
    failures: list[str] = []
    stopped = False
    for step in steps:
        if stopped and not step.always:
            continue
        try:
            line = step.run(run)
        except Skipped as skipped:
            print(f"  - {step.name}: skipped, {skipped}", flush=True)
            continue
        except (GammaError, StepFailed, OSError, ValueError, TypeError, KeyError) as error:
            failure = f"{step.name}: {run.scrub(_describe(error))}"
            print(f"  ✗ {failure}", flush=True)
            failures.append(failure)
            stopped = stopped or step.gate
            continue
        print(f"  ✓ {step.name}: {run.scrub(line)}", flush=True)
    return failures


# --- transcripts and comparison -------------------------------------------------------------------

_FIXED_SEGMENTS = frozenset(
    {"v1.0", "agent", "generations", "from-template", "gammas", "search", "export", "archive", "exports",
     "themes", "folders", "edits", "uploads"}
)  # fmt: skip
_ID_NAMES = {
    "generations": "{generationId}",
    "gammas": "{gammaId}",
    "exports": "{exportId}",
    "edits": "{editId}",
}
#: Strings that are Gamma's vocabulary (statuses, formats, failure codes), not a workspace's values.
_WORD = re.compile(r"[a-z][a-zA-Z_]{0,24}")
#: Keys whose text is Gamma's own words, kept readable in printed errors.
_READABLE = frozenset({"message", "warnings"})


def _path_ids(path: str) -> list[str]:
    return [part for part in path.split("/") if part and part not in _FIXED_SEGMENTS]


def _path_template(path: str) -> str:
    """``/v1.0/gammas/g_abc/export`` -> ``/v1.0/gammas/{gammaId}/export``: ids never reach a file."""
    parts = path.split("/")
    return "/".join(
        part if not part or part in _FIXED_SEGMENTS else _ID_NAMES.get(parts[index - 1], "{id}")
        for index, part in enumerate(parts)
    )


def _private_strings(value: Any, key: str = "") -> Iterator[str]:
    """Every string of an answer that may name something of the workspace (ids, URLs, titles, times,
    emails); Gamma's messages and vocabulary words are left readable."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _private_strings(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _private_strings(item, key)
    elif isinstance(value, str) and key not in _READABLE and len(value) >= 6 and not _WORD.fullmatch(value):
        yield value  # shorter strings (numbers as text, "16x9") name nothing


def _fixture(source: str, name: str, call: Call) -> dict[str, Any]:
    request: dict[str, Any] = {"method": call.request.method, "path": _path_template(call.request.path)}
    if call.request.params:
        request["query"] = shape(dict(call.request.params))
    if call.request.json is not None:
        request["body"] = shape(dict(call.request.json))
    body = _body_shape(call.bodies)
    return {"source": source, "call": name, "request": request, "status": call.status, "body": body}


def _body_shape(bodies: list[Any]) -> Shape:
    """One answer's shape, or for a poll the union of its answers' shapes."""
    if NOT_JSON in bodies:
        return NOT_JSON
    merged = shape(bodies)
    return merged[0] if isinstance(merged, list) and merged else shape(bodies[-1])


def write_transcript(transcript: Mapping[str, Mapping[str, Any]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, fixture in transcript.items():
        (folder / f"{name}.json").write_text(json.dumps(fixture, indent=2, sort_keys=True) + "\n")


def compare(gamma: Mapping[str, Mapping[str, Any]], emulator: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Where the emulator's answers differ from Gamma's, call by call (Gamma's shape is the expected one)."""
    lines: list[str] = []
    for name in sorted(gamma.keys() | emulator.keys()):
        if name not in emulator:
            lines.append(f"{name}: Gamma answered {gamma[name]['status']}, the emulator never answered it")
        elif name not in gamma:
            lines.append(f"{name}: the emulator answered {emulator[name]['status']}, Gamma never answered it")
        elif gamma[name]["status"] != emulator[name]["status"]:
            lines.append(
                f"{name}: status {gamma[name]['status']} from Gamma, {emulator[name]['status']} from the emulator"
            )
        else:
            lines.extend(
                f"{name}: {line}" for line in differences(gamma[name]["body"], emulator[name]["body"])
            )
    return lines


# --- running it -----------------------------------------------------------------------------------


def expected_cost(steps: list[Step]) -> str:
    low, high = (sum(step.credits[i] for step in steps) for i in (0, 1))
    text = f"{low}-{high} credits (text is {CREDITS_PER_CARD[0]}-{CREDITS_PER_CARD[1]} credits a card, no images; reads, exports, search and archive are free)"
    if any(step.name == "agent_deck" for step in steps):
        text += (
            "; Gamma publishes no agent price: the agent run may add images it chooses "
            "(2-15 credits each at the standard tier)"
        )
    return text


def _describe(error: BaseException) -> str:
    status = getattr(error, "http_status", None)
    return f"{type(error).__name__}{f' (HTTP {status})' if status else ''}: {error}"


def _status_of(status: int, body: Any) -> str:
    if 200 <= status < 300 and isinstance(body, dict) and isinstance(body.get("status"), str):
        return str(body["status"])
    return f"http{status}"


def _hook(conn_id: str, connection: Mapping[str, Any]) -> GammaHook:
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)
    return GammaHook(conn_id)


def _pass(
    label: str, hook: GammaHook, options: Options, steps: list[Step], secret_values: set[str]
) -> tuple[Run, list[str]]:
    print(f"{label}:", flush=True)
    run = Run(hook, options, secret_values)
    return run, run_steps(run, steps)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("live-check-output"), help="transcript folder")
    parser.add_argument(
        "--base-url",
        default=os.environ.get("GAMMA_API_BASE_URL") or None,
        help="API host (default: Gamma's, or GAMMA_API_BASE_URL)",
    )
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds between status polls")
    parser.add_argument(
        "--search-wait", type=float, default=180.0, help="seconds to wait for the deck in search"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait for one generation or export"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    api_key = os.environ.get("GAMMA_API_KEY", "").strip()
    if not api_key:
        print(
            "GAMMA_API_KEY is not set: the live check runs against the real Gamma API and spends a few "
            "credits (see README, 'Checking against the real Gamma').",
            file=sys.stderr,
        )
        return 2
    options = Options(
        poll_interval=args.poll_interval,
        search_every=max(args.poll_interval, 2.0),
        search_wait=args.search_wait,
        timeout=args.timeout,
        agent=os.environ.get("GAMMA_LIVE_AGENT", "").strip() == "1",
        edit=os.environ.get("GAMMA_LIVE_EDIT", "").strip() == "1",
    )
    steps = [step for step in STEPS if step.when(options)]
    where = args.base_url or "https://public-api.gamma.app"
    print(f"Live check against {where} (the key comes from GAMMA_API_KEY and is never shown).")
    for step in steps:
        print(f"  {step.name}: {step.does}")
    print(f"Expected cost: {expected_cost(steps)}.", flush=True)

    from airflow_provider_gamma.testing import GammaEmulator

    emulator_key = "sk-gamma-" + secrets.token_hex(8)
    with GammaEmulator(api_key=emulator_key, generation_seconds=1.0, export_seconds=0.5) as emulator:
        fast = Options(
            poll_interval=0.2,
            search_every=0.2,
            search_wait=10.0,
            timeout=60.0,
            agent=options.agent,
            edit=options.edit,
        )
        hook = _hook(
            "gamma_live_check_emulator",
            {"conn_type": "gamma", "host": emulator.base_url, "password": emulator_key},
        )
        reference, failures = _pass("The emulator, first (free)", hook, fast, steps, {emulator_key})
    if failures:
        print("The steps fail against the emulator already; nothing was sent to Gamma.", file=sys.stderr)
        return 1

    connection = {
        "conn_type": "gamma",
        "password": api_key,
        **({"host": args.base_url} if args.base_url else {}),
    }
    target, failures = _pass("Gamma", _hook("gamma_live_check", connection), options, steps, {api_key})
    today = datetime.now(UTC).date().isoformat()
    gamma_transcript = target.transcript(f"live {today}")
    emulator_transcript = reference.transcript(f"emulator {today}")
    write_transcript(gamma_transcript, args.out)
    write_transcript(emulator_transcript, args.out / "emulator")
    print(f"Transcripts (shapes only): {args.out}/ (Gamma), {args.out / 'emulator'}/ (the emulator)")
    print(
        f"Gamma reported {target.credits_deducted:g} credits deducted (credits.deducted of the finished decks)."
    )

    compared = dict(gamma_transcript)
    if compared.get("search_gammas", {}).get("status") == 403:
        print("Search is not enabled for this workspace yet (403): its answer is not compared.")
        del compared["search_gammas"]
        emulator_transcript.pop("search_gammas", None)
    found = compare(compared, emulator_transcript)
    print(f"Compared {len(compared)} calls with the emulator's answers: {len(found)} difference(s).")
    for line in found:
        print(f"  {line}")
    if failures:
        print(f"{len(failures)} step(s) failed:", *failures, sep="\n  ")
    return 1 if failures or found else 0


if __name__ == "__main__":
    sys.exit(main())
