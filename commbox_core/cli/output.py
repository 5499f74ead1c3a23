"""What every command shares: one-line messages on stderr, the progress bar, and running a Click
command so that every failure is one clear line and a known exit code, never a traceback.

Exit codes: 0 every row succeeded; 1 some rows failed; 2 nothing could run (bad usage, unreadable
file, missing columns, no API URL or key, key refused, CommBox unreachable); 130 cancelled (Ctrl-C).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from commbox_core.errors import ConsoleError
from commbox_core.vocabulary import STORE_URL_PREFIXES

PROG = "python -m commbox_core"
EXIT_FAILED_ROWS, EXIT_UNUSABLE, EXIT_CANCELLED = 1, 2, 130
ROLE_KEY = "commbox.role"  # click's ctx.meta: the role given with --as-role (default admin)


def acting_role() -> str:
    """The role this command acts under: admin (the CLI holds the API key anyway) unless --as-role."""
    context = click.get_current_context(silent=True)
    return context.meta.get(ROLE_KEY, "admin") if context is not None else "admin"
POLL_S = 0.2
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def say(message: str) -> None:
    """A line on stderr. Control characters from files or servers are shown escaped, so a
    file cannot retitle, clear or otherwise drive the user's terminal."""
    safe = _TERMINAL_CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), message)
    print(safe, file=sys.stderr, flush=True)


STORE_HELP = ("job store: a SQLite file or a postgresql:// URL (default: COMMBOX_DATABASE_URL, else "
              "<COMMBOX_DATA_DIR>/console.sqlite3)")


class StoreTarget(click.ParamType):
    """--db: a store URL as given, or a path to a SQLite file."""

    name = "PATH|URL"

    def convert(self, value, param, ctx):
        if not isinstance(value, str) or value.startswith(STORE_URL_PREFIXES):
            return value
        return click.Path(path_type=Path).convert(value, param, ctx)


STORE = StoreTarget()


class Choice(click.Choice):
    """click.Choice, worded as people know it from argparse ("invalid choice")."""

    def fail(self, message: str, param=None, ctx=None):  # a Choice fails only on a value not among them
        super().fail(f"invalid choice (choose from {', '.join(map(str, self.choices))})", param, ctx)


class ConsoleCommand(click.Command):
    """A command whose usage errors start with `error_prefix` (default: "error: <command>: ")."""

    error_prefix: str | None = None


def usage_line(error: click.UsageError) -> str:
    ctx = error.ctx
    prefix = getattr(ctx.command, "error_prefix", None) if ctx else None
    message = error.format_message().rstrip(".")
    if prefix is not None:
        return f"{prefix}{message}"
    where = ctx.command_path if ctx else PROG
    return f"error: {where}: {message[:1].lower()}{message[1:]} (see --help)"


def run(command: click.Command, argv: Sequence[str] | None, prog_name: str = PROG) -> int:
    """Run a Click command as a program: its exit code, every failure told in one line."""
    try:
        result = command.main(args=list(sys.argv[1:] if argv is None else argv), prog_name=prog_name,
                              standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as shown:
        click.echo(shown.ctx.get_help(), err=True)
        return EXIT_UNUSABLE
    except click.UsageError as error:
        say(usage_line(error))
        return EXIT_UNUSABLE
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.Abort:
        say("interrupted")
        return EXIT_CANCELLED
    except ConsoleError as exc:
        say(f"error: {exc}")
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - a bug is told in a line too; COMMBOX_DEBUG=1 shows where
        if os.environ.get("COMMBOX_DEBUG"):
            raise
        say(f"error: unexpected {type(exc).__name__}, a bug in the console: run again with COMMBOX_DEBUG=1 "
            "to see where, and report it")
        return EXIT_UNUSABLE
    return result if isinstance(result, int) else 0


def follow(job, *, show: bool) -> None:
    """Wait for a run (a service Job), with a progress bar on stderr when `show`; Ctrl-C cancels
    it and waits for the requests in flight."""
    bar = _bar(show)
    job.follow(lambda progress: _update(bar, progress), every=POLL_S,
               cancelling=lambda: say("\ncancelling: waiting for requests in flight…"))
    if bar is not None:
        bar.close()


def _bar(show: bool):
    if not show:
        return None
    from tqdm import tqdm  # only for a terminal: scripts never pay for it

    return tqdm(total=0, unit="row", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


def _update(bar, progress) -> None:
    if bar is None:
        return
    bar.total = progress.total
    bar.set_postfix_str(f"ok {progress.ok:,} failed {progress.failed:,}", refresh=False)
    bar.update(progress.done - bar.n)
