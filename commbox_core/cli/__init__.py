"""python -m commbox_core: the command line over the application service (Click).

Each command lives in a module of its own and is imported only when it runs (or when --help
lists it), so `ticket` never pays for pandas' start-up before it needs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import click

from commbox_core.cli.output import PROG, ROLE_KEY, run

COMMANDS = {  # name -> (module, attribute), in the order --help lists them
    "bulk": ("commbox_core.cli.tickets", "bulk"),
    "ticket": ("commbox_core.cli.tickets", "ticket"),
    "jobs": ("commbox_core.cli.jobs", "jobs"),
    "invites": ("commbox_core.cli.invites", "invites"),
    "redeem": ("commbox_core.cli.redeem", "redeem"),
    "worker": ("commbox_core.cli.worker", "worker"),
    "sandbox": ("commbox_core.cli.sandbox", "sandbox"),
    "bench": ("commbox_core.cli.bench", "bench"),
    "hash-password": ("commbox_core.cli.passwords", "hash_password"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)


ROLES = ("admin", "issuer", "analyst")  # commbox_core.access.Role, without importing it for --help


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--as-role", type=click.Choice(ROLES), default="admin", show_default=True,
              help="act under a narrower role (e.g. analyst for scripted exports: no links, no minting)")
@click.pass_context
def app(ctx: click.Context, as_role: str) -> None:
    """Mint CommBox login-bypass tickets, one or in bulk.

    Exit codes: 0 every row succeeded; 1 some rows failed; 2 nothing could run (bad usage,
    unreadable file, missing columns, no API URL or key, key refused, CommBox unreachable);
    130 cancelled with Ctrl-C. Tokens go to stdout or files only, never to stderr.
    """
    ctx.meta[ROLE_KEY] = as_role


def main(argv: Sequence[str] | None = None) -> int:
    return run(app, argv, PROG)


__all__ = ["app", "main"]
