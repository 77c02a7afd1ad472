"""Review decisions: confirm or reject hits singly and in bulk, with a reason; appended, never edited."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ncii_shield.errors import NciiError
from ncii_shield.review.decisions import current, decide
from ncii_shield.review.hits import list_hits
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, Case, Decision, Hit
from ncii_shield.text.service import add_terms
from tests.conftest import cli_env, new_store
from tests.exports import message, write_export
from tests.test_scan import _case, _scan


def _three_hits(store: Store, tmp_path: Path) -> int:
    case_id = _case(store)
    with store.session() as s:
        add_terms(store, s, s.get(Case, case_id), [("name", "김하린")])
    export = write_export(tmp_path / "e", [message(i, text=f"김하린 {i}번째 글") for i in (1, 2, 3)])
    assert _scan(store, export, case_id).new_hits == {"text": 3}
    return case_id


def test_decisions_are_appended_and_the_latest_counts(store: Store, tmp_path: Path) -> None:
    case_id = _three_hits(store, tmp_path)
    with store.session() as s:
        items = sorted(s.scalars(select(Hit.item_id).where(Hit.case_id == case_id)))
        hits_before = s.scalar(select(func.count()).select_from(Hit))
        assert decide(s, case_id, "confirmed", "her photo, checked with her", item_ids=[items[0]]) == [
            items[0]
        ]
        assert decide(s, case_id, "rejected", "another person", item_ids=[items[0]]) == [items[0]]
        assert decide(s, case_id, "confirmed", "bulk", undecided_only=True) == items[1:]
        latest = current(s, case_id)
        assert {i: d.decision for i, d in latest.items()} == {
            items[0]: "rejected",
            items[1]: "confirmed",
            items[2]: "confirmed",
        }
        assert latest[items[0]].reason == "another person"
        assert s.scalar(select(func.count()).select_from(Decision)) == 4, "nothing is overwritten"
        assert s.scalar(select(func.count()).select_from(Hit)) == hits_before, "the evidence is untouched"
        rows = {r.item_id: r.decision for r in list_hits(s, case_id)}
        assert rows == {items[0]: "rejected", items[1]: "confirmed", items[2]: "confirmed"}
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("review.%"))))
        assert actions == ["review.confirmed", "review.rejected", "review.confirmed"]


def test_bad_decisions_write_nothing(store: Store, tmp_path: Path) -> None:
    case_id = _three_hits(store, tmp_path)
    with store.session() as s:
        item = s.scalars(select(Hit.item_id)).first()
    for kwargs, match in (
        (dict(decision="confirmed", reason="x", item_ids=[item, 9999]), "not hits of case"),
        (dict(decision="confirmed", reason="  ", item_ids=[item]), "needs a reason"),
        (dict(decision="maybe", reason="x", item_ids=[item]), "unknown decision"),
    ):
        with pytest.raises(NciiError, match=match), store.session() as s:
            decide(s, case_id, **kwargs)  # type: ignore[arg-type]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 0


def test_review_cli(tmp_path: Path) -> None:
    data = tmp_path / "d"
    store = new_store(data)
    case_id = _three_hits(store, tmp_path)
    store.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            env=cli_env(),
        )

    hits = json.loads(cli("hits", str(case_id), "--json").stdout)
    first = hits[0]["item_id"]
    assert cli("review", "reject", str(case_id), str(first), "--reason", "not her").returncode == 0
    out = cli("review", "confirm", str(case_id), "--all", "--kind", "text", "--reason", "checked")
    assert out.returncode == 0 and "2 hit(s) confirmed" in out.stdout
    decisions = {h["item_id"]: h["decision"] for h in json.loads(cli("hits", str(case_id), "--json").stdout)}
    assert decisions[first] == "rejected" and sorted(decisions.values()) == [
        "confirmed",
        "confirmed",
        "rejected",
    ]
    for args, message_part in (
        (("review", "confirm", str(case_id)), "no hits named"),
        (("review", "confirm", str(case_id), "424242", "--reason", "x"), "not hits of case"),
        (("review", "confirm", str(case_id), str(first)), "needs a reason"),
    ):
        bad = cli(*args)
        assert bad.returncode == 2 and message_part in bad.stderr and "hint:" in bad.stderr
    assert cli("audit", "verify").returncode == 0
