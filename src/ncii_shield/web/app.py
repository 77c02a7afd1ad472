"""The web application: pages for support-centre staff, /api/v1 and the HMA-compatible API for platforms.

``create_app(store)`` builds it over an opened :class:`Store` (the deployment key is given at start,
as for the CLI); ``ncii-shield serve`` runs it with uvicorn. Pages are server-rendered Jinja2 with a
little plain JavaScript; no front-end build step.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ncii_shield.errors import NciiError
from ncii_shield.store.db import Store
from ncii_shield.web.auth import LoginLimiter
from ncii_shield.web.render import error_page
from ncii_shield.web.scans import Jobs

# No inline scripts or styles from anywhere but this server; no framing; no referrer leaks.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# Paths that answer JSON (the API, HMA's API); every other path is a page and gets an HTML error page.
JSON_PATHS = ("/api/", "/h/", "/m/", "/c/", "/status")
# What one server process serves: the web app (pages and /api/v1) and HMA's three roles.
ROLES = ("web", "hasher", "matcher", "curator")


def wants_json(request: Request) -> bool:
    """An API path, or a page's script asking for JSON (the upload): errors answer as JSON, not pages."""
    return request.url.path.startswith(JSON_PATHS) or "application/json" in request.headers.get("accept", "")


class SecurityHeaders:
    """SECURITY_HEADERS on every response that does not set its own. A plain ASGI middleware: the
    decorator form (`@app.middleware("http")`) runs each request through an extra task and stream, which
    cost a matcher ~0.3 ms of CPU per lookup (bench/matcher_scale.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def _lifespan(store: Store, takedown_every: float | None, preload: bool):  # type: ignore[no-untyped-def]
    """Between start-up and shutdown: with `preload` the bank index starts loading at once (so a matcher
    is READY before a load balancer sends it lookups, not on the first one), and with `takedown_every`
    the takedown worker's loop runs in a daemon thread."""
    import threading
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        from ncii_shield.web.hma_http import bank_indexes_of

        if preload:
            bank_indexes_of(app).load_in_background()
        stop = threading.Event()
        thread = None
        if takedown_every:
            from ncii_shield.takedown.worker import worker_loop

            thread = threading.Thread(
                target=worker_loop(store, store.settings, takedown_every),
                args=(stop,),
                daemon=True,
                name="takedown-worker",
            )
            thread.start()
            app.state.takedown_worker = thread
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=30)

    return lifespan


def parse_roles(text: str | None) -> frozenset[str]:
    """`serve --roles`: a comma-separated subset of ROLES, or "all" (the default)."""
    words = {w.strip().lower() for w in (text or "all").split(",") if w.strip()}
    if words == {"all"}:
        return frozenset(ROLES)
    unknown = words - set(ROLES)
    if unknown or not words:
        raise NciiError(
            f"unknown role {sorted(unknown)[0]!r}" if unknown else "no role given",
            hint=f"--roles takes a comma-separated list of {', '.join(ROLES)}, or all",
        )
    return frozenset(words)


def create_app(
    store: Store,
    *,
    secure_cookies: bool = True,
    takedown_every: float | None = None,
    roles: frozenset[str] = frozenset(ROLES),
    preload_index: bool = False,
) -> FastAPI:
    """The whole app, or the ``roles`` asked for. ``secure_cookies=False`` only for plain-HTTP loopback.

    With ``takedown_every`` (seconds) the server also hosts the takedown worker (`takedown run`'s loop) in a
    thread while it runs, so a small deployment needs no cron job or second service; it stops with the server.
    A lease per notice keeps it safe beside other workers.

    ``roles`` are HMA's, plus the web app: processes that each serve some of them share the store and,
    through it, the bank index (banks/index.py), so a hash a curator adds is matched by every matcher
    within the index's check interval (docs/scale.md, "Matching as a service"). ``preload_index`` (what
    `serve` does for a matcher) loads the bank index at start instead of on the first lookup."""
    from importlib.resources import files

    from ncii_shield.web import api, hma, hma_http, pages

    app = FastAPI(
        lifespan=_lifespan(store, takedown_every, preload_index and "matcher" in roles),
        title="ncii-shield",
        version="1",
        description="Find a consenting person's images and details; prove it; get it removed.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.store = store
    app.state.limiter = LoginLimiter()
    app.state.secure_cookies = secure_cookies
    app.state.jobs = Jobs()

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(NciiError)
    async def ncii_error(request: Request, exc: NciiError) -> Response:
        """Any error a user can act on: its kind gives the status (errors.py); nothing was written."""
        if wants_json(request):
            body = {"detail": exc.message} | ({"hint": exc.hint} if exc.hint else {})
            return JSONResponse(body, status_code=exc.http_status)
        return error_page(request, exc.http_status, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        """A bug: say so plainly (the traceback goes to the server log), never a reset connection."""
        if wants_json(request):
            return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)
        return error_page(request, 500, "internal error; see the server log")

    app.state.roles = roles
    if "web" in roles:
        app.mount("/static", StaticFiles(directory=str(files("ncii_shield.web") / "static")), name="static")
        # The Korean font the PDF reports embed, served to pages too (one copy in the package).
        app.mount("/fonts", StaticFiles(directory=str(files("ncii_shield.evidence") / "fonts")), name="fonts")
        app.include_router(pages.router)
        app.include_router(api.router)
    app.include_router(hma.liveness)  # /status and /status/live: open (they reveal nothing)
    for role, routes in hma_http.ROLE_ROUTERS.items():
        if role in roles:
            app.include_router(routes)
    return app
