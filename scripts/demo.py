# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""``make demo``: run the ``weekly_report_deck`` example DAG for real and land a PPTX in ./demo-output/.

What it does:

* starts the bundled Gamma emulator (generations take ~8 s), or uses the real Gamma API when
  ``GAMMA_API_KEY`` is set (the key is passed to Airflow in the environment and never printed);
* creates a throwaway Airflow home (``airflow db migrate`` into a temp dir);
* runs ``airflow dags test weekly_report_deck <last Monday>`` with ``example_dags/`` as the DAGs folder:
  the generate task defers and its trigger runs inline, exactly the code a triggerer would run;
* shows progress, then prints the Gamma URL and where the deck landed.

Environment: ``DEST`` (e.g. ``s3://bucket/decks``) lands the deck there instead of ./demo-output/;
``DEST_CONN_ID`` is the Airflow connection for it (default ``aws_default`` for non-local destinations).
``GENERATION_SECONDS`` changes the emulator's generation time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[1]
DAGS_FOLDER = REPO / "example_dags"
LOCAL_OUTPUT = REPO / "demo-output"
DAG_ID = "weekly_report_deck"
AIRFLOW = Path(sys.executable).parent / "airflow"
EMULATOR_KEY = "sk-gamma-demo"  # the emulator's throwaway key, not a secret

# Lines of `airflow dags test` output worth showing, and how to show them.
SHOW = [
    (re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)"), "▶ task {0}"),
    (re.compile(r"Gamma accepted the generation: (\S+)"), "  Gamma accepted generation {0}"),
    (re.compile(r"Pausing task as DEFERRED"), "  deferred: waiting in the trigger, no worker slot held"),
    (re.compile(r"Gamma generation (\S+) is ready: (\S+)"), "  generation {0} completed: {1}"),
    (re.compile(r"\]\s+Landed (\S+) \((\d+) bytes"), "  landed {0} ({1} bytes)"),
    (re.compile(r"\[(?:error|ERROR)\s*\]\s*(.*)"), "  ! {0}"),
]
END_TASK = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")
GAMMA_URL = re.compile(r"This week's deck in Gamma: (\S+)")
LANDED = re.compile(r"Deck landed at (\S+) \(")
EXCEPTION = re.compile(r"^[\w.]+(Error|Exception|Timeout|Failed)\w*: ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def say(message: str) -> None:
    print(message, flush=True)


def last_monday() -> str:
    today = dt.datetime.now(dt.UTC).date()
    return (today - dt.timedelta(days=today.weekday())).isoformat()


def local_path(uri: str) -> Path | None:
    parts = urlsplit(uri)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


class Progress(threading.Thread):
    """While the trigger waits for Gamma, print a line every few seconds (with the emulator's status)."""

    def __init__(self, emulator: Any) -> None:
        super().__init__(name="demo-progress", daemon=True)
        self.emulator = emulator
        self.waiting = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        since = None
        while not self.done.wait(2.0):
            if not self.waiting.is_set():
                since = None
                continue
            since = since or time.monotonic() - 2.0
            status = ""
            if self.emulator is not None and self.emulator.generations:
                latest = max(self.emulator.generations.values(), key=lambda g: g.created_at)
                status = f" (emulator says: {latest.status})"
            say(f"  … Gamma is generating, {time.monotonic() - since:.0f} s{status}")


def run_dag(env: dict[str, str], logical_date: str, progress: Progress, log: deque[str]) -> dict[str, str]:
    """Run `airflow dags test`, streaming the interesting lines; returns what it found out.

    Stops at the first failed task: `dags test` would otherwise sit out the DAG's retry delays.
    """
    found: dict[str, str] = {}
    process = subprocess.Popen(
        [str(AIRFLOW), "dags", "test", DAG_ID, logical_date],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,  # its own process group, so we can stop everything it started
    )
    task_failed = False
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = ANSI.sub("", raw.rstrip())
            log.append(line)
            if "running trigger in line" in line:
                progress.waiting.set()
            elif "Trigger completed" in line:
                progress.waiting.clear()
            elif "Task failed with exception" in line:
                task_failed = True
            if match := GAMMA_URL.search(line):
                found["gamma_url"] = match.group(1)
            if match := LANDED.search(line):
                found.setdefault("landed", match.group(1))
            if match := END_TASK.search(line):
                if task_failed:
                    found["failed_task"] = match.group(1)
                    say(f"  ✗ {match.group(1)} failed")
                    break
                say(f"  ✓ {match.group(1)}")
                continue
            for pattern, template in SHOW:
                if match := pattern.search(line):
                    say(template.format(*(group.strip() for group in match.groups())))
                    break
        if not task_failed:
            process.wait()
    finally:
        progress.waiting.clear()
        stop_group(process)
    found["returncode"] = str(process.returncode)
    return found


def stop_group(process: subprocess.Popen[str]) -> None:
    """Stop `airflow dags test` and anything it started (its process group)."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # stragglers whose leader already exited
        os.killpg(process.pid, signal.SIGKILL)


def fail(message: str, log: deque[str] | None = None) -> int:
    if log:
        print("\n--- last lines of `airflow dags test` ---", file=sys.stderr)
        print("\n".join(log), file=sys.stderr)
        errors = [line for line in log if EXCEPTION.match(line)]
        if errors:
            message += f"\n  {errors[-1]}"
    print(f"\nDemo failed: {message}", file=sys.stderr)
    return 1


def describe_pptx(path: Path) -> str:
    try:
        from pptx import Presentation
    except ImportError:
        return ""
    slides = Presentation(str(path)).slides
    titles = [slide.shapes.title.text for slide in slides if slide.shapes.title is not None]
    return f"{len(slides)} slides" + (f", first: {titles[0]!r}" if titles else "")


def on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, on_sigterm)  # clean up on `kill` too, not only on Ctrl-C
    started = time.monotonic()
    dest = os.environ.get("DEST", "").strip() or LOCAL_OUTPUT.as_uri()
    api_key = os.environ.get("GAMMA_API_KEY", "").strip()
    home = Path(tempfile.mkdtemp(prefix="gamma-demo-airflow-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_FOLDER),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        GAMMA_DECKS_DEST=dest,
        GAMMA_CONN_ID="gamma_default",
    )
    # Keep connections the user set for the destination (e.g. AIRFLOW_CONN_AWS_DEFAULT for s3://).
    env.update({k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")})
    env.pop("AIRFLOW_CONN_GAMMA_DEFAULT", None)
    if local_path(dest) is None:
        env["GAMMA_DECKS_CONN_ID"] = os.environ.get("DEST_CONN_ID", "aws_default")
    else:
        env.pop("GAMMA_DECKS_CONN_ID", None)

    emulator = None
    progress: Progress | None = None
    log: deque[str] = deque(maxlen=60)
    try:
        if api_key:
            say("Using the real Gamma API (GAMMA_API_KEY is set); this spends Gamma credits.")
            env["AIRFLOW_CONN_GAMMA_DEFAULT"] = json.dumps({"conn_type": "gamma", "password": api_key})
        else:
            from airflow_provider_gamma.testing import GammaEmulator

            seconds = float(os.environ.get("GENERATION_SECONDS", "8"))
            emulator = GammaEmulator(api_key=EMULATOR_KEY, generation_seconds=seconds).start()
            env["AIRFLOW_CONN_GAMMA_DEFAULT"] = emulator.connection_uri()
            say(
                f"Gamma emulator on {emulator.base_url} (generations take {seconds:g} s; "
                "set GAMMA_API_KEY to use the real Gamma API)"
            )

        say(f"Airflow home (throwaway): {home}")
        migrate = subprocess.run(
            [str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, check=False
        )
        if migrate.returncode != 0:
            log.extend((migrate.stdout + migrate.stderr).splitlines()[-60:])
            return fail("`airflow db migrate` failed", log)

        logical_date = last_monday()
        say(f"Running `airflow dags test {DAG_ID} {logical_date}`; the deck goes to {dest}")
        progress = Progress(emulator)
        progress.start()
        found = run_dag(env, logical_date, progress, log)
        if "failed_task" in found:
            return fail(f"task {found['failed_task']} failed (its error is above)", log)
        if found["returncode"] != "0":
            return fail(f"`airflow dags test` exited with {found['returncode']}", log)
        if "landed" not in found or "gamma_url" not in found:
            return fail("the DAG run finished but did not report the Gamma URL and landed file", log)

        say("")
        say(f"Gamma URL:   {found['gamma_url']}")
        path = local_path(found["landed"])
        if path is None:
            say(f"Deck landed: {found['landed']}")
        else:
            if not path.is_file():
                return fail(f"the DAG reported {path} but there is no such file")
            shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            details = describe_pptx(path)
            say(f"Deck landed: {shown}" + (f"  ({details})" if details else ""))
            say(f"             {path}")
        say(f"Done in {time.monotonic() - started:.0f} s.")
        return 0
    except KeyboardInterrupt:
        return fail("interrupted")
    finally:
        if progress is not None:
            progress.done.set()
            progress.join(timeout=5)
        if emulator is not None:
            emulator.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
