"""Home, Single ticket, History and Settings pages, through AppTest, with a real sandbox behind."""

from __future__ import annotations

import pytest
import requests
from streamlit.testing.v1 import AppTest

from commbox_core.storage.store import JobStore
from ui.backend import SESSION_OVERRIDES, job_manager

from .helpers import (  # noqa: F401 - fixtures
    APP,
    assert_no_exception,
    downloads,
    everything_shown,
    new_app,
    plain,
    read_csv,
    sandbox_url,
    wait_for,
)

PAGES = {
    "app_pages/home.py": "CommBox Ticket Console",
    "app_pages/single_ticket.py": "Single ticket",
    "app_pages/bulk_tickets.py": "Bulk tickets",
    "app_pages/history.py": "History",
    "app_pages/settings.py": "Settings",
}
SINGLE = "app_pages/single_ticket.py"
LIVE_KEY = "live-key-0123456789abcdef"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_with_its_title_and_the_sandbox_banner(new_app, page):
    app = new_app(page)
    assert [t.value for t in app.title] == [PAGES[page]]
    url = sandbox_url(app)
    assert url.startswith("http://127.0.0.1:")
    assert requests.get(f"{url}/_sandbox/stats", timeout=5).ok  # the banner names the running sandbox


def test_navigation_lists_every_page(new_app):
    app = new_app()
    for page in PAGES:
        app.switch_page(page).run()  # raises for a page st.navigation does not know
        assert_no_exception(app)


def test_home_connection_check_proves_url_and_key(new_app):
    app = new_app()
    app.button(key="check_connection").click().run()
    assert_no_exception(app)
    verdict = " ".join(plain(s.value) for s in app.success)
    assert "the API key works" in verdict and "404" in verdict


def test_home_connection_check_reports_a_wrong_key(new_app, sandbox_server):
    app = new_app(COMMBOX_API_URL=sandbox_server.url, COMMBOX_API_KEY="not-the-sandbox-key")
    assert not [w for w in app.warning if "SANDBOX" in w.value]  # live mode: no sandbox banner
    assert any("LIVE" in c.value and "not…ey" in c.value for c in app.caption)
    app.button(key="check_connection").click().run()
    assert any("refused the API key" in plain(e.value) and "401" in plain(e.value) for e in app.error)


def test_home_shows_the_default_brand_a_session_set_on_settings(new_app):
    app = new_app()
    app.session_state[SESSION_OVERRIDES] = {"brand": "acme-support"}
    app.run()
    assert "**Default brand:** acme\\-support" in " ".join(m.value for m in app.markdown)  # shown inert


def test_home_lists_the_latest_runs(new_app):
    app = new_app()
    job = _run_two_agents(app)
    app.switch_page("app_pages/home.py").run()
    assert any(job.id in df.value["run"].tolist() for df in app.dataframe if "run" in df.value.columns)


def test_invalid_configuration_is_a_page_not_a_traceback(new_app):
    app = new_app(COMMBOX_CONCURRENCY="many")
    assert [t.value for t in app.title] == ["Configuration problem"]
    assert any("COMMBOX_CONCURRENCY" in plain(e.value) for e in app.error)


# ---- Single ticket ------------------------------------------------------------------------------


def fill(app, kind: str, **values: str):
    for name, value in values.items():
        app.text_input(key=f"single_{kind}_{name}").set_value(value)
    return app


def submit(app):
    next(b for b in app.button if b.label == "Issue ticket").click().run()
    assert_no_exception(app)
    return app


def test_single_agent_ticket_gives_a_link_to_copy_and_open(new_app):
    app = new_app(SINGLE)
    fill(app, "agent", username="john.d", email="john.d@gmail.com")
    app.checkbox(key="single_agent_oneTimeUse").check()
    submit(app)
    assert any("Ticket issued for" in s.value and "john" in s.value for s in app.success)
    url = app.code[0].value
    assert url.startswith(sandbox_url(app) + "/login?ta=")
    assert app.get("link_button")[0].proto.url == url
    assert any("Expires in" in p.proto.text for p in app.get("progress"))
    first = requests.get(url, timeout=5)
    assert first.status_code == 200 and 'data-testid="sandbox-login-ok"' in first.text
    assert requests.get(url, timeout=5).status_code == 410  # one-time use: used up


