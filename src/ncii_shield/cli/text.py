"""`text check`, `watch`, `rooms` and `room-alias`: text as a signal, and the rooms links lead to."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, counts, state
from ncii_shield.cli.output import console, fail, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Text signals: personal data and solicitation cues.")


@app.command("check")
def text_check(as_json: JsonFlag = False) -> None:
    """Read messages from standard input, one per line; print score, label, cues and personal data found."""
    from ncii_shield.text.cues import assess

    # Bytes that are not UTF-8 are replaced rather than fatal: one bad line must not stop the rest.
    for number, raw in enumerate(sys.stdin.buffer, 1):
        message = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not message.strip():
            continue
        result = assess(message)
        spans = [
            dict(kind=s.kind, text=s.text, start=s.start, end=s.end, value=s.value) for s in result.spans
        ]
        if as_json:
            sys.stdout.write(
                json.dumps(
                    dict(
                        line=number,
                        score=result.score,
                        label=result.label,
                        cues=list(result.cues),
                        spans=spans,
                    ),
                    ensure_ascii=False,
                )
                + "\n"
            )
        else:
            console.print(f"[bold]{number}[/] {result.label} {result.score:.2f}  {escape(message[:80])}")
            for cue in result.cues:
                console.print(f"    cue: {escape(cue)}")
            for span in result.spans:
                console.print(
                    f"    {span.kind} [{span.start}:{span.end}] {escape(span.text)} -> {escape(span.value)}"
                )


def watch(
    case_id: Annotated[int, typer.Argument(help="The case.")],
    name: Annotated[
        list[str] | None, typer.Option(help="The person's name and its variants (repeatable).")
    ] = None,
    school: Annotated[list[str] | None, typer.Option(help="School, full or short form (repeatable).")] = None,
    birth_year: Annotated[list[str] | None, typer.Option(help="Birth year, e.g. 2007 (repeatable).")] = None,
    handle: Annotated[list[str] | None, typer.Option(help="SNS handle, e.g. @name (repeatable).")] = None,
    phone: Annotated[list[str] | None, typer.Option(help="Phone number (repeatable).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add the person's identifiers to the case watchlist (kept only as keyed hashes), then match messages."""
    from ncii_shield.cases.service import get_case
    from ncii_shield.scan.match import match_case
    from ncii_shield.text.service import add_terms

    values = [
        (f, v)
        for f, vs in (
            ("name", name),
            ("school", school),
            ("birth_year", birth_year),
            ("handle", handle),
            ("phone", phone),
        )
        for v in vs or []
    ]
    if not values:
        fail(
            "no identifier given",
            hint="give at least one of --name, --school, --birth-year, --handle, --phone",
        )
    with state.store.session() as session:
        added = add_terms(state.store, session, get_case(session, case_id), values)
        new = match_case(state.store, session, case_id)
    if as_json:
        print_json(dict(added=dict(added), new_hits=dict(new)))
    else:
        console.print(
            f"watchlist of case {case_id}: {counts(added)} identifier(s) added (stored as keyed hashes "
            f"only); new hits by route: {counts(new)}"
        )


def rooms(case_id: int, as_json: JsonFlag = False) -> None:
    """The room graph: collected chats with the case's hits, and the invite/channel links between rooms."""
    from ncii_shield.read.cases import get_case_ref
    from ncii_shield.read.rooms import room_graph

    with state.store.session() as session:
        get_case_ref(session, case_id)
        graph = room_graph(state.store, session, case_id)
    if as_json:
        print_json(graph.to_json())
        return
    titles = {c.chat_id: c.title or c.chat_id for c in graph.chats}
    print_table(
        f"Chats ({len(graph.chats)}), case {case_id}'s hits first",
        ["chat id", "title", "type", "messages", "hits", "reached by"],
        [
            (c.chat_id, c.title, c.type, c.messages, counts(c.hits) or "-", ", ".join(c.links_in) or "-")
            for c in graph.chats
        ],
    )
    print_table(
        f"Links between rooms ({len(graph.edges)})",
        ["from chat", "link", "leads to", "messages", "posters", "first seen", "last seen", "msg ids"],
        [
            (
                titles.get(e.from_chat or "", e.from_chat),
                e.target,
                titles.get(e.to_chat, e.to_chat) if e.to_chat else "(not collected)",
                e.messages,
                e.posters,
                f"{e.first_seen:%Y-%m-%d %H:%M}" if e.first_seen else None,
                f"{e.last_seen:%Y-%m-%d %H:%M}" if e.last_seen else None,
                ", ".join(map(str, e.message_ids[:6])) + (" …" if len(e.message_ids) > 6 else ""),
            )
            for e in graph.edges
        ],
    )


def room_alias(
    chat_id: Annotated[str, typer.Argument(help="A collected chat's id (see: ncii-shield rooms CASE).")],
    link: Annotated[str, typer.Argument(help="A link that leads to it: t.me/+…, t.me/name or @name.")],
) -> None:
    """Record that a room link leads to a collected chat, so the room graph can connect them."""
    from ncii_shield.store import audit
    from ncii_shield.text.room_links import add_alias

    with state.store.session() as session:
        added = add_alias(state.store, session, chat_id, link)
        audit.record(session, "rooms.alias", chat_id=chat_id, added=added)
    console.print(f"chat {chat_id}: link {'recorded' if added else 'was already known'}")
