"""`user add|assign|token` and `serve`: the web app, its users, and the API tokens platforms use."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import state
from ncii_shield.cli.output import console, err_console, fail

if TYPE_CHECKING:
    pass

app = typer.Typer(no_args_is_help=True, help="Web app users, their cases, and API tokens.")


@app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin, case_worker, reviewer or auditor.")],
    language: Annotated[str, typer.Option(help="ko or en.")] = "ko",
) -> None:
    """Create a web user. The password is read from NCII_NEW_PASSWORD or asked for (twice)."""
    import getpass

    from ncii_shield.web.auth import create_user

    password = state.settings.new_password
    if not password:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            fail("the two passwords differ", hint="type the same password twice")
    with state.store.session() as session:
        create_user(session, username, password, role, language=language)
    console.print(f"user {escape(username)} ({role}) created")


@app.command("assign")
def user_assign(
    username: str, case_ids: Annotated[list[int], typer.Argument(help="Cases the user may see.")]
) -> None:
    """Let a user see and act on cases (admins see every case anyway)."""
    from ncii_shield.web.auth import assign

    with state.store.session() as session:
        for case_id in case_ids:
            assign(session, username, case_id)
    console.print(f"user {escape(username)}: cases {', '.join(map(str, case_ids))}")


@app.command("token")
def user_token(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for, e.g. the platform's name.")],
    scope: Annotated[list[str], typer.Option(help="hma, cases:read, cases:write (repeatable).")],
) -> None:
    """Create an API token for a user; it is printed once and stored only as a hash."""
    from ncii_shield.web.auth import create_token

    with state.store.session() as session:
        token = create_token(session, username, name, scope)
    sys.stdout.write(token + "\n")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    insecure_cookies: Annotated[
        bool, typer.Option("--insecure-cookies", help="Allow cookies over plain HTTP (loopback demos only).")
    ] = False,
    demo_user: Annotated[
        bool,
        typer.Option(
            "--demo-user", help="Loopback demo: a case worker 'demo' with a new password, on every case."
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto are believed (the login limiter counts per client address). Default: none.",
        ),
    ] = None,
) -> None:
    """Run the web app and the API (behind a TLS proxy in production)."""
    import uvicorn

    from ncii_shield.web.app import create_app
    from ncii_shield.web.auth import reset_demo_user

    if (insecure_cookies or demo_user) and host not in ("127.0.0.1", "localhost", "::1"):
        fail(
            "--insecure-cookies and --demo-user are for loopback only",
            hint="serve on 127.0.0.1, or put TLS in front",
        )
    if demo_user:
        insecure_cookies = True
        with state.store.session() as session:
            password = reset_demo_user(session)
        err_console.print(f"log in as [bold]demo[/] with password [bold]{password}[/] (a new one each start)")
    application = create_app(state.store, secure_cookies=not insecure_cookies)
    err_console.print(f"ncii-shield web app on http://{host}:{port}/ (Ctrl-C to stop)")
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: only from named proxies here.
    proxies = ",".join(p.strip() for p in (forwarded_allow_ips or "").split(",") if p.strip())
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or "",
    )