def test_a_single_ticket_refused_says_its_cause_once_then_what_the_code_means(new_app):
    app = new_app(SINGLE)
    fill(app, "agent", username="ghost.agent")
    submit(app)
    error = next(e.value for e in app.error if "No ticket for" in e.value).replace("\\", "")  # markdown escapes
    assert error.startswith("No ticket for **ghost.agent**: Not Found: Agent ghost")  # CommBox's own words first
    assert error.count("not found") + error.count("Not Found") == 2 and "not_found" not in error  # no repeats
    assert any(c.value.startswith("`not_found`: no such brand or agent") for c in app.caption)
    assert not app.code  # no link


def test_single_customer_ticket_opens_a_chat(new_app):
    app = new_app(SINGLE)
    app.segmented_control(key="single_kind").set_value("customer").run()
    fill(app, "customer", uniqueId="C-42", firstName="Ada", lastName="Lovelace")
    submit(app)
    url = app.code[0].value
    assert "/chat/" in url
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and 'data-testid="sandbox-chat-ok"' in page.text


def test_single_ticket_field_error_is_shown_next_to_the_field_and_nothing_is_sent(new_app):
    app = new_app(SINGLE)
    before = requests.get(f"{sandbox_url(app)}/_sandbox/stats", timeout=5).json()["ticket_requests"]
    fill(app, "agent", username="john.d", email="john.d@", phone1="07700 900123")
    submit(app)
    messages = [plain(e.value) for e in app.error]
    assert any("john.d@" in m and "not a valid e" in m for m in messages)
    assert any("country code" in m for m in messages)
    assert not app.code
    after = requests.get(f"{sandbox_url(app)}/_sandbox/stats", timeout=5).json()["ticket_requests"]
    assert after == before


# ---- History ------------------------------------------------------------------------------------


def _run_two_agents(app):
    app.switch_page("app_pages/bulk_tickets.py").run()
    data = b"brand,username\ndemo,john.d\ndemo,ghost.agent\n"
    app.file_uploader(key="bulk_upload").set_value(("two.csv", data, "text/csv")).run()
    app.button(key="bulk_start").click().run()
    job = wait_for(job_manager().get(app.query_params["job"]))
    app.run()
    return job


def test_history_lists_the_run_and_its_outcomes_without_links(new_app, downloads):
    app = new_app()
    job = _run_two_agents(app)
    app.switch_page("app_pages/history.py").run()
    assert_no_exception(app)
    runs = next(df.value for df in app.dataframe if "run" in df.value.columns)
    line = runs.set_index("run").loc[job.id]
    assert (line["file"], line["status"], line["rows"], line["succeeded"], line["failed"]) == ("two.csv", "done", 2, 1, 1)

    app.selectbox(key="history_run").set_value(job.id).run()
    assert app.query_params["run"] == job.id
    outcomes = next(df.value for df in app.dataframe if "ok" in df.value.columns)
    columns = list(outcomes.columns)
    assert columns[:7] == ["row", "subject", "ok", "error_code", "error", "issued_at", "expires_at"]
    assert "username" in columns[7:]  # then the file's own columns, as given
    assert outcomes[["row", "subject", "ok", "error_code"]].values.tolist() == [
        [1, "john.d", True, ""], [2, "ghost.agent", False, "not_found"],
    ]
    data = downloads(app.get("download_button")[0])
    assert b"ta=" not in data and b"http" not in data
    lines = read_csv(data)
    assert [r["subject"] for r in lines] == ["john.d", "ghost.agent"] and "ghost.agent" in lines[1]["error"]


