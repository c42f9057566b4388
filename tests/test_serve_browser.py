"""The page at `/` in a real headless Chromium (Debian's chromium + chromedriver, driven by selenium):
upload a fixture clip, read the verdict and the probability, check nothing came from off the
machine, and save screenshots (desktop and phone width). Skipped without chromium or the clips.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from _servedata import Server, httpx
from conftest import fixture_clip

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(f"needs {CHROMIUM} and chromedriver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", "--window-size=1100,1600"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    fixture_clip("dfdc_facecrop_aaqaifqrwn.mp4")  # skip early when the clips are absent
    srv = Server([], tmp_path_factory.mktemp("serve-page"))
    yield srv
    srv.stop()


def shots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $DFDETECT_SCREENSHOTS if set (to look at them), else the test's folder."""
    folder = Path(os.environ.get("DFDETECT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_page_checks_a_clip(browser, server: Server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    clip = fixture_clip("dfdc_facecrop_aaqaifqrwn.mp4")
    expected = httpx.post(server.url + "/v1/predict", files={"file": (clip.name, clip.read_bytes())}, timeout=300).json()
    browser.get(server.url + "/")
    WebDriverWait(browser, 60).until(lambda d: "ranks a fake" in d.find_element(By.ID, "trust").text)
    browser.find_element(By.ID, "file").send_keys(str(clip))
    WebDriverWait(browser, 300).until(ec.visibility_of_element_located((By.ID, "result")))
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.getElementById('cam').complete "
                                                                "&& document.getElementById('cam').naturalWidth > 0"))
    verdict = browser.find_element(By.ID, "verdict").text
    prob = browser.find_element(By.ID, "prob").text
    assert verdict == {"fake": "Likely fake", "real": "Likely real"}[expected["verdict"]]
    assert float(prob) == pytest.approx(expected["fake_prob"], abs=5e-4)
    assert browser.find_element(By.ID, "threshold").text == f"{expected['threshold']:.3f}"
    assert browser.find_element(By.ID, "result-name").text == clip.name
    assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline svg circle")) == len(expected["timeline"])
    assert not browser.find_element(By.ID, "error").is_displayed()
    # every resource the page loaded came from this server: it works with no network
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(server.url) or u.startswith("data:") for u in urls), urls
    folder = shots_dir(tmp_path)
    browser.save_screenshot(str(folder / "serve-page.png"))
    # phone width: nothing wider than the window
    browser.set_window_size(390, 1400)
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, overflow
    browser.save_screenshot(str(folder / "serve-page-phone.png"))
    assert (folder / "serve-page.png").stat().st_size > 10_000
    assert list(server.upload_folder().iterdir()) == []


def test_api_reference_renders_from_the_servers_own_openapi(browser, server: Server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.url + "/docs")
    WebDriverWait(browser, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#endpoints h3")) >= 5)
    titles = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#endpoints h3")]
    assert "POST /v1/predict" in titles and "GET /v1/jobs/{job_id}" in titles and "GET /healthz" in titles
    assert "multipart/form-data" in browser.find_element(By.ID, "endpoints").text
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(u.startswith(server.url) for u in urls), urls
