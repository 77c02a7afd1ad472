"""/api/v1 over a real server: bearer tokens with scopes, per-case authorisation, every route's answer
and its refusals, and the OpenAPI document that describes them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, Case, Hit
from ncii_shield.takedown.service import draft
from ncii_shield.text.service import add_terms
from ncii_shield.web.auth import assign, create_token, create_user
from tests.exports import message, write_export
from tests.test_scan import _case, _scan
from tests.web_server import live_server

PASSWORD = "a long enough passphrase"
INVITE = "https://t.me/+Qw3rTy8uIoP"


@dataclass
class World:
    base: str
    case_a: int
    case_b: int
    items: list[int]  # the hits of case A
    tokens: dict[str, str]

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=60)


@pytest.fixture
def world(store: Store, tmp_path: Path) -> Iterator[World]:
    """Case A with three text hits (one posting a room invite), assigned to 'worker'; case B, assigned to
    'other'. Tokens: worker (read, write), worker-ro (read only), other, auditor, admin, platform (hma)."""
    case_a = _case(store)
    with store.session() as s:
        case_b = _case(store)
        s.get(Case, case_b).pseudonym = "Case B"  # type: ignore[union-attr]
        add_terms(store, s, s.get(Case, case_a), [("name", "김하린")])
    export = write_export(
        tmp_path / "e",
        [
            message(1, text="김하린 사진 교환 갠텔 주세요"),
            message(2, text=f"김하린 아는 사람 겹지인방 {INVITE}"),
            message(3, text="김하린 3번째 글"),
        ],
    )
    assert _scan(store, export, case_a).new_hits == {"text": 3}
    tokens: dict[str, str] = {}
    with store.session() as s:
        for name, role in (
            ("worker", "case_worker"),
            ("other", "case_worker"),
            ("auditor", "auditor"),
            ("admin", "admin"),
        ):
            create_user(s, name, PASSWORD, role)
        assign(s, "worker", case_a)
        assign(s, "other", case_b)
        tokens["worker"] = create_token(s, "worker", "rw", ["cases:read", "cases:write"])
        tokens["worker-ro"] = create_token(s, "worker", "ro", ["cases:read"])
        tokens["other"] = create_token(s, "other", "ro", ["cases:read", "cases:write"])
        tokens["auditor"] = create_token(s, "auditor", "ro", ["cases:read"])
        tokens["admin"] = create_token(s, "admin", "ro", ["cases:read"])
        tokens["platform"] = create_token(s, "worker", "hma", ["hma"])
        items = sorted(s.scalars(select(Hit.item_id).where(Hit.case_id == case_a)))
    with live_server(store) as base:
        yield World(base, case_a, case_b, items, tokens)


def test_tokens_scopes_and_cases_of_others(world: World) -> None:
    anonymous = world.client(None).get("/api/v1/cases")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json() == {"detail": "a bearer token is needed"}
    bogus = httpx.get(f"{world.base}/api/v1/cases", headers={"Authorization": "Bearer ncii_nope"})
    assert bogus.status_code == 403
    wrong_scope = world.client("platform").get("/api/v1/cases")
    assert wrong_scope.status_code == 403 and "cases:read" in wrong_scope.json()["detail"]
    read_only = world.client("worker-ro").post(
        f"/api/v1/cases/{world.case_a}/decisions",
        json={"item_ids": world.items[:1], "decision": "confirmed", "reason": "hers"},
    )
    assert read_only.status_code == 403 and "cases:write" in read_only.json()["detail"]

    other = world.client("other")
    for path in ("", "/hits", "/rooms", "/takedown"):
        refused = other.get(f"/api/v1/cases/{world.case_a}{path}")
        assert refused.status_code == 403, path
        assert refused.json() == {"detail": "not allowed: case.view"}
    decided = other.post(
        f"/api/v1/cases/{world.case_a}/decisions",
        json={"all": True, "decision": "rejected", "reason": "not mine to decide"},
    )
    assert decided.status_code == 403
    # A case that does not exist looks like any case that is not yours; admins learn it is not there.
    assert other.get("/api/v1/cases/9999").status_code == 403
    assert world.client("admin").get("/api/v1/cases/9999").status_code == 404
    # Auditors read the audit log, nothing of a case.
    assert world.client("auditor").get("/api/v1/cases").status_code == 403


def test_case_list_and_detail(world: World) -> None:
    mine = world.client("worker").get("/api/v1/cases")
    assert mine.status_code == 200
    [case] = mine.json()
    assert case["id"] == world.case_a and case["pseudonym"] == "Case A" and case["status"] == "open"
    assert case["hits"] == {"text": 3} and case["items"] == 3 and case["created_at"]
    theirs = world.client("other").get("/api/v1/cases")
    assert [c["id"] for c in theirs.json()] == [world.case_b]
    assert "Case A" not in theirs.text, "another user's case shows nothing, not even its pseudonym"
    everyone = world.client("admin").get("/api/v1/cases").json()
    assert [c["id"] for c in everyone] == [world.case_a, world.case_b]

    detail = world.client("worker").get(f"/api/v1/cases/{world.case_a}").json()
    assert detail["consent_method"] == "signed form" and detail["watch_terms"] == 1
    assert detail["decisions"] == {"confirmed": 0, "rejected": 0, "undecided": 3}
    assert detail["notices"] == 0 and detail["unseen_alerts"] == 0 and detail["photos"] == 0
    assert world.client("worker").get("/api/v1/cases/abc").status_code == 422


def test_hits_and_decisions(world: World, store: Store) -> None:
    worker = world.client("worker")
    hits = worker.get(f"/api/v1/cases/{world.case_a}/hits")
    assert hits.status_code == 200
    rows = hits.json()
    assert sorted(r["item_id"] for r in rows) == world.items
    first = rows[0]
    assert first["kind"] == "text" and first["kinds"] == ["text"] and first["decision"] is None
    assert first["excerpt"] and "김하린" not in first["excerpt"], "the name is masked in the excerpt"
    assert first["details"]["text"]["label"] in ("solicitation", "suspicious", "ordinary")
    assert worker.get(f"/api/v1/cases/{world.case_a}/hits", params={"kind": "face"}).json() == []
    assert len(worker.get(f"/api/v1/cases/{world.case_a}/hits", params={"kind": "text"}).json()) == 3
    bad_kind = worker.get(f"/api/v1/cases/{world.case_a}/hits", params={"kind": "telepathy"})
    assert bad_kind.status_code == 422 and "detail" in bad_kind.json()

    decisions = f"/api/v1/cases/{world.case_a}/decisions"
    confirmed = worker.post(
        decisions, json={"item_ids": world.items[:1], "decision": "confirmed", "reason": "checked with her"}
    )
    assert confirmed.status_code == 201
    assert confirmed.json() == {"case_id": world.case_a, "decision": "confirmed", "items": world.items[:1]}
    rest = worker.post(
        decisions, json={"all": True, "undecided_only": True, "decision": "rejected", "reason": "not her"}
    )
    assert rest.json()["items"] == world.items[1:]
    latest = {r["item_id"]: r["decision"] for r in worker.get(f"/api/v1/cases/{world.case_a}/hits").json()}
    assert latest == {world.items[0]: "confirmed", world.items[1]: "rejected", world.items[2]: "rejected"}

    unknown = worker.post(decisions, json={"item_ids": [999_999], "decision": "confirmed", "reason": "x"})
    assert unknown.status_code == 400
    assert unknown.json()["detail"].startswith(f"not hits of case {world.case_a}: item 999999")
    assert "ncii-shield hits" in unknown.json()["hint"]
    for body in (
        {"decision": "confirmed", "reason": "neither items nor all"},
        {"item_ids": world.items, "all": True, "decision": "confirmed", "reason": "both"},
        {"all": True, "decision": "maybe", "reason": "x"},
        {"all": True, "decision": "confirmed", "reason": ""},
    ):
        assert worker.post(decisions, json=body).status_code == 422, body
    assert (
        worker.post(decisions, content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 422
    )
    with store.session() as s:
        web = [e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "web.request"))]
    assert [(d["user"], d["decision"], d["items"]) for d in web] == [
        ("worker", "confirmed", world.items[:1]),
        ("worker", "rejected", world.items[1:]),
    ], "the chain names the person who decided, not the server's account"


def test_rooms_and_takedown(world: World, store: Store) -> None:
    worker = world.client("worker")
    rooms = worker.get(f"/api/v1/cases/{world.case_a}/rooms")
    assert rooms.status_code == 200
    graph = rooms.json()
    [chat] = graph["chats"]
    assert chat["title"] == "Test room" and chat["hits"] == {"text": 3} and chat["messages"] == 3
    [edge] = graph["edges"]
    assert edge["target"] == "t.me/+Qw3rTy8uIoP" and edge["kind"] == "invite_link" and edge["to_chat"] is None
    assert edge["message_ids"] == [2]

    empty = worker.get(f"/api/v1/cases/{world.case_a}/takedown").json()
    assert empty == {"notices": [], "platforms": [], "alerts": []}
    worker.post(
        f"/api/v1/cases/{world.case_a}/decisions",
        json={"all": True, "decision": "confirmed", "reason": "all hers"},
    ).raise_for_status()
    with store.session() as s:
        draft(s, world.case_a, reporter_organisation="Support Desk", reporter_email="desk@support.test")
    takedown = worker.get(f"/api/v1/cases/{world.case_a}/takedown")
    assert takedown.status_code == 200
    body = takedown.json()
    [notice] = body["notices"]
    assert notice["platform_id"] == "telegram" and notice["status"] == "drafted"
    assert notice["items"] == {"drafted": 3} and notice["sent_at"] is None
    assert body["platforms"] == [
        {
            "platform_id": "telegram",
            "notices": 1,
            "items": 3,
            "removed": 0,
            "median_hours_to_removal": None,
            "max_hours_to_removal": None,
        }
    ]
    assert body["alerts"] == []


def test_text_check(world: World) -> None:
    worker = world.client("worker")
    checked = worker.post(
        "/api/v1/text/check",
        json={"messages": ["겹지인방 들어올 사람 갠텔 주세요 010-1234-5678", "점심 뭐 먹지"]},
    )
    assert checked.status_code == 200
    risky, plain = checked.json()["results"]
    assert risky["label"] != "ordinary" and risky["score"] > plain["score"]
    assert any("지인" in cue for cue in risky["cues"])
    [phone] = [s for s in risky["spans"] if s["kind"] == "phone"]
    assert phone["text"] == "010-1234-5678" and phone["start"] < phone["end"]
    assert plain["label"] == "ordinary" and plain["spans"] == []

    too_many = worker.post("/api/v1/text/check", json={"messages": ["hi"] * 1001})
    assert too_many.status_code == 413 and "at most 1000" in too_many.json()["detail"]
    too_long = worker.post("/api/v1/text/check", json={"messages": ["가" * 10_001]})
    assert too_long.status_code == 422
    assert worker.post("/api/v1/text/check", json={"text": "no messages"}).status_code == 422
    assert world.client("auditor").post("/api/v1/text/check", json={"messages": ["x"]}).status_code == 403
    assert world.client(None).post("/api/v1/text/check", json={"messages": ["x"]}).status_code == 401


def test_body_limit_is_enforced_before_the_token(world: World) -> None:
    """An anonymous caller cannot make the server read a large body: it is refused by its length."""
    big = b'{"item_ids": [' + b"1," * 600_000 + b'1], "decision": "confirmed", "reason": "x"}'
    refused = world.client(None).post(
        f"/api/v1/cases/{world.case_a}/decisions", content=big, headers={"content-type": "application/json"}
    )
    assert refused.status_code == 413 and "limit" in refused.json()["detail"]


def test_audit_verify(world: World) -> None:
    verified = world.client("auditor").get("/api/v1/audit/verify")
    assert verified.status_code == 200
    result = verified.json()
    assert result["ok"] is True and result["problems"] == [] and result["entries"] > 0
    assert len(result["public_keys"]) == 1 and result["checkpoints"] >= 1
    # Every signed head of a new data directory is also in the witness file outside the database.
    assert result["witnessed"] == result["checkpoints"] and result["unsigned"] == 0
    assert world.client("admin").get("/api/v1/audit/verify").status_code == 200
    assert world.client("worker").get("/api/v1/audit/verify").status_code == 403


def test_openapi_describes_the_api(world: World) -> None:
    spec = httpx.get(f"{world.base}/api/v1/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/hits",
        "/api/v1/cases/{case_id}/decisions",
        "/api/v1/cases/{case_id}/rooms",
        "/api/v1/cases/{case_id}/takedown",
        "/api/v1/text/check",
        "/api/v1/audit/verify",
    ):
        assert path in paths, path
    schemas = spec["components"]["schemas"]
    assert {"CaseSummary", "CaseDetail", "HitOut", "DecisionIn", "RoomsOut", "TakedownOut"} <= set(schemas)
    assert "pseudonym" in schemas["CaseSummary"]["properties"]
    hits = paths["/api/v1/cases/{case_id}/hits"]["get"]
    assert hits["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"].endswith(
        "/HitOut"
    )
    assert hits["security"] == [{"HTTPBearer": []}]
    assert paths["/api/v1/text/check"]["post"]["x-max-body-bytes"] > 60_000_000
