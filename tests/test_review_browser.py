"""The review queue with its evidence, in a real headless Chromium: the copy beside the enrolled photo it
matched, the face box drawn over the copy where the face is, and an audited reveal of the enrolled photo.

Same demo, server and browser fixtures as tests/test_web_browser.py (their module-scoped fixtures, built once
more for this module). NCII_TEST_SHOTS=dir keeps the screenshot.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageStat
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from sqlalchemy import select

from ncii_shield.read.evidence import hit_evidence
from ncii_shield.store.models import AuditEvent
from tests import test_web_browser as web  # skips this module too where there is no Chromium
from tests.test_web_browser import (
    KO,
    SHOTS,
    Site,
    colourfulness,
    console_errors,
    loaded,
    open_page,
    pixels,
    sign_in,
    wait,
)

# The fixtures of tests/test_web_browser.py: the demo on a live server, and one Chromium for the module.
site, downloads, driver, browser = web.site, web.downloads, web.driver, web.browser


def test_review_shows_each_copy_beside_its_enrolled_photo_with_the_evidence_drawn(
    browser: WebDriver, site: Site, tmp_path: Path
) -> None:
    d, case = browser, site.fresh
    sign_in(d, site, "worker")
    open_page(d, f"{site.url}/cases/{case}/review?kind=face")
    wait(d, EC.visibility_of_element_located((By.CSS_SELECTOR, "table#queue tr.hit")))
    images = d.find_elements(By.CSS_SELECTOR, "table#queue img.thumb")
    wait(d, lambda drv: all(loaded(drv, i) for i in images))
    rows = d.find_elements(By.CSS_SELECTOR, "table#queue tr.hit[data-item]")
    assert rows and all(r.find_elements(By.CSS_SELECTOR, "figure.side.reference img.thumb") for r in rows)

    # The face box is drawn where the face is: the overlay lies exactly on the copy, and its box is inside.
    row = rows[0]
    item = int(str(row.get_attribute("data-item")))
    copy = row.find_element(By.CSS_SELECTOR, "figure.side.copy img.thumb")
    overlay = row.find_element(By.CSS_SELECTOR, "figure.side.copy svg.overlay")
    box = row.find_element(By.CSS_SELECTOR, "svg.overlay rect.ev-face")
    image_at, overlay_at, box_at = copy.rect, overlay.rect, box.rect
    for key in ("x", "y", "width", "height"):
        assert abs(image_at[key] - overlay_at[key]) <= 2, (key, image_at, overlay_at)
    assert (
        image_at["x"] <= box_at["x"]
        and box_at["x"] + box_at["width"] <= image_at["x"] + image_at["width"] + 1
    )
    assert (
        image_at["y"] <= box_at["y"]
        and box_at["y"] + box_at["height"] <= image_at["y"] + image_at["height"] + 1
    )
    with site.store.session() as session:
        face = next(e for e in hit_evidence(session, case, [item])[item].routes if e.kind == "face")
    assert face.box is not None
    assert abs((box_at["x"] - image_at["x"]) / image_at["width"] - face.box[0]) < 0.03
    assert abs((box_at["y"] - image_at["y"]) / image_at["height"] - face.box[1]) < 0.03
    facts = row.find_element(By.CSS_SELECTOR, "ul.facts").text
    assert "face" in facts and f"{face.distance:.2f}" in facts

    # Reveal the enrolled photo: in colour, and the reveal is in the audit chain as the reference's.
    reference = row.find_element(By.CSS_SELECTOR, "figure.side.reference img.thumb")
    assert colourfulness(pixels(d, reference)) <= 2
    row.find_element(By.CSS_SELECTOR, "figure.side.reference button.reveal").click()
    wait(
        d,
        lambda drv: str(reference.get_attribute("src")).startswith("data:image/") and loaded(drv, reference),
    )
    assert colourfulness(pixels(d, reference)) > 30
    with site.store.session() as session:
        reveals = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "media.revealed", AuditEvent.case_id == case)
        ).all()
    assert (item, "worker", "reference") in [
        (e.details["item"], e.details["user"], e.details.get("what")) for e in reveals
    ]
    # The overlay still lies on the copy after the copy is revealed (same width, same proportions).
    row.find_element(By.CSS_SELECTOR, "figure.side.copy button.reveal").click()
    wait(d, lambda drv: str(copy.get_attribute("src")).startswith("data:image/") and loaded(drv, copy))
    assert abs(copy.rect["height"] - overlay.rect["height"]) <= 2

    d.execute_async_script(
        "const done = arguments[arguments.length - 1]; document.fonts.ready.then(() => done());"
    )
    shot = SHOTS / "review-evidence.png" if SHOTS else tmp_path / "review-evidence.png"
    shot.write_bytes(d.get_screenshot_as_png())
    with Image.open(shot) as im:
        rgb = im.convert("RGB")
    assert len(rgb.getcolors(maxcolors=1 << 24) or []) >= 100 and sum(ImageStat.Stat(rgb).stddev) / 3 > 15
    assert KO["ev_reference"] in d.find_element(By.CSS_SELECTOR, "table#queue").text
    assert console_errors(d) == []
