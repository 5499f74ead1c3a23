"""The child side of a run in its own process (see run_process.py):
`python -m commbox_core.service.run_child FD`, FD one end of a socket pair to the parent.

It reads a ChildRun, runs its rows as BulkRunner does in a thread (store marks before sending,
outcomes and audit entries as rows land, the tenant's shared limit), and sends the parent every
row's result in batches ten times a second with the progress, then the report (and results.xlsx,
when asked for, written by a helper process of its own: service/workbook_process.py). A "cancel"
from the parent cancels the run; the parent's end (it stopped, or was killed) ends this process
at once, leaving rows in flight in doubt, as a killed thread would.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import replace
from multiprocessing.connection import Connection

from commbox_core.api.client import CommBoxClient
from commbox_core.runs.results import RowResult
from commbox_core.runs.runner import BulkRunner
from commbox_core.service.batched import BatchedSender
from commbox_core.service.run_process import ChildRun
from commbox_core.service.sandbox_process import BACKGROUND_NICENESS
from commbox_core.service.tenant_link import TenantLink
from commbox_core.service.workbook_process import WorkbookProcess
from commbox_core.service.job_records import record_row
from commbox_core.storage.audit import CLI_USER
from commbox_core.storage.sent_marks import SentMarks
from commbox_core.storage.store import JobStore
from commbox_core.storage.tenants import TenantBoard
from commbox_core.tickets.links import LinkBuilder


class Outbox:
    """Results to send, in batches with the run's progress; other messages in between."""

    def __init__(self, connection: Connection, runner: BulkRunner):
        self._connection, self._runner = connection, runner
        self._sender = BatchedSender(self._deliver, "outbox")
        self.add = self._sender.add

    def start(self) -> Outbox:
        self._sender.start()
        return self

    def send(self, message: tuple) -> None:
        with self._sender.lock:
            self._connection.send(message)

    def stop(self) -> None:
        self._sender.stop()

    def _deliver(self, batch: list[RowResult]) -> None:
        self._connection.send(("results", self._runner.progress(), batch))


def _listen(connection: Connection, runner: BulkRunner) -> None:
    """Pass on a cancel; end this process when the parent's end closes (it is gone)."""
    try:
        while True:
            if connection.recv()[0] == "cancel":
                runner.cancel()
    except (EOFError, OSError):
        os._exit(3)  # noqa: SLF001 - no row after the parent: a new owner may take the run over


def run(connection: Connection, child: ChildRun) -> None:
    settings = child.settings
    store = JobStore(child.store, lease_s=settings.lease_seconds) if child.store else None
    client = CommBoxClient.from_settings(settings)
    runner = BulkRunner(client, LinkBuilder(settings), concurrency=settings.concurrency, rate_limit=settings.rate_limit)
    outbox = Outbox(connection, runner)
    stream = None
    if child.workbook is not None:
        from commbox_core.outputs.lines import carried_cells

        order = [p.row for p in child.rows]
        stream = WorkbookProcess(*carried_cells(child.workbook, order), order)
    requests = {p.row: p.request for p in child.rows if p.request is not None}

    def collect(result: RowResult) -> None:
        outbox.add(result)
        if stream is not None:
            stream.add(result)
        if store is not None:
            record_row(store, child.job_id, result, requests.get(result.row), user=child.started_by or CLI_USER,
                       tenant_host=settings.api_host, role=child.role)

    runner.on_result = collect
    link = None
    if store is not None:  # so that a crash leaves the rows in flight in doubt
        runner.before_send = SentMarks.of(store, child.job_id, child.rows, concurrency=settings.concurrency)
        link = TenantLink(TenantBoard(store), settings.api_host, child.job_id, runner.pacer).start()
    threading.Thread(target=_listen, args=(connection, runner), name="parent", daemon=True).start()
    outbox.start()
    # A run is batch work: the server's pages (people waiting) come first. Not before now: the
    # run's setup should not wait behind the page the click redraws. Linux keeps nice per thread:
    # this thread and the request workers it starts go below the pages, while the threads started
    # above (the store's writer, the outbox, the tenant link) keep the normal priority, so the
    # marks the workers wait for are not held back. (The results.xlsx helper nices itself.)
    os.nice(BACKGROUND_NICENESS)
    try:
        report = runner.run(child.rows, child.kind)
    finally:
        if link is not None:
            link.stop()
        client.close()
    outbox.stop()
    if store is not None:
        store.flush()
        store.close()
    # The parent has every row's result from the batches: the report goes without them (sending
    # 20,000 results twice cost 0.3 s at the end of the run).
    outbox.send(("done", replace(report, results=[])))
    if stream is not None:  # after the report: the run has ended for its page while this is zipped
        outbox.send(("workbook", stream.finish(report.results)))


def main(fd: int) -> int:
    connection = Connection(fd)
    try:
        child = connection.recv()
    except (EOFError, OSError):  # started ahead for a run that never came: its server has stopped
        return 0
    try:
        run(connection, child)
    except Exception as exc:  # noqa: BLE001 - the parent reports it; never a message with a link in it
        connection.send(("failed", f"the run stopped unexpectedly: {type(exc).__name__}"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
