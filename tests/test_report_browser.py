"""report.html in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver`` packages) renders it with every image loaded and no console error.

Skipped, with the reason, when Chromium, ChromeDriver or selenium is missing; ``.ci/run``
installs them so CI always runs it.  The screenshot it takes is the one in README.md.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt install chromium)"),
    pytest.mark.skipif(
        CHROMEDRIVER is None, reason="ChromeDriver is not installed (apt install chromium-driver)"
    ),
]


@pytest.fixture(scope="module")
def report(cdnow_run):
    return cdnow_run / "report.html"


def test_report_renders_in_chromium_with_all_images_and_no_console_errors(report):
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1280,2400",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get(report.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        assert len(images) >= 6
        assert all(loaded for _, loaded in images), images
        assert driver.title.startswith("clvmodels report")
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert not errors, errors
        heading = driver.execute_script("return document.querySelector('h1').textContent")
        assert "cdnow" in heading
        # `make screenshot` refreshes the README's picture of the page
        target = (
            REPO / "reports" / "report_screenshot.png"
            if os.environ.get("CLVMODELS_SCREENSHOT")
            else report.parent / "screenshot.png"
        )
        assert driver.save_screenshot(str(target))
    finally:
        driver.quit()
