"""What every /api/v1 router shares: the body limit, the token dependencies, the error model.

Errors are ``{"detail": ...}``, with the ``hint`` the CLI would print when there is one; the app's
handler (web/app.py) writes them from an :class:`~ncii_shield.errors.NciiError`'s kind, so no route
picks a status by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.types import Message

from ncii_shield.store import audit
from ncii_shield.web.auth import Principal
from ncii_shield.web.deps import token_principal

DEFAULT_MAX_BODY = 1024 * 1024  # bytes; a route may allow more with openapi_extra={"x-max-body-bytes": n}


class BodyLimitRoute(APIRoute):
    """A route that refuses a request body over its limit with 413 while it is being received.

    FastAPI reads a whole body before it runs any dependency, token checks included, so without this an
    anonymous caller could make the server hold a body of any size. The declared Content-Length is
    checked first; a chunked body is counted as it arrives.
    """

    def body_limit(self) -> int:
        return int((self.openapi_extra or {}).get("x-max-body-bytes", DEFAULT_MAX_BODY))

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit = self.body_limit()

        async def limited(request: Request) -> Response:
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                raise HTTPException(413, f"the request body is over the limit of {limit} bytes")
            received = 0
            receive = request.receive

            async def counted() -> Message:
                nonlocal received
                message = await receive()
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"the request body is over the limit of {limit} bytes")
                return message

            return await handler(Request(request.scope, counted))

        return limited


READ = token_principal("cases:read")
WRITE = token_principal("cases:write")
Reader = Annotated[Principal, Depends(READ)]
Writer = Annotated[Principal, Depends(WRITE)]


def api_router(**options: Any) -> APIRouter:
    """A router of /api/v1 routes (the prefix and bearer scheme are added where they are assembled)."""
    return APIRouter(route_class=BodyLimitRoute, **options)


class ErrorOut(BaseModel):
    detail: str
    hint: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {403: {"model": ErrorOut}, 404: {"model": ErrorOut}}


def attribute(session: Session, who: Principal, request: str, **details: object) -> None:
    """Record which API request made a change, beside the change's own entry (whose actor is the web
    user: deps.check names them for the request)."""
    audit.record(session, "web.request", user=who.username, role=who.role, request=request, **details)
