# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The emulator's living-deck endpoints over real HTTP: uploads, agent edits, analytics, templates."""

from __future__ import annotations

import hashlib
import http.client
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_gamma.testing import GammaEmulator

MiB = 1024 * 1024
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def emu() -> Iterator[GammaEmulator]:
    with GammaEmulator(generation_seconds=0.0, export_seconds=0.0, edit_seconds=1.2) as emulator:
        yield emulator


class Client:
    def __init__(self, emulator: GammaEmulator) -> None:
        self.emu = emulator
        self.session = requests.Session()
        self.session.headers["X-API-KEY"] = emulator.api_key

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.emu.base_url + path, timeout=10, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.emu.base_url + path, json=body, timeout=10, **kwargs)

    def upload(
        self, data: Any, name: str = "figures.csv", headers: dict[str, str] | None = None
    ) -> requests.Response:
        return self.session.post(
            self.emu.base_url + "/v1.0/uploads",
            params={"filename": name},
            data=data,
            headers=OCTETS if headers is None else headers,
            timeout=30,
        )

    def gamma(self, title: str = "Weekly board numbers") -> str:
        made = self.post("/v1.0/generations", {"inputText": title, "textMode": "preserve", "numCards": 3})
        return str(self.get(f"/v1.0/generations/{made.json()['generationId']}").json()["gammaId"])

    def edit(
        self, gamma_id: str, prompt: str = "Put this week's figures on card 2", **body: Any
    ) -> requests.Response:
        return self.post(f"/v1.0/agent/gammas/{gamma_id}/edits", {"prompt": prompt, **body})

    def wait_edit(self, edit_id: str) -> dict[str, Any]:
        for _ in range(400):
            status: dict[str, Any] = self.get(f"/v1.0/agent/edits/{edit_id}").json()
            if status["status"] != "pending":
                return status
            time.sleep(0.05)
        raise AssertionError(f"edit {edit_id} never ended")

    def export(self, gamma_id: str, export_as: str = "pdf") -> str:
        export_id = self.post(f"/v1.0/gammas/{gamma_id}/export", {"exportAs": export_as}).json()["exportId"]
        return str(self.get(f"/v1.0/exports/{export_id}").json()["exportUrl"])

    def updated(self, gamma_id: str) -> datetime:
        return datetime.fromisoformat(
            self.get(f"/v1.0/gammas/{gamma_id}").json()["updatedTime"].replace("Z", "+00:00")
        )


@pytest.fixture
def client(emu: GammaEmulator) -> Client:
    return Client(emu)


# --- uploads -------------------------------------------------------------------------------------------


