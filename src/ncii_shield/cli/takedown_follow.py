"""`takedown inbox|removed|reuploads`: what comes back after a notice went out — the platforms' replies, an
item a person saw gone, and removed content posted again (its re-notice approved or the alert dismissed).
Registered on `takedown`'s own Typer app (cli/takedown.py)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, state
from ncii_shield.cli.output import console, fail, print_json, print_table
from ncii_shield.cli.takedown import app


@app.command("inbox")
def takedown_inbox(
    maildir: Annotated[
        Path | None, typer.Option(help="Read replies from this Maildir [default: NCII_INBOX_MAILDIR].")
    ] = None,
    imap: Annotated[
        bool, typer.Option("--imap", help="Read replies from the IMAP folder (NCII_IMAP_HOST, …).")
    ] = False,
    attach: Annotated[
        int | None, typer.Option(help="Attach this unmatched message to --notice (a human's match).")
    ] = None,
    notice: Annotated[int | None, typer.Option(help="The notice for --attach.")] = None,
    dismiss: Annotated[
        int | None, typer.Option(help="Dismiss this unmatched message (about no notice).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Read platforms' replies to notices: matched by reference, acknowledgements and bounces recorded,
    claims of removal checked by the worker; the rest is listed, unmatched, for a human.

    With no source given and none configured, only lists the unmatched messages.
    """
    from ncii_shield.takedown.inbox_read import unmatched_messages
    from ncii_shield.takedown.inbox_record import attach as attach_message
    from ncii_shield.takedown.inbox_record import dismiss as dismiss_message
    from ncii_shield.takedown.inbox_sources import configured, read_inbox

    if attach is not None or dismiss is not None:
        if attach is not None and notice is None:
            fail("--attach needs --notice", hint="e.g. ncii-shield takedown inbox --attach 3 --notice 12")
        with state.store.session() as session:
            if attach is not None:
                attach_message(session, attach, notice, note="attached on the command line")  # type: ignore[arg-type]
            if dismiss is not None:
                dismiss_message(session, dismiss, note="dismissed on the command line")
        console.print("done")
        return
    read = None
    if maildir is not None or imap or configured(state.settings):
        read = read_inbox(state.store, state.settings, maildir=maildir, imap=imap)
    with state.store.session() as session:
        waiting = unmatched_messages(session)
    if as_json:
        print_json({"read": read.as_json() if read else None, "unmatched": [m.as_json() for m in waiting]})
        return
    if read is not None:
        new = len(read.matched) + len(read.unmatched) + len(read.duplicate)
        console.print(
            f"{new} new: {len(read.matched)} matched (notice {', '.join(map(str, read.notices)) or '-'}), "
            f"{len(read.unmatched)} unmatched, {len(read.duplicate)} duplicate"
            if new
            else "nothing new"
        )
        for line in read.errors:
            console.print(f"[red]{escape(line)}[/]")
    print_table(
        f"Unmatched replies ({len(waiting)})",
        ["id", "date", "from", "subject", "why", "notice?"],
        [
            (
                m.id,
                f"{m.date:%Y-%m-%d %H:%M}" if m.date else "-",
                m.sender,
                m.subject,
                m.reason,
                m.suggested_notice_id,
            )
            for m in waiting
        ],
    )
    if read is not None and read.errors:
        raise typer.Exit(1)


@app.command("removed")
def takedown_removed(
    notice_id: int,
    item: Annotated[int, typer.Argument(help="The notice item (see the notice page, or `takedown inbox`).")],
    at: Annotated[
        str | None, typer.Option(help="When it was seen gone, ISO 8601 in UTC [default: now].")
    ] = None,
    note: Annotated[str, typer.Option(help="How you know, for the record.")] = "",
) -> None:
    """Record by hand that one reported item is gone (a platform's word alone is not enough: look first)."""
    from datetime import UTC, datetime

    from ncii_shield.takedown.inbox_record import mark_removed

    when = None
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at {at!r} is not a date and time", hint="e.g. 2026-12-05T09:30")
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    with state.store.session() as session:
        mark_removed(session, notice_id, item, when, note=note or "marked on the command line")
    console.print(f"notice {notice_id}: item {item} removed")


@app.command("reuploads")
def takedown_reuploads(
    case_id: int,
    approve: Annotated[
        int | None, typer.Option(help="Approve this alert's re-notice: queued for the worker to send.")
    ] = None,
    dismiss: Annotated[
        int | None, typer.Option(help="Dismiss this alert (not a re-upload to act on); needs --reason.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why the alert is dismissed, for the record.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Removed content found again: each alert, its re-notice and where it stands; approve or dismiss one
    (as the board's alert does). A re-notice always waits for a person: it is never sent unapproved."""
    from ncii_shield.read.reuploads import reupload_alerts
    from ncii_shield.takedown.reupload import approve as approve_alert
    from ncii_shield.takedown.reupload import dismiss as dismiss_alert

    if approve is not None and dismiss is not None:
        fail("give --approve or --dismiss, not both", hint="one alert at a time")
    with state.store.session() as session:
        if approve is not None:
            approve_alert(session, case_id, approve, note="approved on the command line")
        elif dismiss is not None:
            dismiss_alert(session, case_id, dismiss, reason)
        alerts = reupload_alerts(session, case_id)
    if as_json:
        print_json({"alerts": [asdict(a) for a in alerts]})
        return
    if approve is not None or dismiss is not None:
        done = f"alert {approve}: approved" if approve is not None else f"alert {dismiss}: dismissed"
        console.print(done)
    print_table(
        f"Re-uploads of removed content, case {case_id} ({len(alerts)})",
        ["alert", "item", "seen", "status", "re-notice", "platform", "after notice", "removed", "why"],
        [
            (
                a.id,
                a.item_id,
                f"{a.at:%Y-%m-%d %H:%M}",
                a.status,
                f"{a.notice_id} ({a.notice_status})" if a.notice_id else "-",
                a.platform_id or "-",
                a.original_notice_id or "-",
                f"{a.removed_at:%Y-%m-%d %H:%M}" if a.removed_at else "-",
                escape(a.reason or ""),
            )
            for a in alerts
        ],
    )
