"""Uploading an export in a real headless Chromium (Selenium, as tests/test_web_browser.py): the file goes in
chunks with a progress bar that reaches 100 %, the scan runs, and the scans page comes back with the new hits.

The export is a small benign one (tests/exports.py, a demo photo), zipped as people send them. The server is
told to ask for small chunks, so the bar moves in steps a person (and this test) can see.
"""

from __future__ import annotations

import errno
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from ncii_shield.store.db import Store
from ncii_shield.web import uploads
from ncii_shield.web.auth import assign, create_user
from tests.browser import (  # skips this module where there is no Chromium
    chrome,
    console_errors,
    picture,
    sign_in,
)
from tests.conftest import ASSETS, new_store
from tests.exports import message, write_export
from tests.test_scan import _case
from tests.web_server import live_server

PASSWORD = "correct horse battery staple"

# Kept across the page change the upload ends with: every value the bar showed, in order.
RECORD_BAR = """
const bar = document.getElementById('upload-bar');
sessionStorage.setItem('bar', '[]');
new MutationObserver(() => {
  const seen = JSON.parse(sessionStorage.getItem('bar'));
  seen.push(Number(bar.getAttribute('value')));
  sessionStorage.setItem('bar', JSON.stringify(seen));
}).observe(bar, { attributes: true, attributeFilter: ['value'] });
"""


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    browser = chrome()
    yield browser
    browser.quit()


def _export_zip(folder: Path) -> Path:
    root = folder / "ChatExport_2024-08-24"
    write_export(
        root,
        [message(1, photo="photos/a.jpg", text="look at this"), message(2, text="nothing here")],
        chat_id=1801234999,
        files={"photos/a.jpg": (ASSETS / "obama.jpg").read_bytes()},
    )
    out = folder / "ChatExport_2024-08-24.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            archive.write(path, f"{root.name}/{path.relative_to(root)}")
    out.write_bytes(buffer.getvalue())
    return out


def _crafted_zip(folder: Path) -> Path:
    out = folder / "evil.zip"
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "ChatExport/result.json", '{"name": "r", "type": "private_group", "id": 5, "messages": []}'
        )
        archive.writestr("../../outside.txt", "x")
    return out


@contextmanager
def _site(tmp_path: Path, driver: WebDriver) -> Iterator[tuple[str, int, Store]]:
    """A case with the demo photo enrolled, a case worker signed in, a live server; yields (url, case, store)."""
    store = new_store(tmp_path / "data")
    case = _case(store, [ASSETS / "obama.jpg"])
    with store.session() as s:
        create_user(s, "worker", PASSWORD, "case_worker", language="en")
        assign(s, "worker", case)
    try:
        with live_server(store) as url:
            sign_in(driver, url, "worker", PASSWORD)
            driver.get(f"{url}/cases/{case}/scans")
            yield url, case, store
    finally:
        store.close()


