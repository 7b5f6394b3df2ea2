# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""``scripts/live_check.py`` (``make live-check``) without a key: pointed at an emulator as if it were
Gamma, it must complete, archive what it made, write shapes and nothing else, show no key or value of
the workspace, and find the emulator agreeing with itself; and it must notice a real difference."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airflow_provider_gamma.testing import GammaEmulator

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "live_check.py"
FAKE_KEY = "sk-gamma-live-check-not-a-real-key"
JSON_TYPES = {"string", "number", "boolean", "null"}


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GAMMA_", "AIRFLOW_CONN_"))}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def test_the_live_check_against_an_emulator_as_if_it_were_gamma(tmp_path: Path) -> None:
    out = tmp_path / "transcript"
    with GammaEmulator(api_key=FAKE_KEY) as gamma:
        result = run_script(
            "--out",
            str(out),
            "--poll-interval",
            "0.2",
            "--search-wait",
            "10",
            GAMMA_API_KEY=FAKE_KEY,
            GAMMA_API_BASE_URL=gamma.base_url,
            GAMMA_LIVE_AGENT="1",
        )
        generations = list(gamma.generations.values())
        paths = [request.path for request in gamma.requests]
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed
    assert "Expected cost: 2-6 credits" in printed
    assert "0 difference(s)" in printed

    # One classic and one agent deck, both archived at the end; the export asked of the gamma.
    assert sorted(g.kind for g in generations) == ["agent", "generate"]
    assert all(g.archived for g in generations)
    classic = next(g for g in generations if g.kind == "generate")
    assert classic.request["numCards"] == 1
    assert classic.request["imageOptions"] == {"source": "noImages"}
    assert f"/v1.0/gammas/{classic.gamma_id}/export" in paths

    calls = {path.stem for path in out.glob("*.json")}
    assert {
        "list_themes",
        "create_generation",
        "get_generation.completed",
        "get_gamma",
        "export_gamma",
        "get_export.completed",
        "search_gammas",
        "create_agent_generation",
        "get_agent_generation.completed",
        "archive_gamma",
    } <= calls
    assert calls == {path.stem for path in (out / "emulator").glob("*.json")}

    secrets = {FAKE_KEY, *(value for g in generations for value in (g.generation_id, g.gamma_id, g.title))}
    secrets |= {g.gamma_url for g in generations}
    secrets |= {path.rsplit("/", 1)[-1] for path in paths if path.startswith("/v1.0/exports/")}
    for path in [*out.glob("*.json"), *(out / "emulator").glob("*.json")]:
        text = path.read_text()
        fixture = json.loads(text)
        assert set(fixture) == {"source", "call", "request", "status", "body"}
        assert fixture["call"] == path.stem
        assert isinstance(fixture["status"], int)
        assert set(leaves(fixture["body"])) <= JSON_TYPES, path
        assert set(leaves(fixture["request"].get("body", {}))) <= JSON_TYPES, path
        assert not [secret for secret in secrets if secret in text], path
    assert json.loads((out / "create_agent_generation.json").read_text())["source"].startswith("live ")
    assert not [secret for secret in secrets if secret in printed], printed


def test_without_a_key_nothing_is_sent() -> None:
    with GammaEmulator(api_key=FAKE_KEY) as gamma:
        result = run_script(GAMMA_API_BASE_URL=gamma.base_url)
        assert gamma.requests == []
    assert result.returncode == 2
    assert "GAMMA_API_KEY is not set" in result.stderr


@pytest.fixture(scope="module")
def live_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("live_check", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_difference_is_reported(live_check: ModuleType) -> None:
    def fixture(status: int, body: Any) -> dict[str, Any]:
        return {"status": status, "body": body}

    gamma = {
        "get_agent_generation.completed": fixture(200, {"gamma": {"gammaId": "string"}, "status": "string"}),
        "create_agent_generation": fixture(202, {"generationId": "string"}),
        "get_generation.pending": fixture(200, {"status": "string"}),
    }
    emulator = {
        "get_agent_generation.completed": fixture(200, {"gamma": {"id": "string"}, "status": "number"}),
        "create_agent_generation": fixture(200, {"generationId": "string"}),
        "search_gammas": fixture(200, {"hits": []}),
    }
    assert live_check.compare(gamma, emulator) == [
        "create_agent_generation: status 202 from Gamma, 200 from the emulator",
        "get_agent_generation.completed: $.gamma.gammaId: missing (expected string)",
        "get_agent_generation.completed: $.gamma.id: unexpected (string)",
        "get_agent_generation.completed: $.status: expected string, got number",
        "get_generation.pending: Gamma answered 200, the emulator never answered it",
        "search_gammas: the emulator answered 200, Gamma never answered it",
    ]


def test_ids_in_paths_never_reach_a_transcript(live_check: ModuleType) -> None:
    template = live_check._path_template
    assert template("/v1.0/gammas/g_abc123/export") == "/v1.0/gammas/{gammaId}/export"
    assert template("/v1.0/agent/generations/gen_x1") == "/v1.0/agent/generations/{generationId}"
    assert template("/v1.0/exports/exp_9") == "/v1.0/exports/{exportId}"
    assert template("/v1.0/gammas/search") == "/v1.0/gammas/search"
    assert template("/v1.0/somethingnew/abc") == "/v1.0/{id}/{id}"
