"""Shared fixtures and helpers of the AppTest suites (test_app_*.py); no tests here.

The dashboard runs as it does for a user with no API key: it starts its own in-process
sandbox (one per test process, as st.cache_resource keeps it) and talks to it for real.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from commbox_core.service.jobs import Job

from ..support import ROOT_DIR

APP = ROOT_DIR / "app.py"
RUN_TIMEOUT_S = 30


@pytest.fixture
def new_app(clean_env) -> Callable[..., AppTest]:
    """AppTest of app.py, already run once (so pages can be switched to)."""

    def start(page: str | None = None, **env: str) -> AppTest:
        # Live-mode page tests are about the pages, not the access gate (tests/dashboard/test_gate.py
        # covers it, passing COMMBOX_ALLOW_OPEN_DASHBOARD="false").
        env = {"COMMBOX_ALLOW_OPEN_DASHBOARD": "true"} | env
        for name, value in env.items():
            clean_env.setenv(name, value)
        app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run()
        if page:
            app.switch_page(page).run()
        assert_no_exception(app)
        return app

    return start


@pytest.fixture
def downloads(monkeypatch) -> Callable:
    """download(button) -> the bytes a click would download (AppTest keeps only their URL)."""
    stored: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def remember(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        stored[file_id] = path_or_data if isinstance(path_or_data, bytes) else Path(path_or_data).read_bytes()
        return file_id

    deferred: dict[str, Callable] = {}  # file id -> what Streamlit calls when the button is clicked
    original_deferred = MediaFileManager.add_deferred

    def remember_deferred(self, data_callable, *args, **kwargs):
        file_id = original_deferred(self, data_callable, *args, **kwargs)
        deferred[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", remember)
    monkeypatch.setattr(MediaFileManager, "add_deferred", remember_deferred)

    def content(button) -> bytes:
        if button.proto.deferred_file_id:  # built on the click, as the browser's click would
            return deferred[button.proto.deferred_file_id]()
        file_id = button.proto.url.rsplit("/", 1)[-1].split(".", 1)[0]
        return stored[file_id]

    return content


def assert_no_exception(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]


def banner(app: AppTest) -> str:
    texts = [w.value for w in app.warning if "SANDBOX" in w.value]
    assert texts, "no SANDBOX banner on this page"
    return texts[0]


def sandbox_url(app: AppTest) -> str:
    text = banner(app)
    start = text.index("`http://") + 1
    return text[start : text.index("`", start)]


def everything_shown(app: AppTest) -> str:
    """Every text on the page, table cells included: to prove a secret is nowhere."""
    parts = [str(node.value) for kind in ("markdown", "caption", "title", "subheader", "warning", "error",
                                          "info", "success", "code", "text_input")
             for node in getattr(app, kind)]
    parts += [df.value.to_csv() for df in app.dataframe]
    parts += [str(node.value) for node in app.sidebar.markdown] + [str(node.value) for node in app.sidebar.caption]
    return "\n".join(parts)


def wait_for(job: Job, timeout: float = 30) -> Job:
    """Block until the run finishes (the job's thread ends), failing after `timeout`."""
    assert job.wait(timeout), f"run {job.id} did not finish within {timeout} s: {job.progress()}"
    return job


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def plain(markdown: str) -> str:
    """Shown text without the escapes that keep values from files and servers inert."""
    return markdown.replace("\\", "")
