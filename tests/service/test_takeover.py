"""Runs that survive their server, on SQLite and on PostgreSQL: a `bulk` process is killed with
SIGKILL mid-run and a `worker` process finishes the run within the lease plus 5 s. The sandbox
counts every ticket request and every ticket per person: only rows in doubt (in flight at the
kill, at most one per worker) are sent twice, every row sent twice is one of them, and every row
ends once, with a ticket. Exactly: the excess requests are the requests of rows in doubt that had
reached the sandbox at the kill, one for one (the rows answered before it are never sent again).
The other rows in doubt were marked sent in the instant before the kill, their request not yet
out: mark-before-send cannot close that window, so in doubt = excess + those, counted here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from commbox_core.storage.sent_marks import AHEAD_PER_REQUEST
from commbox_core.storage.records import StoredJob

from ..support import ROOT_DIR, wait_until

ROWS, CONCURRENCY, LEASE_S = 2000, 8, 5
# In doubt after a kill: requests in flight, answers waiting for the commit that the next block of
# marks brings (a block and what was in flight), and up to two blocks of marks not yet sent.
MOST_IN_DOUBT = 2 * CONCURRENCY + 3 * AHEAD_PER_REQUEST * CONCURRENCY


def command_env(sandbox) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("COMMBOX_")}
    return env | sandbox.env() | {"PYTHONPATH": str(ROOT_DIR), "COMMBOX_LEASE_SECONDS": str(LEASE_S)}


def customers_file(folder: Path) -> Path:
    path = folder / "customers.csv"
    path.write_text("uniqueId,phone1\n" + "".join(f"k{n:05d},+44 20 7946 {n % 10000:04d}\n" for n in range(ROWS)),
                    encoding="utf-8")
    return path


def start_bulk(sandbox, env: dict[str, str], store_target: str, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """A `bulk` process of ROWS customers at 100 ms each, recording into the store; and its job id."""
    sandbox.configure(latency_ms=100)
    server = subprocess.Popen(
        [sys.executable, "-m", "commbox_core", "bulk", str(customers_file(tmp_path)), "--kind", "customer",
         "--concurrency", str(CONCURRENCY), "--db", store_target, "--out", str(tmp_path / "out"), "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return server, server.stdout.readline().strip().removeprefix("job ")


def test_a_killed_servers_run_is_taken_over_and_only_the_rows_in_doubt_are_sent_twice(
        sandbox, store_target, open_store, tmp_path):
    env = command_env(sandbox)
    server, job_id = start_bulk(sandbox, env, store_target, tmp_path)
    store = open_store(store_target)
    wait_until(lambda: store.job(job_id).succeeded >= 300, timeout=60)  # well into the run
    server.kill()  # SIGKILL: no goodbye, nothing flushed
    server.wait()
    # What the sandbox had received by then (once the requests it still held are done), and the
    # rows whose outcome the store had committed: every other request before the kill is a row's
    # in doubt (each row is sent once; the sandbox injects no faults here).
    reached_in_doubt = _when_quiet(sandbox) - _answered(store, job_id)
    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as log:
        worker = subprocess.Popen([sys.executable, "-m", "commbox_core", "worker", "--db", store_target,
                                   "--every", "0.5"], env=env, stderr=log)
    try:
        # Taken over within the lease plus 5 s (here at once: the dead process was on this host).
        wait_until(lambda: store.job(job_id).owner_pid == worker.pid, timeout=LEASE_S + 5, interval=0.1)
        finished: StoredJob = wait_until(lambda: _ended(store.job(job_id)), timeout=120, interval=0.2)
    finally:
        worker.terminate()
        worker.wait(10)
    stats = sandbox.stats()
    assert finished.status == "done" and (finished.succeeded, finished.failed, finished.unanswered) == (ROWS, 0, 0)
    assert ROWS <= stats["ticket_requests"] <= ROWS + finished.in_doubt
    rows = store.rows(job_id)
    assert [row.row for row in rows] == list(range(1, ROWS + 1)) and all(row.outcome == "ok" for row in rows)
    doubted = {f"k{row.row - 1:05d}" for row in rows if row.in_doubt}
    assert len(doubted) == finished.in_doubt <= MOST_IN_DOUBT
    issued_twice = {key.rsplit("=", 1)[1] for key, n in stats["issued_per_subject"].items() if n > 1}
    assert issued_twice <= doubted  # no row answered before the kill was sent again
    excess = stats["ticket_requests"] - ROWS
    assert excess == reached_in_doubt <= finished.in_doubt  # one for one
    said = worker_log.read_text()
    assert f"took over job {job_id}" in said and f"{finished.in_doubt} of them in doubt" in said


def _when_quiet(sandbox) -> int:
    """The sandbox's ticket requests once the count stops changing (those in its hands, done)."""
    seen = [-1]

    def settled():
        count = sandbox.stats()["ticket_requests"]
        same, seen[0] = count == seen[0], count
        return count if same else None

    return wait_until(settled, timeout=5, interval=0.25)


def _answered(store, job_id: str) -> int:
    return sum(1 for row in store.rows(job_id) if row.outcome is not None)


def _ended(job: StoredJob) -> StoredJob | None:
    return job if job.status not in ("running", "queued", "interrupted") else None


def test_a_run_is_followed_cancelled_and_exported_from_another_process(sandbox, store_target, open_store, tmp_path):
    env = command_env(sandbox)
    server, job_id = start_bulk(sandbox, env, store_target, tmp_path)
    store = open_store(store_target)
    wait_until(lambda: store.job(job_id).succeeded >= 100, timeout=60)

    def other(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "commbox_core", "jobs", "--db", store_target, *args], env=env,
                              capture_output=True, text=True, timeout=60)

    shown = other("show", job_id)
    assert shown.returncode == 0 and "status:                running" in shown.stdout  # followed from elsewhere
    asked = other("cancel", job_id)
    assert asked.returncode == 0, asked.stderr
    assert server.wait(30) == 130  # the run's own server stopped it, as for Ctrl-C there
    stopped = store.job(job_id)
    requests = sandbox.stats()["ticket_requests"]
    assert stopped.status == "cancelled" and stopped.cancel_requested_by == "cli"
    assert stopped.succeeded == requests < ROWS and stopped.failed == ROWS - requests
    assert {row.error_code for row in store.rows(job_id) if row.outcome == "failed"} == {"not_attempted"}
    exported = other("export", job_id, "--out", str(tmp_path / "elsewhere"))
    assert exported.returncode == 130  # a cancelled run, as its own server said
    assert (tmp_path / "elsewhere" / "errors.csv").read_text(encoding="utf-8-sig").count("not_attempted") == \
        ROWS - requests
    again = other("cancel", job_id)
    assert again.returncode == 2 and f"run {job_id} is not running" in again.stderr
