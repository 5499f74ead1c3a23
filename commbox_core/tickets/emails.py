"""Why an e-mail address cannot be sent, or None; a whole column at once for bulk files.

email-validator costs about 150 µs an address. Most addresses in a file are plain ASCII, which
one conservative regular expression can accept for a whole column in one vectorised pass: it
accepts only what email-validator accepts too (tests/tickets/test_emails.py checks that on generated
addresses). Whatever it does not accept is asked of email-validator, so every message stays
email-validator's own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import email_validator
from email_validator import EmailNotValidError, validate_email

from commbox_core.tables.arrow_columns import text_array

BATCH = 8192  # a full batch goes through Arrow at once; a smaller one (a small file) through re
MAX_PLAIN_LENGTH = 254  # email-validator's limit on the whole address
# Dot-atom local part from a subset of the allowed characters; host labels of letters and digits
# joined by single hyphens (a double hyphen can make an invalid "ab--" label), 63 at most each;
# a top-level domain of letters only.
_PLAIN = (
    r"^[A-Za-z0-9_+'-]+(?:\.[A-Za-z0-9_+'-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
# Domains email-validator refuses as special-use (".test", ".local", ...), taken from it.
_SPECIAL_USE = "(?:^|[.@])(?:" + "|".join(re.escape(d) for d in email_validator.SPECIAL_USE_DOMAIN_NAMES) + ")$"
# The same rules one address at a time; fullmatch, since re's $ also matches before a final newline.
_PLAIN_ONE = re.compile(_PLAIN.removeprefix("^").removesuffix("$"))
_SPECIAL_USE_ONE = re.compile(_SPECIAL_USE.removesuffix("$") + r"\Z", re.IGNORECASE)


def email_problems(texts: Sequence[str]) -> list[str | None]:
    """email_problem for each of many (trimmed) addresses."""
    problems: list[str | None] = []
    for start in range(0, len(texts), BATCH):  # batches bound the memory the vectorised pass takes
        batch = texts[start : start + BATCH]
        plain = plainly_valid(batch)
        problems.extend(None if ok else email_problem(text) for text, ok in zip(batch, plain))
    return problems


def plainly_valid(texts: Sequence[str]) -> list[bool]:
    """True where the address is certainly valid; False means "ask email-validator"."""
    if len(texts) < BATCH:  # pyarrow's start-up (0.1 s) pays off only for many addresses
        return [_plain(text) for text in texts]
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = pa.system_memory_pool()  # brief buffers: malloc gives them back, Arrow's own pool would keep them
    column = text_array(list(texts), pool)
    shaped = pc.match_substring_regex(column, _PLAIN, memory_pool=pool)
    risky = pc.or_(
        pc.match_substring(column, "--", memory_pool=pool),
        pc.match_substring_regex(column, _SPECIAL_USE, ignore_case=True, memory_pool=pool),
        memory_pool=pool,
    )
    # The length in Python: a number compared in Arrow becomes a pa.scalar, which imports pandas.
    plain = pc.and_not(shaped, risky, memory_pool=pool).to_pylist()
    return [ok and len(text) <= MAX_PLAIN_LENGTH for ok, text in zip(plain, texts)]


def _plain(text: str) -> bool:
    return (len(text) <= MAX_PLAIN_LENGTH and _PLAIN_ONE.fullmatch(text) is not None and "--" not in text
            and _SPECIAL_USE_ONE.search(text) is None)


@lru_cache(maxsize=4096)  # a bulk file's addresses are mostly distinct: a bigger cache only holds memory
def email_problem(text: str) -> str | None:
    """Why an e-mail address cannot be sent, or None (syntax only: no DNS look-up)."""
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"'{text}' is not a valid e-mail address: {exc}"
    return None
