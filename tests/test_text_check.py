"""`ncii-shield text check`: one JSON line per message, with score, label, cues and spans with offsets."""

from __future__ import annotations

import json
import subprocess
import sys

from ncii_shield.text.cues import assess
from tests.conftest import cli_env


def test_a_doxxing_post_is_a_solicitation_and_ordinary_chat_is_not() -> None:
    post = assess("한빛여고 07년생 김하린 아시는 분? 갠텔 주세요")
    assert post.label == "solicitation" and post.score >= 0.6
    assert "asks who knows someone" in post.cues and "asks for a private message" in post.cues
    assert {s.kind for s in post.spans} >= {"school", "birth_year"}
    chat = assess("오늘 급식 최고였음 ㅋㅋ 내일 보자")
    assert chat.label == "ordinary" and chat.cues == () and chat.score == 0.0
    assert assess("겹지인방 링크 t.me/+AbCdEf123 들어와").label == "solicitation"


def test_cli_reads_stdin_and_prints_json_lines() -> None:
    lines = "한빛여고 07년생 아시는 분? 갠텔\n\n그냥 잡담이에요\n"
    out = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "text", "check", "--json"],
        input=lines,
        capture_output=True,
        text=True,
        env=cli_env(),
        check=True,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in rows] == [1, 3]
    first = rows[0]
    assert first["label"] in ("solicitation", "suspicious") and first["cues"]
    text = lines.splitlines()[0]
    assert all(text[s["start"] : s["end"]] == s["text"] for s in first["spans"])
    assert rows[1]["label"] == "ordinary" and rows[1]["spans"] == []