def test_history_without_runs_says_so(new_app, monkeypatch, tmp_path):
    monkeypatch.setattr(job_manager(), "list", lambda: [])
    monkeypatch.setattr(job_manager(), "store", JobStore(tmp_path / "empty.sqlite3"))  # History reads the store
    app = new_app("app_pages/history.py")
    assert any("No runs yet" in i.value for i in app.info)


# ---- Settings -----------------------------------------------------------------------------------


def settings_table(app):
    return next(df.value for df in app.dataframe if "setting" in df.value.columns).set_index("setting")


def test_settings_show_sources_and_mask_the_key(new_app, sandbox_server):
    app = new_app("app_pages/settings.py", COMMBOX_API_URL=sandbox_server.url, COMMBOX_API_KEY=LIVE_KEY,
                  COMMBOX_BRAND="demo")
    table = settings_table(app)
    assert table.loc["api_key", "value"] == "liv…ef" and table.loc["api_key", "source"] == "environment"
    assert table.loc["brand", "value"] == "demo" and table.loc["concurrency", "source"] == "default"
    assert LIVE_KEY not in everything_shown(app)


def test_settings_in_sandbox_mode_say_so(new_app):
    table = settings_table(new_app("app_pages/settings.py"))
    assert table.loc["api_url", "source"] == "sandbox" and table.loc["api_key", "value"] == "san…ey"


def test_settings_changed_for_the_session_only(new_app):
    app = new_app("app_pages/settings.py")
    app.number_input(key="set_concurrency").set_value(3)
    app.button(key="set_apply").click().run()
    assert_no_exception(app)
    table = settings_table(app)
    assert table.loc["concurrency", "value"] == "3" and table.loc["concurrency", "source"] == "session"
    other_session = new_app("app_pages/settings.py")
    assert settings_table(other_session).loc["concurrency", "value"] == "8"

    app.button(key="reset_overrides").click().run()
    assert settings_table(app).loc["concurrency", "source"] == "default"


def test_settings_refuse_an_invalid_change_with_the_reason(new_app, sandbox_server):
    app = new_app("app_pages/settings.py", COMMBOX_API_URL=sandbox_server.url, COMMBOX_API_KEY=LIVE_KEY)
    app.text_input(key="set_login_url").set_value("ftp://x")
    app.button(key="set_apply").click().run()
    assert any("COMMBOX_LOGIN_URL" in plain(e.value) for e in app.error)
    assert settings_table(app).loc["login_url", "source"] != "session"


def test_streamlit_secrets_configure_a_live_tenant(clean_env, sandbox_server):
    app = AppTest.from_file(APP, default_timeout=30)
    app.secrets["COMMBOX_API_URL"] = sandbox_server.url
    app.secrets["COMMBOX_API_KEY"] = sandbox_server.api_key
    app.secrets["COMMBOX_ALLOW_OPEN_DASHBOARD"] = True  # the gate is tests/dashboard/test_gate.py's subject
    app.run()
    assert_no_exception(app)
    assert not [w for w in app.warning if "SANDBOX" in w.value]
    app.button(key="check_connection").click().run()
    assert any("the API key works" in plain(s.value) for s in app.success)
    app.switch_page("app_pages/settings.py").run()
    table = settings_table(app)
    assert table.loc["api_key", "source"] == "secrets" and sandbox_server.api_key not in everything_shown(app)


def test_switching_kind_leaves_the_other_forms_answer_behind_and_customers_get_no_username(new_app):
    app = submit(fill(new_app(SINGLE), "agent", username="nobody.here"))
    assert app.error  # the agent's "not found"
    app.segmented_control(key="single_kind").set_value("customer").run()
    assert not app.error and not app.code
    labels = [box.label for box in app.text_input]
    assert "Unique ID" in " ".join(labels) and not any(label.startswith("Username") for label in labels)