def test_an_upload_arrives_byte_exact_and_is_not_kept_in_the_request_log(
    client: Client, emu: GammaEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "q3.pdf"
    source.write_bytes(os.urandom(5 * MiB + 3))
    with source.open("rb") as stream:  # a file object: requests sends its Content-Length, streamed
        answer = client.upload(stream, name="q3.pdf")
    assert answer.status_code == 200, answer.text
    upload_id = answer.json()["uploadId"]
    assert answer.json() == {"uploadId": upload_id, "filename": "q3.pdf"}
    record = emu.uploads[upload_id]
    assert record.size == 5 * MiB + 3
    assert record.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert record.head == source.read_bytes()[:4096]
    assert record.attached_to is None
    assert emu.requests[-1].body == b""  # hashed as it streamed, never held
    listed = client.get("/_emulator/uploads").json()[upload_id]
    assert (listed["size"], listed["sha256"]) == (record.size, record.sha256)


def test_an_upload_without_a_length_with_an_encoding_or_not_raw_bytes_is_refused(client: Client) -> None:
    chunked = client.upload(iter([b"a,b\n", b"1,2\n"]))  # a generator: sent chunked
    assert chunked.status_code == 411
    assert client.upload(b"x", headers={"Content-Type": "text/csv"}).status_code == 415
    assert client.upload(b"x", headers={**OCTETS, "Content-Encoding": "gzip"}).status_code == 415
    assert client.upload(b"").status_code == 400
    assert client.emu.uploads == {}


def test_an_upload_over_250_mib_is_refused_before_its_body_is_read(emu: GammaEmulator) -> None:
    where = urlsplit(emu.base_url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
    connection.putrequest("POST", "/v1.0/uploads")
    for name, value in {**OCTETS, "X-API-KEY": emu.api_key, "Content-Length": str(250 * MiB + 1)}.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert b"250 MiB" in response.read()
    connection.close()


def test_a_fault_or_a_bad_key_on_an_upload_is_answered_after_the_body(
    client: Client, emu: GammaEmulator
) -> None:
    body = os.urandom(3 * MiB)
    emu.add_fault(method="POST", path_prefix="/v1.0/uploads", status=502)
    assert client.upload(body).status_code == 502
    client.session.headers["X-API-KEY"] = "sk-wrong"
    assert client.upload(body).status_code == 401
    client.session.headers["X-API-KEY"] = emu.api_key
    assert client.upload(body).status_code == 200
    assert [record.sha256 for record in emu.uploads.values()] == [hashlib.sha256(body).hexdigest()]


def test_files_must_name_uploads_that_exist_and_are_not_yet_attached(
    client: Client, emu: GammaEmulator
) -> None:
    first, second = (client.upload(b"a,b\n1,2\n").json()["uploadId"] for _ in range(2))
    unknown = client.post("/v1.0/agent/generations", {"prompt": "A deck", "files": ["upl_nope"]})
    assert unknown.status_code == 400
    assert "Upload not found or expired: upl_nope" in unknown.json()["message"]
    made = client.post("/v1.0/agent/generations", {"prompt": "A deck", "files": [first]})
    assert made.status_code == 202
    assert emu.uploads[first].attached_to == made.json()["generationId"]
    again = client.post("/v1.0/agent/generations", {"prompt": "Another", "files": [first]})
    assert again.status_code == 400
    assert "already attached" in again.json()["message"]
    as_object = client.edit(client.gamma(), files=[{"uploadId": second, "filename": "figures.csv"}])
    assert as_object.status_code == 202
    assert emu.uploads[second].attached_to == as_object.json()["editId"]
    assert client.edit(client.gamma(), files=["upl_nope"]).status_code == 400


# --- edits ---------------------------------------------------------------------------------------------


def test_one_edit_at_a_time_per_gamma(client: Client, emu: GammaEmulator) -> None:
    gamma_id, other = client.gamma(), client.gamma("Another deck")
    first = client.edit(gamma_id)
    assert first.status_code == 202
    refused = client.edit(gamma_id, "Something else")
    assert refused.status_code == 409
    assert "already in progress" in refused.json()["message"]
    assert client.edit(other).status_code == 202  # another gamma is another queue
    pending = client.get(f"/v1.0/agent/edits/{first.json()['editId']}").json()
    assert pending == {
        "editId": first.json()["editId"],
        "status": "pending",
        "gammaId": gamma_id,
        "progress": pending["progress"],
    }
    done = client.wait_edit(first.json()["editId"])
    assert done["status"] == "completed"
    assert done["gammaUrl"].startswith("https://gamma.app/docs/")
    assert done["credits"]["deducted"] == 10
    assert "this week's figures" in done["result"]["summary"]
    assert client.edit(gamma_id, "Now the next one").status_code == 202
    assert [e.gamma_id for e in emu.edits.values()] == [gamma_id, other, gamma_id]


def test_an_edit_is_checked_like_the_agents_body(client: Client) -> None:
    gamma_id = client.gamma()
    assert (
        client.post(f"/v1.0/agent/gammas/{gamma_id}/edits", {"prompt": "x", "title": "New"}).status_code
        == 400
    )
    assert client.post(f"/v1.0/agent/gammas/{gamma_id}/edits", {"files": []}).status_code == 400
    assert (
        client.post(f"/v1.0/agent/gammas/{gamma_id}/edits", {"prompt": "x", "quality": None}).status_code
        == 400
    )
    assert client.edit("g_unknown00000000").status_code == 404
    assert client.get("/v1.0/agent/edits/nope").status_code == 404


def test_an_edit_changes_what_a_later_export_serves_and_an_earlier_export_keeps_its_file(
    client: Client, emu: GammaEmulator
) -> None:
    gamma_id = client.gamma()
    before_url = client.export(gamma_id)
    before = requests.get(before_url, timeout=10).content
    edit_id = client.edit(gamma_id, "Revenue up 12% this week").json()["editId"]
    client.wait_edit(edit_id)
    assert emu.revision(gamma_id) == 1
    after = requests.get(client.export(gamma_id), timeout=10).content
    assert after != before
    assert b"Revenue up 12% this week" in after
    assert b"Revenue up" not in before
    assert after == emu.export_bytes(gamma_id, "pdf")
    assert before == emu.export_bytes(gamma_id, "pdf", revision=0)
    assert requests.get(before_url, timeout=10).content == before  # a file, not a view of the gamma
    for export_as in ("pptx", "png"):
        assert emu.export_bytes(gamma_id, export_as) != emu.export_bytes(gamma_id, export_as, revision=0)


def test_an_edit_moves_updated_time_while_it_writes_and_when_it_ends() -> None:
    with GammaEmulator(generation_seconds=0.0, edit_seconds=3.0) as emulator:
        client = Client(emulator)
        gamma_id = client.gamma()
        made = client.updated(gamma_id)
        time.sleep(0.05)
        edit_id = client.edit(gamma_id).json()["editId"]
        check_updated_time(client, gamma_id, edit_id, made)


def check_updated_time(client: Client, gamma_id: str, edit_id: str, made: datetime) -> None:
    assert client.updated(gamma_id) == made  # planning: nothing written yet
    time.sleep(2.0)  # past half-way: the agent writes
    writing = client.updated(gamma_id)
    assert writing > made
    client.wait_edit(edit_id)
    ended = client.updated(gamma_id)
    assert ended > writing
    time.sleep(0.1)
    assert client.updated(gamma_id) == ended


def test_a_failed_edit_bills_nothing_and_changes_nothing(client: Client, emu: GammaEmulator) -> None:
    gamma_id = client.gamma()
    credits, before = emu.credits, emu.export_bytes(gamma_id, "pdf")
    emu.fail_next_edit(message="The agent could not apply the edit")
    failed = client.wait_edit(client.edit(gamma_id).json()["editId"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"message": "The agent could not apply the edit", "statusCode": 500}
    assert failed["credits"]["deducted"] == 0
    assert (emu.credits, emu.revision(gamma_id), emu.export_bytes(gamma_id, "pdf")) == (credits, 0, before)
    edit_id = client.edit(gamma_id).json()["editId"]  # the gamma is free again
    emu.fail_edit(edit_id, message="stopped")
    assert client.get(f"/v1.0/agent/edits/{edit_id}").json()["error"]["message"] == "stopped"


def test_a_lost_edit_answer_leaves_a_running_edit_that_refuses_a_second(
    client: Client, emu: GammaEmulator
) -> None:
    gamma_id = client.gamma()
    rule = emu.lose_next_edit_answer()
    with pytest.raises(requests.ConnectionError):
        client.edit(gamma_id)
    assert rule.hits == 1
    (edit,) = emu.edits.values()
    assert (edit.gamma_id, edit.status) == (gamma_id, "pending")
    assert client.edit(gamma_id).status_code == 409  # the evidence a retry can read
    emu.complete_edit(edit.edit_id)
    assert emu.edits[edit.edit_id].credits_deducted == 10
    emu.lose_next_edit_answer(status=502)
    assert client.edit(gamma_id).status_code == 502
    assert len(emu.edits) == 2


def test_the_control_api_lists_and_steers_edits(client: Client, emu: GammaEmulator) -> None:
    gamma_id = client.gamma()
    assert client.post("/_emulator/fail-next-edit", {"message": "nope"}).json() == {"ok": True}
    failed_id = client.edit(gamma_id).json()["editId"]
    edit_id = client.edit(client.gamma()).json()["editId"]
    completed = client.post(f"/_emulator/edits/{edit_id}/complete").json()
    assert completed["status"] == "completed"
    assert client.wait_edit(failed_id)["error"]["message"] == "nope"
    listed = client.get("/_emulator/edits").json()
    assert list(listed) == [failed_id, edit_id]
    assert listed[edit_id]["prompt"] == "Put this week's figures on card 2"
    assert client.post(f"/_emulator/edits/{edit_id}/fail").status_code == 400  # already ended
    missing = client.post("/_emulator/edits/nope/complete")
    assert missing.status_code == 404
    assert missing.json()["error"] == "unknown edit nope"
    lost = client.post("/_emulator/lose-next-edit-answer", {"status": 504}).json()
    assert (lost["status"], lost["created"]) == (504, True)
    assert client.edit(gamma_id).status_code == 504
    revision = client.get("/_emulator/generations").json()
    assert [g["revision"] for g in revision.values() if g["gamma_id"] != gamma_id] == [1]


def test_reset_forgets_uploads_and_edits(client: Client, emu: GammaEmulator) -> None:
    client.upload(b"x")
    client.edit(client.gamma())
    emu.reset()
    assert (emu.uploads, emu.edits) == ({}, {})


# --- analytics -----------------------------------------------------------------------------------------


def test_analytics_are_deterministic_per_gamma(client: Client) -> None:
    gamma_id = client.gamma()
    first = client.get(f"/v1.0/gammas/{gamma_id}/analytics").json()
    assert client.get(f"/v1.0/gammas/{gamma_id}/analytics").json() == first
    assert (first["gammaId"], first["scope"], first["cardCount"]) == (gamma_id, "all", 3)
    assert first["totalViews"] >= first["uniqueViewers"] >= 3
    assert first["dailyViews"]["dayCount"] == len(first["dailyViews"]["days"]) == 30
    cards = client.get(f"/v1.0/gammas/{gamma_id}/analytics/cards").json()["cards"]
    assert [card["cardPosition"] for card in cards] == [1, 2, 3]
    assert cards[0]["cardName"] == "Weekly board numbers"
    assert client.get("/v1.0/gammas/g_unknown00000000/analytics").status_code == 404


def test_viewers_are_paged_by_at_most_50_and_capped_at_500(client: Client, emu: GammaEmulator) -> None:
    gamma_id = client.gamma()
    emu.set_viewer_count(gamma_id, 730)
    assert client.get(f"/v1.0/gammas/{gamma_id}/analytics").json()["uniqueViewers"] == 730
    rows, cursor, pages = [], None, 0
    while True:
        page = client.get(
            f"/v1.0/gammas/{gamma_id}/analytics/viewers",
            params={"limit": "50", **({"after": cursor} if cursor else {})},
        ).json()
        pages += 1
        rows += page["data"]
        cursor = page["nextCursor"]
        assert page["hasMore"] is (cursor is not None)
        if cursor is None:
            break
    assert (pages, len(rows), len({row["viewerId"] for row in rows})) == (10, 500, 500)
    opened = [row["lastOpened"] for row in rows]
    assert opened == sorted(opened, reverse=True)  # desc by default
    ascending = client.get(
        f"/v1.0/gammas/{gamma_id}/analytics/viewers", params={"sortDirection": "asc"}
    ).json()
    assert ascending["data"][0] == rows[-1]
    assert len(ascending["data"]) == 25  # Gamma's example limit, the default here
    for params in ({"limit": "51"}, {"limit": "0"}, {"after": "not-a-cursor"}, {"sortDirection": "up"}):
        assert client.get(f"/v1.0/gammas/{gamma_id}/analytics/viewers", params=params).status_code == 400


def test_analytics_without_permission_are_403_and_with_edit_only_the_keys_own_row(
    client: Client, emu: GammaEmulator
) -> None:
    gamma_id = client.gamma()
    emu.analytics_access = "none"
    for tail in ("", "/cards", "/viewers"):
        denied = client.get(f"/v1.0/gammas/{gamma_id}/analytics{tail}")
        assert denied.status_code == 403
        assert denied.json()["message"] == "Access denied - edit permission required"
    assert client.session.put(
        emu.base_url + "/_emulator/analytics-access", json={"access": "edit"}, timeout=10
    ).ok
    mine = client.get(f"/v1.0/gammas/{gamma_id}/analytics/viewers").json()
    assert (mine["scope"], len(mine["data"]), mine["data"][0]["viewerId"]) == ("self", 1, "user_emulator")
    assert (
        client.session.put(
            emu.base_url + "/_emulator/analytics-access", json={"access": "all"}, timeout=10
        ).status_code
        == 400
    )
    counted = client.session.put(
        emu.base_url + f"/_emulator/analytics/{gamma_id}/viewers", json={"count": 0}, timeout=10
    )
    assert counted.ok
    emu.analytics_access = "manage"
    assert client.get(f"/v1.0/gammas/{gamma_id}/analytics").json()["lastOpened"] is None


# --- templates -----------------------------------------------------------------------------------------


def test_template_search_answers_both_lists_and_workspace_ids_make_decks(client: Client) -> None:
    everything = client.get("/v1.0/templates/search").json()
    assert len(everything["workspaceTemplates"]) == 8
    assert len(everything["exploreTemplates"]) == 25  # limit applies per list
    found = client.get("/v1.0/templates/search", params={"q": "ROADMAP", "limit": "2"}).json()
    assert [t["title"] for t in found["exploreTemplates"]] == [
        "Roadmap overview (modern)",
        "Roadmap overview (classic)",
    ]
    assert found["workspaceDegraded"] is False
    assert client.get("/v1.0/templates/search", params={"limit": "26"}).status_code == 400
    template_id = everything["workspaceTemplates"][0]["id"]
    made = client.post("/v1.0/generations/from-template", {"gammaId": template_id, "prompt": "This week"})
    assert made.status_code == 200, made.text
    explore = client.post(
        "/v1.0/generations/from-template", {"gammaId": everything["exploreTemplates"][0]["id"], "prompt": "x"}
    )
    assert explore.status_code == 400
