"""The registry of platforms and laws behind every takedown notice, loaded from an editable TOML file.

Addresses of abuse desks change, so they live in data a case worker can fix, not in code. That makes
the file untrusted in a mild way: a typo must not silently send a notice nowhere. Loading therefore
checks every field and stops at the first mistake with one line naming the file, the entry and the
field. Values are kept as plain data: they are inserted into notices, never evaluated as templates.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, cast
from urllib.parse import urlsplit

from ncii_shield.errors import NciiError, NotFound
from ncii_shield.takedown.laws import HINT, JURISDICTION, Citation, Law, parse_laws
from ncii_shield.takedown.toml_fields import Fields, only_keys

__all__ = [
    "CHANNELS",
    "DEFAULT_DEADLINE_HOURS",
    "DEFAULT_RECHECK_HOURS",
    "DEFAULT_RESEND_HOURS",
    "FALLBACK_PLATFORM",
    "KINDS",
    "MATTERS",
    "Citation",
    "Clock",
    "Law",
    "Matter",
    "Platform",
    "Registry",
    "load_registry",
    "platform_for_url",
]

Channel = Literal["email", "web_form", "both"]
Kind = Literal["platform", "search_engine", "regulator", "hosting_provider"]
# What a notice is about: intimate images (the deepfakes) or a message exposing the person's personal details
# (doxxing). Each has its own legal basis, template and, where the platform has one, its own reporting route.
Matter = Literal["intimate_image", "personal_information"]

CHANNELS: tuple[Channel, ...] = ("email", "web_form", "both")
KINDS: tuple[Kind, ...] = ("platform", "search_engine", "regulator", "hosting_provider")
MATTERS: tuple[Matter, ...] = ("intimate_image", "personal_information")
FALLBACK_PLATFORM = "hosting"  # where a URL no entry claims goes: whoever hosts the site
DEFAULT_DEADLINE_HOURS = 48.0  # the TAKE IT DOWN Act's, for a platform no law or entry gives a clock
DEFAULT_RESEND_HOURS = 24.0  # as Project Arachnid re-sends: every day until the content is gone
DEFAULT_RECHECK_HOURS = 6.0

_PACKAGED = "platforms.toml"
_HINT = HINT

_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
_JURISDICTION = JURISDICTION
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_HOST = re.compile(r"(?!www\.)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


@dataclass(frozen=True)
class Platform:
    """Where one platform takes reports and which jurisdictions' laws a notice to it cites."""

    id: str
    name: str
    name_ko: str
    kind: Kind
    channel: Channel
    jurisdictions: tuple[str, ...]
    hosts: tuple[str, ...]
    notes: str
    email: str | None = None
    form_url: str | None = None
    contact_per_notice: bool = False
    policy: str | None = None
    policy_url: str | None = None
    deadline_hours: float | None = None  # when to follow up, where no law sets a shorter deadline
    resend_hours: float = DEFAULT_RESEND_HOURS  # the worker re-sends this often until the content is gone
    recheck_hours: float = DEFAULT_RECHECK_HOURS  # and rechecks the reported URLs this often
    escalate_to: str | None = None  # the regulator or hotline to report to once the deadline passed
    privacy_policy: str | None = None  # its own rule against publishing others' private information
    privacy_policy_url: str | None = None
    privacy_form_url: str | None = None  # where it takes privacy reports, if not where it takes NCII reports

    def address(self, matter: Matter) -> tuple[Literal["email", "web_form"], str] | None:
        """Where a notice about `matter` goes (None: given per notice): a privacy report goes to the privacy
        form where the platform has one, since an NCII form's queue would bounce it."""
        if self.contact_per_notice:
            return None
        if matter == "personal_information" and self.privacy_form_url:
            return "web_form", self.privacy_form_url
        if self.channel in ("email", "both") and self.email:
            return "email", self.email
        if self.form_url:
            return "web_form", self.form_url
        return None


@dataclass(frozen=True)
class Clock:
    """How long a platform has to remove reported content, and what says so."""

    hours: float
    basis: Literal["law", "platform", "default"]
    label_en: str
    label_ko: str


