"""/api/v1: the cases a token's user may see, their hits, review decisions, rooms and takedown, as JSON.

Every route needs a bearer token with a scope (``cases:read`` to read, ``cases:write`` to decide) and
then the same per-case rule as the pages (web/auth.py): a user reaches only the cases assigned to them,
admins every case; another user's case is a 403, whether it exists or not, so ids cannot be probed.
Responses are Pydantic models derived from the read layer (web/api_models.py), so
/api/v1/openapi.json describes exactly what is sent. Errors are ``{"detail": ...}``, with the ``hint``
the CLI would print when there is one.

The routes live in ``api_cases`` (one case and its parts), ``api_takedown`` (re-upload alerts and
unmatched replies, settled by hand) and ``api_tools`` (text check, audit check);
this module assembles them under the prefix, with the bearer scheme for the OpenAPI document.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.security import HTTPBearer

from ncii_shield.web import api_cases, api_takedown, api_tools
from ncii_shield.web.api_common import BodyLimitRoute, attribute

router = APIRouter(
    prefix="/api/v1",
    # Only for the OpenAPI document (the token itself is checked by READ / WRITE, with its scope).
    dependencies=[Depends(HTTPBearer(auto_error=False, description="An API token (ncii-shield token add)"))],
)
router.include_router(api_cases.router)
router.include_router(api_takedown.router)
router.include_router(api_tools.router)

__all__ = ["BodyLimitRoute", "attribute", "router"]  # web/hma.py builds on these two
