"""The dashboard's shared admin password: a salted scrypt hash, and a brake on guessing.

Hash format (one line, safe in .env and TOML): ``scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>``,
where n, r, p are scrypt's cost parameters. Make one with ``python -m commbox_core hash-password``: it asks
for the password twice (never on the command line, where `ps` and shell history would keep it).
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SCHEME = "scrypt"
# 2**15 * 8 * 128 bytes = 32 MiB of memory per check: slow for a guesser, quick for one sign-in.
DEFAULT_N, DEFAULT_R, DEFAULT_P = 2**15, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
MAX_PASSWORD_CHARS = 1024  # hashing cost grows with length; nobody types more
# Bounds on parameters read from a hash, so a mistyped hash cannot make one check take minutes.
MAX_N, MAX_R, MAX_P = 2**20, 32, 16
MIN_PASSWORD_CHARS = 12


class PasswordHashError(ValueError):
    """The configured hash is not in the documented format; the message never quotes it."""


@dataclass(frozen=True)
class PasswordHash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def __str__(self) -> str:
        return "$".join(
            [SCHEME, str(self.n), str(self.r), str(self.p), _b64(self.salt), _b64(self.digest)]
        )

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        parts = text.strip().split("$")
        if len(parts) != 6 or parts[0] != SCHEME:
            raise PasswordHashError(
                "the admin password hash must look like scrypt$n$r$p$salt$hash "
                "(make one with: python -m commbox_core.config.passwords)"
            )
        try:
            n, r, p = (int(part) for part in parts[1:4])
            salt, digest = _unb64(parts[4]), _unb64(parts[5])
        except (ValueError, binascii.Error):
            raise PasswordHashError("the admin password hash has a malformed number or base64 part") from None
        if not (1 < n <= MAX_N and n & (n - 1) == 0 and 1 <= r <= MAX_R and 1 <= p <= MAX_P):
            raise PasswordHashError(
                f"the admin password hash has out-of-range scrypt parameters (n a power of two up to {MAX_N}, "
                f"r up to {MAX_R}, p up to {MAX_P})"
            )
        if len(salt) < 8 or len(digest) < 16:
            raise PasswordHashError("the admin password hash has a salt or hash that is too short")
        return cls(n, r, p, salt, digest)


def hash_password(password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    return str(PasswordHash(n, r, p, salt, _scrypt(password, salt, n, r, p, HASH_BYTES)))


def verify_password(password: str, stored: str | PasswordHash) -> bool:
    """True when password matches; compared in constant time. Raises PasswordHashError for a bad hash."""
    parsed = stored if isinstance(stored, PasswordHash) else PasswordHash.parse(stored)
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    candidate = _scrypt(password, parsed.salt, parsed.n, parsed.r, parsed.p, len(parsed.digest))
    return hmac.compare_digest(candidate, parsed.digest)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    memory = 128 * r * (n + p + 2) + 1024 * 1024  # what OpenSSL needs, plus headroom
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=memory, dklen=length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


class AttemptLimiter:
    """A growing wait after failed sign-ins, per session and for the whole process.

    Each failure doubles the wait before the next attempt is even checked (1 s, 2 s, 4 s …, at
    most `max_delay`). Counting per process as well means that opening a new browser session
    does not reset the brake; the price is that a guesser also slows down honest users, which
    is the right trade for a panel that mints login credentials.
    """

    def __init__(self, *, base_delay: float = 1.0, max_delay: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._not_before: dict[str, float] = {}
        self._process_failures = 0
        self._process_not_before = 0.0

    def wait_left(self, session: str) -> float:
        """Seconds before this session may try again (0: it may try now)."""
        with self._lock:
            now = self._clock()
            return max(0.0, self._not_before.get(session, 0.0) - now, self._process_not_before - now)

    def failed(self, session: str) -> float:
        """Record a failure; returns the wait now imposed on this session."""
        with self._lock:
            now = self._clock()
            self._failures[session] = self._failures.get(session, 0) + 1
            self._process_failures += 1
            self._not_before[session] = now + self._delay(self._failures[session])
            # The process-wide brake grows more slowly: it exists to defeat fresh sessions.
            self._process_not_before = now + self._delay((self._process_failures + 2) // 3)
            return max(self._not_before[session], self._process_not_before) - now

    def succeeded(self, session: str) -> None:
        with self._lock:
            self._failures.pop(session, None)
            self._not_before.pop(session, None)

    def _delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return min(self.max_delay, self.base_delay * 2 ** min(failures - 1, 30))


def hash_from_terminal() -> int:
    if not sys.stdin.isatty():
        print("Run this in a terminal: it asks for the password (never pass it as an argument).", file=sys.stderr)
        return 2
    password = getpass.getpass("New admin password: ")
    if len(password) < MIN_PASSWORD_CHARS:
        print(f"Use at least {MIN_PASSWORD_CHARS} characters.", file=sys.stderr)
        return 2
    if len(password) > MAX_PASSWORD_CHARS:
        print(f"Use at most {MAX_PASSWORD_CHARS} characters.", file=sys.stderr)
        return 2
    if getpass.getpass("Again: ") != password:
        print("The two passwords differ.", file=sys.stderr)
        return 2
    print(hash_password(password))
    print("Set it as COMMBOX_ADMIN_PASSWORD_HASH (environment, .env or .streamlit/secrets.toml).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(hash_from_terminal())
