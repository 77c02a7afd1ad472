"""`user add|assign|list|disable|enable|token|tokens|revoke` and `serve`: the web app, its users, and the API
tokens platforms use."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, state
from ncii_shield.cli.output import console, err_console, fail, print_json, print_table

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


@app.command("list")
def user_list(as_json: JsonFlag = False) -> None:
    """List web users: role, language, whether disabled, assigned cases, live sessions and tokens."""
    from ncii_shield.read.users import list_users

    with state.store.session() as session:
        rows = list_users(session)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        "Users",
        ["user", "role", "lang", "state", "cases", "sessions", "tokens", "created"],
        [
            (
                r.username,
                r.role,
                r.language,
                "disabled" if r.disabled else "active",
                ", ".join(map(str, r.cases)) or ("all" if r.role == "admin" else "-"),
                r.sessions,
                r.tokens,
                f"{r.created_at:%Y-%m-%d}",
            )
            for r in rows
        ],
    )


@app.command("disable")
def user_disable(username: str) -> None:
    """Disable a user: their sessions end now and their API tokens stop working (until `user enable`)."""
    from ncii_shield.web.accounts import set_disabled

    with state.store.session() as session:
        set_disabled(session, username, True)
    console.print(f"user {escape(username)} disabled")


@app.command("enable")
def user_enable(username: str) -> None:
    """Enable a disabled user again (they sign in anew; revoked tokens stay revoked)."""
    from ncii_shield.web.accounts import set_disabled

    with state.store.session() as session:
        set_disabled(session, username, False)
    console.print(f"user {escape(username)} enabled")


@app.command("tokens")
def user_tokens(as_json: JsonFlag = False) -> None:
    """List API tokens (never the tokens themselves): id, name, user, scopes, last use, revoked."""
    from ncii_shield.read.users import list_tokens

    with state.store.session() as session:
        rows = list_tokens(session)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        "API tokens",
        ["id", "name", "user", "scopes", "created", "last used", "state"],
        [
            (
                r.id,
                r.name,
                r.username,
                " ".join(r.scopes),
                f"{r.created_at:%Y-%m-%d}",
                f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "never",
                "revoked" if r.revoked else "active",
            )
            for r in rows
        ],
    )


@app.command("revoke")
def user_revoke(token_id: Annotated[int, typer.Argument(help="The token's id, from `user tokens`.")]) -> None:
    """Revoke an API token for good."""
    from ncii_shield.web.accounts import revoke_token

    with state.store.session() as session:
        token = revoke_token(session, token_id)
        name = token.name
    console.print(f"token {token_id} ({escape(name)}) revoked")


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
    takedown_worker: Annotated[
        float,
        typer.Option(
            "--takedown-worker",
            metavar="SECONDS",
            help="Also run the takedown worker (`takedown run`) in the server, a pass every SECONDS "
            "(0: off; run it from cron or systemd instead).",
        ),
    ] = 0,
    roles: Annotated[
        str,
        typer.Option(
            "--roles",
            help="What this process serves, comma-separated: web (pages and /api/v1), hasher (/h), "
            "matcher (/m), curator (/c); or all. Processes serving parts share the store and the bank "
            "index: run several matchers behind a load balancer.",
        ),
    ] = "all",
) -> None:
    """Run the web app and the API (behind a TLS proxy in production)."""
    import uvicorn

    from ncii_shield.web.app import ROLES, create_app, parse_roles
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
    if takedown_worker < 0:
        fail(
            "--takedown-worker takes seconds between passes", hint="e.g. --takedown-worker 300, or 0 for off"
        )
    serving = parse_roles(roles)
    application = create_app(
        state.store,
        secure_cookies=not insecure_cookies,
        takedown_every=takedown_worker or None,
        roles=serving,
        preload_index=True,
    )
    if serving == frozenset(ROLES):
        err_console.print(f"ncii-shield web app on http://{host}:{port}/ (Ctrl-C to stop)")
    else:
        named = ", ".join(r for r in ROLES if r in serving)
        err_console.print(f"ncii-shield on http://{host}:{port}/ serving {named} (Ctrl-C to stop)")
    if takedown_worker:
        err_console.print(f"the takedown worker runs in it: a pass every {takedown_worker:g} s")
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
