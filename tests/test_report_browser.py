"""report.html in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver`` packages) renders it with every image loaded and no console error;
the first section answers the question (issue 19: model, horizon, discount, margin, what
to do), no table cell is in scientific notation, and at a 1024 px window no table is wider
than the page or hidden in a scroll box, on screen and printed.

Skipped, with the reason, when Chromium, ChromeDriver or selenium is missing; ``.ci/run``
installs them so CI always runs it.  The screenshot it takes is the one in README.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from clvmodels.models import model_info

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


def _chrome(width: int, height: int):
    """Headless Chromium with a ``width`` × ``height`` window, logging the console."""
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    return webdriver.Chrome(options=options, service=service)


def test_report_renders_in_chromium_with_all_images_and_no_console_errors(report, tmp_path):
    driver = _chrome(1280, 2400)
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
            else tmp_path / "screenshot.png"  # never into the shared run folder
        )
        assert driver.save_screenshot(str(target))
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(report):
    """The CDNOW report in Chromium at a 1024 px wide window."""
    driver = _chrome(1024, 1400)
    try:
        driver.get(report.as_uri())
        yield driver
    finally:
        driver.quit()


def test_first_section_names_model_terms_and_actions(page, report):
    first = page.execute_script(
        "const h = document.querySelector('h2'); const s = h.closest('section');"
        "return s ? s.id : null"
    )
    assert first == "answer"
    text = page.execute_script("return document.querySelector('#answer').innerText")
    chosen = json.loads((report.parent / "manifest.json").read_text())["selection"]
    assert model_info(chosen["chosen_purchase_model"]).name in text
    assert re.search(r"next 52 weeks", text), text  # configs/cdnow.yaml: clv.horizon 52
    assert "discounted at 10" in text  # clv.discount_rate 0.10
    assert "margin" in text
    actions = page.execute_script("return document.querySelectorAll('#actions > li').length")
    assert actions >= 2


def test_no_table_cell_is_in_scientific_notation(page):
    cells = page.execute_script(
        "return Array.from(document.querySelectorAll('td')).map(c => c.textContent)"
    )
    assert len(cells) > 100
    assert not [c for c in cells if re.search(r"\d[eE][+-]?\d", c)]


TABLES_OUTSIDE_PAGE = """
const page = document.documentElement.clientWidth;
return Array.from(document.querySelectorAll('table')).filter(t => {
  let boxed = false;
  for (let e = t.parentElement; e; e = e.parentElement) {
    const o = getComputedStyle(e).overflowX;
    if (o === 'auto' || o === 'scroll') boxed = true;
  }
  return boxed || t.scrollWidth > page || t.getBoundingClientRect().right > page;
}).map(t => t.querySelector('th') ? t.querySelector('th').textContent : '?');
"""


def test_no_table_is_wider_than_the_page_on_screen_or_printed(page):
    count = page.execute_script("return document.querySelectorAll('table').length")
    assert count >= 5
    assert page.execute_script(TABLES_OUTSIDE_PAGE) == []
    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert page.execute_script("return matchMedia('print').matches")
        assert page.execute_script(TABLES_OUTSIDE_PAGE) == []
        page.set_window_size(740, 1400)  # about the printable width of an A4 page
        assert page.execute_script(TABLES_OUTSIDE_PAGE) == []
    finally:
        page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        page.set_window_size(1024, 1400)


def test_glossary_defines_the_evaluation_metrics(page):
    terms = page.execute_script(
        "return Array.from(document.querySelectorAll('#glossary dt')).map(d => d.textContent)"
    )
    assert {"MAE, revenue", "error of total revenue", "AUC, P(alive)", "P(alive)"} <= set(terms)
