"""How a read dataclass documents its fields once, for the code, the CLI and the API schema alike.

``count: Annotated[int, Doc("what it counts")]``: web/api_models.py turns the Doc into the field's
description in /api/v1/openapi.json, so the API's models need no docs of their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Doc:
    """A field's description."""

    text: str