@dataclass(frozen=True)
class Registry:
    """A validated registry: every platform's jurisdictions have laws, and a fallback platform exists."""

    source: str
    platforms: tuple[Platform, ...]
    laws: tuple[Law, ...]

    def platform(self, platform_id: str) -> Platform:
        """The platform with this id; an unknown id is a user error (a stale id in a saved request)."""
        for platform in self.platforms:
            if platform.id == platform_id:
                return platform
        known = ", ".join(p.id for p in self.platforms)
        raise NotFound(f"unknown platform {platform_id!r} in {self.source}", hint=f"known platforms: {known}")

    def law(self, jurisdiction: str) -> Law:
        """The laws of one jurisdiction (validated on load to exist for every platform's jurisdictions)."""
        for law in self.laws:
            if law.jurisdiction == jurisdiction:
                return law
        raise NciiError(f"no [laws.{jurisdiction}] table in {self.source}", hint=_HINT)

    def laws_for(self, platform: Platform, matter: Matter = "intimate_image") -> tuple[Law, ...]:
        """The laws a notice about `matter` to this platform cites, in the order of its jurisdictions
        (for personal information: each jurisdiction's personal_information part, where it has one)."""
        laws = tuple(self.law(j) for j in platform.jurisdictions)
        if matter == "personal_information":
            return tuple(law.personal_information for law in laws if law.personal_information is not None)
        return laws

    def clock(self, platform: Platform, matter: Matter = "intimate_image") -> Clock:
        """The shortest deadline a cited law sets in hours, or the platform's own follow-up time if
        shorter; a platform with neither runs on DEFAULT_DEADLINE_HOURS."""
        clocks = [
            Clock(law.deadline_hours, "law", law.clock_en or law.name_en, law.clock_ko or law.name_ko)
            for law in self.laws_for(platform, matter)
            if law.deadline_hours is not None
        ]
        if platform.deadline_hours is not None:
            clocks.append(Clock(platform.deadline_hours, "platform", platform.name, platform.name_ko))
        if not clocks:
            return Clock(DEFAULT_DEADLINE_HOURS, "default", "default", "기본값")
        return min(clocks, key=lambda c: (c.hours, c.basis != "law"))


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------


def load_registry(path: Path | None = None) -> Registry:
    """Load and validate a registry file; None loads the one shipped inside the package."""
    if path is None:
        source = f"{_PACKAGED} (packaged)"
        try:
            data = resources.files("ncii_shield.takedown").joinpath(_PACKAGED).read_bytes()
        except OSError as exc:  # a broken installation, not a user mistake, but still say what to do
            raise NciiError(f"{source}: cannot be read: {exc}", hint="reinstall ncii-shield") from exc
    else:
        source = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NciiError(
                f"{source}: cannot be read: {exc.strerror or exc}", hint="check the path"
            ) from exc
    return _parse(data, source)


