"""`watch-chats login|add|list|remove|run`: follow Telegram chats live on a monitor's own account."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, counts, state
from ncii_shield.cli.output import console, err_console, print_json, print_table

if TYPE_CHECKING:
    from ncii_shield.watch.runner import ChatRun
    from ncii_shield.watch.service import Watched

app = typer.Typer(
    no_args_is_help=True,
    help="Follow Telegram chats live (Telethon, on the monitor's own account) and match every open case.",
)


@app.command("login")
def watch_login() -> None:
    """Log the monitor account in once (phone, code, 2FA password); the session is stored sealed."""
    import getpass

    from ncii_shield.watch.client import login

    account = login(
        state.store,
        phone=lambda: input("phone number (international form, +82...): "),
        code=lambda: input("login code Telegram sent: "),
        password=lambda: getpass.getpass("two-step verification password: "),
    )
    console.print(f"logged in as {escape(account)}; the session is stored sealed in the data directory")


@app.command("add")
def watch_add(
    target: Annotated[
        str, typer.Argument(help="An invite link (t.me/+HASH, t.me/joinchat/HASH) or @username.")
    ],
    case: Annotated[
        list[int] | None,
        typer.Option("--case", help="Match only these cases (repeatable) [default: every open case]."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Join the one chat named (or record it if the account is in it already) and watch it."""
    from ncii_shield.watch.client import connect
    from ncii_shield.watch.service import add_chat

    client = connect(state.store)
    try:
        watched = add_chat(state.store, client, target, case)
    finally:
        client.disconnect()
    if as_json:
        print_json(_data(watched))
        return
    how = "joined" if watched.joined else "already a member; recorded"
    console.print(f"watching chat [bold]{watched.id}[/] {escape(watched.title or '')} ({how})")


@app.command("list")
def watch_list(as_json: JsonFlag = False) -> None:
    """The watched chats: status, last message read, last run and next run."""
    from ncii_shield.watch.service import list_chats

    rows = list_chats(state.store)
    if as_json:
        print_json([_data(w) for w in rows])
        return
    print_table(
        "Watched chats",
        ["id", "chat", "status", "last message", "messages", "cases", "last run", "next run"],
        [
            (
                w.id,
                w.title or w.telegram_id,
                w.status + (f": {w.reason}" if w.reason else ""),
                w.last_message_id,
                w.messages_seen,
                ", ".join(map(str, w.cases)) or "all open",
                _when(w.last_run_at),
                _when(w.next_run_at),
            )
            for w in rows
        ],
    )


@app.command("remove")
def watch_remove(watched_id: int) -> None:
    """Stop watching a chat (the account stays in it; what was read stays stored)."""
    from ncii_shield.watch.service import remove_chat

    remove_chat(state.store, watched_id)
    console.print(f"chat {watched_id} is no longer watched")


@app.command("run")
def watch_run(
    once: Annotated[bool, typer.Option("--once", help="One turn over the chats, then exit.")] = False,
    every: Annotated[float, typer.Option("--every", help="Seconds between turns when following.")] = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Back-fill each chat from its last stored message, then keep polling; hits on every open case."""
    from ncii_shield.watch.client import connect
    from ncii_shield.watch.runner import Hooks, follow, run_once

    hooks = Hooks(say=lambda line: err_console.print(f"[yellow]{escape(line)}[/]"))
    client = connect(state.store)
    try:
        if once:
            runs = run_once(state.store, client, hooks=hooks)
            if as_json:
                print_json([_run_data(r) for r in runs])
            else:
                _print_runs(runs)
        else:
            follow(state.store, client, every=every, hooks=hooks, report=_print_runs)
    except KeyboardInterrupt:
        console.print("stopped; the next run resumes from the last stored message")
    finally:
        client.disconnect()


def _print_runs(runs: list[ChatRun]) -> None:
    for r in runs:
        why = f" — {escape(r.reason)}" if r.reason else ""
        if r.alerts:
            why += f"; [bold red]{r.alerts} re-upload alert(s)[/]: a removed image was posted again"
        if r.drafted:
            why += f" (notice {', '.join(map(str, r.drafted))} drafted for review)"
        for problem in r.problems:
            why += f"; {escape(problem)}"
        console.print(
            f"chat {r.watched_id} {escape(r.title or '')}: {r.status}, {r.messages} new messages, "
            f"{r.media} media, up to message {r.last_message_id}; new hits: {counts(r.new_hits)}{why}"
        )


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""  # type: ignore[attr-defined]


def _data(w: Watched) -> dict[str, object]:
    return dict(
        id=w.id,
        chat_id=w.telegram_id,
        peer_kind=w.peer_kind,
        title=w.title,
        chat_type=w.chat_type,
        added_how=w.added_how,
        joined=w.joined,
        cases=w.cases,
        last_message_id=w.last_message_id,
        messages_seen=w.messages_seen,
        status=w.status,
        reason=w.reason,
        source_id=w.source_id,
        last_run_at=w.last_run_at,
        next_run_at=w.next_run_at,
    )


def _run_data(r: ChatRun) -> dict[str, object]:
    return dict(
        id=r.watched_id,
        title=r.title,
        status=r.status,
        reason=r.reason,
        messages=r.messages,
        media=r.media,
        last_message_id=r.last_message_id,
        new_hits=dict(r.new_hits),
        alerts=r.alerts,
        drafted=r.drafted,
        problems=r.problems,
        waited_seconds=r.waited,
        retries=r.retries,
    )
