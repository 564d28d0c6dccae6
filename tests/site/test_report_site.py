"""The report, end to end (run after the notebooks, which write build/results): the site is built from the executed
notebooks and opened in a real headless Chromium; every page must load without console errors and show its figures,
and a screenshot of the summary page is saved under build/. Skips when Chromium or its driver is not installed
(.ci/run installs Debian's chromium and chromium-driver)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dcirc_utils.core.paths import NOTEBOOKS_DIR, REPO_ROOT
from dcirc_utils.report.results import results_dir
from dcirc_utils.report.site import build_site, collect_results

BUILD = REPO_ROOT / "build"


def _driver():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        reason = "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("DCIRC_REQUIRE_BROWSER"):
            pytest.fail(reason + "; CI sets DCIRC_REQUIRE_BROWSER, so the browser test must run")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000", "--allow-file-access-from-files"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=opts)


@pytest.fixture(scope="module")
def site():
    if not list(results_dir().glob("[0-9][0-9].json")):
        pytest.skip(f"no notebook results in {results_dir()}: run the notebooks first (the README's test command "
                    "runs them under nbval before this test)")
    return build_site(NOTEBOOKS_DIR, results_dir(), BUILD / "site")


def test_results_json_has_every_notebook_and_a_verdict_per_claim(site):
    data = collect_results()
    notebooks = {p.name[:2] for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")}
    assert {f["notebook"] for f in data["findings"]} <= notebooks
    assert data["findings"] and all(f["verdict"] in ("reproduced", "differs", "not computable")
                                    for f in data["findings"])
    assert (site.parent / "results.json").exists()


def test_every_page_loads_without_console_errors_and_shows_its_figures(site):
    driver = _driver()
    try:
        pages = [site] + sorted((site.parent / "notebooks").glob("*.html"))
        for page in pages:
            driver.get(page.as_uri())
            driver.implicitly_wait(2)
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, f"{page.name}: console errors {errors[:3]}"
            broken = driver.execute_script(
                "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                ".map(i => i.src.slice(0, 80));")
            assert not broken, f"{page.name}: images that did not load: {broken[:3]}"
            n_images = driver.execute_script("return document.images.length;")
            if page.parent.name == "notebooks":
                assert n_images > 0, f"{page.name} shows no figure"
            if page == site:
                rows = driver.execute_script("return document.querySelectorAll('tbody tr').length;")
                assert rows == len(collect_results()["findings"])
                driver.save_screenshot(str(BUILD / "site-screenshot.png"))
        assert (BUILD / "site-screenshot.png").stat().st_size > 10_000
    finally:
        driver.quit()
