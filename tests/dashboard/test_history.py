"""History over the job store, through AppTest: a run cut short by another (dead) process shows
as interrupted and is resumed from History; the audit log lists single and bulk tickets."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys

import requests

from commbox_core.config.settings import load_settings
from commbox_core.fields import Kind
from commbox_core.service.manager import JobManager
from commbox_core.storage.store import JobStore
from commbox_core.tables.columns import match_columns
from commbox_core.tables.edits import apply_edits, rows_of
from commbox_core.tables.read import read_table
from commbox_core.tickets.prepare import prepare_rows
from commbox_core.tickets.request import RowDefaults
from ui.backend import embedded_sandbox, job_manager

from .helpers import (  # noqa: F401 - fixtures
    assert_no_exception,
    downloads,
    new_app,
    read_csv,
    sandbox_url,
    wait_for,
)


def _interrupted_run(app, count: int = 8, unanswered: int = 3, prefix: str = "h") -> str:
    """A run by another process of this host that died with `unanswered` rows never answered."""
    server = embedded_sandbox()
    settings = load_settings(environ={}, dotenv_path=None).for_sandbox(sandbox_url(app), server.api_key)
    text = "uniqueId,email\n" + "".join(f"{prefix}{n},{prefix}{n}@example.com\n" for n in range(1, count + 1))
    table = read_table(text.encode(), filename="cut-short.csv")
    mapping = match_columns(table.columns, Kind.CUSTOMER).mapping
    prepared = prepare_rows(table, mapping, Kind.CUSTOMER, RowDefaults(brand="demo", channel_id="demo-channel"))
    other = JobManager(JobStore(job_manager().store.path))
    job = other.start(settings, table, prepared, Kind.CUSTOMER, source_name="cut-short.csv", started_by="carol")
    wait_for(job)
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    with sqlite3.connect(job_manager().store.path) as conn:
        conn.execute("UPDATE jobs SET status='running', owner_pid=? WHERE id=?", (dead, job.id))
        conn.execute("UPDATE job_rows SET outcome=NULL, sent_at=NULL WHERE job_id=? AND row<=?",  # never sent
                     (job.id, unanswered))
    return job.id


def test_an_interrupted_run_is_resumed_from_history(new_app, downloads):
    app = new_app()
    job_id = _interrupted_run(app)
    before = requests.get(f"{sandbox_url(app)}/_sandbox/stats", timeout=5).json()["tickets_issued"]
    job_manager().store.mark_interrupted()  # what a restarted server does when it opens the store
    app.switch_page("app_pages/history.py").run()
    assert_no_exception(app)
    runs = next(df.value for df in app.dataframe if "run" in df.value.columns).set_index("run")
    assert runs.loc[job_id, "status"].startswith("interrupted") and runs.loc[job_id, "unsent"] == 3
    assert runs.loc[job_id, "started by"] == "carol"

    app.selectbox(key="history_run").set_value(job_id).run()
    outcomes = next(df.value for df in app.dataframe if "ok" in df.value.columns)
    assert outcomes["ok"].tolist() == [False] * 3 + [True] * 5
    assert outcomes["error_code"].tolist()[:3] == ["not_attempted"] * 3
    # Another process's run: its rows' own columns come from the store, as given.
    assert outcomes["uniqueId"].tolist() == [f"h{n}" for n in range(1, 9)] and outcomes["email"].iloc[0] == "h1@example.com"
    assert b"http" not in downloads(app.get("download_button")[0])

    app.button(key=f"resume_{job_id}").click().run()
    assert_no_exception(app)
    resumed = wait_for(job_manager().get(job_id))
    assert requests.get(f"{sandbox_url(app)}/_sandbox/stats", timeout=5).json()["tickets_issued"] - before == 3
    assert [r.row for r in resumed.results() if r.url] == [1, 2, 3]
    job_manager().store.flush()
    stored = job_manager().store.job(job_id)
    assert (stored.status, stored.succeeded, stored.unanswered) == ("done", 8, 0)


def test_audit_log_lists_single_and_bulk_tickets_with_filters(new_app, downloads):
    app = new_app()
    job_id = _interrupted_run(app, count=2, unanswered=0, prefix="audited")
    app.switch_page("app_pages/single_ticket.py").run()
    app.text_input(key="single_agent_username").set_value("john.d")
    next(b for b in app.button if b.label == "Issue ticket").click().run()
    assert_no_exception(app)
    job_manager().store.flush()

    app.switch_page("app_pages/history.py").run()
    audit = next(df.value for df in app.dataframe if "fingerprint" in df.value.columns)
    assert "john.d" in audit["subject"].tolist() and {"audited1", "audited2"} <= set(audit["subject"])
    single = audit[audit["subject"] == "john.d"].iloc[0]  # newest first; other tests asked for john.d too
    assert single["user"] == "sandbox" and single["kind"] == "agent" and len(single["fingerprint"]) == 16
    assert single["job_id"] == "" and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", single["at"])  # no None, no ISO
    assert set(audit.loc[audit["job_id"] == job_id, "user"]) == {"carol"}

    app.selectbox(key="audit_user").set_value("carol").run()
    app.text_input(key="audit_subject").set_value("AUDITED2").run()
    audit = next(df.value for df in app.dataframe if "fingerprint" in df.value.columns)
    assert audit["subject"].tolist() == ["audited2"]
    assert "1 matching entry." in [c.value for c in app.caption]
    exported = read_csv(downloads(next(b for b in app.get("download_button") if "every matching entry" in b.proto.label)))
    assert [line["subject"] for line in exported] == ["audited2"]
    assert not any("ta=" in value for line in exported for value in line.values())


def test_purge_forgets_the_rows_values(new_app):
    app = new_app()
    job_id = _interrupted_run(app, count=2, unanswered=0)
    job_manager().store.mark_interrupted()
    app.switch_page("app_pages/history.py").run()
    app.selectbox(key="history_run").set_value(job_id).run()
    app.button(key=f"purge_{job_id}").click().run()
    assert_no_exception(app)
    assert all(row.input is None for row in job_manager().store.rows(job_id))
    assert app.button(key=f"resume_{job_id}").disabled


def test_bulk_tickets_sends_a_stored_run_of_a_gone_process_to_history(new_app):
    app = new_app()
    job_id = _interrupted_run(app, count=2, unanswered=1, prefix="elsewhere")
    job_manager().store.mark_interrupted()
    app.query_params["job"] = job_id
    app.switch_page("app_pages/bulk_tickets.py").run()
    assert_no_exception(app)
    assert any(f"Run {job_id} is interrupted" in w.value for w in app.warning)


def test_a_resumed_run_in_progress_counts_the_rows_done_before(new_app):
    app = new_app()
    job_id = _interrupted_run(app, count=8, unanswered=3, prefix="counted")
    job_manager().store.mark_interrupted()
    config = f"{sandbox_url(app)}/_sandbox/config"
    requests.post(config, json={"latency_ms": 1500}, timeout=5).raise_for_status()
    try:
        app.switch_page("app_pages/history.py").run()
        app.selectbox(key="history_run").set_value(job_id).run()
        app.button(key=f"resume_{job_id}").click().run()
        assert_no_exception(app)
        job = job_manager().get(job_id)
        if not job.finished:  # the three rows left are still in flight: the five done before count
            assert {m.label: m.value for m in app.metric}["Succeeded"] == "5"
        wait_for(job)
    finally:
        requests.post(config, json={"latency_ms": 0}, timeout=5).raise_for_status()
    app.run()
    assert any("Done: all 8 rows got a ticket" in s.value for s in app.success)


def test_history_shows_a_runs_invitations_and_revokes_the_pending_ones(new_app):
    from commbox_core.invitations.options import InvitationOptions

    app = new_app()
    server = embedded_sandbox()
    settings = load_settings(environ={}, dotenv_path=None).for_sandbox(sandbox_url(app), server.api_key)
    table = read_table(b"username,firstName\njohn.d,John\nnoa.c,Noa\n", filename="agents.csv")
    prepared = prepare_rows(table, match_columns(table.columns, Kind.AGENT).mapping, Kind.AGENT,
                            RowDefaults(brand="demo"))
    job = job_manager().start(settings.replace(public_url="https://join.example.com"), table, prepared, Kind.AGENT,
                              source_name="agents.csv", started_by="dana", invitations=InvitationOptions())
    wait_for(job)
    app.switch_page("app_pages/history.py").run()
    app.selectbox(key="history_run").select(job.id).run()
    assert_no_exception(app)
    invitations = next(df.value for df in app.dataframe if "invitation_id" in df.value.columns)
    assert list(invitations["person"]) == ["john.d", "noa.c"] and set(invitations["state"]) == {"pending"}
    assert not any("ta=" in str(df.value.to_dict()) or "/invite/" in str(df.value.to_dict()) for df in app.dataframe)

    app.button(key=f"revoke_all_{job.id}").click().run()
    assert "2 invitations revoked." in [message.value for message in app.success]
    invitations = next(df.value for df in app.dataframe if "invitation_id" in df.value.columns)
    assert set(invitations["state"]) == {"revoked"}


def test_a_run_with_a_follow_up_shows_the_whole_uploads_outcomes_by_default(new_app, downloads):
    app = new_app()
    server = embedded_sandbox()
    settings = load_settings(environ={}, dotenv_path=None).for_sandbox(sandbox_url(app), server.api_key)
    table = read_table(b"uniqueId,email,note\nu1,u1@example.com,000123\nu2,not-an-email,second\n", filename="two.csv")
    mapping = match_columns(table.columns, Kind.CUSTOMER).mapping
    defaults = RowDefaults(brand="demo", channel_id="demo-channel")
    first = wait_for(job_manager().start(settings, table, prepare_rows(table, mapping, Kind.CUSTOMER, defaults),
                                         Kind.CUSTOMER, source_name="two.csv", started_by="carol"))
    fixed = apply_edits(table, {2: {"email": "u2@example.com"}})
    resent = wait_for(job_manager().resend(first, fixed, prepare_rows(rows_of(fixed, [2]), mapping, Kind.CUSTOMER,
                                                                      defaults), started_by="carol"))
    job_manager().store.flush()

    app.switch_page("app_pages/history.py").run()
    app.selectbox(key="history_run").set_value(first.id).run()
    assert_no_exception(app)
    outcomes = next(df.value for df in app.dataframe if "ok" in df.value.columns)
    assert outcomes[["row", "run", "ok", "email", "note"]].values.tolist() == [
        [1, first.id, True, "u1@example.com", "000123"], [2, resent.id, True, "u2@example.com", "second"]]
    assert app.get("download_button")[0].proto.label == "Download outcomes (CSV, no links)"

    app.segmented_control(key=f"history_scope_{first.id}").set_value("run").run()
    alone = next(df.value for df in app.dataframe if "ok" in df.value.columns)
    assert alone[["row", "ok", "error_code", "email"]].values.tolist() == [
        [1, True, "", "u1@example.com"], [2, False, "invalid", "not-an-email"]]


def test_a_big_runs_outcomes_show_its_failed_rows_first_and_the_file_has_every_row(new_app, downloads):
    app = new_app()
    job_id = _interrupted_run(app, count=1_003, unanswered=3, prefix="big")
    job_manager().store.mark_interrupted()
    app.switch_page("app_pages/history.py").run()
    app.selectbox(key="history_run").set_value(job_id).run()
    assert_no_exception(app)
    outcomes = next(df.value for df in app.dataframe if "ok" in df.value.columns)
    assert len(outcomes) == 1_000 and outcomes["ok"].tolist()[:4] == [False, False, False, True]
    assert ("1,000 of 1,003 rows shown: the 3 failed rows first, then the others in row order. The file below has "
            "every row.") in [caption.value for caption in app.caption]
    assert len(read_csv(downloads(app.get("download_button")[0]))) == 1_003


def test_a_run_going_in_this_server_shows_its_progress_and_can_be_cancelled_from_history(new_app):
    app = new_app()
    server = embedded_sandbox()
    settings = load_settings(environ={}, dotenv_path=None).for_sandbox(sandbox_url(app), server.api_key)
    settings = settings.replace(concurrency=1)
    text = "uniqueId,email\n" + "".join(f"live{n},live{n}@example.com\n" for n in range(1, 41))
    table = read_table(text.encode(), filename="live.csv")
    mapping = match_columns(table.columns, Kind.CUSTOMER).mapping
    prepared = prepare_rows(table, mapping, Kind.CUSTOMER, RowDefaults(brand="demo", channel_id="demo-channel"))
    config = f"{sandbox_url(app)}/_sandbox/config"
    requests.post(config, json={"latency_ms": 300}, timeout=5).raise_for_status()
    try:
        job = job_manager().start(settings, table, prepared, Kind.CUSTOMER, source_name="live.csv")
        app.switch_page("app_pages/history.py").run()
        app.selectbox(key="history_run").set_value(job.id).run()
        assert_no_exception(app)
        assert len(app.get("progress")) == 1 and "rows" in app.get("progress")[0].proto.text  # counts as they land
        app.button(key=f"cancel_{job.id}").click().run()
        wait_for(job)
    finally:
        requests.post(config, json={"latency_ms": 0}, timeout=5).raise_for_status()
    assert job.status == "cancelled" and job.not_sent() > 20
    job_manager().store.flush()
    with sqlite3.connect(job_manager().store.path) as conn:  # the store a moment behind, as it can be
        conn.execute("UPDATE jobs SET status='running' WHERE id=?", (job.id,))
    app.run()  # what the progress fragment's rerun does once the run has ended
    assert any(w.value.startswith("Cancelled.") for w in app.warning)
    assert next(df.value for df in app.dataframe if "ok" in df.value.columns)["row"].count() == 40
    [label] = [option for option in app.selectbox(key="history_run").options if job.id in option]
    assert " · cancelled · " in label  # this server's word, not the store's of a moment ago
    with sqlite3.connect(job_manager().store.path) as conn:
        conn.execute("UPDATE jobs SET status='cancelled' WHERE id=?", (job.id,))
