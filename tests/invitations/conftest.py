"""A real redeem app (`python -m commbox_core redeem`) on a free loopback port, over a job store
(a SQLite file, and again a PostgreSQL database: `store_target`), minting on the session's
sandbox; and a console that issues invitations into that store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from commbox_core.fields import Kind
from commbox_core.invitations.options import InvitationOptions
from commbox_core.service.console import Console
from commbox_core.tickets.request import RowDefaults, build_request

from ..support import ROOT_DIR, Sandbox

_STARTED = re.compile(r"redeem app at (http://\S+?)/invite/")


@dataclass
class RedeemApp:
    url: str
    db: str
    log: Path
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redeem(sandbox: Sandbox, db: str, log: Path, extra_env: dict[str, str] | None = None) -> RedeemApp:
    env = {name: value for name, value in os.environ.items() if not name.startswith("COMMBOX_")}
    env |= sandbox.env() | {"PYTHONPATH": str(ROOT_DIR)} | (extra_env or {})
    with log.open("wb") as handle:
        process = subprocess.Popen([sys.executable, "-m", "commbox_core", "redeem", "--port", "0", "--db", str(db)],
                                   env=env, stdout=subprocess.PIPE, stderr=handle)
    first = process.stdout.readline().decode()
    found = _STARTED.search(first)
    if not found:
        process.kill()
        pytest.fail(f"the redeem app did not start: {first!r}; see {log}")
    return RedeemApp(found.group(1), db, log, process)


@pytest.fixture
def redeem_app(sandbox, store_target, tmp_path):
    app = start_redeem(sandbox, store_target, tmp_path / "redeem.log")
    yield app
    app.stop()


@pytest.fixture
def console(sandbox, redeem_app):
    with Console.open(sandbox.settings(public_url=redeem_app.url), db=redeem_app.db, user="issuer@example.com") as c:
        yield c


def invite(console: Console, kind: Kind = Kind.AGENT, options: InvitationOptions = InvitationOptions(), **values):
    """One invitation (the single-ticket path): its RowResult, whose url is the link."""
    values = values or ({"username": "john.d", "firstName": "John", "lastName": "Doe"} if kind is Kind.AGENT
                        else {"uniqueId": "cust-1", "firstName": "Ann"})
    defaults = RowDefaults(brand="demo", channel_id=console.settings.channel_id)
    request, problems = build_request(values, kind, defaults)
    assert request is not None, problems
    return console.invitations.issue_one(request, options)