def _parse(data: bytes, source: str) -> Registry:
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NciiError(
            f"{source}: not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise NciiError(f"{source}: not valid TOML: {_one_line(str(exc))}", hint=_HINT) from exc

    only_keys(doc, {"platforms", "laws"}, source, "the file")
    laws = parse_laws(doc.get("laws"), source)
    platforms = _platforms(doc.get("platforms"), source)

    known = {law.jurisdiction: law for law in laws}
    owner: dict[str, str] = {}
    for platform in platforms:
        for jurisdiction in platform.jurisdictions:
            if jurisdiction not in known:
                raise NciiError(
                    f"{source}: platform {platform.id!r}: field 'jurisdictions' names {jurisdiction!r}, "
                    f"which has no [laws.{jurisdiction}] table",
                    hint=_HINT,
                )
        if not any(known[j].personal_information for j in platform.jurisdictions):
            raise NciiError(
                f"{source}: platform {platform.id!r}: field 'jurisdictions' names no law with a "
                "[laws.<jurisdiction>.personal_information] table",
                hint="a notice about a message exposing personal details needs a legal basis; add one",
            )
        for host in platform.hosts:
            if host in owner:
                raise NciiError(
                    f"{source}: platform {platform.id!r}: field 'hosts' repeats {host!r}, "
                    f"already listed for {owner[host]!r}",
                    hint="each host suffix may map to one platform only",
                )
            owner[host] = platform.id
    kinds = {p.id: p.kind for p in platforms}
    for platform in platforms:
        if platform.escalate_to is not None and kinds.get(platform.escalate_to) != "regulator":
            raise NciiError(
                f"{source}: platform {platform.id!r}: field 'escalate_to' names {platform.escalate_to!r}, "
                "which is not a regulator entry",
                hint='name the id of a platform with kind = "regulator" (e.g. "kcsc")',
            )
    if not any(p.id == FALLBACK_PLATFORM for p in platforms):
        raise NciiError(
            f"{source}: no platform with id {FALLBACK_PLATFORM!r}",
            hint="URLs that match no platform are sent to it; keep the entry from the packaged file",
        )
    return Registry(source=source, platforms=platforms, laws=laws)


def _platforms(raw: object, source: str) -> tuple[Platform, ...]:
    if not isinstance(raw, list) or not raw:
        raise NciiError(f"{source}: no [[platforms]] entries", hint=_HINT)
    seen: set[str] = set()
    platforms = []
    for index, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise NciiError(f"{source}: platforms entry {index} is not a table", hint=_HINT)
        pid = entry.get("id")
        where = f"platform {pid!r}" if isinstance(pid, str) and pid else f"platforms entry {index}"
        f = Fields(entry, source, where, _HINT)
        platform_id = f.text("id", pattern=_ID, what="a lowercase identifier like 'telegram'")
        if platform_id in seen:
            raise NciiError(f"{source}: {where}: field 'id' is used by another platform", hint=_HINT)
        seen.add(platform_id)
        platform = Platform(
            id=platform_id,
            name=f.text("name"),
            name_ko=f.text("name_ko"),
            kind=cast(Kind, f.choice("kind", KINDS)),
            channel=cast(Channel, f.choice("channel", CHANNELS)),
            email=f.optional("email", pattern=_EMAIL, what="an e-mail address"),
            form_url=f.url("form_url"),
            contact_per_notice=f.flag("contact_per_notice"),
            jurisdictions=f.texts(
                "jurisdictions", pattern=_JURISDICTION, what="'global' or a code like 'KR'", non_empty=True
            ),
            hosts=f.texts(
                "hosts", pattern=_HOST, what="a bare domain suffix like 't.me' (no scheme, no www.)"
            ),
            policy=f.optional("policy"),
            policy_url=f.url("policy_url"),
            notes=f.text("notes"),
            deadline_hours=f.hours("deadline_hours"),
            resend_hours=f.hours("resend_hours", DEFAULT_RESEND_HOURS) or DEFAULT_RESEND_HOURS,
            recheck_hours=f.hours("recheck_hours", DEFAULT_RECHECK_HOURS) or DEFAULT_RECHECK_HOURS,
            escalate_to=f.optional("escalate_to", pattern=_ID, what="the id of a regulator entry"),
            privacy_policy=f.optional("privacy_policy"),
            privacy_policy_url=f.url("privacy_policy_url"),
            privacy_form_url=f.url("privacy_form_url"),
        )
        f.no_other_keys()
        _check_contact(platform, source, where)
        if platform.privacy_policy_url and not platform.privacy_policy:
            raise f.fail("privacy_policy", "is missing but privacy_policy_url is set (name the policy)")
        if platform.privacy_form_url and platform.contact_per_notice:
            raise f.fail(
                "privacy_form_url", "is set but the contact is given per notice (contact_per_notice)"
            )
        platforms.append(platform)
    return tuple(platforms)


def _check_contact(platform: Platform, source: str, where: str) -> None:
    """A channel without its address would produce a notice with nowhere to go."""
    if platform.channel in ("email", "both") and not platform.email and not platform.contact_per_notice:
        raise NciiError(
            f"{source}: {where}: field 'email' is missing but channel is {platform.channel!r}",
            hint="add the e-mail address, or set contact_per_notice = true if it is given per notice",
        )
    if platform.channel in ("web_form", "both") and not platform.form_url:
        raise NciiError(
            f"{source}: {where}: field 'form_url' is missing but channel is {platform.channel!r}", hint=_HINT
        )


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------
# URL → platform
# --------------------------------------------------------------------------------------------


def platform_for_url(registry: Registry, url: str) -> Platform:
    """The platform a URL belongs to, by host suffix; anything unclaimed goes to whoever hosts it.

    The longest matching suffix wins, so a registry may list a specific host of a larger domain as
    its own platform. Matching is on label boundaries: "evilt.me" is not "t.me".
    """
    host = _host_of(url)
    best: tuple[int, Platform] | None = None
    if host:
        for platform in registry.platforms:
            for suffix in platform.hosts:
                if (host == suffix or host.endswith("." + suffix)) and (
                    best is None or len(suffix) > best[0]
                ):
                    best = (len(suffix), platform)
    return best[1] if best else registry.platform(FALLBACK_PLATFORM)


def _host_of(url: str) -> str:
    text = url.strip()
    if "://" not in text and not text.startswith("//"):
        text = "//" + text  # "t.me/room" as people paste it
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:  # e.g. an unbalanced "[" in what should be an IPv6 literal
        return ""
    host = host.rstrip(".").lower()
    with contextlib.suppress(UnicodeError):  # not a valid IDN: compare it as written
        host = host.encode("idna").decode("ascii")
    return host.removeprefix("www.")
