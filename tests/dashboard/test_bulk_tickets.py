"""Bulk tickets page, through AppTest against the dashboard's own sandbox: upload, matching,
preview and edits, the run, its tables and files, retry and re-issue."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import openpyxl
import requests

from commbox_core.errors import ConsoleError
from commbox_core.outputs.wording import counted
from commbox_core.runs.results import expired_rows
from commbox_core.service.jobs import Job
from commbox_core.service.manager import JobManager
from commbox_core.vocabulary import ErrorCode
from ui.backend import SESSION_OVERRIDES, job_manager

from ..support import wait_until
from .helpers import (  # noqa: F401 - fixtures
    assert_no_exception,
    downloads,
    new_app,
    plain,
    read_csv,
    sandbox_url,
    wait_for,
)

BULK = "app_pages/bulk_tickets.py"

AGENTS = (
    "brand,username,email,phone1,firstName,lastName\n"
    "demo,john.d,john.d@gmail.com,+44 2501 234567,John,Doe\n"  # 1 ok
    "demo,maria.g,,,María,García\n"  # 2 ok
    "demo,ghost.agent,,,Ghost,Agent\n"  # 3 not on record: 404
    "demo,,someone@example.com,,No,Username\n"  # 4 invalid: no username
    "demo,sam.t,sam.taylor@,,Sam,Typo\n"  # 5 invalid e-mail
).encode()

CUSTOMERS = (
    "Customer ID;E-mail;Mobile;First;Last\n"
    "000123;dana.levi@example.co.il;+972 54 123 4567;Dana;Levi\n"
    "C-9001;;;Jing;Chen\n"
    ";;;Nobody;Here\n"
).encode()


def upload(app, data: bytes, name: str = "people.csv"):
    app.file_uploader(key="bulk_upload").set_value((name, data, "text/csv")).run()
    assert_no_exception(app)
    return app


def metrics(app) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def start_and_finish(app):
    app.button(key="bulk_start").click().run()
    assert_no_exception(app)
    job = job_manager().get(app.query_params["job"])
    assert job is not None, "the page did not keep the run's id in ?job="
    wait_for(job)
    app.run()
    assert_no_exception(app)
    return job


def tables(app):
    """(success table, error table) as shown, found by their columns."""
    success = next(df.value for df in app.dataframe if "url" in df.value.columns)
    errors = next(df.value for df in app.dataframe if "error_code" in df.value.columns and "retry" in df.value.columns)
    return success, errors


def test_agents_run_shows_tables_and_downloads_links_the_sandbox_accepts(new_app, downloads):
    app = upload(new_app(BULK), AGENTS, "agents.csv")
    assert metrics(app) == {"Rows": "5", "Valid": "3", "Invalid": "2", "Edited": "0"}
    preview = app.data_editor[0].value
    assert list(preview.index) == [4, 5]  # invalid rows first, by row number
    assert "username" in preview.loc[4, "reason"] and "sam.taylor@" in preview.loc[5, "reason"]

    job = start_and_finish(app)
    assert job.status == "done" and job.kind == "agent"
    assert any("2 of 5 rows got a ticket; 3 failed" in w.value for w in app.warning)

    success, errors = tables(app)
    assert list(success["row"]) == [1, 2] and list(success["subject"]) == ["john.d", "maria.g"]
    assert all(0 < s <= 60 for s in success["seconds_left"])
    assert dict(zip(errors["row"], errors["error_code"])) == {3: "not_found", 4: "invalid", 5: "invalid"}
    assert "not found" in errors.set_index("row").loc[3, "reason"]
    assert not errors.to_csv().count("ta=")  # no link in the error table

    buttons = {b.label: b for b in app.get("download_button")}
    success_rows = read_csv(downloads(buttons["success.csv"]))
    assert [r["username"] for r in success_rows] == ["john.d", "maria.g"]
    page = requests.get(success_rows[0]["url"], timeout=5)
    assert page.status_code == 200 and 'data-testid="sandbox-login-ok"' in page.text
    error_rows = read_csv(downloads(buttons["errors.csv"]))
    assert [(r["row"], r["error_code"]) for r in error_rows] == [("3", "not_found"), ("4", "invalid"), ("5", "invalid")]
    assert "ta=" not in downloads(buttons["errors.csv"]).decode("utf-8-sig")
    job = job_manager().get(app.query_params["job"])
    assert not job.outputs.built("results.xlsx")  # the slow workbook waits for its click
    workbook = openpyxl.load_workbook(io.BytesIO(downloads(buttons["results.xlsx"])))
    assert workbook.sheetnames == ["Success", "Errors"] and workbook["Success"].max_row == 3


def test_customers_with_other_column_names_are_matched_and_get_chat_links(new_app, downloads):
    app = new_app(BULK)
    app.segmented_control(key="bulk_kind").set_value("customer").run()
    upload(app, CUSTOMERS, "customers.csv")
    mapped = {s.label: s.value for s in app.selectbox}
    assert mapped["Unique ID"] == "Customer ID" and mapped["Email"] == "E-mail" and mapped["Phone"] == "Mobile"
    assert metrics(app)["Invalid"] == "1"  # row 3 names nobody

    job = start_and_finish(app)
    assert job.kind == "customer"
    success, errors = tables(app)
    assert list(success["subject"]) == ["000123", "C-9001"]
    assert all("/chat/" in url for url in success["url"])
    assert list(errors["row"]) == [3]
    url = read_csv(downloads(next(b for b in app.get("download_button") if b.label == "success.csv")))[0]["url"]
    assert requests.get(url, timeout=5).status_code == 200


def test_unmatched_required_column_is_explained_then_fixed_with_a_select_box(new_app):
    data = b"Brand,Agent Login,Mail\ndemo,john.d,john.d@gmail.com\n"
    app = upload(new_app(BULK), data)
    assert any("needs a column for Username" in plain(e.value) for e in app.error)
    assert not app.data_editor  # no preview until the columns are usable
    app.selectbox(key=next(s.key for s in app.selectbox if s.label.startswith("Username"))).set_value("Agent Login").run()
    assert_no_exception(app)
    assert not app.error
    assert metrics(app)["Valid"] == "1"


def test_unreadable_upload_shows_the_reason_not_a_traceback(new_app):
    app = upload(new_app(BULK), b"PK\x03\x04xl/workbook.xml" + bytes(100), "agents.xlsx")
    assert any("Excel workbook" in plain(e.value) for e in app.error)
    app = upload(app, b"", "empty.csv")
    assert any("is empty" in plain(e.value) for e in app.error)


def test_an_excel_workbook_is_read_sheet_by_sheet_with_its_cells_as_excel_shows_them(new_app):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Agents"
    book.active.append(["brand", "username"])
    book.active.append(["demo", "john.d"])
    customers = book.create_sheet("Customers")
    for row in (["uniqueId", "phone1"], ["000123", "+44 20 7946 0123"], [124, None]):
        customers.append(row)
    customers["A3"].number_format = "000000"
    buffer = io.BytesIO()
    book.save(buffer)
    app = upload(new_app(BULK), buffer.getvalue(), "people.xlsx")
    assert app.selectbox(key="bulk_sheet").value == "Agents"
    assert any("Excel sheet “Agents”" in c.value for c in app.caption)
    assert metrics(app)["Valid"] == "1"
    app.segmented_control(key="bulk_kind").set_value("customer").run()
    app.selectbox(key="bulk_sheet").set_value("Customers").run()
    assert_no_exception(app)
    preview = app.data_editor[0].value
    assert list(preview["uniqueId"]) == ["000123", "000124"] and preview["phone1"].iloc[0] == "+44 20 7946 0123"
    assert metrics(app)["Valid"] == "2"


def test_edit_in_the_preview_fixes_a_row_before_sending(new_app):
    app = upload(new_app(BULK), AGENTS)
    editor = app.data_editor[0]
    assert list(editor.value.index) == [4, 5]
    app.session_state[editor.key] = {
        "edited_rows": {"1": {"email": "sam.taylor@example.com"}}, "added_rows": [], "deleted_rows": [],
    }
    app.run()
    assert_no_exception(app)
    assert metrics(app) == {"Rows": "5", "Valid": "4", "Invalid": "1", "Edited": "1"}
    job = start_and_finish(app)
    ok_rows = {r.row for r in job.results() if r.ok}
    assert ok_rows == {1, 2, 5}  # row 5 went out with the edited e-mail and matched the record


def test_run_is_found_again_by_its_id_after_the_session_is_gone(new_app):
    app = upload(new_app(BULK), AGENTS)
    job = start_and_finish(app)
    fresh = new_app()  # a new session, as after a refresh: only the URL's ?job= remains
    fresh.query_params["job"] = job.id
    fresh.switch_page(BULK).run()
    assert_no_exception(fresh)
    assert any(job.id in c.value for c in fresh.caption)
    assert tables(fresh)[0]["subject"].tolist() == ["john.d", "maria.g"]

    fresh.switch_page("app_pages/history.py").run()
    fresh.query_params.clear()  # a page switch in the browser drops the URL's query parameters
    fresh.switch_page(BULK).run()
    assert any(job.id in c.value for c in fresh.caption)  # the session remembers the run
    assert fresh.query_params["job"] == job.id  # and puts it back in the URL


def test_unknown_run_id_is_explained(new_app):
    app = new_app()
    app.query_params["job"] = "nosuchrun"
    app.switch_page(BULK).run()
    assert_no_exception(app)
    assert any("not known to this server" in w.value for w in app.warning)


def test_retry_failed_rows_and_reissue_expired_links(new_app):
    app = new_app(BULK)
    app.session_state[SESSION_OVERRIDES] = {"agent_ttl": 1, "max_retries": 0}  # quick 5xx, quick expiry
    url = sandbox_url(app)
    requests.post(f"{url}/_sandbox/config", json={"error_rate": 1.0}, timeout=5).raise_for_status()
    try:
        upload(app, AGENTS)
        first = start_and_finish(app)
    finally:
        requests.post(f"{url}/_sandbox/config", json={"error_rate": 0.0}, timeout=5).raise_for_status()
    assert {r.row for r in first.results() if r.error_code == "server_error"} == {1, 2, 3}
    retry = app.button(key=f"retry_{first.id}")
    assert retry.label == "Retry failed rows (3)"
    retry.click().run()
    second = job_manager().get(app.query_params["job"])
    assert second.parent_id == first.id and second.purpose == "retry"
    wait_for(second)
    app.run()
    assert {r.row for r in second.results() if r.ok} == {1, 2}
    # The retry's page shows the upload: every row at its latest outcome (row 3 now a 404, 4 and 5 invalid).
    assert any("2 of 5 rows of this upload have a ticket; 3 failed" in w.value for w in app.warning)
    assert app.button(key=f"retry_{first.id}").label == "Retry failed rows (0)"  # row 3's latest is a 404
    assert [e.label for e in app.expander if e.label.startswith("Fix and resend")] == [
        "Fix and resend rows that need an edit (3)"]

    wait_until(lambda: len(expired_rows(second.results(), datetime.now(UTC))) == 2, timeout=5)
    app.run()
    reissue = app.button(key=f"reissue_{first.id}")
    assert reissue.label == "Re-issue expired links (2)"
    reissue.click().run()
    third = wait_for(job_manager().get(app.query_params["job"]))
    assert (third.purpose, third.parent_id) == ("reissue", first.id)  # follow-ups hang off the first run
    assert {r.row for r in third.results() if r.ok} == {1, 2}


def test_a_refused_reissue_stays_said_until_the_next_click(new_app, monkeypatch):
    """The button lives in a fragment that reruns on a timer: a message shown once would vanish
    within seconds, before anyone read it."""
    app = new_app(BULK)
    app.session_state[SESSION_OVERRIDES] = {"agent_ttl": 1}
    upload(app, AGENTS)
    job = start_and_finish(app)
    wait_until(lambda: len(expired_rows(job.results(), datetime.now(UTC))) == 2, timeout=5)
    app.run()

    def refuse(*args, **kwargs):
        raise ConsoleError("the tenant's settings changed: check Settings")

    monkeypatch.setattr(JobManager, "reissue_expired", refuse)
    app.button(key=f"reissue_{job.id}").click().run()
    assert_no_exception(app)
    said = ["the tenant's settings changed: check Settings" in plain(e.value) for e in app.error]
    assert said.count(True) == 1
    app.run()  # what the fragment's timer does, and any other widget
    assert ["the tenant's settings changed: check Settings" in plain(e.value) for e in app.error].count(True) == 1
    monkeypatch.undo()
    app.button(key=f"reissue_{job.id}").click().run()  # accepted now: the message goes
    assert not any("settings changed" in plain(e.value) for e in app.error)
    assert job_manager().get(app.query_params["job"]).purpose == "reissue"


def test_fix_and_resend_a_row_the_tenant_did_not_find(new_app):
    app = upload(new_app(BULK), AGENTS)
    job = start_and_finish(app)
    store = f"fix_edits_{job.id}"
    editor = next(e for e in app.data_editor if e.key.startswith(store))
    assert list(editor.value.index) == [3, 4, 5]
    app.session_state[editor.key] = {"edited_rows": {"0": {"username": "li.wei"}}, "added_rows": [], "deleted_rows": []}
    app.run()
    resend = app.button(key=f"resend_{job.id}")
    assert resend.label == "Resend edited rows (1)"
    resend.click().run()
    child = wait_for(job_manager().get(app.query_params["job"]))
    assert child.parent_id == job.id and [(r.row, r.ok) for r in child.results()] == [(3, True)]


def test_a_follow_up_that_ends_as_its_page_is_drawn_still_shows_the_whole_upload(new_app):
    """Seen in CI: the page read "not finished", then "finished" further down, and drew the
    follow-up alone, with no timer left to rerun it into the upload's view."""
    app = upload(new_app(BULK), AGENTS)
    job = start_and_finish(app)
    editor = next(e for e in app.data_editor if e.key.startswith(f"fix_edits_{job.id}"))
    app.session_state[editor.key] = {"edited_rows": {"0": {"username": "li.wei"}}, "added_rows": [], "deleted_rows": []}
    app.run()
    app.button(key=f"resend_{job.id}").click().run()
    child = wait_for(job_manager().get(app.query_params["job"]))

    class EndingAsDrawn(Job):
        @property
        def finished(self) -> bool:  # unfinished at the first look, finished from then on
            self.__class__ = Job
            return False

    child.__class__ = EndingAsDrawn
    app.run()
    assert_no_exception(app)
    shown = [e.value for e in [*app.warning, *app.success, *app.info]]
    assert not any("the one row got a ticket" in text for text in shown)  # the follow-up alone
    app.run()  # what the progress fragment's rerun does
    assert any("rows of this upload have a ticket" in e.value for e in [*app.warning, *app.success])


