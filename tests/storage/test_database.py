"""Choosing the store: a path or sqlite:/// URL is a SQLite file, a postgresql:// URL a shared
database (COMMBOX_DATABASE_URL for the dashboard and the redeem app); a wrong URL is said at
once, in one line, without its password."""

from __future__ import annotations

import subprocess
import sys
from contextlib import closing

import pytest

from commbox_core.config.settings import load_settings
from commbox_core.errors import ConfigError, ConsoleError
from commbox_core.service.console import Console
from commbox_core.storage.database import without_password
from commbox_core.storage.store import JobStore

from ..support import ROOT_DIR


def test_a_url_is_shown_without_its_password():
    assert without_password("postgresql://app:s3cret@db.internal:5433/commbox") == \
        "postgresql://app:***@db.internal:5433/commbox"
    assert without_password("postgresql://app@db/commbox") == "postgresql://app@db/commbox"


def test_an_unreachable_server_is_refused_at_once_without_the_password(refused_url):
    port = refused_url.rsplit(":", 1)[1]
    with pytest.raises(ConsoleError) as refused:
        JobStore(f"postgresql://app:s3cret@127.0.0.1:{port}/commbox")
    message = str(refused.value)
    assert message.startswith(f"cannot open the job store postgresql://app:***@127.0.0.1:{port}/commbox: ")
    assert "s3cret" not in message and "\n" not in message.strip()


def test_the_dashboards_store_follows_commbox_database_url(clean_env, postgres_server, tmp_path):
    url = postgres_server.new_database()
    clean_env.setenv("COMMBOX_DATABASE_URL", url)
    with Console.open(load_settings()) as console:
        assert console.store.location == url and console.store.path is None
    assert not list(tmp_path.rglob("*.sqlite3"))  # no SQLite file was made beside it
    clean_env.delenv("COMMBOX_DATABASE_URL")
    with Console.open(load_settings()) as console:
        assert console.store.path == tmp_path / "data" / "console.sqlite3"


def test_a_database_url_of_another_kind_is_a_clear_setting_error(clean_env):
    clean_env.setenv("COMMBOX_DATABASE_URL", "mysql://app@db/commbox")
    with pytest.raises(ConfigError, match="COMMBOX_DATABASE_URL.*postgresql://"):
        load_settings()


def test_the_cli_takes_a_postgresql_url_for_db(postgres_server, tmp_path):
    url = postgres_server.new_database()
    (tmp_path / "c.csv").write_text("uniqueId\n000123\n+44 20 7946 0000\n", encoding="utf-8")
    env = {"PYTHONPATH": str(ROOT_DIR), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    bulk = subprocess.run([sys.executable, "-m", "commbox_core", "bulk", "c.csv", "--kind", "customer", "--sandbox",
                           "--out", "out", "--db", url, "--quiet"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert bulk.returncode == 0, bulk.stderr
    job_id = bulk.stdout.splitlines()[0].removeprefix("job ")
    shown = subprocess.run([sys.executable, "-m", "commbox_core", "jobs", "--db", url, "show", job_id], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert job_id in shown.stdout and "done" in shown.stdout
    with closing(JobStore(url)) as store:
        assert [row.input for row in store.rows(job_id)] == [["000123"], ["+44 20 7946 0000"]]  # as given


def test_jobs_migrate_copies_a_sqlite_store_into_postgresql_row_for_row(sandbox, postgres_server, open_store,
                                                                         tmp_path):
    from commbox_core.fields import Kind
    from commbox_core.invitations.options import InvitationOptions
    from commbox_core.tickets.plan import RunPlan
    from commbox_core.tickets.request import RowDefaults, build_request

    source, people = tmp_path / "console.sqlite3", tmp_path / "people.csv"
    people.write_text("uniqueId,phone1\n000123,+44 20 7946 0000\nx2,not a phone\n", encoding="utf-8")
    defaults = RowDefaults(brand="demo", channel_id="demo-channel")
    with Console.open(sandbox.settings(public_url="http://127.0.0.1:9"), db=source, user="ann@example.com") as console:
        upload = console.read_file(people)
        plan = RunPlan(console.match_columns(upload.table, Kind.CUSTOMER).mapping, defaults)
        console.start_run(upload.table, console.prepare(upload.table, Kind.CUSTOMER, plan), Kind.CUSTOMER,
                          plan).wait()
        request, _ = build_request({"username": "john.d"}, Kind.AGENT, defaults)
        console.issue_ticket(request)
        console.invitations.issue_one(request, InvitationOptions())
    target = postgres_server.new_database()
    env = {"PYTHONPATH": str(ROOT_DIR), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    moved = subprocess.run([sys.executable, "-m", "commbox_core", "jobs", "migrate", "--from", f"sqlite:///{source}",
                            "--to", target], env=env, capture_output=True, text=True, timeout=120)
    assert moved.returncode == 0, moved.stderr
    assert "checked row for row" in moved.stderr
    copied, original = open_store(target), open_store(source)
    for table in ("jobs", "job_rows", "invitations", "audit"):
        mine = sorted(tuple(row) for row in original.query(f"SELECT * FROM {table}"))
        assert mine == sorted(tuple(row) for row in copied.query(f"SELECT * FROM {table}")), table
    again = subprocess.run([sys.executable, "-m", "commbox_core", "jobs", "migrate", "--from", str(source),
                            "--to", target], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "is not empty" in again.stderr and "Traceback" not in again.stderr


SWITCH_OUT_OF_WAL = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0.2)
try:
    print(conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0])
except sqlite3.OperationalError as exc:
    print(exc)
"""


def test_a_second_store_on_the_same_file_leaves_the_first_ones_locks_in_place(tmp_path):
    """Closing any descriptor of a file drops every POSIX lock the process holds on it: a second
    store that opened and closed the file let another process take it from under the first one's
    reader (seen as "database disk image is malformed")."""
    path = tmp_path / "console.sqlite3"
    with closing(JobStore(path)) as first, first.database.connection() as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM jobs").fetchone()  # a read under way: a lock held
        with closing(JobStore(path)):
            pass
        other = subprocess.run([sys.executable, "-c", SWITCH_OUT_OF_WAL, str(path)], capture_output=True, text=True,
                               timeout=60)
        assert other.stdout.strip() == "database is locked", other.stdout + other.stderr
        reader.execute("COMMIT")
    with closing(JobStore(path)) as again:
        assert again.jobs(10) == []  # the file is whole, and still in WAL
        with again.database.connection() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
