"""The demo export as a case worker usually receives it: Telegram Desktop's HTML, zipped.

Each variant is scanned into a fresh, throwaway data directory with the same enrolment, and its hits
must be the JSON export's hits exactly: same chats, same message ids, same routes.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.cli.output import console, print_table
from ncii_shield.config import Settings, load_settings
from ncii_shield.demo.build import DEMO_NAME, DemoGroundTruth
from ncii_shield.demo.html_export import write_html_export, zip_export
from ncii_shield.read.hits import HitRow, list_hits
from ncii_shield.scan.service import scan_path
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store
from ncii_shield.text.service import add_terms

HitKey = tuple[str | None, int | None, tuple[str, ...]]


def hit_keys(rows: list[HitRow]) -> set[HitKey]:
    return {(r.chat, r.message_id, tuple(sorted(r.kinds))) for r in rows}


def scratch_settings(data_dir: Path) -> Settings:
    """A throw-away store for one format's scan: SQLite and blobs inside its own scratch directory even when
    NCII_DATABASE_URL or NCII_BLOB_URL name the demo's shared database or bucket, which it would otherwise
    share (and fail to initialise a second time, or fill with blobs nothing names)."""
    return dataclasses.replace(
        load_settings(data_dir), database_url=f"sqlite:///{data_dir.resolve() / 'ncii.db'}", blob_url=None
    )


def _scan_variant(
    truth: DemoGroundTruth,
    path: Path,
    data_dir: Path,
    workers: int | None,
    progress_factory: Callable[[], Any],
    progress_adapter: Callable[[Any], Any],
) -> tuple[int, set[HitKey]]:
    store = Store(scratch_settings(data_dir), create=KeySource(key=os.urandom(32)))
    try:
        with store.session() as session:
            case = open_case(session, truth.pseudonym, consent_by=truth.pseudonym, consent_method="demo")
            enrol(session, store, case, list(truth.enrol_photos))
            add_terms(store, session, case, [("name", DEMO_NAME), ("birth_year", "2007")])
            case_id = case.id
        with progress_factory() as bar:
            done = scan_path(
                store,
                path,
                case_id=case_id,
                workers=workers,
                progress=lambda i, n, name: progress_adapter(bar),
            )
        with store.session() as session:
            return sum(r.items_seen for r in done.results), hit_keys(list_hits(session, case_id))
    finally:
        store.close()


def check_formats(
    truth: DemoGroundTruth,
    out_dir: Path,
    json_rows: list[HitRow],
    json_read: int,
    *,
    workers: int | None,
    progress_factory: Callable[[], Any],
    progress_adapter: Callable[[Any], Any],
) -> bool:
    """Write the HTML export and its zip beside the JSON one, scan each, compare the hits."""
    shutil.rmtree(out_dir / "export-html", ignore_errors=True)
    html = write_html_export(truth.export_dir, out_dir / "export-html", messages_per_page=100)
    archive = zip_export(html, out_dir / "ChatExport_2024-08-24.zip", top="ChatExport_2024-08-24")
    expected = hit_keys(json_rows)

    rows, ok = [("JSON (result.json)", str(json_read), len(expected), "reference")], True
    for label, path in (("HTML (messages*.html)", html), ("HTML, zipped", archive)):
        scratch = out_dir / f".scratch-{path.name}"
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            read, keys = _scan_variant(truth, path, scratch, workers, progress_factory, progress_adapter)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        same = keys == expected
        ok = ok and same
        verdict = (
            "identical" if same else f"differs: {len(keys - expected)} extra, {len(expected - keys)} missing"
        )
        rows.append((label, str(read), len(keys), verdict))
    print_table("The same export as JSON, HTML and zip", ["format", "messages", "hits", "hits vs JSON"], rows)
    console.print(f"HTML export: {html}\nzip: {archive}")
    return ok
