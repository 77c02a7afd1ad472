"""The demo's takedown act: the real worker drives notices to removal against a platform on loopback.

Two sites of a simulated platform (a loopback HTTP server that serves copies, then removes one) and its
abuse desk (an aiosmtpd SMTP sink on loopback) are started here. One notice is removed within the 48 h
clock, one goes overdue and is escalated to the regulator, and a copy of the removed content uploaded again
is re-noticed (takedown/reupload.py). Two days pass in seconds: the store's takedown clock is moved
(takedown/clocks.py ``set_clock_offset``, a handle for the demo and tests only, never a setting). The story
is played three days back and ends at the real time, when the re-upload is scanned.

The photo is drawn here (coloured shapes, seeded), not taken from the bundled assets: its copies must not
match the main case's photos, nor the main case's copies match it, so the main job's ground truth is
untouched. It is its own case.
"""

from __future__ import annotations

import dataclasses
import io
import random
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network
from pathlib import Path
from typing import Any

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.cli.output import console, print_table
from ncii_shield.read.reuploads import reupload_alerts
from ncii_shield.read.takedown import takedown_status
from ncii_shield.review.decisions import decide
from ncii_shield.scan.service import scan_path
from ncii_shield.sources.folder import URL_INDEX
from ncii_shield.store.db import Store
from ncii_shield.takedown.clocks import notice_clocks, set_clock_offset
from ncii_shield.takedown.reupload import approve
from ncii_shield.takedown.service import draft, queue
from ncii_shield.takedown.smtp import SmtpSettings
from ncii_shield.takedown.worker import Worker, WorkerOptions

ORG, EMAIL = "Demo Support Centre (fictional)", "desk@support-centre.example"
BACK = timedelta(hours=72)  # the story starts three days ago and ends now
REMOVED_AT_HOUR = 20  # when site A takes its copy down


@dataclasses.dataclass
class TakedownStory:
    """What the act did, for the summary and the tests."""

    case_id: int
    removed: int  # the notice whose content came down within the clock
    overdue: int  # the notice that went past it and was escalated
    regulator: list[int]  # the notices drafted for the regulator
    renotice: int | None  # the re-upload's notice
    hours_to_removal: float | None
    messages: list[Message]
    ok: bool
    seconds: float = 0.0  # how long the act took, in real time


def takedown_act(store: Store, out_dir: Path) -> TakedownStory:
    """Play the story (see the module's docstring); the store's clock is real again afterwards."""
    work = out_dir / "takedown-demo"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    try:
        with _platform() as (base, pages), _desk() as (smtp, inbox):
            story = _play(store, work, base, pages, smtp, inbox)
    finally:
        set_clock_offset(store, timedelta(0))
    story.seconds = time.perf_counter() - started
    return story


def _play(
    store: Store, work: Path, base: str, pages: dict[str, bytes], smtp: SmtpSettings, inbox: list[Message]
) -> TakedownStory:
    photo = _drawn_photo()
    (work / "her-photo.png").write_bytes(photo)
    with store.session() as session:
        case = open_case(
            session, "DEMO-TAKEDOWN", consent_by="DEMO-TAKEDOWN", consent_method="demo: signed consent form"
        )
        enrol(session, store, case, [work / "her-photo.png"])
        case_id = case.id
    notices = []
    for site in ("site-a", "site-b"):
        _crawl(store, case_id, work, base, pages, site, "post-1.jpg", _copy(photo, 900))
        with store.session() as session:
            decide(session, case_id, "confirmed", "demo: a copy of her photo", undecided_only=True)
            (notice,) = draft(
                session,
                case_id,
                reporter_organisation=ORG,
                reporter_email=EMAIL,
                hosting_contact=f"abuse@{site}.example",
            )
            queue(session, notice.id, "demo: approved by the case worker")
            notices.append(notice.id)
    first, second = notices
    settings = dataclasses.replace(
        store.settings, reporter_org=ORG, reporter_email=EMAIL, recheck_allow=(ip_network("127.0.0.0/8"),)
    )
    options = WorkerOptions(lease_seconds=60, check_timeout=2.0, check_retries=0, check_backoff=0.0)
    worker = Worker(store, settings, smtp=smtp, options=options)

    _hour(store, 0)
    worker.run_once(case_id)  # both sent; their 48 h clocks start
    del pages["/site-a/post-1.jpg"]  # site A takes its copy down
    _hour(store, REMOVED_AT_HOUR)
    worker.run_once(case_id)  # the recheck sees it gone
    _hour(store, 25)
    worker.run_once(case_id)  # site B's copy still up: the reminder
    _hour(store, 50)
    escalated = worker.run_once(case_id).escalated  # past site B's deadline: the regulator

    _hour(store, 72)  # now: the same photo is uploaded to site A again, and found by the next crawl
    _crawl(store, case_id, work, base, pages, "site-a", "post-2.jpg", _copy(photo, 700))
    worker.run_once(
        case_id
    )  # drafted for review (if the scan did not already): nothing sent without a person
    with store.session() as session:
        alerts = reupload_alerts(session, case_id)
        renotice = [a.notice_id for a in alerts if a.notice_id is not None]
        for alert in alerts:
            if alert.status == "drafted":
                approve(
                    session, case_id, alert.id, note="demo: the case worker read the draft and approved it"
                )
    sent = worker.run_once(case_id).sent
    with store.session() as session:
        found = takedown_status(session, case_id)
        clocks = {c.notice_id: c for c in notice_clocks(session, case_id)}
        regulator = [n.notice_id for n in found.notices if n.platform_id == "kcsc"]
    hosting = next((p for p in found.platforms if p.platform_id == "hosting"), None)
    hours = hosting.max_hours_to_removal if hosting else None
    ok = (
        hours is not None
        and hours < 48
        and clocks[first].done
        and escalated == [second]
        and clocks[second].overdue
        and clocks[second].escalated_at is not None
        and len(renotice) == 1
        and sent == renotice
        and len(alerts) == 1
    )
    return TakedownStory(
        case_id, first, second, regulator, renotice[0] if renotice else None, hours, list(inbox), ok
    )


