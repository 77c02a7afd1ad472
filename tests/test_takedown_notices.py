"""Takedown notices: the packaged registry, URL routing, registry validation, and rendered notices.

Every platform of the real registry is rendered in both languages and read back, so an edit to the
registry or a template that drops an item, a citation or the reference fails here.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

from ncii_shield.errors import NciiError
from ncii_shield.takedown.notices import Notice, NoticeItem, NoticeRequest, render_all, render_notice
from ncii_shield.takedown.registry import Registry, load_registry, platform_for_url

REGISTRY = load_registry()
PACKAGED_TEXT = resources.files("ncii_shield.takedown").joinpath("platforms.toml").read_text("utf-8")
REFERENCE = "NCII-2026-0001"
ORG = "Example Support Centre"
EMAIL = "casework@example.org"
ABUSE = "abuse@hosting.example"
NOW = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)


def _items() -> tuple[NoticeItem, ...]:
    return (
        NoticeItem(
            url="https://t.me/example_room/4711",
            chat_title="Example room",
            message_id=4711,
            posted_at=datetime(2026, 5, 30, 21, 5, tzinfo=timezone(timedelta(hours=9))),  # KST
            media_sha256="AB" * 32,
            match_kinds=("pdq", "exact"),
            collected_at=datetime(2026, 5, 31, 8, 0),  # naive: taken as UTC
        ),
        NoticeItem(
            chat_title="Export-only room",
            message_id=815,
            posted_at=None,
            media_sha256=None,
            match_kinds=("face",),
            collected_at=datetime(2026, 5, 31, 8, 1, tzinfo=UTC),
        ),
        NoticeItem(
            url="https://files.example.net/a/b.jpg?x=1", collected_at=datetime(2026, 5, 31, tzinfo=UTC)
        ),
    )


def _request(platform_id: str, language: str = "en", /, **changes: object) -> NoticeRequest:
    fields: dict[str, object] = {
        "platform_id": platform_id,
        "language": language,
        "case_reference": REFERENCE,
        "reporter_organisation": ORG,
        "reporter_email": EMAIL,
        "items": _items(),
        "created_at": NOW,
        "abuse_contact": ABUSE if REGISTRY.platform(platform_id).contact_per_notice else None,
    }
    fields.update(changes)
    return NoticeRequest(**fields)  # type: ignore[arg-type]


def _assert_plain_text(text: str) -> None:
    """No control or formatting characters other than line breaks, and nothing printed as None."""
    bad = [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    assert not bad, f"control characters in notice: {bad!r}"
    assert "None" not in text


# --------------------------------------------------------------------------------------------
# The packaged registry
# --------------------------------------------------------------------------------------------


def test_packaged_registry_has_every_platform_and_their_laws() -> None:
    ids = {p.id for p in REGISTRY.platforms}
    assert ids == {"telegram", "x", "meta", "google_search", "kcsc", "hosting"}
    assert REGISTRY.platform("telegram").email == "abuse@telegram.org"
    assert {"t.me", "telegram.me", "telegram.org"} <= set(REGISTRY.platform("telegram").hosts)
    assert {"x.com", "twitter.com"} <= set(REGISTRY.platform("x").hosts)
    assert {"facebook.com", "instagram.com", "fb.com"} <= set(REGISTRY.platform("meta").hosts)
    assert REGISTRY.platform("hosting").contact_per_notice
    for platform in REGISTRY.platforms:
        assert platform.email or platform.form_url or platform.contact_per_notice
        assert REGISTRY.laws_for(platform)  # every jurisdiction resolves

    kr = " ".join(c.ko for c in REGISTRY.law("KR").citations)
    assert "성폭력범죄의 처벌 등에 관한 특례법 제14조의2" in kr
    assert "정보통신망 이용촉진 및 정보보호 등에 관한 법률 제44조의2" in kr
    assert "전기통신사업법 제22조의5" in kr
    assert "TAKE IT DOWN" in REGISTRY.law("US").citations[0].en
    assert "48 hours" in REGISTRY.law("US").deadline_en
    assert "2022/2065" in REGISTRY.law("EU").citations[0].en
    assert "Article 16" in REGISTRY.law("EU").citations[0].en


def test_registry_values_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        REGISTRY.platform("telegram").email = "someone@example.org"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# URL → platform
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "platform_id"),
    [
        ("t.me/xxx", "telegram"),
        ("https://t.me/c/123/45", "telegram"),
        ("https://telegram.me/room", "telegram"),
        ("HTTPS://WWW.T.ME/room", "telegram"),
        ("https://www.instagram.com/p/x", "meta"),
        ("https://scontent.cdninstagram.com/v/x.jpg", "meta"),
        ("http://m.facebook.com/story.php?id=1", "meta"),
        ("mobile.twitter.com", "x"),
        ("https://x.com/someone/status/1", "x"),
        ("https://pbs.twimg.com/media/abc.jpg", "x"),
        ("https://www.google.com/search?q=x", "google_search"),
        ("unknown.example", "hosting"),
        ("https://evilt.me/room", "hosting"),  # suffixes match on label boundaries only
        ("https://t.me.evil.example/room", "hosting"),
        ("https://t.me@evil.example/room", "hosting"),  # userinfo is not the host
        ("https://[::1/broken", "hosting"),
        ("", "hosting"),
    ],
)
def test_platform_for_url(url: str, platform_id: str) -> None:
    assert platform_for_url(REGISTRY, url).id == platform_id


# --------------------------------------------------------------------------------------------
# Every platform x language
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("platform_id", [p.id for p in REGISTRY.platforms])
def test_every_platform_renders_in_every_language(platform_id: str, language: str) -> None:
    platform = REGISTRY.platform(platform_id)
    notice = render_notice(REGISTRY, _request(platform_id, language))

    assert isinstance(notice, Notice)
    assert (notice.platform_id, notice.language) == (platform_id, language)
    if platform.contact_per_notice:
        assert (notice.channel, notice.to) == ("email", ABUSE)
    elif platform.channel in ("email", "both"):
        assert (notice.channel, notice.to) == ("email", platform.email)
    else:
        assert (notice.channel, notice.to) == ("web_form", platform.form_url)

    body = notice.body
    assert REFERENCE in notice.subject and REFERENCE in body
    assert "\n" not in notice.subject
    assert ORG in body and EMAIL in body
    # every item, by URL or by chat and message id, with dates in UTC and the hash when known
    assert "https://t.me/example_room/4711" in body
    assert "https://files.example.net/a/b.jpg?x=1" in body
    assert "Export-only room" in body and "815" in body
    assert "Example room" in body and "4711" in body
    assert "2026-05-30 12:05 UTC" in body  # 21:05 KST
    assert "2026-05-31 08:00 UTC" in body
    assert "ab" * 32 in body
    # the law of each of the platform's jurisdictions, in the notice's language
    for law in REGISTRY.laws_for(platform):
        for citation in law.citations:
            assert (citation.ko if language == "ko" else citation.en) in body
        if law.statement_en:
            assert (law.statement_ko if language == "ko" else law.statement_en) in body
    if platform.policy:
        assert platform.policy in body
    # consent, and the signature
    assert ("동의를 받아" if language == "ko" else "with the consent of") in body
    assert f"/s/ {ORG}" in body
    _assert_plain_text(notice.subject + "\n" + body)


@pytest.mark.parametrize("platform_id", [p.id for p in REGISTRY.platforms])
def test_korean_notices_are_formal(platform_id: str) -> None:
    """합쇼체 throughout: no sentence of the letter ends in the plain 한다/이다 style."""
    body = render_notice(REGISTRY, _request(platform_id, "ko")).body
    endings = re.findall(r"(\S+다)\.(?:\s|$)", body)  # "다." alone is a list marker
    assert endings, "no sentences found"
    assert all(word.endswith("니다") for word in endings), endings
    assert "주시기 바랍니다" in body


def test_platforms_not_bound_by_a_law_do_not_cite_it() -> None:
    search = render_notice(REGISTRY, _request("google_search", "en")).body
    assert "TAKE IT DOWN" not in search and "2022/2065" not in search
    kcsc = render_notice(REGISTRY, _request("kcsc", "ko")).body
    assert "TAKE IT DOWN" not in kcsc and "성폭력범죄의 처벌 등에 관한 특례법 제14조의2" in kcsc


# --------------------------------------------------------------------------------------------
# No name, anywhere
# --------------------------------------------------------------------------------------------

NAME = "김지은"


def test_a_request_has_no_field_for_the_persons_name() -> None:
    names = {f.name for f in dataclasses.fields(NoticeRequest)} | {
        f.name for f in dataclasses.fields(NoticeItem)
    }
    assert not {n for n in names if "name" in n or n in {"victim", "person", "subject"}}
    with pytest.raises(TypeError):
        NoticeRequest(**{**_request("telegram").__dict__, "person_name": NAME})


@pytest.mark.parametrize("reference", [NAME, "KIM-JIEUN", "Kim Jieun 2026", "ncii-2026-0001", ""])
def test_a_name_cannot_pass_as_the_case_reference(reference: str) -> None:
    with pytest.raises(NciiError) as err:
        _request("telegram", case_reference=reference)
    assert "never a name" in (err.value.hint or "")


def test_notices_never_contain_the_name() -> None:
    for request in (_request(p.id, lang) for p in REGISTRY.platforms for lang in ("ko", "en")):
        notice = render_notice(REGISTRY, request)
        assert NAME not in notice.body and NAME not in notice.subject


# --------------------------------------------------------------------------------------------
# Hostile values
# --------------------------------------------------------------------------------------------


def test_control_characters_in_chat_titles_are_stripped() -> None:
    title = "Room\r\nBcc: attacker@example.com\x00\x1b[2J\u202eevil\u200b\x85end\u2028x"
    item = NoticeItem(chat_title=title, message_id=7, collected_at=NOW)
    for language in ("ko", "en"):
        notice = render_notice(REGISTRY, _request("telegram", language, items=(item,)))
        _assert_plain_text(notice.body)
        assert not any(line.startswith("Bcc:") for line in notice.body.splitlines())
        assert "Room Bcc: attacker@example.com[2Jevil end x" in notice.body


def test_template_syntax_in_data_is_printed_literally() -> None:
    item = NoticeItem(chat_title="{{ 7*7 }} {% if true %}x{% endif %}", message_id=1, collected_at=NOW)
    notice = render_notice(
        REGISTRY, _request("telegram", items=(item,), reporter_organisation="Org {{ 7*7 }}")
    )
    assert '"{{ 7*7 }} {% if true %}x{% endif %}"' in notice.body
    assert "Org {{ 7*7 }}" in notice.body
    assert "49" not in notice.body


def test_template_syntax_in_the_registry_is_printed_literally(tmp_path: Path) -> None:
    text = PACKAGED_TEXT.replace(
        'policy = "Telegram Terms of Service"', "policy = \"{{ 7*7 }} {{ ''.__class__ }}\""
    )
    registry = load_registry(_write(tmp_path, text))
    body = render_notice(registry, _request("telegram")).body
    assert "{{ 7*7 }} {{ ''.__class__ }}" in body and "49" not in body


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"url": "https://t.me/a b"}, "spaces or control"),
        ({"url": "https://t.me/a\nb"}, "spaces or control"),
        ({"url": "javascript:alert(1)"}, "not an http(s) URL"),
        ({"url": None, "chat_title": "room", "message_id": None}, "neither a URL"),
        ({"url": None, "chat_title": "  ", "message_id": 3}, "neither a URL"),
        ({"media_sha256": "abc"}, "64 hex digits"),
        ({"match_kinds": ("guess",)}, "unknown match kind"),
        ({"message_id": -1}, "non-negative"),
    ],
)
def test_bad_items_are_refused(changes: dict[str, object], needle: str) -> None:
    fields: dict[str, object] = {"url": "https://t.me/a/1", "collected_at": NOW, **changes}
    with pytest.raises(NciiError, match=re.escape(needle)):
        NoticeItem(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Addresses and batches
# --------------------------------------------------------------------------------------------


def test_hosting_needs_an_abuse_contact_and_uses_it() -> None:
    with pytest.raises(NciiError, match="needs its abuse contact") as err:
        render_notice(REGISTRY, _request("hosting", abuse_contact=None))
    assert "RDAP" in (err.value.hint or "")
    form = render_notice(REGISTRY, _request("hosting", abuse_contact="https://host.example/abuse"))
    assert (form.channel, form.to) == ("web_form", "https://host.example/abuse")
    with pytest.raises(NciiError, match="neither an e-mail"):
        _request("hosting", abuse_contact="call them")


def test_unknown_platform_and_bad_fields_are_refused() -> None:
    with pytest.raises(NciiError, match="unknown platform 'myspace'"):
        render_notice(REGISTRY, _request("telegram", platform_id="myspace"))
    with pytest.raises(NciiError, match="language"):
        _request("telegram", language="de")
    with pytest.raises(NciiError, match="at least one item"):
        _request("telegram", items=())
    with pytest.raises(NciiError, match="e-mail"):
        _request("telegram", reporter_email="not an address")


def test_render_all_renders_in_order_or_not_at_all() -> None:
    notices = render_all(REGISTRY, [_request("telegram", "ko"), _request("x", "en")])
    assert [(n.platform_id, n.language) for n in notices] == [("telegram", "ko"), ("x", "en")]
    assert "Items (3)" in notices[1].body and "총 3건" in notices[0].body
    with pytest.raises(NciiError):
        render_all(REGISTRY, [_request("telegram"), _request("hosting", abuse_contact=None)])


# --------------------------------------------------------------------------------------------
# Bad registry files
# --------------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "platforms.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _load_error(tmp_path: Path, text: str) -> NciiError:
    path = _write(tmp_path, text)
    with pytest.raises(NciiError) as err:
        load_registry(path)
    message = err.value.message
    assert "\n" not in message and str(path) in message, message
    assert err.value.hint
    return err.value


def _edit(old: str, new: str) -> str:
    assert old in PACKAGED_TEXT, old
    return PACKAGED_TEXT.replace(old, new, 1)


def test_the_packaged_file_loads_from_a_path(tmp_path: Path) -> None:
    registry = load_registry(_write(tmp_path, PACKAGED_TEXT))
    assert isinstance(registry, Registry)
    assert registry.platforms == REGISTRY.platforms and registry.laws == REGISTRY.laws


def test_registry_missing_field(tmp_path: Path) -> None:
    err = _load_error(tmp_path, _edit('name_ko = "엑스(X, 옛 트위터)"\n', ""))
    assert "platform 'x'" in err.message and "'name_ko'" in err.message and "missing" in err.message


def test_registry_wrong_type(tmp_path: Path) -> None:
    err = _load_error(tmp_path, _edit('hosts = ["x.com", "twitter.com", "twimg.com"]', 'hosts = "x.com"'))
    assert "platform 'x'" in err.message and "'hosts'" in err.message and "list of strings" in err.message


def test_registry_bad_toml(tmp_path: Path) -> None:
    err = _load_error(tmp_path, _edit('channel = "email"', "channel = email"))
    assert "not valid TOML" in err.message and "line" in err.message


@pytest.mark.parametrize(
    ("old", "new", "needles"),
    [
        ('channel = "web_form"', 'channel = "fax"', ["platform 'x'", "'channel'", "one of email"]),
        ('email = "abuse@telegram.org"', 'emial = "abuse@telegram.org"', ["platform 'telegram'", "'emial'"]),
        ('email = "abuse@telegram.org"', 'email = "abuse at telegram"', ["platform 'telegram'", "'email'"]),
        (
            'form_url = "https://www.kocsc.or.kr/"',
            'form_url = "http://www.kocsc.or.kr/"',
            ["platform 'kcsc'", "'form_url'", "https://"],
        ),
        ('jurisdictions = ["KR"]', 'jurisdictions = ["KR", "JP"]', ["platform 'kcsc'", "[laws.JP]"]),
        (
            'hosts = ["google.com", "google.co.kr"]',
            'hosts = ["google.com", "t.me"]',
            ["'google_search'", "'t.me'"],
        ),
        ('"telegram.me",', '"https://telegram.me",', ["platform 'telegram'", "'hosts'"]),
        ("contact_per_notice = true", "contact_per_notice = 1", ["platform 'hosting'", "true or false"]),
        ("contact_per_notice = true\n", "", ["platform 'hosting'", "'email'"]),
        ('id = "hosting"', 'id = "webhost"', ["no platform with id 'hosting'"]),
        ('id = "meta"', 'id = "x"', ["platform 'x'", "'id'", "another platform"]),
        (
            'deadline_en = "in a timely manner',
            'deadlin_en = "in a timely manner',
            ["laws 'EU'", "'deadline_en'"],
        ),
    ],
)
def test_registry_mistakes_name_platform_and_field(
    tmp_path: Path, old: str, new: str, needles: list[str]
) -> None:
    err = _load_error(tmp_path, _edit(old, new))
    for needle in needles:
        assert needle in err.message, err.message


def test_registry_file_missing_or_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(NciiError, match="cannot be read"):
        load_registry(tmp_path / "absent.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes(PACKAGED_TEXT.encode("utf-8") + b"\n# \xff\n")
    with pytest.raises(NciiError, match="not UTF-8"):
        load_registry(path)


def _doxxing(message_id: int = 9) -> NoticeItem:
    return NoticeItem(
        url=f"https://t.me/example_room/{message_id}",
        match_kinds=("text",),
        content="personal_details",
        collected_at=dataclasses.replace(_items()[0]).collected_at,
    )


@pytest.mark.parametrize("language", ["en", "ko"])
def test_each_item_says_what_it_is_and_when_it_was_collected(language: str) -> None:
    items = (*_items(), dataclasses.replace(_items()[2], content="video"), _doxxing())
    body = render_notice(REGISTRY, _request("telegram", language, items=items)).body
    what, collected = ("What it is: ", "Collected: ") if language == "en" else ("종류: ", "수집 일시: ")
    labels = re.findall(rf"{what}(.+)", body)
    if language == "en":
        assert labels == ["image", "image", "image", "video", "message exposing personal details"]
    else:
        assert labels == ["이미지", "이미지", "이미지", "영상", "개인정보를 노출하는 메시지"]
    assert re.findall(rf"{collected}(.+)", body)[:2] == ["2026-05-31 08:00 UTC", "2026-05-31 08:01 UTC"]
    assert "First seen" not in body and "최초 확인" not in body  # the posting time was printed as ours


def test_a_doxxing_message_is_never_called_an_image() -> None:
    body = render_notice(REGISTRY, _request("telegram", "en", items=(_doxxing(), _doxxing(10)))).body
    subject = render_notice(REGISTRY, _request("telegram", "en", items=(_doxxing(),))).subject
    assert "sexual images or videos" not in body and "deepfake" not in subject
    assert "Items 1, 2 are messages that expose the person's personal details" in body
    assert "personal details" in subject
    ko = render_notice(REGISTRY, _request("telegram", "ko", items=(_doxxing(),))).body
    assert "성적 허위영상물(이른바 딥페이크)이거나" not in ko and "1번 게시물은 이미지가 아니라" in ko


def test_mixed_notices_describe_both() -> None:
    body = render_notice(REGISTRY, _request("telegram", "en", items=(*_items(), _doxxing()))).body
    assert "The images and videos below are sexual images or videos" in body
    assert "Item 4 is a message that exposes the person's personal details" in body


def test_a_collection_date_without_a_time_is_printed_as_a_date() -> None:
    item = dataclasses.replace(_items()[2], collected_at=datetime(2026, 5, 30).date())
    body = render_notice(REGISTRY, _request("telegram", "en", items=(item,))).body
    assert "Collected: 2026-05-30\n" in body


def test_an_unknown_content_is_refused() -> None:
    with pytest.raises(NciiError, match="unknown item content"):
        NoticeItem(url="https://t.me/a/1", content="sticker", collected_at=NOW)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# DSA Art. 16 notices and the trusted-flagger status
# --------------------------------------------------------------------------------------------

FLAGGER = "Coimisiún na Meán, 2025-03-01"
_PI_ITEM = NoticeItem(
    url="https://t.me/example_room/9", match_kinds=("text",), content="personal_details", collected_at=NOW
)


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("platform_id", [p.id for p in REGISTRY.platforms])
@pytest.mark.parametrize("personal", [False, True])
def test_notices_to_eu_platforms_carry_the_dsa_elements(
    platform_id: str, language: str, personal: bool
) -> None:
    items = (_PI_ITEM,) if personal else _items()
    plain = render_notice(REGISTRY, _request(platform_id, language, items=items)).body
    flagged = render_notice(
        REGISTRY, _request(platform_id, language, items=items, trusted_flagger=FLAGGER)
    ).body
    article = "Article 16(2)" if language == "en" else "제16조"
    if "EU" not in REGISTRY.platform(platform_id).jurisdictions:
        assert "2022/2065" not in plain and plain == flagged  # no DSA, and no flagger status to print
        return
    block = plain[plain.index("Regulation (EU) 2022/2065)" if language == "en" else "디지털서비스법(규정") :]
    # (a) why illegal, (b) the exact locations, (c) the notifier's name and e-mail, (d) good faith
    if language == "en":
        assert "This notice contains the elements of Article 16(2)" in block
        assert "(a) why the content is illegal: sections 1 and 3" in block
        assert "(b) the exact electronic location of each item: the URLs in section 2" in block
        assert f"(c) the name and e-mail address of the notifier: {ORG}, {EMAIL}" in block
        assert (
            "bona fide belief that the information and allegations in this notice are accurate and complete"
            in block
        )
    else:
        assert (
            "같은 조 제2항의 요소" in block and f"(c) 신고인의 이름과 전자우편 주소: {ORG}, {EMAIL}" in block
        )
        assert "정확하고 완전하다고 선의로 믿고 있음을 확인합니다" in block
    assert "https://t.me/example_room/" in plain and article in plain
    # the trusted-flagger status (Art. 22): only when the organisation has one
    assert "Coimisiún na Meán" not in plain and "trusted flagger" not in plain and "신뢰 신고자" not in plain
    if language == "en":
        assert (
            f"Trusted flagger: {ORG} has been awarded the status of trusted flagger under Article 22 of the "
            "Digital Services Act by Coimisiún na Meán on 2025-03-01." in flagged
        )
        assert "given priority" in flagged
    else:
        assert "2025-03-01에 Coimisiún na Meán로부터 디지털서비스법 제22조에 따른 신뢰 신고자" in flagged


@pytest.mark.parametrize(
    "bad", ["Coimisiún na Meán", "2025-03-01", "CnaM, 2025-02-30", "CnaM, March 2025", ", 2025-03-01"]
)
def test_a_half_filled_trusted_flagger_status_is_refused(bad: str) -> None:
    from ncii_shield.config import SettingError, load_settings

    with pytest.raises(NciiError, match="trusted flagger"):
        _request("telegram", trusted_flagger=bad)
    with pytest.raises(SettingError) as err:
        load_settings("/tmp/unused", environ={"NCII_TRUSTED_FLAGGER": bad})
    assert "NCII_TRUSTED_FLAGGER" in err.value.message and "\n" not in err.value.message
    assert "YYYY-MM-DD" in (err.value.hint or "")


def test_the_trusted_flagger_setting() -> None:
    from ncii_shield.config import load_settings

    assert load_settings("/tmp/unused", environ={}).trusted_flagger is None
    assert load_settings("/tmp/unused", environ={"NCII_TRUSTED_FLAGGER": "  "}).trusted_flagger is None
    settings = load_settings(
        "/tmp/unused", environ={"NCII_TRUSTED_FLAGGER": " Coimisiún na Meán ;2025-03-01 "}
    )
    assert settings.trusted_flagger == FLAGGER


# --------------------------------------------------------------------------------------------
# TAKE IT DOWN Act: what a valid removal request must hold (section 3(a)(1)(B))
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("platform_id", [p.id for p in REGISTRY.platforms if "US" in p.jurisdictions])
def test_take_it_down_requests_hold_the_acts_four_elements(platform_id: str, language: str) -> None:
    body = render_notice(REGISTRY, _request(platform_id, language)).body
    statement = REGISTRY.law("US").statement_en if language == "en" else REGISTRY.law("US").statement_ko
    assert statement and statement in body
    # (i) a physical or electronic signature of the individual or of someone authorised to act for them
    assert re.search(rf"^(Electronic signature|전자서명): /s/ {re.escape(ORG)}", body, re.MULTILINE)
    assert ("authorised to act on the individual's behalf" if language == "en" else "대리할 권한을") in body
    # (ii) an identification of, and information reasonably sufficient to locate, each depiction
    assert "https://t.me/example_room/4711" in body and "https://files.example.net/a/b.jpg?x=1" in body
    assert "Export-only room" in body and "815" in body and "ab" * 32 in body
    # (iii) a brief statement of the good-faith belief that the depiction is not consensual
    if language == "en":
        assert "good-faith belief" in body and "not consensual" in body
    else:
        assert "선의로 믿고" in body and "동의 없이" in body
    # (iv) information sufficient to contact the individual or the person acting for them
    assert re.search(rf"^(Contact|연락처): {re.escape(EMAIL)}$", body, re.MULTILINE)


def test_a_personal_information_notice_makes_no_take_it_down_request() -> None:
    for language in ("en", "ko"):
        body = render_notice(REGISTRY, _request("telegram", language, items=(_PI_ITEM,))).body
        assert "TAKE IT DOWN" not in body and REGISTRY.law("US").statement_en not in body


# --------------------------------------------------------------------------------------------
# Bad values in the new registry fields
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needles"),
    [
        (
            'privacy_policy_url = "https://help.x.com/en/rules-and-policies/personal-information"',
            'privacy_policy_url = "http://help.x.com/en/rules-and-policies/personal-information"',
            ["platform 'x'", "'privacy_policy_url'", "https://"],
        ),
        (
            'privacy_policy = "X private information and media policy"\n',
            "",
            ["platform 'x'", "'privacy_policy'", "privacy_policy_url is set"],
        ),
        (
            'privacy_policy = "Telegram Terms of Service"',
            "privacy_policy = 42",
            ["platform 'telegram'", "'privacy_policy'", "string, not an integer"],
        ),
        (
            'privacy_form_url = "https://support.google.com/websearch/answer/9673730"',
            'privacy_form_url = "support.google.com/websearch/answer/9673730"',
            ["platform 'google_search'", "'privacy_form_url'", "https://"],
        ),
        (
            "contact_per_notice = true\n",
            'contact_per_notice = true\nprivacy_form_url = "https://host.example/privacy"\n',
            ["platform 'hosting'", "'privacy_form_url'", "contact_per_notice"],
        ),
        (
            'privacy_form_url = "https://help.x.com/en/rules-and-policies/personal-information"',
            'privacy_from_url = "https://help.x.com/en/rules-and-policies/personal-information"',
            ["platform 'x'", "'privacy_from_url'"],
        ),
        (
            '[laws.KR.personal_information]\ndeadline_en = "without delay (Network Act Article 44-2(2))"',
            '[laws.KR.personal_information]\ndeadlin_en = "without delay (Network Act Article 44-2(2))"',
            ["laws 'KR' personal_information", "'deadline_en'", "missing"],
        ),
        (
            '[laws.EU.personal_information]\ndeadline_en = "in a timely manner (Digital Services Act, Article 16(6))"\n',
            "[laws.EU.personal_information]\n",
            ["laws 'EU' personal_information", "'deadline_en'", "missing"],
        ),
        (
            "[[laws.global.personal_information.citations]]\n",
            "[laws.global.personal_information.citation]\n",
            [
                "laws 'global' personal_information",
                "'citations'",
                "missing or empty",
            ],
        ),
        (
            'statement_ko = "저희는 이 신고에 담긴 정보와 주장이 정확하고 완전하다고 선의로 믿고 있음을 확인합니다 (디지털서비스법 제16조제2항(d))."\n\n[[laws.EU.personal_information.citations]]',
            "\n[[laws.EU.personal_information.citations]]",
            ["laws 'EU' personal_information", "'statement_en' and 'statement_ko'"],
        ),
    ],
)
def test_bad_personal_information_fields_name_platform_and_field(
    tmp_path: Path, old: str, new: str, needles: list[str]
) -> None:
    err = _load_error(tmp_path, _edit(old, new))
    for needle in needles:
        assert needle in err.message, err.message


def test_every_platform_needs_a_basis_for_personal_information_notices(tmp_path: Path) -> None:
    text = PACKAGED_TEXT.replace(
        'ko = "귀사의 이용약관 및 타인의 개인정보 무단 게시(신상 공개) 금지 정책"', 'ko = "x"'
    )
    start = text.index("[laws.global.personal_information]")
    for table in ("[laws.KR.personal_information]", "[laws.EU.personal_information]"):
        begin = text.index(table)
        end = text.index("\n[laws.", begin + 1)
        text = text[:begin] + text[end + 1 :]
    start = text.index("[laws.global.personal_information]")
    text = text[:start]
    err = _load_error(tmp_path, text)
    assert "platform 'telegram'" in err.message and "'jurisdictions'" in err.message
    assert "personal_information" in err.message


def test_a_personal_information_part_must_be_a_table(tmp_path: Path) -> None:
    text = PACKAGED_TEXT[: PACKAGED_TEXT.index("[laws.global.personal_information]")]
    text = text.replace("[laws.global]\n", '[laws.global]\npersonal_information = "yes"\n', 1)
    err = _load_error(tmp_path, text)
    assert "laws 'global'" in err.message and "'personal_information' must be a table" in err.message