def test_a_downloaded_template_uploads_and_runs_as_it_is(new_app, downloads):
    app = new_app(BULK)
    template = downloads(app.get("download_button")[0])  # the agents template
    assert template.decode("utf-8-sig").startswith("brand,username,email,phone1")
    upload(app, template, "agents-template.csv")
    assert metrics(app)["Invalid"] == "0"
    job = start_and_finish(app)
    assert job.status == "done" and all(r.ok for r in job.results())


def test_cancel_stops_a_run_and_leaves_the_rest_unsent(new_app):
    app = new_app(BULK)
    url = sandbox_url(app)
    requests.post(f"{url}/_sandbox/config", json={"latency_ms": 100}, timeout=5).raise_for_status()
    try:
        upload(app, b"brand,username\n" + b"demo,john.d\n" * 200)
        app.button(key="bulk_start").click().run()
        job = job_manager().get(app.query_params["job"])
        assert any(" of 200 rows" in bar.proto.text for bar in app.get("progress"))
        wait_until(lambda: job.progress().done > 0, timeout=10)  # some rows sent, on a busy machine too
        other_tab = new_app(BULK)  # a new tab on Bulk tickets shows the run going on, and opens it
        assert any(job.id in i.value and "is going on" in i.value for i in other_tab.info)
        other_tab.button(key=f"open_going_{job.id}").click().run()
        assert other_tab.query_params["job"] == job.id and other_tab.get("progress")
        app.button(key=f"cancel_{job.id}").click().run()
        wait_for(job)
    finally:
        requests.post(f"{url}/_sandbox/config", json={"latency_ms": 0}, timeout=5).raise_for_status()
    app.run()
    assert job.status == "cancelled"
    assert any("Cancelled" in w.value for w in app.warning)
    unsent = [r for r in job.results() if r.error_code == "not_attempted"]
    assert unsent and len(unsent) < 200
    # Rows never sent are not failures: counted apart, and said so (it read "Failed 7,755").
    assert metrics(app)["Failed"] == "0" and metrics(app)["Not sent"] == f"{len(unsent):,}"
    assert any(f"{counted(len(unsent), 'row')} never sent" in w.value for w in app.warning)
    assert app.button(key=f"retry_{job.id}").label == f"Retry failed rows ({len(unsent)})"


