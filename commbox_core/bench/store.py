"""The runner with its job store: every row marked sent before it leaves (a commit shared by the
workers waiting at that instant) and its outcome written after. Throughput on SQLite and on
PostgreSQL (a throwaway cluster), each over the same runs with no store, at 0 ms latency: the
store's whole cost, not hidden behind CommBox's latency."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from commbox_core.bench.network import CONCURRENCY, Sizes
from commbox_core.bench.postgres import PostgresServer
from commbox_core.bench.report import Finding
from commbox_core.service.sandbox_process import SandboxProcess
from commbox_core.config.settings import load_settings
from commbox_core.fields import Kind
from commbox_core.service.manager import JobManager
from commbox_core.storage.store import JobStore
from commbox_core.tables.columns import match_columns
from commbox_core.tables.read import read_table
from commbox_core.tickets.prepare import prepare_rows
from commbox_core.tickets.request import RowDefaults


def store_throughput(sizes: Sizes) -> list[Finding]:
    with SandboxProcess(latency_ms=0) as sandbox, PostgresServer() as server, \
            tempfile.TemporaryDirectory(prefix="commbox-bench-store-") as folder:
        settings = load_settings(environ={}, dotenv_path=None).for_sandbox(sandbox.url, sandbox.api_key)
        settings = settings.model_copy(update={"concurrency": CONCURRENCY})
        rates: dict[str, list[float]] = {"none": [], "sqlite": [], "postgresql": []}
        for run in range(sizes.repeats):  # interleaved, so a drift of the machine touches all three
            for name in rates:
                target = {"none": None, "sqlite": Path(folder) / f"s{run}.sqlite3",
                          "postgresql": server.new_database()}[name]
                rates[name].append(_rate(settings, target, sizes.cpu_rows, f"st{run}{name[0]}-"))
    best = {name: max(values) for name, values in rates.items()}
    detail = "; ".join(f"{name}: " + ", ".join(f"{rate:.0f}" for rate in values) + " rows/s"
                       for name, values in rates.items())
    return [
        Finding("store", f"runner with the store on PostgreSQL over SQLite ({sizes.cpu_rows} rows, 0 ms, "
                f"{CONCURRENCY} in flight)", f"{best['postgresql'] / best['sqlite']:.2f}", "figure only", True, detail),
        Finding("store", "runner with the store on SQLite over no store", f"{best['sqlite'] / best['none']:.2f}",
                "figure only", True),
        Finding("store", "runner with the store on PostgreSQL over no store",
                f"{best['postgresql'] / best['none']:.2f}", "figure only", True),
    ]


def _rate(settings, target, count: int, prefix: str) -> float:
    text = "uniqueId,phone1\n" + "".join(f"{prefix}{n},+44 20 7946 {n % 10000:04d}\n" for n in range(count))
    table = read_table(text.encode(), filename="bench.csv")
    mapping = match_columns(table.columns, Kind.CUSTOMER).mapping
    prepared = prepare_rows(table, mapping, Kind.CUSTOMER, RowDefaults(brand="demo", channel_id="demo-channel"))
    store = JobStore(target) if target is not None else None
    try:
        started = time.perf_counter()
        job = JobManager(store).start(settings, table, prepared, Kind.CUSTOMER)
        job.wait()
        if store is not None:
            store.flush()  # every outcome committed: part of the cost
        seconds = time.perf_counter() - started
        if job.report is None or len(job.report.succeeded) != count:
            raise RuntimeError(f"the {target or 'storeless'} run did not give every row a ticket")
        return count / seconds
    finally:
        if store is not None:
            store.close()
