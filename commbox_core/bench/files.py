"""The files scenario: read, match and validate a CSV against pandas.read_csv and a naive loop."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import pandas as pd
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from commbox_core.bench.report import Finding
from commbox_core.bench.sample import sample_csv
from commbox_core.service.sandbox_process import child_environment
from commbox_core.fields import Kind
from commbox_core.tables.columns import check_columns, match_columns
from commbox_core.tables.read import read_table
from commbox_core.tickets.prepare import prepare_rows
from commbox_core.tickets.request import RowDefaults, TicketRequest


def files(rows: int, repeats: int) -> list[Finding]:
    # Each repeat reads a new file: an upload is never the one before, and caches must not flatter.
    samples = [sample_csv(rows, seed=6 + repeat) for repeat in range(max(1, repeats))]
    data = samples[0]
    read_csv_s = best_time(read_csv, samples)
    console_s = best_time(console, samples)
    naive_s = best_time(naive_loop, samples[-1:])
    valid = sum(p.request is not None for p in console(data))
    memory = peak_memory(data)
    size = f"{rows:,} rows, {len(data) / 1e6:.1f} MB"
    slower = console_s / read_csv_s
    faster = naive_s / console_s
    heavier = memory["console"] / memory["read_csv"]
    return [
        Finding("files", "time to read, match and validate, over read_csv(dtype=str)", f"{slower:.1f}x", "<= 40x",
                slower <= 40, f"{size}: console {console_s:.2f} s ({valid:,} valid), read_csv {read_csv_s:.3f} s"),
        Finding("files", "speed over a naive per-row loop with the same libraries", f"{faster:.1f}x", ">= 2x",
                faster >= 2, f"naive loop {naive_s:.2f} s, console {console_s:.2f} s"),
        Finding("files", "peak memory over read_csv's", f"{heavier:.2f}x", "<= 3x", heavier <= 3,
                f"peak RSS growth: console {memory['console'] / 1e6:.0f} MB, "
                f"read_csv {memory['read_csv'] / 1e6:.0f} MB "
                f"(the DataFrame itself holds {memory['frame'] / 1e6:.0f} MB)"),
    ]


def read_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str)


def console(data: bytes):
    """What the dashboard and the CLI do with an upload."""
    table = read_table(data, filename="customers.csv")
    match = match_columns(table.columns, Kind.CUSTOMER)
    check_columns(match, Kind.CUSTOMER, default_brand=None)
    return prepare_rows(table, match.mapping, Kind.CUSTOMER, RowDefaults())


def naive_loop(data: bytes) -> list[TicketRequest | None]:
    """What a script without this tool does: every row on its own through phonenumbers,
    email-validator and the request model."""
    requests = []
    for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")):
        fine = True
        phone = row["Mobile"].strip()
        if phone:
            try:
                number = phonenumbers.parse("+" + phone[2:] if phone.startswith("00") else phone, None)
                fine = phonenumbers.is_possible_number(number)
            except phonenumbers.NumberParseException:
                fine = False
        email = row["E-mail"].strip()
        if email:
            try:
                validate_email(email, check_deliverability=False)
            except EmailNotValidError:
                fine = False
        fields = {"brand": row["Brand"].strip(), "uniqueId": row["Customer ID"].strip(), "email": email or None,
                  "phone1": phone or None, "firstName": row["First Name"].strip() or None,
                  "lastName": row["Last Name"].strip() or None, "remark": row["Notes"].strip() or None,
                  "channelId": row["Channel"].strip()}
        requests.append(TicketRequest(kind=Kind.CUSTOMER, **fields) if fine else None)
    return requests


def best_time(work: Callable[[bytes], object], samples: list[bytes]) -> float:
    best = float("inf")
    for data in samples:
        started = time.perf_counter()
        work(data)
        best = min(best, time.perf_counter() - started)
    return best


def peak_memory(data: bytes) -> dict[str, int]:
    """Peak RSS growth of each side, each in a fresh process (see memory.py)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "customers.csv")
        with open(path, "wb") as file:
            file.write(data)
        found = {side: _measure(side, path) for side in ("read_csv", "console")}
    return {"read_csv": found["read_csv"]["peak"], "console": found["console"]["peak"],
            "frame": found["read_csv"]["frame"]}


def _measure(side: str, path: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "commbox_core.bench.memory", side, path],
                          capture_output=True, text=True, timeout=600, check=True, env=child_environment())
    return json.loads(done.stdout)
