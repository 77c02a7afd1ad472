"""Server-rendered pages for support-centre staff: one router per area, assembled here.

``pages_account`` (sign in and out, language), ``pages_cases`` (case list, overview, enrolment, scans),
``pages_review`` (the review queue, thumbnails), ``pages_takedown`` (board, notices) and
``pages_evidence`` (evidence bundle, audit log) ``pages_admin`` (users and API tokens) and ``pages_spread`` (image families, where they went). Every page checks the same rules as the API
(web/auth.py), loads a case through ``deps.load_case`` (403 before 404) and renders what the read layer
(ncii_shield.read) returns. Every form carries the session's CSRF token; errors are rendered by the app's
handlers (web/app.py) with ``render.error_page``.
"""

from __future__ import annotations

from fastapi import APIRouter

from ncii_shield.web import (
    pages_account,
    pages_admin,
    pages_cases,
    pages_evidence,
    pages_review,
    pages_spread,
    pages_takedown,
    pages_transparency,
    pages_upload,
)
from ncii_shield.web.render import error_page

router = APIRouter(include_in_schema=False)
for _area in (
    pages_account,
    pages_cases,
    pages_review,
    pages_takedown,
    pages_evidence,
    pages_admin,
    pages_spread,
    pages_upload,
    pages_transparency,
):
    router.include_router(_area.router)

__all__ = ["error_page", "router"]
