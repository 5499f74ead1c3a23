"""Secrets stay secret: the API key and the tokens never reach logs, stderr, error files or reprs.

A recognisable canary key and every token the sandbox issued are searched for in everything the
CLI and the core produce, over success, failure, fault and 401 paths, with debug logging on.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from commbox_core.api.client import CommBoxClient
from commbox_core.cli import main
from commbox_core.config.settings import load_settings
from commbox_core.sandbox import SandboxConfig, SandboxServer

from ..support import ROOT_DIR, Sandbox

ROOT = ROOT_DIR
KEY = "CANARY-KEY-5f1e0c7a9b"
WRONG_KEY = "CANARY-WRONG-KEY-42d8"


@pytest.fixture(scope="module")
def canary_sandbox():
    config = SandboxConfig(api_key=KEY, seed=99)
    with SandboxServer(config) as server:
        yield Sandbox(server.url, KEY)


@pytest.fixture
def env(canary_sandbox, clean_env):
    for name, value in canary_sandbox.env().items():
        clean_env.setenv(name, value)
    canary_sandbox.reset()
    yield canary_sandbox
    canary_sandbox.reset()


def tokens_in(success_csv: Path) -> list[str]:
    with success_csv.open(encoding="utf-8-sig", newline="") as handle:
        return [parse_qs(urlsplit(row["url"]).query)["ta"][0] for row in csv.DictReader(handle)]


def test_key_and_tokens_never_leak(env, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    # Faults of every kind, so error paths and retries run too.
    env.configure(error_rate=0.1, drop_rate=0.1, html_rate=0.05, malformed_rate=0.05, no_token_rate=0.05)
    for kind, example in (("agent", "agents.csv"), ("customer", "customers.csv")):
        main(["bulk", str(ROOT / "examples" / example), "--kind", kind, "--out", str(out / kind)])
    env.configure(error_rate=0, drop_rate=0, html_rate=0, malformed_rate=0, no_token_rate=0)
    assert main(["ticket", "--kind", "agent", "--username", "ghost"]) == 1
    assert main(["ticket", "--kind", "agent", "--username", "john.d"]) == 0
    single_token = parse_qs(urlsplit(capsys.readouterr().out.strip()).query)["ta"][0]
    os.environ["COMMBOX_API_KEY"] = WRONG_KEY
    assert main(["bulk", str(ROOT / "examples" / "agents.csv"), "--kind", "agent", "--out", str(out / "401")]) == 2
    os.environ["COMMBOX_API_KEY"] = KEY

    tokens = tokens_in(out / "agent" / "success.csv") + tokens_in(out / "customer" / "success.csv")
    assert len(tokens) >= 5  # the faults left enough successes to make the search mean something
    streams = capsys.readouterr()
    settings = load_settings()
    client = CommBoxClient.from_settings(settings)
    public = {
        "stdout": streams.out,  # paths of the files written
        "stderr": streams.err,
        "logs": caplog.text,
        "reprs": repr(settings) + repr(client) + str(settings.describe()) + str(settings.model_dump()),
    }
    for path in out.rglob("*"):
        if path.is_file() and path.name != "success.csv" and path.suffix != ".xlsx":
            public[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    for where, text in public.items():
        assert KEY not in text, f"the API key leaked into {where}"
        assert WRONG_KEY not in text, f"the wrong API key leaked into {where}"
        for token in [*tokens, single_token]:
            assert token not in text, f"a token leaked into {where}"
    # The user's own download of links is the one place tokens belong, and the key never does.
    for path in out.rglob("success.csv"):
        assert KEY not in path.read_text(encoding="utf-8-sig")
