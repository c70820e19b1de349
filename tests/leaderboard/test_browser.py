"""The real thing: ``csr-leaderboard`` on a free localhost port, opened in headless Chromium (Debian's chromium
and chromium-driver, driven by Selenium; no browser is downloaded). A screenshot is saved as a test artifact
(``test-artifacts/`` or ``$CSR_TEST_ARTIFACTS``).

``make test`` installs the browser when missing and sets ``CSR_REQUIRE_BROWSER=1``, so in CI a missing browser
fails; elsewhere the test skips and says how to get one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from csr_eval.store import ResultsStore

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _browser_or_skip() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        message = f"no browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver; make test " \
                  f"does it)"
        if os.environ.get("CSR_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(seeded):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "leaderboard.cli", "--db", str(seeded.db), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"csr-leaderboard did not start: {process.communicate()[0][-2000:]}")
            time.sleep(0.5)
    yield url
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def browser():
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1500,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _artifacts() -> Path:
    folder = Path(os.environ.get("CSR_TEST_ARTIFACTS", REPO / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_leaderboard_in_a_real_browser(seeded, server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    WebDriverWait(browser, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.csr-leaderboard"))
    table = browser.find_elements(By.CSS_SELECTOR, "table.csr-leaderboard")[0]
    text = table.text
    chair = ResultsStore(seeded.db).latest_metrics("tiny-run/iter1")["micro_chair"]
    for name in ("tiny-run/base", "tiny-run/iter1", "tiny-run/iter2", "captioner", "pope-only"):
        assert name in text
    assert f"{100 * chair['chair_s']:.1f}" in text and "—" in text
    assert "(reported, Table 1)" in browser.find_element(By.TAG_NAME, "body").text
    shot = _artifacts() / "leaderboard.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000

    # the sample viewer: the hallucinated giraffe in red, rendered by the browser
    next(e for e in browser.find_elements(By.CSS_SELECTOR, "label") if e.text.strip() == "Samples").click()
    WebDriverWait(browser, 60).until(lambda d: "Samples" in d.find_element(By.TAG_NAME, "h1").text)
    boxes = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stMain'] [data-testid='stSelectbox']")
    boxes[0].click()
    option = WebDriverWait(browser, 30).until(
        lambda d: next((o for o in d.find_elements(By.CSS_SELECTOR, "[role='option']") if o.text == "micro_chair"),
                       None))
    option.click()
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "span.hallucinated"))
    red = browser.find_elements(By.CSS_SELECTOR, "span.hallucinated")
    assert "giraffe" in [s.text for s in red]  # the hand-made caption's hallucination
    assert all(s.value_of_css_property("color") == "rgba(198, 40, 40, 1)" for s in red)
    browser.save_screenshot(str(_artifacts() / "samples.png"))


def test_artifacts_folder_is_ignored_by_git():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "check-ignore", "test-artifacts/leaderboard.png"], cwd=REPO, capture_output=True)
    assert out.returncode == 0
