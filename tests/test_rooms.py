"""The room graph: invite links, channel links and @channel mentions connect chats; `ncii-shield rooms`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ncii_shield.errors import NciiError
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.sources import open_source
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, RoomLink
from ncii_shield.text.rooms import add_alias, normalise_link, room_graph, targets
from ncii_shield.text.service import add_terms
from tests.conftest import cli_env, new_store
from tests.exports import message
from tests.test_at_rest import _found
from tests.test_scan import _case


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("들어와 t.me/+AbCdEf123", [("invite_link", "t.me/+AbCdEf123")]),
        ("https://t.me/joinchat/AbCdEf123 여기", [("invite_link", "t.me/+AbCdEf123")]),
        ("tg://join?invite=AbCdEf123", [("invite_link", "t.me/+AbCdEf123")]),
        ("채널 t.me/Link_Share 구독", [("channel", "t.me/link_share")]),
        ("tg://resolve?domain=link_share", [("channel", "t.me/link_share")]),
        ("@link_share 채널로 와", [("mention", "t.me/link_share")]),
        ("join @link_share for more", [("mention", "t.me/link_share")]),
        ("문의는 @demo_minjun 한테 하세요. 방 규칙 필독", []),  # a person to contact, not a room
        ("메일 a@link_share.com 으로 방 문의", []),
        ("t.me/addstickers/cats t.me/+AbCdEf123 t.me/+AbCdEf123", [("invite_link", "t.me/+AbCdEf123")]),
    ],
)
def test_targets(text: str, expected: list[tuple[str, str]]) -> None:
    assert targets(text) == expected


def test_hidden_hrefs_count() -> None:
    assert targets("여기로 들어오세요", ["https://t.me/+Hidden999"]) == [("invite_link", "t.me/+Hidden999")]


def test_a_bad_link_is_refused_with_a_hint() -> None:
    for bad in ("https://example.org/x", "그냥 글", "t.me/+a t.me/+bbbbbbbbb t.me/+ccccccccc"):
        with pytest.raises(NciiError, match="not a Telegram room link"):
            normalise_link(bad)
    assert normalise_link("@Link_Share") == "t.me/link_share"


def _full_export(root: Path) -> Path:
    """Three chats: a school room, a link channel that advertises it, a group that links the channel."""
    chats = [
        {
            "name": "학교방",
            "type": "private_supergroup",
            "id": 111,
            "messages": [
                message(1, text="한빛여고 07년생 김하린 아시는 분? 갠텔 주세요", sender="user1"),
                message(2, text="저장본은 여기 t.me/+VaultRoom77", sender="user2"),
                message(3, text="이 방 링크 t.me/+SchoolRoom1 공유 금지", sender="user1"),
                message(4, text="오늘 급식 최고 ㅋㅋ 먹고 가자", sender="user3"),
            ],
        },
        {
            "name": "링크공유",
            "type": "public_channel",
            "id": 222,
            "messages": [
                message(1, text="새 방 👉 t.me/+SchoolRoom1", sender="channel222"),
                message(
                    2,
                    text=[{"type": "text_link", "text": "여기", "href": "https://t.me/+SchoolRoom1"}],
                    sender="channel222",
                ),
                message(3, text="백업 t.me/+VaultRoom77", sender="channel222"),
            ],
        },
        {
            "name": "잡담방",
            "type": "private_group",
            "id": 333,
            "messages": [
                message(1, text="링크공유 채널 구독 ㄱ t.me/link_share", sender="user4"),
                message(2, text="김하린 생일 축하해~", sender="user4"),
            ],
        },
    ]
    root.mkdir(parents=True)
    (root / "result.json").write_text(
        json.dumps({"chats": {"list": chats}}, ensure_ascii=False), encoding="utf-8"
    )
    return root


@pytest.fixture
def scanned(store: Store, tmp_path: Path) -> tuple[Store, int, Path]:
    case_id = _case(store)
    with store.session() as s:
        add_terms(store, s, s.get(Case, case_id), [("name", "김하린")])
    export = _full_export(tmp_path / "export")
    run_scan(store, open_source(export), location=export, case_id=case_id, workers=1)
    return store, case_id, export


def test_room_graph_connects_chats_and_locates_hits(scanned: tuple[Store, int, Path]) -> None:
    store, case_id, _ = scanned
    with store.session() as s:
        add_alias(store, s, "111", "https://t.me/+SchoolRoom1")
        add_alias(store, s, "222", "@link_share")
        assert add_alias(store, s, "222", "t.me/Link_Share") is False  # already known
        graph = room_graph(store, s, case_id)
    titles = {c.chat_id: c.title for c in graph.chats}
    edges = {(titles[e.from_chat], e.target, titles.get(e.to_chat)): e for e in graph.edges}
    assert set(edges) == {
        ("링크공유", "t.me/+SchoolRoom1", "학교방"),
        ("링크공유", "t.me/+VaultRoom77", None),
        ("학교방", "t.me/+VaultRoom77", None),
        ("잡담방", "t.me/link_share", "링크공유"),
    }, "a room posting its own link is not an edge"
    assert edges[("링크공유", "t.me/+SchoolRoom1", "학교방")].messages == 2  # text and hidden href
    assert edges[("링크공유", "t.me/+SchoolRoom1", "학교방")].message_ids == [1, 2]
    assert graph.chats[0].title == "학교방" and graph.chats[0].hits == {"text": 1}
    assert {c.title: c.hits for c in graph.chats}["잡담방"] == {"text": 1}
    assert {c.title: c.links_in for c in graph.chats}["링크공유"] == ["t.me/link_share"]


def test_links_are_indexed_once_and_sealed(scanned: tuple[Store, int, Path]) -> None:
    store, case_id, export = scanned
    with store.session() as s:
        before = s.scalar(select(func.count()).select_from(RoomLink))
    run_scan(store, open_source(export), location=export, case_id=case_id, workers=1)  # rescan: nothing new
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(RoomLink)) == before == 6
    store.close()
    assert _found(store.settings.data_dir, {"link": [b"VaultRoom77", b"SchoolRoom1", b"link_share"]}) == []


def test_alias_of_an_unknown_chat_is_refused(scanned: tuple[Store, int, Path]) -> None:
    store, _, _ = scanned
    with pytest.raises(NciiError, match="no collected chat"), store.session() as s:
        add_alias(store, s, "999", "t.me/+SchoolRoom1")


def test_rooms_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = new_store(data)
    case_id = _case(store)
    store.close()
    export = _full_export(tmp_path / "export")
    env = cli_env()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            env=env,
        )

    assert cli("scan", str(case_id), str(export), "--workers", "1").returncode == 0
    assert cli("room-alias", "111", "t.me/+SchoolRoom1").returncode == 0
    bad = cli("room-alias", "111", "https://example.org/x")
    assert bad.returncode == 2 and "not a Telegram room link" in bad.stderr and "hint:" in bad.stderr
    assert len([line for line in bad.stderr.splitlines() if line.startswith("error:")]) == 1
    out = cli("rooms", str(case_id), "--json")
    assert out.returncode == 0, out.stderr
    graph = json.loads(out.stdout)
    assert {c["chat_id"] for c in graph["chats"]} == {"111", "222", "333"}
    assert any(e["to_chat"] == "111" and e["from_chat"] == "222" for e in graph["edges"])
    table = cli("rooms", str(case_id))
    assert table.returncode == 0 and "t.me/+VaultRoom77" in table.stdout and "(not collected)" in table.stdout
    missing = cli("rooms", "99")
    assert missing.returncode == 2 and "error:" in missing.stderr
