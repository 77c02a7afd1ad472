"""Partial copies through a real scan: crops, collage tiles and framed copies of an enrolled photo."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import func, select

from ncii_shield.cases.service import enrol
from ncii_shield.scan.match import match_case
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, FeatureCheck, Hit, Item
from tests.conftest import ASSETS
from tests.test_scan import _case, _scan


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def _copies(folder: Path) -> None:
    """A photo without a face, as a person's own photo may be: only hashes and local features can find it."""
    folder.mkdir()
    garden = Image.open(ASSETS / "mate-Garden.jpg").convert("RGB")
    w, h = garden.size
    (folder / "crop35.jpg").write_bytes(_jpeg(garden.crop((int(w * 0.35), 0, w, h))))
    collage = Image.new("RGB", (w, h), "white")
    for i, name in enumerate(["mate-Garden.jpg", "mate-Dune.jpg", "mate-Aqua.jpg", "mate-Storm.jpg"]):
        tile = Image.open(ASSETS / name).convert("RGB").resize((w // 2 - 8, h // 2 - 8))
        collage.paste(tile, ((i % 2) * (w // 2) + 4, (i // 2) * (h // 2) + 4))
    (folder / "collage.jpg").write_bytes(_jpeg(collage))
    screen = Image.new("RGB", (1080, 2340), (20, 20, 24))
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, 1080, 120), fill=(40, 40, 48))
    draw.rounded_rectangle((60, 300, 1020, 420), radius=30, fill=(60, 120, 200))
    screen.paste(garden.resize((900, round(900 * h / w))), (90, 600))
    (folder / "screenshot.jpg").write_bytes(_jpeg(screen))
    (folder / "unrelated.jpg").write_bytes(_jpeg(Image.open(ASSETS / "mate-Dune.jpg")))


def test_partial_copies_are_found_and_checked_once(store: Store, tmp_path: Path) -> None:
    _copies(tmp_path / "copies")
    case_id = _case(store, [ASSETS / "mate-Garden.jpg"])
    result = _scan(store, tmp_path / "copies", case_id)
    assert result.new_hits == {"partial": 3}
    with store.session() as s:
        hits = {i.media_path: h for h, i in s.execute(select(Hit, Item).join(Item)).all()}
        assert set(hits) == {"crop35.jpg", "collage.jpg", "screenshot.jpg"}
        assert {h.kind for h in hits.values()} == {"partial"}
        assert all(h.details and h.details["route"] in ("window", "features") for h in hits.values())
        framed = hits["screenshot.jpg"].details
        assert framed["route"] == "features" and framed["inliers"] >= 10
        left, top, right, bottom = framed["region"]
        assert 0.0 < left < 0.2 and 0.2 < top < 0.3 and 0.8 < right <= 1.0 and bottom < 0.6, framed
        checks = s.scalar(select(func.count()).select_from(FeatureCheck))
    assert checks == 4
    with store.session() as s:
        assert match_case(store, s, case_id) == {}, "nothing is verified twice, nothing is found twice"
        assert s.scalar(select(func.count()).select_from(FeatureCheck)) == 4
    with store.session() as s:
        enrol(s, store, s.get(Case, case_id), [ASSETS / "mate-Dune.jpg"])
        assert s.scalar(select(func.count()).select_from(FeatureCheck)) == 0, "new photos: check again"
        new = match_case(store, s, case_id)
    assert new["pdq"] == 1 and new["exact"] == 0, "the once unrelated photo is now enrolled (re-encoded copy)"
    with store.session() as s:
        collage_hits = [
            h.kind for h, i in s.execute(select(Hit, Item).join(Item)).all() if i.media_path == "collage.jpg"
        ]
    assert collage_hits == ["partial"], "the collage holds both photos but is hit once per kind"


def test_a_copy_already_stored_is_found_again_by_every_route(store: Store, tmp_path: Path) -> None:
    """A re-upload in another room: the file is already stored and verified, the new message still hits."""
    _copies(tmp_path / "first")
    case_id = _case(store, [ASSETS / "mate-Garden.jpg"])
    assert _scan(store, tmp_path / "first", case_id).new_hits == {"partial": 3}
    second = tmp_path / "second"
    second.mkdir()
    for name in ("crop35.jpg", "screenshot.jpg", "collage.jpg"):
        (second / f"reposted-{name}").write_bytes((tmp_path / "first" / name).read_bytes())
    result = _scan(store, second, case_id)
    assert result.media_new == 0, "nothing decoded again"
    assert result.new_hits == {"partial": 3}, "face-less crops are found in the new messages too"
    with store.session() as s:
        rows = s.execute(select(Hit, Item).join(Item)).all()  # media_path is sealed: filtered here
        details = {i.media_path: h.details for h, i in rows if i.media_path.startswith("reposted-")}
    assert details["reposted-screenshot.jpg"]["route"] == "features"
    assert details["reposted-screenshot.jpg"]["inliers"] >= 10
