"""The laws a takedown notice cites, read from the registry's [laws.*] tables (takedown/registry.py).

Each jurisdiction's table gives a notice about intimate images its citations, the removal deadline, a
declaration the law requires; its optional personal_information part does the same for a notice about a
message exposing the person's personal details, which rests on other provisions (and never on the TAKE IT
DOWN Act, which covers intimate depictions only).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ncii_shield.errors import NciiError
from ncii_shield.takedown.toml_fields import Fields

HINT = "fix that field in the registry file; the packaged platforms.toml documents every field"
JURISDICTION = re.compile(r"global|[A-Z]{2}")


@dataclass(frozen=True)
class Citation:
    """One provision a notice cites, with a one-sentence summary in each notice language."""

    ko: str
    en: str
    summary_ko: str
    summary_en: str
    url: str | None = None


@dataclass(frozen=True)
class Law:
    """What one jurisdiction gives a notice: citations, the removal deadline, a required declaration."""

    jurisdiction: str
    name_en: str
    name_ko: str
    deadline_en: str
    deadline_ko: str
    citations: tuple[Citation, ...]
    statement_en: str | None = None
    statement_ko: str | None = None
    deadline_hours: float | None = None  # a removal deadline the law sets in hours (TAKE IT DOWN: 48)
    clock_en: str | None = None  # what the clock is called on the board ("TAKE IT DOWN Act, s. 3")
    clock_ko: str | None = None
    # The same jurisdiction's basis for a notice about personal information ([laws.X.personal_information]):
    # its own citations, deadline and declaration. None: nothing of this law applies to doxxing (the TAKE IT
    # DOWN Act covers intimate depictions only), so a personal-information notice does not cite it.
    personal_information: Law | None = None


def parse_laws(raw: object, source: str) -> tuple[Law, ...]:
    if not isinstance(raw, dict) or not raw:
        raise NciiError(f"{source}: no [laws.<jurisdiction>] tables", hint=HINT)
    laws = []
    for jurisdiction, table in raw.items():
        where = f"laws {jurisdiction!r}"
        if not JURISDICTION.fullmatch(jurisdiction):
            raise NciiError(f"{source}: {where}: must be 'global' or a code like 'KR'", hint=HINT)
        if not isinstance(table, dict):
            raise NciiError(f"{source}: {where}: is not a table", hint=HINT)
        f = Fields(table, source, where, HINT)
        law = _law(f, f"laws.{jurisdiction}", jurisdiction, f.text("name_en"), f.text("name_ko"))
        part = table.get("personal_information")
        if part is not None:
            if not isinstance(part, dict):
                raise f.fail("personal_information", "must be a table ([laws.X.personal_information])")
            pf = Fields(part, source, f"{where} personal_information", HINT)
            personal = _law(
                pf, f"laws.{jurisdiction}.personal_information", jurisdiction, law.name_en, law.name_ko
            )
            pf.no_other_keys(extra={"citations"})
            law = dataclasses.replace(law, personal_information=personal)
        f.no_other_keys(extra={"citations", "personal_information"})
        laws.append(law)
    return tuple(laws)


def _law(f: Fields, path: str, jurisdiction: str, name_en: str, name_ko: str) -> Law:
    """One law table (or its personal_information part): citations, deadline, clock, declaration."""
    citations_raw = f.table.get("citations")
    if not isinstance(citations_raw, list) or not citations_raw:
        raise NciiError(
            f"{f.source}: {f.where}: field 'citations' is missing or empty",
            hint=f"add at least one [[{path}.citations]] table",
        )
    law = Law(
        jurisdiction=jurisdiction,
        name_en=name_en,
        name_ko=name_ko,
        deadline_en=f.text("deadline_en"),
        deadline_ko=f.text("deadline_ko"),
        statement_en=f.optional("statement_en"),
        statement_ko=f.optional("statement_ko"),
        deadline_hours=f.hours("deadline_hours"),
        clock_en=f.optional("clock_en"),
        clock_ko=f.optional("clock_ko"),
        citations=tuple(_citation(c, f.source, f.where, i) for i, c in enumerate(citations_raw, start=1)),
    )
    if (law.statement_en is None) != (law.statement_ko is None):
        raise NciiError(
            f"{f.source}: {f.where}: field 'statement_en' and 'statement_ko' must be given together",
            hint="notices in both languages need the declaration",
        )
    if law.deadline_hours is not None and (law.clock_en is None or law.clock_ko is None):
        raise NciiError(
            f"{f.source}: {f.where}: field 'deadline_hours' needs 'clock_en' and 'clock_ko'",
            hint="name the provision that sets the deadline, as the board shows it",
        )
    return law


def _citation(raw: object, source: str, where: str, index: int) -> Citation:
    where = f"{where} citation {index}"
    if not isinstance(raw, dict):
        raise NciiError(f"{source}: {where}: is not a table", hint=HINT)
    f = Fields(raw, source, where, HINT)
    citation = Citation(
        ko=f.text("ko"),
        en=f.text("en"),
        summary_ko=f.text("summary_ko"),
        summary_en=f.text("summary_en"),
        url=f.url("url"),
    )
    f.no_other_keys()
    return citation