def print_story(story: TakedownStory) -> None:
    """The few lines `make demo` ends with."""
    subjects = [str(m["Subject"]) for m in story.messages]
    reminders = sum(s.startswith("[Reminder") for s in subjects)
    print_table(
        f"Takedown, case {story.case_id}: the worker against a simulated platform on loopback",
        ["notice", "outcome"],
        [
            (
                story.removed,
                f"removed {story.hours_to_removal:g} h after it was sent: within the 48 h clock"
                if story.hours_to_removal is not None
                else "not removed",
            ),
            (
                story.overdue,
                f"still up after 48 h: overdue, re-sent {reminders}×, escalated to the regulator "
                f"(notice {', '.join(map(str, story.regulator)) or '-'}, for its web form)",
            ),
            (
                story.renotice if story.renotice is not None else "-",
                f"the removed photo re-uploaded: re-noticed (drafted, approved, sent to {_to(story)})",
            ),
        ],
    )
    console.print(
        f"the platform's abuse desk (SMTP on loopback) received {len(subjects)} messages; three days played "
        f"in {story.seconds:.1f} s on a moved takedown clock: "
        + ("[bold green]as expected[/]" if story.ok else "[bold red]NOT as expected[/]")
    )


def _to(story: TakedownStory) -> str:
    last = story.messages[-1] if story.messages else None
    return str(last["To"]) if last is not None and str(last["Subject"]).startswith("[Re-upload]") else "-"


def _hour(store: Store, hour: float) -> None:
    set_clock_offset(store, timedelta(hours=hour) - BACK)


def _crawl(
    store: Store,
    case_id: int,
    work: Path,
    base: str,
    pages: dict[str, bytes],
    site: str,
    name: str,
    data: bytes,
) -> None:
    """What a crawler would leave: the file, and where it was fetched (the folder source's URL index)."""
    folder = work / f"crawl-{site}-{name.removesuffix('.jpg')}"
    folder.mkdir()
    (folder / name).write_bytes(data)
    (folder / URL_INDEX).write_text(f"{name}\t{base}/{site}/{name}\n", encoding="utf-8")
    pages[f"/{site}/{name}"] = data
    scan_path(store, folder, case_id=case_id, workers=1)


def _drawn_photo() -> bytes:
    """A benign stand-in photo: seeded coloured shapes on a gradient (PNG)."""
    from PIL import Image, ImageDraw

    rng = random.Random(16)
    img = Image.new("RGB", (960, 720))
    draw = ImageDraw.Draw(img)
    for y in range(720):
        draw.line([(0, y), (960, y)], fill=(40 + y // 6, 90, 200 - y // 5))
    for _ in range(40):
        x, y, w, h = rng.randrange(960), rng.randrange(720), rng.randrange(40, 260), rng.randrange(40, 260)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x, y, x + w, y + h], fill=colour)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _copy(photo: bytes, side: int) -> bytes:
    """A re-encoded, resized copy, as a site would serve it."""
    from PIL import Image

    img = Image.open(io.BytesIO(photo)).convert("RGB")
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=82)
    return out.getvalue()


# ------------------------------------------------------------------------------------ the simulated platform


@contextmanager
def _platform() -> Iterator[tuple[str, dict[str, bytes]]]:
    """The sites' pages on loopback: a path serves its copy while it is in `pages`, 404 once removed."""
    pages: dict[str, bytes] = {}

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "image/jpeg" if body is not None else "text/plain")
            self.send_header("Content-Length", str(len(body or b"removed")))
            self.end_headers()
            self.wfile.write(body or b"removed")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)  # quick to stop
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _desk() -> Iterator[tuple[SmtpSettings, list[Message]]]:
    """The platform's abuse desk: an aiosmtpd server on loopback that keeps what it receives."""
    from aiosmtpd.controller import Controller

    received: list[Message] = []

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(message_from_bytes(envelope.original_content))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpSettings(host="127.0.0.1", port=port, from_addr=EMAIL, timeout=10), received
    finally:
        controller.stop()
