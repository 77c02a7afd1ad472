"""Reading and writing hash lists: python-threatexchange's local_file format and CSV.

local_file is one `<signal_type> <signal>` per line (e.g. `pdq 0f3c…`), exactly what
`threatexchange hash photo` prints and what its `local_file` collaboration reads. CSV has a header
`signal_type,signal[,label]`. Parsing is all-or-nothing: one bad line is reported with its number and
nothing is imported, so a half-read file never becomes half a bank.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ncii_shield.errors import NciiError

SUPPORTED = {"pdq": 32, "sha256": 32}  # signal type -> bytes
KNOWN_ELSEWHERE = {"video_md5", "video_sha256", "url", "url_md5", "raw_text", "trend_query", "photo_md5"}


@dataclass(frozen=True)
class BankEntry:
    signal_type: str
    value: bytes
    label: str | None = None

    @property
    def hex(self) -> str:
        return self.value.hex()


@dataclass
class Parsed:
    entries: list[BankEntry] = field(default_factory=list)
    skipped_types: Counter[str] = field(default_factory=Counter)  # types we do not match (yet)


def _entry(signal_type: str, signal: str, label: str | None, where: str) -> BankEntry | None:
    signal_type = signal_type.strip().lower()
    if signal_type in KNOWN_ELSEWHERE:
        return None
    if signal_type not in SUPPORTED:
        raise NciiError(
            f"{where}: unknown signal type {signal_type!r}", hint=f"supported: {', '.join(SUPPORTED)}"
        )
    text = signal.strip().lower()
    try:
        value = bytes.fromhex(text)
    except ValueError as exc:
        raise NciiError(f"{where}: {signal_type} signal is not hexadecimal: {text[:70]!r}") from exc
    if len(value) != SUPPORTED[signal_type]:
        raise NciiError(
            f"{where}: a {signal_type} signal has {2 * SUPPORTED[signal_type]} hex characters, "
            f"got {len(text)}"
        )
    return BankEntry(signal_type, value, label or None)


def parse(text: str, fmt: str, *, default_type: str | None = None) -> Parsed:
    """Parse a whole file's text. Raises NciiError naming the first bad line."""
    parsed = Parsed()
    if fmt == "te":
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            signal_type, _, signal = line.partition(" ")
            if not signal:
                if default_type is None:
                    raise NciiError(
                        f"line {number}: expected '<signal_type> <signal>'",
                        hint="or give --signal-type for files of bare hashes",
                    )
                signal_type, signal = default_type, line
            entry = _entry(signal_type, signal, None, f"line {number}")
            _add(parsed, entry, signal_type)
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"signal_type", "signal"} <= set(reader.fieldnames):
            raise NciiError("CSV needs a header with signal_type and signal columns (label is optional)")
        for number, row in enumerate(reader, 2):
            entry = _entry(
                row.get("signal_type") or default_type or "",
                row.get("signal") or "",
                row.get("label"),
                f"line {number}",
            )
            _add(parsed, entry, row.get("signal_type") or "")
    else:
        raise NciiError(f"unknown format {fmt!r}", hint="use te (threatexchange local_file) or csv")
    return parsed


def _add(parsed: Parsed, entry: BankEntry | None, signal_type: str) -> None:
    if entry is None:
        parsed.skipped_types[signal_type.strip().lower()] += 1
    else:
        parsed.entries.append(entry)


def write(entries: Iterable[BankEntry], fmt: str) -> str:
    if fmt == "te":
        return "".join(f"{e.signal_type} {e.hex}\n" for e in entries)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["signal_type", "signal", "label"])
        for e in entries:
            writer.writerow([e.signal_type, e.hex, e.label or ""])
        return out.getvalue()
    raise NciiError(f"unknown format {fmt!r}", hint="use te (threatexchange local_file) or csv")
