"""The review queue and the spread view of a case with 5,000 hits: do they answer in under 500 ms?

Builds a case through the real store layer (sealed columns, the audit chain for decisions) with benign
stand-in rows: N messages in 60 rooms from 300 senders over 90 days, a third of them forwards, each with a
media row and hits by the routes a real scan writes (pdq, face with its box, partial with its region and
inliers, exact, text), spread over 6 enrolled photos; a fifth of them decided. No image is decoded: the pages
read rows, and a 1-pixel thumbnail stands in for every file. Then it times GET of the review page (first
page, a filtered page) and of the spread view through the real app (FastAPI's TestClient, signed in),
median of --runs: warm (the case's rows remembered, as between a reviewer's decisions) and cold (the first
load after a scan adds hits).

    PYTHONPATH=src python bench/review_scale.py [--hits 5000] [--runs 7]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from ncii_shield.cases.service import open_case
from ncii_shield.config import load_settings
from ncii_shield.read.memo import forget
from ncii_shield.review.decisions import decide
from ncii_shield.store.crypto import KeySource, source_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import Hit, Item, Media, Reference, Signal, Source
from ncii_shield.web.auth import create_user

PASSWORD = "a long enough passphrase"


def build(store: Store, hits: int, seed: int = 15) -> int:
    """A case with `hits` messages that matched; returns its id."""
    rnd = random.Random(seed)
    pixel = io.BytesIO()
    Image.new("RGB", (4, 3), (120, 120, 120)).save(pixel, format="JPEG")
    start = datetime(2024, 6, 1, tzinfo=UTC)
    with store.session() as s:
        case = open_case(s, "Bench", consent_by="bench", consent_method="bench: stand-in data")
        photos = [hashlib.sha256(f"photo-{i}".encode()).hexdigest() for i in range(6)]
        refs = []
        for i, sha in enumerate(photos):
            ref = Reference(
                case_id=case.id,
                kind="pdq",
                variant=0,
                photo_sha256=sha,
                photo_label=f"photo_{i}.jpg",
                value=b"\0" * 32,
            )
            s.add(ref)
            refs.append(ref)
        source = Source(kind="telegram", location="/bench", name="bench export", fingerprint="bench")
        s.add(source)
        s.flush()
        store.keyring.key(s, source_scope(source.id))  # the source's data key, as a scan creates it
        thumb = store.blobs.put(pixel.getvalue(), namespace="thumbs", scope=source_scope(source.id))
        for n in range(hits):
            media = Media(
                sha256=hashlib.sha256(f"media-{n % (hits * 3 // 4)}".encode()).hexdigest(),
                size=1000,
                format="jpeg",
                width=640,
                height=480,
                status="ok",
                thumb_key=thumb,
            )
            existing = (
                s.query(Media).filter_by(sha256=media.sha256).one_or_none() if n >= hits * 3 // 4 else None
            )
            media = existing or media
            if existing is None:
                s.add(media)
                s.flush()
            room = rnd.randrange(60)
            item = Item(
                source_id=source.id,
                external_id=f"m{n}",
                kind="message",
                chat_id=f"-100{room}",
                chat_title=f"room {room}",
                chat_type="private_supergroup",  # as Telegram exports give it
                message_id=n,
                sender_id=f"user{rnd.randrange(300)}",
                sender_name=f"sender {rnd.randrange(300)}",
                date=start + timedelta(minutes=rnd.randrange(90 * 24 * 60)),
                forwarded_from=f"channel {rnd.randrange(20)}" if rnd.random() < 0.33 else None,
                text="",
                media_path=f"photos/{n}.jpg",
                media_id=media.id,
            )
            s.add(item)
            s.flush()
            ref = refs[n % len(refs)]
            kinds = rnd.choice((("pdq", "face"), ("face",), ("partial", "face"), ("exact", "pdq", "face")))
            for kind in kinds:
                details: dict[str, object] | None = None
                signal_id = None
                if kind == "face":
                    sig = Signal(media_id=media.id, kind="face", frame=0, idx=n, box=[200, 100, 320, 240])
                    s.add(sig)
                    s.flush()
                    signal_id = sig.id
                if kind == "partial":
                    details = {
                        "route": "features",
                        "inliers": 24,
                        "coverage": 0.6,
                        "region": [0.1, 0.1, 0.7, 0.8],
                    }
                distance = {"pdq": float(rnd.randrange(32)), "face": rnd.uniform(0.1, 0.45)}.get(kind)
                s.add(
                    Hit(
                        case_id=case.id,
                        item_id=item.id,
                        media_id=media.id,
                        kind=kind,
                        distance=distance,
                        reference_id=ref.id,
                        signal_id=signal_id,
                        details=details,
                    )
                )
            if n % 500 == 0:
                s.flush()
        s.flush()
        decided = s.query(Hit.item_id).filter(Hit.case_id == case.id).distinct().limit(hits // 5).all()
        decide(s, case.id, "confirmed", "bench", item_ids=[i for (i,) in decided])
        create_user(s, "bench", PASSWORD, "admin", language="en")
        return case.id


def _settle() -> None:
    """Wait for the other page's rows a cold page reads once it has answered (web/deps.warm_after): a
    reviewer's next request comes seconds later, not while that is running."""
    for thread in threading.enumerate():
        if thread.name.startswith("warm-case-"):
            thread.join()


