"""`bulk --invitations` and `invites …` as real processes, against a real redeem app; and a grep
of everything kept afterwards (the store's files, every log) for any token."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import requests

from commbox_core.storage.store import JobStore

from ..support import ROOT_DIR, stored_text
from .test_redeem_app import opened, press

AGENTS = "username,email,firstName,lastName\njohn.d,john.d@gmail.com,John,Doe\nnoa.c,noa.cohen@example.co.il,Noa,C\n"


def cli(args: list[str], sandbox, cwd: Path, public_url: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMBOX_")}
    env |= sandbox.env() | {"PYTHONPATH": str(ROOT_DIR)}
    if public_url:
        env["COMMBOX_PUBLIC_URL"] = public_url
    return subprocess.run([sys.executable, "-m", "commbox_core", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def bulk_invitations(sandbox, redeem_app, tmp_path, *extra) -> tuple[str, list[dict[str, str]], str]:
    """(job id, success.csv's rows, what the command said on stderr)."""
    (tmp_path / "agents.csv").write_text(AGENTS, encoding="utf-8")
    done = cli(["bulk", "agents.csv", "--kind", "agent", "--invitations", "--valid-for", "72h", "--out", "out",
                "--db", str(redeem_app.db), *extra], sandbox, tmp_path, redeem_app.url)
    assert done.returncode == 0, done.stderr
    job_id = re.search(r"job (\w+)", done.stdout).group(1)
    return job_id, rows(tmp_path / "out" / "success.csv"), done.stderr


def test_bulk_invitations_write_links_and_ids_and_send_nothing_yet(sandbox, redeem_app, tmp_path):
    job_id, success, _ = bulk_invitations(sandbox, redeem_app, tmp_path)
    assert [row["username"] for row in success] == ["john.d", "noa.c"]
    assert all(row["url"].startswith(f"{redeem_app.url}/invite/") for row in success)
    assert all(row["invitation_id"].startswith("inv_") for row in success)
    assert success[0]["expires_at"] > "2026"  # three days on, not a minute
    assert sandbox.stats()["ticket_requests"] == 0
    listed = cli(["invites", "--db", str(redeem_app.db), "list", "--run", job_id], sandbox, tmp_path, None)
    assert listed.returncode == 0 and listed.stdout.count("pending") == 2


def test_revoke_resend_and_revoke_run(sandbox, redeem_app, tmp_path):
    job_id, success, _ = bulk_invitations(sandbox, redeem_app, tmp_path)
    first, second = success
    db = ["--db", str(redeem_app.db)]

    revoked = cli(["invites", "revoke", first["invitation_id"], *db], sandbox, tmp_path, None)
    assert revoked.returncode == 0 and "revoked 1 invitation" in revoked.stderr
    assert requests.get(first["url"], timeout=10).status_code == 410

    resent = cli(["invites", "resend", second["invitation_id"], "--out", "again", *db], sandbox, tmp_path,
                 redeem_app.url)
    assert resent.returncode == 0, resent.stderr
    [new] = rows(tmp_path / "again" / "invitations.csv")
    assert new["row"] == "2" and new["url"] != second["url"]
    assert requests.get(second["url"], timeout=10).status_code == 410  # the old link died at once
    assert requests.get(new["url"], timeout=10).status_code == 200

    again = cli(["invites", "resend", first["invitation_id"], "--out", "x", *db], sandbox, tmp_path, redeem_app.url)
    assert again.returncode == 2 and "is revoked" in again.stderr

    ended = cli(["invites", "revoke-run", job_id, *db], sandbox, tmp_path, None)
    assert ended.returncode == 0 and "revoked 1 invitation" in ended.stderr
    assert requests.get(new["url"], timeout=10).status_code == 410


def test_invitation_flags_are_checked_with_a_clear_message(sandbox, tmp_path):
    (tmp_path / "agents.csv").write_text(AGENTS, encoding="utf-8")
    base = ["bulk", "agents.csv", "--kind", "agent", "--out", "out"]
    too_long = cli([*base, "--invitations", "--valid-for", "45d"], sandbox, tmp_path, "http://127.0.0.1:9")
    assert too_long.returncode == 2 and "5 minutes to 30 days, not 45 days" in too_long.stderr
    garbled = cli([*base, "--invitations", "--valid-for", "soon"], sandbox, tmp_path, "http://127.0.0.1:9")
    assert garbled.returncode == 2 and "not a duration" in garbled.stderr
    loose = cli([*base, "--reusable"], sandbox, tmp_path, None)
    assert loose.returncode == 2 and "add --invitations" in loose.stderr
    nowhere = cli([*base, "--invitations"], sandbox, tmp_path, None)
    assert nowhere.returncode == 2 and "COMMBOX_PUBLIC_URL is not set" in nowhere.stderr
    assert "Traceback" not in too_long.stderr + garbled.stderr + loose.stderr + nowhere.stderr
    assert sandbox.stats()["ticket_requests"] == 0


def test_no_token_is_kept_anywhere(sandbox, redeem_app, tmp_path):
    """The store's files, the redeem app's log, the commands' output to the terminal and the audit
    log hold no invitation token and no ticket token."""
    _, success, said = bulk_invitations(sandbox, redeem_app, tmp_path)
    tokens = [row["url"].rsplit("/", 1)[1] for row in success]
    session, csrf = opened(success[0]["url"])
    minted = press(session, success[0]["url"], csrf)
    assert minted.status_code == 303
    tokens.append(re.search(r"ta=([^&]+)", minted.headers["Location"]).group(1))
    listed = cli(["invites", "--db", str(redeem_app.db), "list"], sandbox, tmp_path, None)
    audit = cli(["jobs", "--db", str(redeem_app.db), "list"], sandbox, tmp_path, None)
    redeem_app.stop()  # its log is complete

    with closing(JobStore(redeem_app.db)) as store:
        kept = stored_text(store).encode()
    kept += b"".join(path.read_bytes() for path in tmp_path.glob("s.sqlite3*"))  # the SQLite store's files
    kept += redeem_app.log.read_bytes() + (said + listed.stdout + listed.stderr + audit.stdout + audit.stderr).encode()
    assert len(tokens) == 3
    for token in tokens:
        assert token.encode() not in kept
