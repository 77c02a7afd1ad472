"""`takedown draft|show|send|queue|mark|recheck|status|run|stats`: notices to platforms, and whether the
content went; `run` is the worker that sends queued notices and follows them up on their clocks. What comes
back afterwards (`inbox`, `removed`, `reuploads`) is cli/takedown_follow.py, on the same app."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, counts, state
from ncii_shield.cli.output import console, fail, print_json, print_table

if TYPE_CHECKING:
    from ncii_shield.read.takedown_clocks import NoticeWithClock
    from ncii_shield.takedown.worker import PassReport

app = typer.Typer(no_args_is_help=True, help="Takedown notices: draft, send, track removal and re-uploads.")


@app.command("draft")
def takedown_draft(
    case_id: int,
    org: Annotated[
        str | None, typer.Option(help="Who reports (your organisation) [default: NCII_REPORTER_ORG].")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Where platforms answer [default: NCII_REPORTER_EMAIL].")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="ko or en [default: ko for Korean bodies, else en].")
    ] = None,
    regulator: Annotated[
        bool, typer.Option("--regulator", help="Also a notice to the KCSC covering every item.")
    ] = False,
    hosting_contact: Annotated[
        str | None, typer.Option(help="Abuse contact (e-mail or form URL) for hits on other websites.")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Also write each notice as a text file here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Per platform, a notice for the confirmed images and another for the messages exposing personal details
    that no notice covers yet."""
    from ncii_shield.takedown.service import draft

    org = org or state.settings.reporter_org
    email = email or state.settings.reporter_email
    if not org or not email:
        fail(
            "who is reporting is not set",
            hint="give --org and --email (or NCII_REPORTER_ORG, NCII_REPORTER_EMAIL)",
        )
    with state.store.session() as session:
        notices = draft(
            session,
            case_id,
            reporter_organisation=org,
            reporter_email=email,
            language=language,
            regulator=regulator,
            hosting_contact=hosting_contact,
            out_dir=out_dir,
            trusted_flagger=state.settings.trusted_flagger,
        )
        rows = [(n.id, n.platform_id, n.language, n.channel, n.to, len(n.items)) for n in notices]
    if as_json:
        print_json(
            [
                dict(zip(("id", "platform", "language", "channel", "to", "items"), r, strict=True))
                for r in rows
            ]
        )
        return
    print_table(
        f"Notices drafted for case {case_id} ({len(rows)})",
        ["id", "platform", "lang", "via", "to", "items"],
        rows,
    )


@app.command("show")
def takedown_show(notice_id: int) -> None:
    """Print a notice as it will be sent."""
    from ncii_shield.takedown.service import notices_of

    with state.store.session() as session:
        (notice,) = notices_of(session, [notice_id])
        text = f"To: {notice.to}\nSubject: {notice.subject}\n\n{notice.body}"
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command("send")
def takedown_send(notice_ids: Annotated[list[int], typer.Argument(help="Drafted e-mail notices.")]) -> None:
    """Send notices by SMTP (NCII_SMTP_HOST, NCII_SMTP_PORT, NCII_SMTP_FROM, …); each is sent once."""
    from ncii_shield.takedown.service import send
    from ncii_shield.takedown.smtp import smtp_settings

    settings = smtp_settings(state.settings)
    for notice_id in notice_ids:
        with state.store.session() as session:
            message_id = send(session, notice_id, settings)
        console.print(f"notice {notice_id} sent ({escape(message_id)})")


@app.command("queue")
def takedown_queue(
    notice_ids: Annotated[list[int], typer.Argument(help="Drafted e-mail notices, read and approved.")],
) -> None:
    """Approve drafted e-mail notices for the worker (`takedown run`), which sends them and follows up."""
    from ncii_shield.takedown.service import queue

    for notice_id in notice_ids:
        with state.store.session() as session:
            queue(session, notice_id)
        console.print(f"notice {notice_id} queued for the worker")