def timed(
    client: object, url: str, runs: int, cold: Callable[[], None] | None = None
) -> tuple[float, float, int]:
    """Median wall and CPU milliseconds of `runs` GETs of `url` (after one warm-up), and the response size.

    The app runs in this process (TestClient), so process CPU time is the request's own work: on a shared
    machine it moves far less with the load than the wall time does. With `cold`, it is called before each
    GET (untimed) to drop the case's remembered rows (read/memo.py): the first load after a scan or a purge.
    A saved decision does not drop them, so the warm figure is what a reviewer sees between decisions."""
    client.get(url)  # type: ignore[attr-defined]
    wall, cpu = [], []
    size = 0
    for _ in range(runs):
        _settle()
        if cold is not None:
            cold()
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(url)  # type: ignore[attr-defined]
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        size = len(response.content)
    return statistics.median(wall), statistics.median(cpu), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from ncii_shield.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(load_settings(Path(tmp)), create=KeySource(key=b"b" * 32))
        t0 = time.perf_counter()
        case_id = build(store, args.hits)
        print(f"built a case with {args.hits} hits in {time.perf_counter() - t0:.1f} s")
        client = TestClient(create_app(store), base_url="https://testserver")
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
        urls = {
            "review, page 1": f"/cases/{case_id}/review",
            "review, page 3": f"/cases/{case_id}/review?page=3",
            "review, kind+chat+dates": f"/cases/{case_id}/review?kind=face&chat=room+7&since=2024-06-10&until=2024-08-01",
            "review, one family": f"/cases/{case_id}/review?family={hashlib.sha256(b'photo-2').hexdigest()}",
            "spread": f"/cases/{case_id}/spread",
        }

        def cold() -> None:
            with store.session() as s:
                forget(s, case_id)

        print(f"{'':<28}{'warm':>17}{'cold':>17}")
        print(
            f"{'page':<28}{'wall ms':>9}{'CPU ms':>8}{'wall ms':>9}{'CPU ms':>8}{'KB':>6}   (medians of {args.runs})"
        )
        for name, url in urls.items():
            ms, cpu, size = timed(client, url, args.runs)
            first, first_cpu, _ = timed(client, url, args.runs, cold)
            print(f"{name:<28}{ms:>9.0f}{cpu:>8.0f}{first:>9.0f}{first_cpu:>8.0f}{size / 1024:>6.0f}")
        store.close()


if __name__ == "__main__":
    main()
