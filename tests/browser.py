"""Pages as a person meets them: the API served by uvicorn on a free loopback port, and
a headless Chromium driven by Selenium (skipped with the reason when neither the
packages nor scripts/install_browser.sh can provide one). Screenshots go to ARTIFACTS."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.peers import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
DRIVERS = (Path("/usr/bin/chromedriver"), Path("/usr/lib/chromium/chromedriver"))
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-sync", "--disable-component-update",
         "--disable-dev-shm-usage", "--window-size=1280,1200")


@contextmanager
def serving(app) -> Iterator[str]:
    """The ASGI app on a free port in a thread; its base URL while the block runs."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10, what="the API to listen")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _driver_path() -> Path | None:
    if not CHROMIUM.exists():
        subprocess.run(["sh", str(ROOT / "scripts" / "install_browser.sh")], timeout=900,
                       check=False)
    driver = next((d for d in DRIVERS if d.exists()), None)
    return driver if CHROMIUM.exists() and driver else None


@pytest.fixture()
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium)")
    driver_path = _driver_path()
    if driver_path is None:
        pytest.skip("chromium and chromium-driver are missing and scripts/install_browser.sh "
                    "could not install them (needs root and apt)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(driver_path)), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()
