"""Browser tests: the real app served over HTTP on loopback, driven by Playwright in Debian's chromium."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from loopback import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

pytestmark = pytest.mark.browser




class LiveServer:
    def __init__(self, app, port: int):
        from werkzeug.serving import make_server

        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()


@pytest.fixture
def live_app(tmp_path, monkeypatch):
    """A real app on a real SQLite file, CSRF on (browsers send the token like a person would)."""
    from surveyapp import create_app

    port = free_port()
    monkeypatch.setenv("SURVEYAPP_BASE_URL", f"http://127.0.0.1:{port}")
    app = create_app({"DATABASE": str(tmp_path / "live.db"), "TESTING": True})
    app.config["LIVE_PORT"] = port
    return app


@pytest.fixture
def live_server(live_app):
    server = LiveServer(live_app, live_app.config["LIVE_PORT"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `python3 dev.py test`, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="da-DK")
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="da-DK")
    yield context.new_page()
    context.close()
