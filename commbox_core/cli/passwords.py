"""`hash-password`: make a COMMBOX_ADMIN_PASSWORD_HASH line from a password typed twice."""

from __future__ import annotations

import click


@click.command("hash-password")
def hash_password() -> int:
    """Ask for a dashboard password twice (never as an argument) and print its scrypt hash."""
    from commbox_core.config.passwords import hash_from_terminal

    return hash_from_terminal()
