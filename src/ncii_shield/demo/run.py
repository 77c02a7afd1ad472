"""`make demo`: build the demo export, then do a case worker's whole job on it and score the result; then
drive takedown notices to removal with the worker against a simulated platform (demo/takedown_act.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.markup import escape

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.cli.output import console, print_table
from ncii_shield.demo.build import DEMO_NAME, DemoGroundTruth, build_demo
from ncii_shield.demo.formats import check_formats
from ncii_shield.demo.score import perfect, score
from ncii_shield.evidence.assemble import build_report_data
from ncii_shield.evidence.report import write_report
from ncii_shield.read.hits import HitRow, list_hits
from ncii_shield.read.rooms import RoomGraph, room_graph
from ncii_shield.scan.match import match_case
from ncii_shield.scan.service import scan_path
from ncii_shield.store.db import Store
from ncii_shield.text.room_links import add_alias
from ncii_shield.text.service import add_terms


def _named_fields(row: HitRow) -> str | None:
    """For a message that names the person: which watchlist fields it matched (never the values)."""
    text = (row.details or {}).get("text")
    return "names the person: " + ", ".join(text["fields"]) if isinstance(text, dict) else None


def run_demo(
    store: Store,
    out_dir: Path,
    *,
    workers: int | None,
    progress_factory: Callable[[], Any],
    progress_adapter: Callable[[Any], Any],
) -> bool:
    """Returns True when every expected copy was found by its route and nothing else was hit."""
    console.rule("[bold]1. Build the demo export[/] (benign public-domain stand-ins)")
    truth = build_demo(out_dir)
    console.print(f"export: {truth.export_dir}  chats: {', '.join(truth.chats)}")
    console.print(f"the person's own photos: {', '.join(p.name for p in truth.enrol_photos)}")

    console.rule("[bold]2. Open a case and enrol the person's photos[/]")
    with store.session() as session:
        case = open_case(
            session, truth.pseudonym, consent_by=truth.pseudonym, consent_method="demo: signed consent form"
        )
        results = enrol(session, store, case, list(truth.enrol_photos))
        watched = add_terms(store, session, case, [("name", DEMO_NAME), ("birth_year", "2007")])
        match_case(store, session, case.id)
        case_id = case.id
    console.print(
        f"watchlist: {sum(watched.values())} identifiers (name, birth year), kept as keyed hashes only"
    )
    console.print(
        f"opened case [bold]{case_id}[/]; enrolled {len(results)} photos: "
        + ", ".join(f"{r.label} (pdq quality {r.pdq_quality}, {r.faces_enrolled} face)" for r in results)
    )

    console.rule("[bold]3. Scan the export[/]")
    with progress_factory() as progress:
        result = scan_path(
            store,
            truth.export_dir,
            case_id=case_id,
            workers=workers,
            progress=lambda i, n, name: progress_adapter(progress),
        ).results[0]
    console.print(
        f"scan {result.scan_id}: {result.items_seen} messages, {result.media_new} distinct media, "
        f"{result.items_skipped} skipped ({', '.join(f'{n} {r}' for r, n in result.skip_reasons.items())})"
    )

    console.rule("[bold]4. Hits[/]")
    with store.session() as session:
        for chat_id, link in truth.room_aliases:  # the monitor joined these chats through these links
            add_alias(store, session, chat_id, link)
        rows = list_hits(session, case_id)
        graph = room_graph(store, session, case_id)
        data = build_report_data(session, store.blobs, case_id)
    print_table(
        f"Hits for case {case_id} ({len(rows)} messages)",
        ["routes", "file", "chat", "msg", "sender", "date (UTC)", "forwarded from"],
        [
            (
                "+".join(r.kinds),
                r.media_path or _named_fields(r),
                r.chat,
                r.message_id,
                r.sender,
                f"{r.date:%Y-%m-%d %H:%M}" if r.date else None,
                r.forwarded_from,
            )
            for r in rows
        ],
    )

    text_rows = [r for r in rows if "text" in r.kinds]
    print_table(
        f"Messages naming the person ({len(text_rows)}), solicitations first",
        ["label", "score", "fields", "chat", "msg", "message (redacted around its cues)"],
        [
            (
                (r.details or {})["text"]["label"],  # type: ignore[index]
                f"{(r.details or {})['text']['score']:.2f}",  # type: ignore[index]
                ", ".join((r.details or {})["text"]["fields"]),  # type: ignore[index]
                r.chat,
                r.message_id,
                escape(r.excerpt or ""),
            )
            for r in text_rows
        ],
    )
    _print_graph(graph)

    report_path = write_report(data, out_dir / "report.html")
    console.print(f"report: [bold]{escape(str(report_path))}[/] (thumbnails blurred)")

    console.rule("[bold]5. Against the ground truth[/]")
    scores = score(truth, rows)
    print_table(
        "Recall and false hits per kind of copy",
        ["copy", "expected", "found", "via its route", "recall", "negatives", "false hits"],
        [
            (
                s.label,
                s.expected or "",
                s.found if s.expected else "",
                s.via_route if s.expected else "",
                f"{s.recall:.0%}" if s.recall is not None else "",
                s.negatives or "",
                s.false_hits if s.negatives else "",
            )
            for s in scores.values()
        ],
    )
    text_ok = _check_text(truth, text_rows, graph)
    ok = perfect(scores) and text_ok
    for s in scores.values():
        for path in s.missed:
            console.print(f"[red]missed[/] {s.label}: {path}")
        for path in s.wrongly_hit:
            console.print(f"[red]false hit[/] {s.label}: {path}")
    console.print(
        "[bold green]all expected copies found, no false hits[/]" if ok else "[bold red]demo not perfect[/]"
    )

    console.rule("[bold]6. The same export as HTML (the app's default) and zipped, as case workers get it[/]")
    formats_ok = check_formats(
        truth,
        out_dir,
        rows,
        result.items_seen,
        workers=workers,
        progress_factory=progress_factory,
        progress_adapter=progress_adapter,
    )

    console.rule("[bold]7. Review, takedown notices, signed evidence bundle[/]")
    bundle_ok = _act(store, case_id, out_dir)

    console.rule("[bold]8. Takedown to removal: the worker, a simulated platform, three days in seconds[/]")
    from ncii_shield.demo.takedown_act import print_story, takedown_act

    story = takedown_act(store, out_dir)
    print_story(story)
    return ok and formats_ok and bundle_ok and story.ok


def _act(store: Store, case_id: int, out_dir: Path) -> bool:
    """Confirm the hits, draft one notice per platform (and the regulator's), export and verify the bundle."""
    from ncii_shield.evidence.bundle import export_bundle, verify_bundle
    from ncii_shield.review.decisions import decide
    from ncii_shield.takedown.service import draft

    with store.session() as session:
        # Copies of her own photos are confirmed here; face-only composites and messages are left for a
        # person to review (in the web app: `make web`), as they would be in real work.
        copies = [
            r.item_id
            for r in list_hits(session, case_id)
            if {"exact", "pdq", "video", "partial"} & set(r.kinds)
        ]
        confirmed = decide(
            session, case_id, "confirmed", "demo: copies of the enrolled photos", item_ids=copies
        )
        notices = draft(
            session,
            case_id,
            reporter_organisation="Demo Support Centre (fictional)",
            reporter_email="desk@support-centre.example",
            regulator=True,
            out_dir=out_dir / "notices",
        )
        drafted = [(n.id, n.platform_id, n.language, n.channel, n.to, len(n.items)) for n in notices]
    console.print(
        f"review: {len(confirmed)} copies of her photos confirmed; the rest (face on other images, messages) "
        "wait for a person: `make web`"
    )
    print_table(
        f"Takedown notices drafted ({len(drafted)}), in {out_dir / 'notices'}",
        ["id", "platform", "lang", "via", "to", "items"],
        drafted,
    )
    bundle = out_dir / "evidence-bundle.zip"
    with store.session() as session:
        result = export_bundle(store, session, case_id, bundle, media="blurred")
    check = verify_bundle(bundle, trusted=[result.fingerprint])
    console.print(
        f"evidence bundle: [bold]{escape(str(bundle))}[/] ({result.files} files, {result.hits} hits), "
        f"signed by {result.fingerprint}; verified offline: "
        + (
            "[bold green]valid[/]"
            if check.ok
            else "[bold red]INVALID[/] " + escape("; ".join(check.problems))
        )
    )
    return check.ok and bool(drafted)


def _print_graph(graph: RoomGraph) -> None:
    titles = {c.chat_id: c.title or c.chat_id for c in graph.chats}
    print_table(
        "Room graph: chats",
        ["chat", "type", "messages", "case hits", "reached by"],
        [
            (c.title, c.type, c.messages, sum(c.hits.values()), ", ".join(c.links_in) or "-")
            for c in graph.chats
        ],
    )
    print_table(
        "Room graph: links between rooms",
        ["from", "link", "leads to", "messages", "posters"],
        [
            (
                titles.get(e.from_chat or "", e.from_chat),
                e.target,
                titles.get(e.to_chat, e.to_chat) if e.to_chat else "(not collected)",
                e.messages,
                e.posters,
            )
            for e in graph.edges
        ],
    )


def _check_text(truth: DemoGroundTruth, text_rows: list[HitRow], graph: RoomGraph) -> bool:
    """Every message naming the person found, the solicitation ranked first, every room link found."""
    found = {(r.chat, r.message_id) for r in text_rows}
    expected = set(truth.named_messages)
    first = (text_rows[0].chat, text_rows[0].message_id) if text_rows else None
    titles = {c.chat_id: c.title for c in graph.chats}
    edges = {
        (titles.get(e.from_chat or ""), e.target, titles.get(e.to_chat) if e.to_chat else None)
        for e in graph.edges
    }
    missing_edges = set(truth.room_links) - edges
    ok = found == expected and first == truth.solicitation and not missing_edges
    console.print(
        f"text: {len(found & expected)}/{len(expected)} messages naming the person found, "
        f"{len(found - expected)} false; solicitation ranked first: {'yes' if first == truth.solicitation else 'no'}; "
        f"room links: {len(set(truth.room_links) & edges)}/{len(truth.room_links)} expected found"
    )
    for edge in sorted(missing_edges, key=str):
        console.print(f"[red]missed room link[/] {edge}")
    return ok
