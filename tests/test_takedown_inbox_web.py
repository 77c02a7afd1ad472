"""The unmatched replies page over HTTP: a reply whose headers name a notice is shown, attachable and
dismissable only for those who may act on that notice's case; acknowledgement and removal refuse what
makes no sense (a drafted notice, a time before the send) without a server error."""

from __future__ import annotations

import mailbox
import re
from pathlib import Path

import httpx
from sqlalchemy import select

from ncii_shield.cases.service import open_case
from ncii_shield.store.db import Store
from ncii_shield.store.models import InboxMessage, Notice
from ncii_shield.takedown.inbox_sources import read_inbox
from ncii_shield.web.auth import assign, create_user
from tests.test_takedown_inbox import _sent, _settings, fixture
from tests.test_web_authz import PASSWORD, _login
from tests.web_server import live_server


def test_a_reply_about_another_case_is_not_shown_to_its_outsiders(store: Store, tmp_path: Path) -> None:
    (a, a_mid, _, _), (drafted, _, _, _) = _sent(store, [["https://host.test/a"], ["https://host.test/d"]])
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(fixture("meta_html_only.eml", MSGID=a_mid))  # suggests notice a
    box.add(fixture("newsletter.eml"))  # about no notice
    read_inbox(store, _settings(store), maildir=tmp_path / "Maildir")
    with store.session() as s:
        own = s.get(Notice, a).case_id  # type: ignore[union-attr]
        s.get(Notice, drafted).status = "drafted"  # type: ignore[union-attr]
        other = open_case(s, "Case X", consent_by="the person", consent_method="signed form").id
        create_user(s, "admin", PASSWORD, "admin", language="en")
        for name, case_id in (("insider", own), ("outsider", other)):
            create_user(s, name, PASSWORD, "case_worker", language="en")
            assign(s, name, case_id)
        html_only, newsletter = s.scalars(select(InboxMessage.id).order_by(InboxMessage.id)).all()
    with live_server(store) as url:
        shown = {}
        for who in ("admin", "insider", "outsider"):
            client, _ = _login(url, who)
            page = client.get("/takedown/inbox")
            assert page.status_code == 200
            shown[who] = set(map(int, re.findall(r'data-message="(\d+)"', page.text)))
        assert shown == {
            "admin": {html_only, newsletter},
            "insider": {html_only, newsletter},
            "outsider": {newsletter},
        }
        outsider, csrf = _login(url, "outsider")
        page = outsider.get("/takedown/inbox")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        refused = outsider.post(f"/takedown/inbox/{html_only}/dismiss", data={"csrf_token": csrf})
        assert refused.status_code == 403
        refused = outsider.post(
            f"/takedown/inbox/{html_only}/attach", data={"csrf_token": csrf, "notice": str(a)}
        )
        assert refused.status_code == 403
        insider, _ = _login(url, "insider")
        page = insider.get(f"/notices/{a}")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        item = re.search(r'name="item" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
        mark = f"/notices/{a}/mark"
        early = insider.post(
            mark,
            data={"csrf_token": csrf, "status": "removed", "item": item, "removed_at": "2000-01-01T00:00"},
        )
        assert early.status_code == 400 and "before the notice was sent" in early.text
        bad = insider.post(
            mark, data={"csrf_token": csrf, "status": "removed", "item": item, "removed_at": "soon"}
        )
        assert bad.status_code == 400
        unsent = insider.post(f"/notices/{drafted}/mark", data={"csrf_token": csrf, "status": "acknowledged"})
        assert unsent.status_code == 409
        forged = insider.post(mark, data={"csrf_token": "forged", "status": "acknowledged", "ticket": "1"})
        assert forged.status_code == 403
        done = insider.post(
            mark, data={"csrf_token": csrf, "status": "acknowledged", "ticket": "T-77", "back": "notice"}
        )
        assert done.status_code == 303 and done.headers["location"] == f"/notices/{a}"
        assert "T-77" in insider.get(f"/notices/{a}").text


def test_the_api_lists_attaches_and_dismisses_replies_as_the_page_does(store: Store, tmp_path: Path) -> None:
    """/api/v1/takedown/inbox…: the same visibility rule, and a reply attached or dismissed once."""
    from ncii_shield.web.auth import create_token

    ((a, a_mid, _, _),) = _sent(store, [["https://host.test/a"]])
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(fixture("meta_html_only.eml", MSGID=a_mid))  # suggests notice a
    box.add(fixture("newsletter.eml"))  # about no notice
    read_inbox(store, _settings(store), maildir=tmp_path / "Maildir")
    with store.session() as s:
        own = s.get(Notice, a).case_id  # type: ignore[union-attr]
        other = open_case(s, "Case X", consent_by="the person", consent_method="signed form").id
        tokens = {}
        for name, case_id in (("insider", own), ("outsider", other)):
            create_user(s, name, PASSWORD, "case_worker", language="en")
            assign(s, name, case_id)
            tokens[name] = create_token(s, name, "tool", ["cases:read", "cases:write"])
        html_only, newsletter = s.scalars(select(InboxMessage.id).order_by(InboxMessage.id)).all()
    with live_server(store) as url:

        def api(who: str, method: str, path: str, body: object = None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            return httpx.request(method, f"{url}/api/v1{path}", json=body, headers=headers, timeout=30)

        listed = {who: {m["id"] for m in api(who, "GET", "/takedown/inbox").json()} for who in tokens}
        assert listed == {"insider": {html_only, newsletter}, "outsider": {newsletter}}
        assert api("outsider", "POST", f"/takedown/inbox/{html_only}/dismiss", {}).status_code == 403
        refused = api("outsider", "POST", f"/takedown/inbox/{newsletter}/attach", {"notice_id": a})
        assert refused.status_code == 403  # the notice is of a case the outsider may not act on
        placed = api("insider", "POST", f"/takedown/inbox/{html_only}/attach", {"notice_id": a})
        assert placed.status_code == 200 and placed.json()["status"] == "attached"
        assert placed.json()["notice_id"] == a
        gone = api("insider", "POST", f"/takedown/inbox/{newsletter}/dismiss", {"note": "a newsletter"})
        assert gone.status_code == 200 and gone.json()["status"] == "dismissed"
        assert api("insider", "GET", "/takedown/inbox").json() == []
        assert api("insider", "POST", f"/takedown/inbox/{newsletter}/dismiss", {}).status_code == 409