def test_text_from_the_file_is_shown_inert(new_app):
    data = b"brand,username,[click](https://evil.example) **bold**\ndemo,john.d,x\n"
    app = upload(new_app(BULK), data, "<b>agents</b>.csv")
    caption = next(c.value for c in app.caption if "Not sent" in c.value)
    assert "\\[click\\]\\(https" in caption and "\\*\\*bold\\*\\*" in caption
    assert "[click](" not in caption


def test_a_big_file_is_previewed_a_page_at_a_time_and_runs_whole(new_app, downloads):
    """3,000 rows stand for 50,000: the grid never holds more than a page, edits on a later page
    count, and every valid row is run and exported with its id as written."""
    lines = ["Customer ID,E-mail,First"]
    for n in range(1, 3001):
        email = "broken@" if n % 12 == 0 else f"c{n}@example.com"  # 250 invalid rows
        lines.append(f"{n:06d},{email},Name {n}")
    app = new_app(BULK)
    app.segmented_control(key="bulk_kind").set_value("customer").run()
    upload(app, "\n".join(lines).encode(), "big.csv")
    assert metrics(app) == {"Rows": "3,000", "Valid": "2,750", "Invalid": "250", "Edited": "0"}
    assert list(app.data_editor[0].value.index) == list(range(12, 1201, 12))  # the first 100 invalid rows
    page = next(n for n in app.number_input if n.label.startswith("Page"))
    assert page.label == "Page (of 3, 100 rows each)"

    page.set_value(3).run()
    assert_no_exception(app)
    editor = app.data_editor[0]
    assert list(editor.value.index) == list(range(2412, 3001, 12))  # the last 50
    app.session_state[editor.key] = {
        "edited_rows": {"0": {"E-mail": "fixed@example.com"}}, "added_rows": [], "deleted_rows": [],
    }
    app.run()
    assert_no_exception(app)
    assert metrics(app) == {"Rows": "3,000", "Valid": "2,751", "Invalid": "249", "Edited": "1"}

    app.button(key="bulk_start").click().run()
    job = job_manager().get(app.query_params["job"])
    wait_for(job, timeout=120)
    app.run()
    assert_no_exception(app)
    assert any(tab.label == "Links (2,751)" for tab in app.tabs)
    buttons = {b.label: b for b in app.get("download_button")}
    sent = read_csv(downloads(buttons["success.csv"]))
    assert len(sent) == 2751 and sent[0]["Customer ID"] == "000001"
    assert "002412" in {row["Customer ID"] for row in sent}  # the row fixed on page 3


