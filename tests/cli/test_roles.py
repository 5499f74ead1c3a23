"""`--as-role` narrows what a command may do: an analyst's script exports outcomes and mints nothing."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

from ..support import ROOT_DIR

AGENTS = "username,email\njohn.d,john.d@gmail.com\n"


def cli(args, sandbox, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMBOX_")} | sandbox.env()
    return subprocess.run([sys.executable, "-m", "commbox_core", *args], cwd=cwd, env=env | {"PYTHONPATH": str(ROOT_DIR)},
                          capture_output=True, text=True, timeout=120)


def test_an_analyst_exports_outcomes_but_cannot_mint_or_resume(sandbox, tmp_path):
    (tmp_path / "agents.csv").write_text(AGENTS, encoding="utf-8")
    db = str(tmp_path / "store.sqlite3")
    made = cli(["bulk", "agents.csv", "--kind", "agent", "--out", "out", "--db", db], sandbox, tmp_path)
    assert made.returncode == 0, made.stderr
    job_id = made.stdout.split()[1]
    issued = sandbox.stats()["tickets_issued"]

    refused = cli(["--as-role", "analyst", "bulk", "agents.csv", "--kind", "agent", "--out", "o2", "--db", db],
                  sandbox, tmp_path)
    assert refused.returncode == 2 and "your role (analyst) cannot issue tickets" in refused.stderr
    single = cli(["--as-role", "analyst", "ticket", "--kind", "agent", "--username", "john.d"], sandbox, tmp_path)
    assert single.returncode == 2 and "cannot issue tickets" in single.stderr
    again = cli(["--as-role", "analyst", "jobs", "--db", db, "reissue", job_id, "--out", "o3"], sandbox, tmp_path)
    assert again.returncode == 2 and "cannot cancel, resume, retry or re-issue runs" in again.stderr
    assert sandbox.stats()["tickets_issued"] == issued  # nothing minted

    exported = cli(["--as-role", "analyst", "jobs", "--db", db, "export", job_id, "--out", "o4"], sandbox, tmp_path)
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "o4" / "success.csv").open(encoding="utf-8-sig") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["username"] == "john.d" and not row["url"]  # outcomes, never a link
    assert "Traceback" not in refused.stderr + single.stderr + again.stderr
