"""The hits of a case as rows a person can read: now in the read layer (read/hits.py).

Kept so that ``from ncii_shield.review.hits import list_hits, HitRow`` goes on working.
"""

from __future__ import annotations

from ncii_shield.read.hits import HitRow, list_hits

__all__ = ["HitRow", "list_hits"]