def test_a_case_worker_uploads_a_zipped_export_and_sees_the_new_hits(
    driver: WebDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export_zip(tmp_path)
    monkeypatch.setattr("ncii_shield.web.uploads.CHUNK", 16 * 1024)  # several chunks for a small file
    # The server's check of the whole file waits for the screenshot of the full bar.
    checked = threading.Event()
    real_check = uploads._check_content

    def slow_check(path: Path, settings: object) -> None:
        checked.wait(20)
        real_check(path, settings)  # type: ignore[arg-type]

    monkeypatch.setattr(uploads, "_check_content", slow_check)
    wait = WebDriverWait(driver, 30)
    with _site(tmp_path, driver) as (_, case, store):
        rows_before = len(driver.find_elements(By.CSS_SELECTOR, "table#scans tbody tr"))
        assert not driver.find_elements(By.ID, "job-summary")

        # Nothing chosen: one line on the page, no request.
        driver.find_element(By.ID, "upload-button").click()
        error = driver.find_element(By.ID, "upload-error")
        assert error.is_displayed() and error.text == "Choose a file first."

        # A crafted zip (a member leaving the archive): one line saying why, and the page stays usable.
        checked.set()
        driver.find_element(By.ID, "upload-file").send_keys(str(_crafted_zip(tmp_path)))
        driver.find_element(By.ID, "upload-button").click()
        wait.until(lambda d: "leaves the archive" in d.find_element(By.ID, "upload-error").text)
        assert driver.find_element(By.ID, "upload-error").text.startswith(
            "Upload stopped: evil.zip has a member"
        )
        assert driver.find_element(By.ID, "upload-button").is_enabled()
        assert not driver.find_element(By.ID, "upload-bar").is_displayed()
        picture(driver, "upload-refused", tmp_path)
        driver.get_log(
            "browser"
        )  # Chromium logs the refused request (400) itself: expected, not a page error
        checked.clear()

        driver.execute_script(RECORD_BAR)
        driver.find_element(By.ID, "upload-file").clear()
        driver.find_element(By.ID, "upload-file").send_keys(str(export))
        driver.find_element(By.ID, "upload-button").click()
        wait.until(lambda d: d.find_element(By.ID, "upload-text").text == "Received; checking the file…")
        assert driver.find_element(By.ID, "upload-bar").get_attribute("value") == "100"
        picture(driver, "upload-sent", tmp_path)
        checked.set()

        # The page hands over to the scan (?job=…), which reloads the scans page when it is done.
        WebDriverWait(driver, 180).until(lambda d: d.find_elements(By.ID, "new-hits"))
        seen = json.loads(driver.execute_script("return sessionStorage.getItem('bar')"))
        assert seen[-1] == 100 and len(set(seen)) >= 4 and seen == sorted(seen), seen
        new_hits = driver.find_element(By.ID, "new-hits")
        assert int(new_hits.get_attribute("data-n")) >= 2  # the photo: exact, pdq and face routes
        assert new_hits.text == f"New hits: {new_hits.get_attribute('data-n')}"
        assert driver.find_element(By.ID, "upload-deleted").is_displayed()
        assert len(driver.find_elements(By.CSS_SELECTOR, "table#scans tbody tr")) == rows_before + 1
        assert "ChatExport_2024-08-24" in driver.find_element(By.ID, "scans").text
        picture(driver, "upload-scanned", tmp_path)
        assert console_errors(driver) == []
        assert not (store.settings.data_dir / "uploads" / str(case)).exists() or not any(
            (store.settings.data_dir / "uploads" / str(case)).iterdir()
        )


def test_an_upload_cut_off_resumes_after_a_reload_without_sending_again(
    driver: WebDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server fails from the third chunk on (a full disk): the page says it is retrying; the case worker
    reloads, chooses the same file, and the upload goes on from what the server holds, to the scan."""
    export = _export_zip(tmp_path)
    chunk = 16 * 1024
    monkeypatch.setattr("ncii_shield.web.uploads.CHUNK", chunk)
    failing = threading.Event()
    failing.set()
    stored: list[int] = []  # where each chunk that reached the disk started
    real_write = uploads.ChunkSink.write

    def write(self: uploads.ChunkSink, piece: bytes) -> None:
        if failing.is_set() and self.start >= 2 * chunk:
            raise OSError(errno.ENOSPC, "No space left on device")
        if self.written == 0:
            stored.append(self.start)
        real_write(self, piece)

    monkeypatch.setattr(uploads.ChunkSink, "write", write)
    wait = WebDriverWait(driver, 30)
    with _site(tmp_path, driver) as (_, _case_id, _store):
        driver.find_element(By.ID, "upload-file").send_keys(str(export))
        driver.find_element(By.ID, "upload-button").click()
        wait.until(
            lambda d: (
                d.find_element(By.ID, "upload-text").text
                == "Interrupted (the server's disk is full); trying again…"
            )
        )
        picture(driver, "upload-retrying", tmp_path)
        driver.refresh()
        driver.get_log(
            "browser"
        )  # Chromium itself logs each refused chunk (503): expected here, not a page error
        wait.until(lambda d: d.find_elements(By.ID, "open-uploads"))
        listed = driver.find_element(By.ID, "open-uploads").text
        resumed = 100 * 2 * chunk // export.stat().st_size
        assert listed == f"{export.name}: {resumed} % Delete", listed
        picture(driver, "upload-resumable", tmp_path)
        failing.clear()
        driver.execute_script(RECORD_BAR)
        driver.find_element(By.ID, "upload-file").send_keys(str(export))
        driver.find_element(By.ID, "upload-button").click()
        WebDriverWait(driver, 180).until(lambda d: d.find_elements(By.ID, "new-hits"))
        seen = json.loads(driver.execute_script("return sessionStorage.getItem('bar')"))
        assert min(v for v in seen if v > 0) >= resumed and seen[-1] == 100, seen
        assert stored == sorted(set(stored)), stored  # no chunk was stored twice
        assert stored == list(range(0, export.stat().st_size, chunk))
        assert int(driver.find_element(By.ID, "new-hits").get_attribute("data-n")) >= 2
        assert console_errors(driver) == []
