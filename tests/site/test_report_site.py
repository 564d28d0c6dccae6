"""The report, end to end (run after the notebooks, which write build/results): the site is built from the executed
notebooks and opened in a real headless Chromium; every page must load without console errors and show its figures,
and a screenshot of the summary page is saved under build/. Skips when Chromium or its driver is not installed
(.ci/run installs Debian's chromium and chromium-driver)."""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from dcirc_utils.core.paths import NOTEBOOKS_DIR, REPO_ROOT
from dcirc_utils.report.results import VERDICTS, results_dir
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
    assert data["findings"] and all(f["verdict"] in VERDICTS for f in data["findings"])
    assert (site.parent / "results.json").exists()


@contextlib.contextmanager
def _serve(folder: Path):
    """The site over HTTP on the loopback interface (as a reader's browser would get it; file:// blocks fonts)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


# resolves once the page has loaded and, where it loads MathJax 3, the formulas are typeset
_SETTLED = """const done = arguments[arguments.length - 1];
const wait = () => {
  if (document.readyState !== 'complete') { return setTimeout(wait, 100); }
  if (!document.getElementById('MathJax-script')) { return done(true); }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { return MathJax.startup.promise.then(() => done(true)); }
  setTimeout(wait, 100);
};
wait();"""


def test_every_page_loads_without_console_errors_and_shows_its_figures(site):
    driver = _driver()
    driver.set_script_timeout(120)
    try:
        root = site.parent
        pages = [site] + sorted((root / "notebooks").glob("*.html"))
        with _serve(root) as base:
            for page in pages:
                driver.get(f"{base}/{page.relative_to(root).as_posix()}")
                driver.execute_async_script(_SETTLED)
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
