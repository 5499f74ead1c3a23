"""`invites [--db PATH] list [--run ID] | revoke ID… | revoke-run RUN_ID | resend ID… --out DIR |
resend --run RUN_ID --out DIR`: the invitations in the job store.

Tokens are never stored: `resend` makes new links (the old ones stop working at once) and
writes them to DIR/invitations.csv, the only place they ever appear.
"""

from __future__ import annotations

from pathlib import Path

import click

from commbox_core.cli.jobs import console_for, db_option
from commbox_core.cli.output import STORE, STORE_HELP, ConsoleCommand, say
from commbox_core.cli.tickets import make_folder
from commbox_core.errors import ConsoleError


@click.group()
@click.option("--db", type=STORE, help=STORE_HELP)
@click.pass_context
def invites(ctx: click.Context, db: Path | None) -> None:
    """Invitation links in the job store: list, revoke, re-send."""
    ctx.obj = db


@invites.command("list", cls=ConsoleCommand)
@click.option("--run", "job_id", metavar="RUN_ID", help="only this run's invitations")
@db_option
@click.pass_context
def list_invites(ctx, job_id: str | None, action_db) -> int:
    """Invitations with their state (pending, redeemed, expired, revoked), newest first."""
    import pandas as pd

    frame = console_for(ctx, action_db).invitations.frame(job_id)
    if frame.empty:
        print("no invitations")
        return 0
    print(f"{'invitation':<20}  {'row':>6}  {'state':<8}  {'expires (UTC)':<16}  {'redeemed (UTC)':<16}  "
          f"{'uses':>4}  {'fails':>5}  person")
    for line in frame.itertuples(index=False):
        row = "" if line.row is None or line.row != line.row else int(line.row)
        redeemed = "" if pd.isna(line.redeemed_at) else f"{line.redeemed_at:%Y-%m-%d %H:%M}"
        print(f"{line.invitation_id:<20}  {row:>6}  {line.state:<8}  {line.expires_at:%Y-%m-%d %H:%M}  "
              f"{redeemed:<16}  {line.redemptions:>4}  {line.failures:>5}  {line.person}")
    return 0


@invites.command("revoke", cls=ConsoleCommand)
@click.argument("invitation_ids", nargs=-1, required=True)
@db_option
@click.pass_context
def revoke(ctx, invitation_ids: tuple[str, ...], action_db) -> int:
    """Revoke invitations: their links stop working now."""
    done = console_for(ctx, action_db).invitations.revoke(list(invitation_ids))
    _report_revoked(done, len(invitation_ids))
    return 0


@invites.command("revoke-run", cls=ConsoleCommand)
@click.argument("job_id")
@db_option
@click.pass_context
def revoke_run(ctx, job_id: str, action_db) -> int:
    """Revoke every pending invitation of a run."""
    done = console_for(ctx, action_db).invitations.revoke_run(job_id)
    _report_revoked(done, None)
    return 0


@invites.command("resend", cls=ConsoleCommand)
@click.argument("invitation_ids", nargs=-1)
@click.option("--run", "job_id", metavar="RUN_ID", help="every pending invitation of this run")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="folder for invitations.csv")
@db_option
@click.pass_context
def resend(ctx, invitation_ids: tuple[str, ...], job_id: str | None, out: Path, action_db) -> int:
    """New links for these invitations' people (the old links die at once), in DIR/invitations.csv."""
    from commbox_core.outputs.files import to_csv_bytes, write_private
    from commbox_core.service.invites import links_frame

    if bool(invitation_ids) == bool(job_id):
        raise ConsoleError("name invitations, or a run with --run (not both)")
    service = console_for(ctx, action_db).invitations
    links = service.resend_pending(job_id) if job_id else service.resend(list(invitation_ids))
    make_folder(out)
    path = out / "invitations.csv"
    write_private(path, to_csv_bytes(links_frame(links)))
    print(path)
    say(f"{len(links)} new invitation link{'s' if len(links) != 1 else ''}; the old ones no longer work")
    return 0


def _report_revoked(done: list[str], asked: int | None) -> None:
    say(f"revoked {len(done)} invitation{'s' if len(done) != 1 else ''}")
    if asked is not None and len(done) < asked:
        say(f"{asked - len(done)} were already used, revoked or expired")
