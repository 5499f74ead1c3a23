"""The dashboard keeps the API key secret: in live mode, behind the password gate, against a
sandbox that knows a recognisable canary key, every page is visited, a single ticket and a bulk
run (with faults) are made, and everything shown, downloaded, logged or stored is searched.

Tokens may appear: showing the user the links they asked for is the point. The key may not.
"""

from __future__ import annotations

import logging

import pytest

import ui.gate
from commbox_core.config.passwords import AttemptLimiter, hash_password
from commbox_core.sandbox import SandboxConfig, SandboxServer
from ui.backend import job_manager

from ..support import ROOT_DIR, Sandbox, bytes_read_elsewhere
from .helpers import (  # noqa: F401
    assert_no_exception,
    downloads,
    everything_shown,
    new_app,
    wait_for,
)

ROOT = ROOT_DIR
KEY = "CANARY-DASH-KEY-3b9e61f0"
WRONG_KEY = "CANARY-DASH-WRONG-77c2"
PASSWORD = "canary admin password"


@pytest.fixture(scope="module")
def canary_sandbox():
    with SandboxServer(SandboxConfig(api_key=KEY, seed=7)) as server:
        yield Sandbox(server.url, KEY)


@pytest.fixture
def live_env(canary_sandbox, monkeypatch, tmp_path):
    monkeypatch.setattr(ui.gate, "attempt_limiter", AttemptLimiter())
    canary_sandbox.reset()
    yield canary_sandbox.env() | {
        "COMMBOX_ADMIN_PASSWORD_HASH": hash_password(PASSWORD, n=2**10),
        "COMMBOX_ALLOW_OPEN_DASHBOARD": "false",
        "COMMBOX_DATA_DIR": str(tmp_path / "data"),
    }
    canary_sandbox.reset()


def sign_in(app):
    app.text_input(key="gate_password").input(PASSWORD)
    next(b for b in app.button if "password" in str(b.label).lower()).click().run()
    assert_no_exception(app)
    assert app.session_state[ui.gate.CURRENT_USER] == "admin"


def shown_and_downloaded(app, downloads) -> str:
    parts = [everything_shown(app)]
    parts += [str(node.proto) for node in app.get("link_button")]
    parts += [str(node.proto) for node in app.get("progress")]
    for button in app.get("download_button"):
        parts.append(downloads(button).decode("utf-8", "replace") if button.proto.url else "")
    parts += [str(exception.value) for exception in app.exception]
    parts += [str(toast.value) for toast in app.toast]
    return "\n".join(parts)


def test_the_key_is_never_shown_downloaded_logged_or_stored(new_app, live_env, canary_sandbox, downloads,
                                                           caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    app = new_app(**live_env)
    seen.append(shown_and_downloaded(app, downloads))  # the sign-in screen
    sign_in(app)
    app.button(key="check_connection").click().run()
    seen.append(shown_and_downloaded(app, downloads))

    app.switch_page("app_pages/single_ticket.py").run()
    app.text_input(key="single_agent_username").set_value("john.d")
    next(b for b in app.button if b.label == "Issue ticket").click().run()
    assert app.code and "?ta=" in app.code[0].value  # a ticket was really issued
    seen.append(shown_and_downloaded(app, downloads))
    app.text_input(key="single_agent_username").set_value("ghost")
    next(b for b in app.button if b.label == "Issue ticket").click().run()
    seen.append(shown_and_downloaded(app, downloads))

    canary_sandbox.configure(error_rate=0.2, drop_rate=0.1, html_rate=0.1, malformed_rate=0.1, no_token_rate=0.1)
    app.switch_page("app_pages/bulk_tickets.py").run()
    app.file_uploader(key="bulk_upload").set_value(
        ("agents.csv", (ROOT / "examples" / "agents.csv").read_bytes(), "text/csv")).run()
    app.button(key="bulk_start").click().run()
    assert_no_exception(app)
    job = wait_for(job_manager().get(app.query_params["job"]))
    app.run()
    assert job.results()
    seen.append(shown_and_downloaded(app, downloads))
    canary_sandbox.configure(error_rate=0, drop_rate=0, html_rate=0, malformed_rate=0, no_token_rate=0)

    for page in ("app_pages/history.py", "app_pages/settings.py", "app_pages/home.py"):
        app.switch_page(page).run()
        assert_no_exception(app)
        seen.append(shown_and_downloaded(app, downloads))

    text = "\n".join(seen) + caplog.text
    assert "CANARY-DASH" not in text
    assert "CAN…f0" in text  # the masked key: the live pages were really searched
    assert "api_key" in text or "COMMBOX_API_KEY" in text.replace("\\", "")  # the Settings page was searched
    # The job store is one per process (st.cache_resource): it may sit in an earlier test's folder.
    store = job_manager().store.path
    files = bytes_read_elsewhere([path for path in {*tmp_path.rglob("*"), *store.parent.glob(store.name + "*")}
                                  if path.is_file()])
    assert store in files and job.id.encode() in files[store] + b"".join(
        data for path, data in files.items() if path.name == store.name + "-wal")  # this run is in what was searched
    assert [path for path, data in files.items() if KEY.encode() in data] == []


def test_a_refused_key_is_not_echoed(new_app, live_env, downloads, caplog):
    caplog.set_level(logging.DEBUG)
    app = new_app(**live_env | {"COMMBOX_API_KEY": WRONG_KEY})
    sign_in(app)
    app.button(key="check_connection").click().run()
    text = shown_and_downloaded(app, downloads)
    assert "refused the API key" in text.replace("\\", "")
    assert "CANARY-DASH" not in text + caplog.text
