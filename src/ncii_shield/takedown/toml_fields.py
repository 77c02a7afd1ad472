"""Typed, checked reads from a hand-edited TOML table: each mistake is one line naming file, entry and field.

Apart from the registry (registry.py), which says what a platform or a law must hold; this module only
knows how to read one field of a table and refuse it clearly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ncii_shield.errors import NciiError


class Fields:
    """Typed reads from one TOML table, each failure one line naming file, entry and field."""

    def __init__(self, table: Mapping[str, Any], source: str, where: str, hint: str) -> None:
        self.table = table
        self.source = source
        self.where = where
        self.hint = hint  # what to do about a bad field, said with every failure
        self.read: set[str] = set()

    def fail(self, key: str, problem: str) -> NciiError:
        return NciiError(f"{self.source}: {self.where}: field {key!r} {problem}", hint=self.hint)

    def text(self, key: str, *, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value = self.optional(key, pattern=pattern, what=what)
        if value is None:
            raise self.fail(key, "is missing")
        return value

    def optional(self, key: str, *, pattern: re.Pattern[str] | None = None, what: str = "") -> str | None:
        self.read.add(key)
        if key not in self.table:
            return None
        value = self.table[key]
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_toml_type(value)}")
        value = value.strip()
        if not value:
            raise self.fail(key, "is empty")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(key, f"must be {what} (got {value[:60]!r})")
        return value

    def texts(
        self, key: str, *, pattern: re.Pattern[str], what: str, non_empty: bool = False
    ) -> tuple[str, ...]:
        self.read.add(key)
        if key not in self.table:
            raise self.fail(key, "is missing")
        value = self.table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, not {_toml_type(value)}")
        if non_empty and not value:
            raise self.fail(key, "is empty")
        for item in value:
            if not pattern.fullmatch(item):
                raise self.fail(key, f"entries must be {what} (got {item[:60]!r})")
        if len(set(value)) != len(value):
            raise self.fail(key, "lists an entry twice")
        return tuple(value)

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)} (got {value[:60]!r})")
        return value

    def url(self, key: str) -> str | None:
        value = self.optional(key)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
            raise self.fail(key, f"must be an https:// address (got {value[:60]!r})")
        return value

    def hours(self, key: str, default: float | None = None) -> float | None:
        """A positive number of hours (a clock), at most a year: 0 or a typo'd 4800 would break a clock."""
        self.read.add(key)
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number of hours, not {_toml_type(value)}")
        if not 0 < value <= 8760:
            raise self.fail(key, f"must be more than 0 and at most 8760 hours (got {value})")
        return float(value)

    def flag(self, key: str) -> bool:
        self.read.add(key)
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {_toml_type(value)}")
        return value

    def no_other_keys(self, extra: set[str] | None = None) -> None:
        """Unknown fields are typos (emial = ...) that would otherwise drop an address silently."""
        only_keys(self.table, self.read | (extra or set()), self.source, self.where)


def only_keys(table: Mapping[str, Any], allowed: set[str], source: str, where: str) -> None:
    """Refuse the first key of `table` not in `allowed`, naming the fields that are."""
    for key in table:
        if key not in allowed:
            raise NciiError(
                f"{source}: {where}: unknown field {key!r}",
                hint=f"allowed fields: {', '.join(sorted(allowed))}",
            )


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", list: "an array", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")