def test_an_unreachable_api_stops_the_run_with_a_message_that_says_what_to_check(new_app, refused_url):
    app = new_app(BULK, COMMBOX_API_URL=refused_url, COMMBOX_API_KEY="some-key", COMMBOX_MAX_RETRIES="0")
    agents = "brand,username\n" + "".join(f"demo,agent{n}\n" for n in range(40))
    upload(app, agents.encode(), "agents.csv")
    job = start_and_finish(app)
    assert job.status == "unreachable"
    assert any("could not be reached" in plain(e.value) and "Retry failed rows" in plain(e.value) for e in app.error)
    codes = {r.error_code for r in job.results()}
    assert codes == {ErrorCode.NETWORK, ErrorCode.NOT_ATTEMPTED}


def test_counts_agree_with_their_words(new_app):
    app = upload(new_app(BULK), b"username,email\njohn.d,john.d@gmail.com\njohn.d,john.d@gmail.com\n\"broken,\n")
    warnings = " ".join(plain(w.value) for w in app.warning)
    assert "1 row is malformed" in warnings and "1 row names a person an earlier row already names: row 2" in warnings
    assert app.button(key="bulk_start").label == "Issue 2 tickets"
    one = upload(new_app(BULK), b"username\njohn.d\n")
    assert one.button(key="bulk_start").label == "Issue 1 ticket"


def test_a_mapping_confirmed_once_is_offered_for_the_next_file_with_the_same_headers(new_app):
    layout = b"Wer,Adresse\njohn.d,john.d@gmail.com\n"
    first = upload(new_app(BULK), layout)
    [who] = [box for box in first.selectbox if box.label.startswith("Username")]
    assert who.value is None  # the console cannot tell from "Wer"
    who.select("Wer").run()
    [mail] = [box for box in first.selectbox if box.label == "Email"]
    mail.select("Adresse").run()
    wait_for(start_and_finish(first))

    second = upload(new_app(BULK), b"Wer,Adresse\nmaria.g,\n", name="next-week.csv")
    assert [box.value for box in second.selectbox if box.label.startswith("Username")] == ["Wer"]
    assert [box.value for box in second.selectbox if box.label == "Email"] == ["Adresse"]
    assert any("Matched as in run" in plain(c.value) for c in second.caption)
    other = upload(new_app(BULK), b"Wer,Adresse,Extra\nmaria.g,,x\n", name="other.csv")
    assert not any("Matched as in run" in plain(c.value) for c in other.caption)