@app.command("run")
def takedown_run(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron or a timer).")] = False,
    case_id: Annotated[int | None, typer.Option("--case", help="Only this case's notices.")] = None,
    every: Annotated[float, typer.Option(help="Seconds between passes when running on.")] = 300.0,
    lease: Annotated[
        float, typer.Option(help="Seconds a worker holds a notice; another takes it over after that.")
    ] = 300.0,
    timeout: Annotated[float, typer.Option(help="Seconds per recheck request.")] = 10.0,
    retry_after: Annotated[
        float, typer.Option(help="Seconds before a failed send is tried again (doubling, up to 6 h).")
    ] = 300.0,
    as_json: JsonFlag = False,
) -> None:
    """The takedown worker: send queued notices, recheck, re-send until removed, escalate when overdue.

    Safe to run from cron or a systemd timer (--once) and continuously at the same time: each notice is
    leased to one worker, and a send cut off midway is sent again once, under the same Message-ID.
    """
    import contextlib
    import threading

    from ncii_shield.takedown.worker import Worker, WorkerOptions

    options = WorkerOptions(lease_seconds=lease, check_timeout=timeout, retry_first_seconds=retry_after)
    worker = Worker(state.store, state.settings, options=options)
    if not once:
        console.print(f"takedown worker {escape(worker.owner)}: a pass every {every:g} s (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            worker.run_forever(
                every,
                case_id=case_id,
                stop=threading.Event(),
                on_pass=lambda report: _report(report, as_json, quiet=True),
            )
        return
    report = worker.run_once(case_id)
    _report(report, as_json)
    if report.errors:
        raise typer.Exit(1)


def _report(report: PassReport, as_json: bool, *, quiet: bool = False) -> None:
    """One pass: notice ids per outcome, then what went wrong; a quiet pass that did nothing prints nothing."""
    found = {name: ids for name, ids in report.as_json().items() if ids}
    if as_json:
        if found or not quiet:
            print_json(report.as_json())
        return
    for name, ids in found.items():
        if name == "unmatched_replies":  # inbound messages, not notices
            console.print(f"{name}: message {', '.join(map(str, ids))} (see: takedown inbox)")  # type: ignore[call-overload]
        elif name != "errors":
            console.print(f"{name}: notice {', '.join(map(str, ids))}")  # type: ignore[call-overload]
    for line in report.errors:
        console.print(f"[red]{escape(line)}[/]")
    if not found and not quiet:
        console.print("nothing due")


@app.command("mark")
def takedown_mark(
    notice_id: int,
    status: Annotated[
        str,
        typer.Argument(help="sent (through a form, by hand), acknowledged, closed, or queued (for `run`)."),
    ],
    note: Annotated[str, typer.Option(help="What happened, for the record.")] = "",
) -> None:
    """Record what happened outside ncii-shield: a form submitted, a platform's acknowledgement."""
    from ncii_shield.takedown.service import mark

    with state.store.session() as session:
        mark(session, notice_id, status, note)
    console.print(f"notice {notice_id}: {status}")


@app.command("recheck")
def takedown_recheck(
    case_id: int,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 10.0,
    retries: Annotated[int, typer.Option(help="Retries on errors, with backoff.")] = 3,
    as_json: JsonFlag = False,
) -> None:
    """Fetch every reported URL: removed or still up, with the response kept as evidence."""
    from ncii_shield.takedown.service import detect_reappearance, recheck

    with state.store.session() as session:
        rows = recheck(
            session, case_id, timeout=timeout, retries=retries, allowed=state.settings.recheck_allow
        )
        detect_reappearance(session, case_id)
    if as_json:
        print_json([r.__dict__ for r in rows])
        return
    print_table(
        f"Recheck of case {case_id} ({len(rows)} URLs)",
        ["notice", "item", "url", "now", "http", "error"],
        [(r.notice_id, r.item_id, r.url, r.status, r.http_status, r.error) for r in rows],
    )


