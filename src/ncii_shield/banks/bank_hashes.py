"""One bank's hashes in memory: its PDQs in a PDQIndex, its exact hashes (SHA-256) in a dict.

The ids are bank signal ids (`bank_signals.id`), which HMA calls bank_content_id. `to_arrays` and
`from_arrays` are the persisted form (banks/index_files.py writes them to one file per bank).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ncii_shield.banks.formats import SUPPORTED
from ncii_shield.index.pdq_index import PDQIndex
from ncii_shield.signals.pdq import MATCH_THRESHOLD

EXACT_KINDS = tuple(kind for kind in SUPPORTED if kind != "pdq")  # matched by equality (sha256)

Row = tuple[int, str, bytes]  # (bank signal id, signal type, value)


@dataclass
class BankHashes:
    """One bank in memory, and which state of the store it holds.

    `version` and `removed_at` are the bank's columns of the same name when its hashes were read: the
    store's values differing says the bank changed since (see banks/changes.py). `max_id` is the largest
    signal id held, so hashes added since are the ones with a larger id (a count check catches the rest).
    """

    id: int
    name: str
    enabled: bool
    version: int = -1
    removed_at: int = -1
    max_id: int = 0
    pdq: PDQIndex = field(default_factory=PDQIndex)
    exact: dict[str, dict[bytes, set[int]]] = field(default_factory=dict)
    exact_ids: dict[int, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.pdq) + len(self.exact_ids)

    def add(self, rows: list[Row]) -> None:
        """Add (id, type, value) rows; adding an id again is harmless (PDQIndex replaces it)."""
        if not rows:
            return
        pdq = [(i, v) for i, t, v in rows if t == "pdq"]
        if pdq:
            ids = np.array([i for i, _ in pdq], dtype=np.int64)
            self.pdq.add(ids, np.frombuffer(b"".join(v for _, v in pdq), dtype=np.uint8).reshape(-1, 32))
        for i, t, v in rows:
            if t != "pdq":
                self._forget_exact(i)
                self.exact_ids[i] = (t, v)
                self.exact.setdefault(t, {}).setdefault(v, set()).add(i)
        self.max_id = max(self.max_id, max(i for i, _, _ in rows))

    def add_pdq(self, ids: np.ndarray, values: np.ndarray) -> None:
        """Add PDQ hashes in bulk: int64 ids (n,) and uint8 values (n, 32)."""
        if len(ids):
            self.pdq.add(ids, values)
            self.max_id = max(self.max_id, int(ids.max()))

    def remove(self, ids: list[int]) -> None:
        self.pdq.remove(np.array(ids, dtype=np.int64))
        for i in ids:
            self._forget_exact(i)

    def _forget_exact(self, signal_id: int) -> None:
        held = self.exact_ids.pop(signal_id, None)
        if held is not None:
            kind, value = held
            same = self.exact[kind][value]
            same.discard(signal_id)
            if not same:
                del self.exact[kind][value]

    def search(self, kind: str, value: bytes) -> list[tuple[int, int]]:
        """(id, distance) nearest first; exact matches have distance 0."""
        if kind == "pdq":
            return self.search_pdq(np.frombuffer(value, dtype=np.uint8).reshape(1, 32))[0]
        return [(i, 0) for i in sorted(self.exact.get(kind, {}).get(value, ()))]

    def search_pdq(self, queries: np.ndarray) -> list[list[tuple[int, int]]]:
        """Many PDQ queries at once (uint8 (n, 32) or uint64 (n, 4) words)."""
        if not len(self.pdq):
            return [[] for _ in range(len(queries))]
        return self.pdq.search(queries, threshold=MATCH_THRESHOLD)

    # ------------------------------------------------------------------------------ persisted form

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = self.pdq.to_arrays()
        out = {f"pdq.{name}": array for name, array in arrays.items()}
        for kind in EXACT_KINDS:
            held = sorted((i, v) for i, (t, v) in self.exact_ids.items() if t == kind)
            out[f"{kind}.ids"] = np.array([i for i, _ in held], dtype=np.int64)
            out[f"{kind}.values"] = np.frombuffer(b"".join(v for _, v in held), dtype=np.uint8).reshape(
                -1, SUPPORTED[kind]
            )
        labels = {
            "id": self.id,
            "version": self.version,
            "removed_at": self.removed_at,
            "max_id": self.max_id,
        }
        return {"bank": labels, "pdq": meta}, out

    @classmethod
    def from_arrays(
        cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], name: str, enabled: bool
    ) -> BankHashes:
        """The bank from its persisted form; ValueError/KeyError/TypeError if the form is inconsistent."""
        labels = meta["bank"]
        pdq = PDQIndex.from_arrays(meta["pdq"], {k[4:]: v for k, v in arrays.items() if k.startswith("pdq.")})
        bank = cls(int(labels["id"]), name, enabled, int(labels["version"]), int(labels["removed_at"]))
        bank.pdq = pdq
        for kind in EXACT_KINDS:
            ids, values = arrays[f"{kind}.ids"], arrays[f"{kind}.values"]
            if (
                ids.dtype != np.int64
                or values.dtype != np.uint8
                or values.shape != (len(ids), SUPPORTED[kind])
            ):
                raise ValueError(f"{kind} arrays")
            bank.add([(int(i), kind, bytes(v)) for i, v in zip(ids.tolist(), values, strict=True)])
        bank.max_id = int(labels["max_id"])
        return bank
