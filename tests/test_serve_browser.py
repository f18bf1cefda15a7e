"""The web page in a real browser: headless Debian Chromium driven by selenium against
``auricle serve`` (a subprocess on a free loopback port).  Upload a generated clip and read the
predicted label from the page; live mode with Chromium's fake microphone fed from a generated WAV
sees the expected detection.  Screenshots go to ``$AURICLE_SCREENSHOTS`` (e.g. docs/img) when set.
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

import numpy as np
import pytest
import soundfile as sf

from tests.test_serve_helpers import SR, make_tiny_run, tone

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="Debian chromium / chromium-driver are not installed "
                                       "(apt-get install chromium chromium-driver; .ci/run does)")
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    run = make_tiny_run(tmp_path_factory.getbasetemp() / "serve-run")
    port = free_port()
    log = open(tmp_path_factory.mktemp("srv") / "server.log", "w+")
    p = subprocess.Popen([sys.executable, "-m", "auricle", "serve", f"tones={run}", "--port", str(port)],
                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    url = f"http://127.0.0.1:{port}"
    t_end = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=1).read()
            break
        except OSError:
            if p.poll() is not None or time.time() > t_end:
                log.seek(0)
                p.kill()
                pytest.fail(f"auricle serve did not start: {log.read()[-2000:]}")
            time.sleep(0.2)
    yield url
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
    log.close()


def browser(tmp_path, *extra):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    o = Options()
    o.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1100,1150", "--autoplay-policy=no-user-gesture-required",
              f"--user-data-dir={tmp_path / 'profile'}", *extra):
        o.add_argument(a)
    return webdriver.Chrome(service=Service(DRIVER), options=o)


def wait_for(fn, timeout: float, what: str):
    t_end = time.time() + timeout
    while time.time() < t_end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def screenshot(drv, name: str) -> None:
    out = os.environ.get("AURICLE_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(Path(out) / name))


def test_upload_a_clip_and_read_the_prediction(server, tmp_path):
    from selenium.webdriver.common.by import By

    clip = tmp_path / "two-tones.wav"
    sf.write(clip, np.concatenate([tone(300, 1.0), tone(3000, 1.5)]), SR)
    drv = browser(tmp_path)
    try:
        drv.get(server + "/")
        wait_for(lambda: drv.find_element(By.TAG_NAME, "body").get_attribute("data-ready"), 20, "the model list")
        assert drv.find_element(By.ID, "model").get_attribute("value") == "tones"
        drv.find_element(By.ID, "file").send_keys(str(clip))
        label = wait_for(lambda: drv.find_element(By.ID, "top-label").text, 20, "a prediction")
        assert label == "high"
        bars = drv.find_elements(By.CSS_SELECTOR, "#bars .bar")
        assert len(bars) == 3 and float(bars[0].get_attribute("aria-valuenow")) > 0.5
        cells = drv.find_elements(By.CSS_SELECTOR, "#timeline > span")
        assert [c.text for c in cells][:1] == ["low"] and cells[-1].text == "high"
        screenshot(drv, "serve-predict.png")
        # a file the server cannot read: the page shows the server's error, and the next upload works
        bad = tmp_path / "bad.wav"
        bad.write_bytes(b"RIFF....not audio at all")
        drv.find_element(By.ID, "file").send_keys(str(bad))
        status = wait_for(lambda: "undecodable_audio" in drv.find_element(By.ID, "status").text and
                          drv.find_element(By.ID, "status").text, 20, "the error message")
        assert "not a readable audio file" in status
    finally:
        drv.quit()


def test_live_mode_detects_the_keyword_from_the_fake_microphone(server, tmp_path):
    from selenium.webdriver.common.by import By

    y = np.zeros(int(3.0 * SR), np.float32)  # the fake microphone loops this file
    y[int(1.5 * SR):int(2.5 * SR)] = tone(3000, 1.0)
    mic = tmp_path / "mic.wav"
    sf.write(mic, y, SR, subtype="PCM_16")
    drv = browser(tmp_path, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={mic}")
    try:
        drv.get(server + "/")
        wait_for(lambda: drv.find_element(By.TAG_NAME, "body").get_attribute("data-ready"), 20, "the model list")
        drv.find_element(By.ID, "live").click()
        ev = wait_for(lambda: drv.find_elements(By.CSS_SELECTOR, "#events li.event"), 25, "a detection")
        assert ev[0].get_attribute("data-label") == "high"
        assert drv.find_element(By.ID, "live").get_attribute("aria-pressed") == "true"
        time.sleep(1.0)  # a few more score updates for the screenshot
        screenshot(drv, "serve-live.png")
        drv.find_element(By.ID, "live").click()
        assert drv.find_element(By.ID, "live").get_attribute("aria-pressed") == "false"
    finally:
        drv.quit()
