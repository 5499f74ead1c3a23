"""The admin password hash (scrypt, documented format) and the brake on guessing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from commbox_core.config.passwords import (
    AttemptLimiter,
    PasswordHash,
    PasswordHashError,
    hash_password,
    verify_password,
)

CHEAP = {"n": 2**10}


def test_a_hash_verifies_its_password_only():
    stored = hash_password("tr0ub4dor & 3", **CHEAP)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password("tr0ub4dor & 3", stored)
    assert not verify_password("tr0ub4dor & 4", stored)
    assert not verify_password("", stored)
    assert not verify_password("x" * 100_000, stored)  # refused before any costly hashing


def test_salted_so_equal_passwords_hash_differently():
    assert hash_password("same password", **CHEAP) != hash_password("same password", **CHEAP)


def test_the_default_parameters_round_trip():
    stored = hash_password("a long enough password")
    assert PasswordHash.parse(stored).n == 2**15 and verify_password("a long enough password", stored)


@pytest.mark.parametrize(
    "text",
    ["", "plain-text-password", "scrypt$1$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "bcrypt$1024$8$1$AAAA$BBBB",
     "scrypt$1000$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",  # n not a power of two
     "scrypt$1073741824$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",  # would take minutes and gigabytes
     "scrypt$1024$8$1$not*base64$aGFzaA", "scrypt$1024$8$1$$"],
)
def test_a_malformed_hash_is_refused_without_quoting_it(text):
    with pytest.raises(PasswordHashError) as raised:
        PasswordHash.parse(text)
    assert text not in str(raised.value) or not text


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_wait_doubles_per_session_and_a_new_session_is_slowed_too():
    clock = FakeClock()
    limiter = AttemptLimiter(base_delay=1, max_delay=8, clock=clock)
    assert limiter.wait_left("a") == 0
    assert limiter.failed("a") == 1
    clock.now += 1
    assert limiter.failed("a") == 2
    clock.now += 2
    assert limiter.failed("a") == 4
    assert limiter.wait_left("fresh") > 0  # the process-wide brake
    for _ in range(10):
        limiter.failed("a")
    assert limiter.wait_left("a") == 8  # capped
    limiter.succeeded("a")
    clock.now += 8
    assert limiter.wait_left("a") == 0


def test_the_hash_command_never_takes_the_password_from_arguments_or_a_pipe():
    done = subprocess.run([sys.executable, "-m", "commbox_core.config.passwords", "secret-from-argv"], input="pw\npw\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "terminal" in done.stderr
    assert "secret-from-argv" not in done.stdout + done.stderr


def test_the_hash_command_prints_a_hash_of_the_typed_password(monkeypatch, capsys):
    import commbox_core.config.passwords as auth

    typed = iter(["a long test password", "a long test password"])
    monkeypatch.setattr(auth.getpass, "getpass", lambda prompt="": next(typed))
    monkeypatch.setattr(auth.sys.stdin, "isatty", lambda: True)
    assert auth.hash_from_terminal() == 0
    printed = capsys.readouterr()
    assert verify_password("a long test password", printed.out.strip())
    assert "COMMBOX_ADMIN_PASSWORD_HASH" in printed.err and "a long test password" not in printed.err


@pytest.mark.parametrize("typed", [["short"], ["a long test password", "a different password"]])
def test_the_hash_command_refuses_a_short_or_mistyped_password(monkeypatch, capsys, typed):
    import commbox_core.config.passwords as auth

    answers = iter(typed)
    monkeypatch.setattr(auth.getpass, "getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(auth.sys.stdin, "isatty", lambda: True)
    assert auth.hash_from_terminal() == 2
    assert capsys.readouterr().out == ""
