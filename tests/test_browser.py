"""End to end in a real browser: Debian's Chromium, headless, driven by selenium, uploads a clip
to `cuescore serve`, presses Generate, waits for the player, regenerates a range, waits for its
player beside the first and saves a screenshot.

Skips where Chromium is absent: `apt-get install chromium chromium-driver` (as root; `.ci/run`
does it) and `pip install selenium` (the 'test' extra) enable it. Set CUESCORE_SCREENSHOT=PATH
to keep the screenshot (docs/serve.png was made so).
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from video_factory import make_video

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ENABLE = ("needs Debian's Chromium and its driver: apt-get install chromium chromium-driver (as root; .ci/run "
          "does it) and pip install selenium")

pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason=f"no chromium/chromedriver: {ENABLE}")


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason=ENABLE)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def _until(browser, condition, what: str, server_log=None):
    """Wait up to 90 s for `condition`; on timeout fail with what the page and the server said."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, 90).until(condition)
    except TimeoutException:
        page = browser.find_element("tag name", "body").text
        log = server_log.read_text()[-3000:] if server_log is not None else ""
        pytest.fail(f"{what}; the page says:\n{page}\n--- server log:\n{log}")


def test_upload_generate_and_play_in_chromium(web_server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    def until(condition, what):
        return _until(browser, condition, what, web_server.log)

    clip = make_video(tmp_path / "clip.mp4", n_frames=40, fps=20)
    browser.get(web_server.url)
    until(ec.presence_of_element_located((By.CSS_SELECTOR, "#video-input input[type=file]")),
          "the page shows no upload field").send_keys(str(clip))
    until(ec.presence_of_element_located((By.CSS_SELECTOR, "#video-input video")), "the upload never showed")
    until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#generate")), "Generate is not clickable").click()
    player = until(ec.presence_of_element_located((By.CSS_SELECTOR, "#player0 video[src]")),
                   "no player appeared after Generate")
    assert player.get_attribute("src")
    until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#status"), "seed 0"), "no summary line")
    until(ec.presence_of_element_located((By.CSS_SELECTOR, "#timeline0 img")), "no timeline under the player")
    for box, seconds in (("#regen-from", "0.2"), ("#regen-to", "0.9")):
        field = browser.find_element(By.CSS_SELECTOR, f"{box} input")
        field.clear()
        field.send_keys(seconds)
    until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#regenerate")), "Regenerate range is not clickable").click()
    until(ec.presence_of_element_located((By.CSS_SELECTOR, "#regen-player video[src]")),
          "no player of the regenerated range appeared")
    until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#regen-status"), "widened to bar lines) with seed 1"),
          "the widened range is not shown")
    until(ec.presence_of_element_located((By.CSS_SELECTOR, "#regen-timeline img")), "no timeline of the new version")
    shot = tmp_path / "serve.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("CUESCORE_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["CUESCORE_SCREENSHOT"])
    sessions = web_server.root / "sessions"
    assert any(sessions.glob("*/job*/clip_scored.mid"))
    browser.get("about:blank")  # the tab leaves the page: its session ends and its folder goes
    deadline = time.monotonic() + 5  # well before the idle expiry (web_fixtures.KEEP_MINUTES)
    while any(sessions.glob("*/job*/clip_scored.mid")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(sessions.glob("*/job*/clip_scored.mid"))
