"""Takedown notices: plain-text letters asking a platform to remove content, in Korean or English.

A notice carries the content's locations, the laws that apply where the platform operates, what we
ask for and who asks, and states that the person depicted consented. Its matter picks the template and the
laws: intimate images (notice.txt.j2) or messages exposing the person's details (personal_information.txt.j2,
the message masked as the review page masks it); notices to EU platforms add the DSA Art. 16(2) elements
(_dsa.txt.j2), notices to the KCSC the fields of its report form (_regulator_form.txt.j2). It never names that person:
the request has no field for a name at all, only a pseudonymous case reference, so a name cannot
leak into a letter that is sent to the very platforms where the content circulates.

Much of what goes into a notice comes from hostile places (chat titles are chosen by the people who
run the rooms), so values are data, never template code, and every inserted value is one clean line
(notice_env.py: the sandboxed template environment).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from ncii_shield.config import trusted_flagger_parts
from ncii_shield.errors import NciiError
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.takedown.notice_env import clean, environment
from ncii_shield.takedown.registry import Matter, Platform, Registry

__all__ = [
    "Content",
    "Language",
    "Notice",
    "NoticeItem",
    "NoticeRequest",
    "OnBehalf",
    "render_all",
    "render_notice",
]

Language = Literal["ko", "en"]
# Who the reporter acts for: a closed set, so no free text (and so no name) can be put here. A new
# value needs its own wording in _ON_BEHALF.
OnBehalf = Literal["person_concerned"]

LANGUAGES: tuple[Language, ...] = get_args(Language)

_REFERENCE = re.compile(r"[A-Z][A-Z0-9]{1,15}(?:-[A-Z0-9]{1,16}){0,4}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_MAX_URL = 4096
_MAX_TEXT = 300
_MAX_EXCERPT = 1000
# The jurisdiction whose law (the DSA, Art. 16(2)) prescribes what a notice must contain, and the kinds of
# service it binds: hosting services, which online platforms are; search engines fall outside Art. 16.
_DSA = "EU"
_DSA_KINDS = ("platform", "hosting_provider", "regulator")

_ON_BEHALF: dict[Language, dict[str, str]] = {
    "ko": {"person_concerned": "피해 당사자"},
    "en": {"person_concerned": "the person concerned"},
}

# What an item is, said plainly in the notice: a doxxing message is not an image, and a platform triages
# the two differently (and under different laws).
Content = Literal["image", "video", "personal_details"]
CONTENTS: tuple[Content, ...] = get_args(Content)
_CONTENT_LABELS: dict[Language, dict[str, str]] = {
    "ko": {"image": "이미지", "video": "영상", "personal_details": "개인정보를 노출하는 메시지"},
    "en": {"image": "image", "video": "video", "personal_details": "message exposing personal details"},
}

_KIND_LABELS: dict[Language, dict[str, str]] = {
    "ko": {
        "exact": "동일 파일(SHA-256)",
        "pdq": "이미지 지각 해시(PDQ)",
        "video": "영상 프레임 해시",
        "partial": "부분 복제(국소 특징점 비교)",
        "face": "얼굴 비교",
        "text": "메시지 텍스트",
    },
    "en": {
        "exact": "identical file (SHA-256)",
        "pdq": "perceptual image hash (PDQ)",
        "video": "video frame hashes",
        "partial": "partial copy (local image features)",
        "face": "face comparison",
        "text": "text of the message",
    },
}


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NoticeItem:
    """One piece of content to remove: a URL, or a chat and message id where there is no link.

    Datetimes without a timezone are taken as UTC, which is how the store keeps them.
    """

    url: str | None = None
    chat_title: str | None = None
    message_id: int | None = None
    posted_at: datetime | None = None
    media_sha256: str | None = None
    match_kinds: tuple[str, ...] = ()
    content: Content = "image"
    # A message exposing personal details: its text around what made it a hit, with the person's identifiers
    # replaced by their kind ("[name]", "[school]"), as the review page shows it (read/hits.py). Never the
    # clear text: the notice goes to the platform where the doxxing circulates.
    excerpt: str | None = None
    # When the item was collected: the date of the chat export that held it if known, else when it was read.
    collected_at: datetime | date

    def __post_init__(self) -> None:
        if self.url is not None:
            _check_url(self.url, "item url")
        if self.message_id is not None and (
            isinstance(self.message_id, bool) or not isinstance(self.message_id, int) or self.message_id < 0
        ):
            raise NciiError(f"item message id must be a non-negative integer, not {self.message_id!r}")
        if self.chat_title is not None and not isinstance(self.chat_title, str):
            raise NciiError("item chat title must be text")
        if self.url is None and (self.message_id is None or not (self.chat_title or "").strip()):
            raise NciiError(
                "item has neither a URL nor a chat title and message id",
                hint="a platform can only act on content it can find",
            )
        if self.media_sha256 is not None and not _SHA256.fullmatch(self.media_sha256):
            raise NciiError(f"item SHA-256 must be 64 hex digits, not {self.media_sha256[:80]!r}")
        if not isinstance(self.match_kinds, tuple):
            object.__setattr__(self, "match_kinds", tuple(self.match_kinds))
        for kind in self.match_kinds:
            if kind not in KIND_ORDER:
                raise NciiError(f"unknown match kind {kind!r}", hint=f"known kinds: {', '.join(KIND_ORDER)}")
        if self.excerpt is not None and (
            not isinstance(self.excerpt, str) or len(self.excerpt) > _MAX_EXCERPT
        ):
            raise NciiError(f"item excerpt must be text of at most {_MAX_EXCERPT} characters")
        if self.content not in CONTENTS:
            raise NciiError(f"unknown item content {self.content!r}", hint=f"one of: {', '.join(CONTENTS)}")
        if self.posted_at is not None and not isinstance(self.posted_at, datetime):
            raise NciiError(f"item posted_at must be a datetime, not {type(self.posted_at).__name__}")
        if not isinstance(self.collected_at, date):
            raise NciiError(
                f"item collected_at must be a date or datetime, not {type(self.collected_at).__name__}"
            )


@dataclass(frozen=True, kw_only=True)
class NoticeRequest:
    """Everything a notice needs, and deliberately nothing that could identify the person.

    `case_reference` is a pseudonymous reference like "NCII-2026-0001": capitals, digits and
    hyphens with at least one digit, so a name typed into it by mistake is refused.
    `abuse_contact` is required where the registry says the contact differs per notice (hosting,
    from RDAP/WHOIS); for other platforms it replaces the registry's address. `trusted_flagger` is the
    organisation's status under DSA Art. 22 ("<Digital Services Coordinator>, <YYYY-MM-DD>",
    NCII_TRUSTED_FLAGGER), printed in notices to EU platforms.
    """

    platform_id: str
    language: Language
    case_reference: str
    reporter_organisation: str
    reporter_email: str
    on_behalf: OnBehalf = "person_concerned"
    items: tuple[NoticeItem, ...]
    created_at: datetime
    abuse_contact: str | None = None
    trusted_flagger: str | None = None

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise NciiError(f"notice language must be one of {', '.join(LANGUAGES)}, not {self.language!r}")
        ref = self.case_reference
        if not isinstance(ref, str) or not _REFERENCE.fullmatch(ref) or not any(c.isdigit() for c in ref):
            raise NciiError(
                f"case reference {str(ref)[:40]!r} is not a pseudonymous reference",
                hint="use the case's reference like NCII-2026-0001 (capitals, digits, hyphens), never a name",
            )
        org = self.reporter_organisation
        if not isinstance(org, str) or not org.strip() or len(org) > _MAX_TEXT:
            raise NciiError("reporter organisation must be a non-empty name of at most 300 characters")
        if not isinstance(self.reporter_email, str) or not _EMAIL.fullmatch(self.reporter_email):
            raise NciiError(f"reporter e-mail {str(self.reporter_email)[:80]!r} is not an e-mail address")
        if self.on_behalf not in get_args(OnBehalf):
            raise NciiError(f"on_behalf must be one of {', '.join(get_args(OnBehalf))}")
        if not isinstance(self.items, tuple):
            object.__setattr__(self, "items", tuple(self.items))
        if not self.items:
            raise NciiError("a notice needs at least one item", hint="nothing to remove, nothing to send")
        if not all(isinstance(item, NoticeItem) for item in self.items):
            raise NciiError("notice items must be NoticeItem values")
        if not isinstance(self.created_at, datetime):
            raise NciiError("notice created_at must be a datetime")
        if self.abuse_contact is not None:
            _contact_channel(self.abuse_contact)  # validates
        if self.trusted_flagger is not None:
            try:
                trusted_flagger_parts(str(self.trusted_flagger))
            except ValueError as exc:
                raise NciiError(
                    f"trusted flagger {exc}", hint="as NCII_TRUSTED_FLAGGER: 'Coimisiún na Meán, 2025-03-01'"
                ) from None

    @property
    def matter(self) -> Matter:
        """A request of messages exposing personal details only is a personal-information notice; any image
        makes it one about intimate images (drafting never mixes the two: takedown/drafting.py)."""
        if all(item.content == "personal_details" for item in self.items):
            return "personal_information"
        return "intimate_image"


@dataclass(frozen=True)
class Notice:
    """A rendered notice: send `body` to `to` by e-mail, or paste it into the form at `to`."""

    platform_id: str
    language: Language
    channel: Literal["email", "web_form"]
    to: str
    subject: str
    body: str = field(repr=False)
    matter: Matter = "intimate_image"


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def render_notice(registry: Registry, request: NoticeRequest) -> Notice:
    """Render one request with its platform's registry entry and the laws of its jurisdictions."""
    platform = registry.platform(request.platform_id)
    matter = request.matter
    channel, to = _recipient(platform, request, matter)
    lang = request.language
    flagger = trusted_flagger_parts(request.trusted_flagger) if request.trusted_flagger else None
    context = {
        "platform": platform,
        "kind": platform.kind,
        "laws": registry.laws_for(platform, matter),
        "dsa": _DSA in platform.jurisdictions and platform.kind in _DSA_KINDS,
        "flagger": {"by": flagger[0], "on": flagger[1].isoformat()} if flagger else None,
        "sites": _sites(request.items, lang),
        "personal_only": matter == "personal_information",
        "first_posted": min((_utc_text(i.posted_at) for i in request.items if i.posted_at), default=None),
        "items": [_item_view(item, n, lang) for n, item in enumerate(request.items, start=1)],
        "count": len(request.items),
        "any_without_url": any(item.url is None for item in request.items),
        "any_media": any(item.content != "personal_details" for item in request.items),
        "personal_items": [
            n for n, item in enumerate(request.items, start=1) if item.content == "personal_details"
        ],
        "reference": request.case_reference,
        "org": request.reporter_organisation,
        "email": request.reporter_email,
        "on_behalf": _ON_BEHALF[lang][request.on_behalf],
        "created": _utc_text(request.created_at),
    }
    template = f"{lang}/{_TEMPLATES[matter]}"
    module = environment().get_template(template).make_module(context)
    body = str(module).strip() + "\n"
    subject = clean(str(getattr(module, "subject", "")))
    if not subject:
        raise NciiError(f"template {template} sets no subject", hint="reinstall ncii-shield")
    return Notice(
        platform_id=platform.id,
        language=lang,
        channel=channel,
        to=to,
        subject=subject,
        body=body,
        matter=matter,
    )


