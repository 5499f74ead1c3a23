"""Test helpers: a handle on a running sandbox, and waiting on a condition with a deadline."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from commbox_core.config.settings import Settings, load_settings

ROOT_DIR = Path(__file__).resolve().parents[1]  # the repository

QUIET = {
    "latency_ms": 0, "jitter_ms": 0, "rate_limit": None, "retry_after": "auto",
    "error_rate": 0, "drop_rate": 0, "malformed_rate": 0, "html_rate": 0,
    "no_token_rate": 0, "not_supported_rate": 0, "agent_ttl": 60, "chat_ttl": 300,
}


@dataclass
class Sandbox:
    """A running sandbox, with the test controls of its /_sandbox/ endpoints."""

    url: str
    api_key: str

    def configure(self, **changes) -> None:
        response = requests.post(f"{self.url}/_sandbox/config", json=changes, timeout=5)
        response.raise_for_status()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_sandbox/stats", timeout=5).json()

    def advance_clock(self, seconds: float) -> None:
        requests.post(f"{self.url}/_sandbox/clock", json={"advance": seconds}, timeout=5).raise_for_status()

    def reset(self) -> None:
        requests.post(f"{self.url}/_sandbox/reset", timeout=5).raise_for_status()
        self.configure(**QUIET)

    def settings(self, **changes) -> Settings:
        base = load_settings(environ={}, dotenv_path=None).for_sandbox(self.url, self.api_key)
        # Tests want quick retries: the back-off policy is tested on its own.
        return base.replace(backoff_base=0.01, backoff_max=0.05, **changes)

    def env(self) -> dict[str, str]:
        """Environment variables that point the CLI at this sandbox as if it were a tenant."""
        return {
            "COMMBOX_API_URL": self.url, "COMMBOX_API_KEY": self.api_key,
            "COMMBOX_LOGIN_URL": f"{self.url}/login", "COMMBOX_CHAT_URL": self.url,
            "COMMBOX_CHANNEL_ID": "demo-channel", "COMMBOX_BRAND": "demo",
            "COMMBOX_BACKOFF_BASE": "0.01", "COMMBOX_BACKOFF_MAX": "0.05",
        }


def wait_until(condition, timeout: float = 10.0, interval: float = 0.02):
    """Poll a condition with a deadline (tests never sleep for a fixed time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def stored_text(store) -> str:
    """Every value of every table of a JobStore (SQLite or PostgreSQL), as text: what a copy of
    the database would give away."""
    tables = ("jobs", "job_rows", "audit", "invitations", "schema_version")
    return "\n".join(repr(tuple(row)) for table in tables for row in store.query(f"SELECT * FROM {table}"))


READ_FILES = "import pickle, sys; sys.stdout.buffer.write(pickle.dumps([open(p, 'rb').read() for p in sys.argv[1:]]))"


def bytes_read_elsewhere(paths: list[Path]) -> dict[Path, bytes]:
    """The files' bytes, read by another process. A test that searches a live SQLite store's files
    must not open them itself: closing any descriptor of a file drops every POSIX lock this process
    holds on it, its store's locks too, and another process could then take the store from under it
    ("database disk image is malformed", https://www.sqlite.org/howtocorrupt.html, 2.2)."""
    done = subprocess.run([sys.executable, "-c", READ_FILES, *map(str, paths)], capture_output=True, check=True,
                          timeout=60)
    return dict(zip(paths, pickle.loads(done.stdout), strict=True))
