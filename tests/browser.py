"""What every real-Chromium test needs: the browser (or a module skip where there is none), its console errors,
and a check that a screenshot is a page rather than a blank.

Importing this module skips the importing test module when Chromium, its driver or Selenium is missing
(Debian: apt-get install chromium chromium-driver; .ci/run installs them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMEDRIVER.is_file() or not CHROMIUM.is_file():
    pytest.skip(
        "needs Chromium and its driver at /usr/bin/chromium and /usr/bin/chromedriver "
        "(Debian: apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

SHOTS = Path(os.environ["NCII_TEST_SHOTS"]) if os.environ.get("NCII_TEST_SHOTS") else None  # keep screenshots


def chrome(*args: str, prefs: dict[str, Any] | None = None) -> WebDriver:
    """Headless Chromium, 1280x900, its console log kept; `args` and `prefs` add to that."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", *args):
        options.add_argument(arg)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver


def console_errors(driver: WebDriver) -> list[str]:
    """What the page logged as an error since the last call (CSP violations included)."""
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" or "Content Security Policy" in e["message"]
    ]


def picture(driver: WebDriver, name: str, folder: Path) -> Path:
    """Save a screenshot (in NCII_TEST_SHOTS if set, else `folder`) and check it is a page, not a blank."""
    path = (SHOTS or folder) / f"{name}.png"
    path.write_bytes(driver.get_screenshot_as_png())
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    colours = rgb.getcolors(maxcolors=1 << 24) or []
    spread = sum(ImageStat.Stat(rgb).stddev) / 3
    assert rgb.size[0] >= 1000 and len(colours) >= 50 and spread > 10, (name, len(colours), spread)
    return path


def sign_in(driver: WebDriver, base: str, user: str, password: str) -> None:
    """Sign in as `user` on the server at `base` (signed out first: the driver is shared across a module), and
    wait until the login page is left."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/login")
    driver.delete_all_cookies()
    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-button").click()
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)