_TEMPLATES: dict[Matter, str] = {
    "intimate_image": "notice.txt.j2",
    "personal_information": "personal_information.txt.j2",
}


def _sites(items: Iterable[NoticeItem], lang: Language) -> str:
    """The sites the items are on, as a regulator's form asks ("사이트명"): hosts, and chats known by export."""
    hosts = sorted({(urlsplit(i.url).hostname or "").removeprefix("www.") for i in items if i.url})
    if any(i.url is None for i in items):
        hosts.append("대화방 내보내기 기록" if lang == "ko" else "chat export")
    return ", ".join(h for h in hosts if h)


def render_all(registry: Registry, requests: Iterable[NoticeRequest]) -> tuple[Notice, ...]:
    """Render every request, or none: a bad request stops the batch before anything is sent."""
    return tuple(render_notice(registry, request) for request in requests)


def _recipient(
    platform: Platform, request: NoticeRequest, matter: Matter
) -> tuple[Literal["email", "web_form"], str]:
    if request.abuse_contact is not None:
        return _contact_channel(request.abuse_contact), request.abuse_contact
    if platform.contact_per_notice:
        raise NciiError(
            f"a notice to {platform.id!r} needs its abuse contact",
            hint="set abuse_contact to the provider's abuse e-mail or form, from RDAP/WHOIS or the site",
        )
    address = platform.address(matter)
    if address is not None:
        return address
    raise NciiError(f"platform {platform.id!r} has no address", hint="add email or form_url to the registry")


