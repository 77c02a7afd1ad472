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
    assert chat.label == "ordinary" and chat.cues == () and chat.score < 0.25 and chat.rule_score == 0.0
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


def test_excerpt_keeps_only_the_cue_surroundings() -> None:
    from ncii_shield.text.redact import excerpt

    text = (
        "아 진짜 오늘 너무 피곤하다 근데 그건 그렇고 " * 3 + "김하린 아시는 분? 갠텔" + " 그리고 내일 봐" * 4
    )
    start = text.index("아시는")
    name = text.index("김하린")
    out = excerpt(text, [[start, start + 6]], [[name, name + 3, "name"]], window=8)
    assert out.startswith("… ") and out.endswith(" …")
    assert "[name] 아시는 분? 갠텔" in out and "김하린" not in out and "피곤" not in out


def test_non_utf8_input_is_read_not_fatal() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "text", "check", "--json"],
        input=b"\xff\xfe broken line\n\xea\xb2\xb9\xec\xa7\x80\xec\x9d\xb8\xeb\xb0\xa9 t.me/+AbCdEf123\n",
        capture_output=True,
        env=cli_env(),
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [r["line"] for r in rows] == [1, 2] and rows[1]["label"] == "solicitation"