@app.command("status")
def takedown_status(case_id: int, as_json: JsonFlag = False) -> None:
    """Every notice and item status, time to removal per platform, and re-upload alerts."""
    from dataclasses import asdict

    from ncii_shield.read.takedown_clocks import takedown_with_clocks

    with state.store.session() as session:
        found = takedown_with_clocks(session, case_id)
        notices, stats, alerts = found.notices, found.platforms, found.alerts
        alert_rows = [(a.id, a.item_id, a.kind, a.notice_item_id, a.at) for a in alerts]
    if as_json:
        print_json(
            {
                "notices": [asdict(n) for n in notices],  # the API's rows: the same fields and clocks
                "platforms": [s.__dict__ for s in stats],
                "alerts": [
                    dict(
                        zip(
                            ("id", "item_id", "kind", "notice_item_id", "at"),
                            (*a[:4], a[4].isoformat()),
                            strict=True,
                        )
                    )
                    for a in alert_rows
                ],
            }
        )
        return
    print_table(
        f"Notices of case {case_id} ({len(notices)})",
        ["id", "platform", "lang", "status", "sent (UTC)", "items", "clock"],
        [
            (
                n.notice_id,
                n.platform_id,
                n.language,
                n.status,
                f"{n.sent_at:%Y-%m-%d %H:%M}" if n.sent_at else "-",
                counts(n.items),
                _clock(n),
            )
            for n in notices
        ],
    )
    print_table(
        "Time to removal per platform",
        ["platform", "notices", "items", "removed", "median hours", "max hours"],
        [
            (s.platform_id, s.notices, s.items, s.removed, s.median_hours_to_removal, s.max_hours_to_removal)
            for s in stats
        ],
    )
    for _, item_id, kind, source, at in alert_rows:
        console.print(
            f"[bold red]ALERT[/] {kind}: item {item_id} (removed before as notice item {source}) at {at:%Y-%m-%d %H:%M}"
        )


def _clock(notice: NoticeWithClock) -> str:
    """ "due in 5 h" / "overdue by 2 d" (+ "escalated"), as the board says it."""
    from ncii_shield.takedown.clocks import span

    if notice.done or notice.seconds_left is None:
        return "done" if notice.done else "-"
    left = notice.seconds_left
    text = f"due in {span(left)}" if left >= 0 else f"overdue by {span(-left)}"
    return text + (" · escalated" if notice.escalated_at else "")


@app.command("stats")
def takedown_stats(
    case_id: Annotated[int | None, typer.Option("--case", help="One case [default: every case].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Transparency per platform: notices sent, median and 90th-percentile hours to removal, share removed
    within 48 h, still up, re-upload rate, escalations (each defined in read/transparency.py)."""
    from ncii_shield.read.transparency import case_transparency, transparency

    with state.store.session() as session:
        found = case_transparency(session, case_id) if case_id is not None else transparency(session)
    if as_json:
        print_json(found.as_json())
        return
    rows = [*found.platforms, *([found.overall] if found.overall and len(found.platforms) > 1 else [])]
    print_table(
        f"Time to removal per platform, {found.cases} case(s), as of {found.as_of:%Y-%m-%d %H:%M} UTC",
        [
            "platform",
            "notices",
            "items",
            "removed",
            "median h",
            "p90 h",
            "≤48 h",
            "still up",
            "re-uploads",
            "escalated",
        ],
        [
            (
                "all" if p.platform_id == "*" else p.platform_id,
                p.notices_sent,
                p.items_reported,
                p.removed,
                _num(p.median_hours),
                _num(p.p90_hours),
                f"{_pct(p.share_within_48h)} ({p.within_48h}/{p.settled_48h})",
                f"{_pct(p.share_still_up)} ({p.still_up})",
                f"{_pct(p.reupload_rate)} ({p.reappeared})",
                p.escalations,
            )
            for p in rows
        ],
    )
    skewed = sum(p.clock_skew for p in found.platforms)
    if skewed:
        console.print(f"[yellow]{skewed} removal(s) recorded before their notice was sent: counted as 0 h[/]")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"