def _contact_channel(contact: str) -> Literal["email", "web_form"]:
    if not isinstance(contact, str):
        raise NciiError("abuse contact must be text")
    if _EMAIL.fullmatch(contact):
        return "email"
    if contact.startswith("https://"):
        _check_url(contact, "abuse contact")
        return "web_form"
    raise NciiError(
        f"abuse contact {contact[:80]!r} is neither an e-mail address nor an https:// form",
        hint="take it from the RDAP/WHOIS abuse contact of the host",
    )


def _item_view(item: NoticeItem, n: int, lang: Language) -> dict[str, Any]:
    """What the template shows of one item, formatted here so templates stay free of logic."""
    kinds = [k for k in KIND_ORDER if k in item.match_kinds]
    return {
        "n": n,
        "url": item.url,
        "chat": item.chat_title if item.chat_title and item.chat_title.strip() else None,
        "message_id": item.message_id,
        "posted": _utc_text(item.posted_at) if item.posted_at else None,
        "sha256": item.media_sha256.lower() if item.media_sha256 else None,
        "kinds": ", ".join(_KIND_LABELS[lang][k] for k in kinds) or None,
        "content": _CONTENT_LABELS[lang][item.content],
        "excerpt": item.excerpt if item.excerpt and item.excerpt.strip() else None,
        "collected": _utc_text(item.collected_at)
        if isinstance(item.collected_at, datetime)
        else item.collected_at.isoformat(),
    }


def _utc_text(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _check_url(url: str, what: str) -> None:
    """A URL a platform can act on; control characters or spaces inside one are a forgery or a typo."""
    if not isinstance(url, str) or len(url) > _MAX_URL:
        raise NciiError(f"{what} must be a URL of at most {_MAX_URL} characters")
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in url):
        raise NciiError(f"{what} {url[:80]!r} contains spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise NciiError(f"{what} {url[:80]!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise NciiError(f"{what} {url[:80]!r} is not an http(s) URL", hint="give the full address, https://…")
