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
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from email_validator import EmailNotValidError, validate_email

BATCH = 8192
# Short-lived buffers go to malloc, which hands them back at once; Arrow's default pool keeps them.
_POOL = pa.system_memory_pool()
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


def email_problems(texts: Sequence[str]) -> list[str | None]:
    """email_problem for each of many (trimmed) addresses."""
    problems: list[str | None] = []
    for start in range(0, len(texts), BATCH):  # batches bound the memory the vectorised pass takes
        batch = texts[start : start + BATCH]
        plain = plainly_valid(batch).tolist()
        problems.extend(None if ok else email_problem(text) for text, ok in zip(batch, plain))
    return problems


def plainly_valid(texts: Sequence[str]) -> np.ndarray:
    """True where the address is certainly valid; False means "ask email-validator"."""
    if not len(texts):
        return np.zeros(0, dtype=bool)
    column = pa.array(texts, type=pa.large_string(), memory_pool=_POOL)
    shaped = pc.match_substring_regex(column, _PLAIN, memory_pool=_POOL)
    short = pc.less_equal(pc.utf8_length(column, memory_pool=_POOL), MAX_PLAIN_LENGTH, memory_pool=_POOL)
    risky = pc.or_(
        pc.match_substring(column, "--", memory_pool=_POOL),
        pc.match_substring_regex(column, _SPECIAL_USE, ignore_case=True, memory_pool=_POOL),
        memory_pool=_POOL,
    )
    plain = pc.and_not(pc.and_(shaped, short, memory_pool=_POOL), risky, memory_pool=_POOL)
    return plain.to_numpy(zero_copy_only=False)


@lru_cache(maxsize=4096)  # a bulk file's addresses are mostly distinct: a bigger cache only holds memory
def email_problem(text: str) -> str | None:
    """Why an e-mail address cannot be sent, or None (syntax only: no DNS look-up)."""
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"'{text}' is not a valid e-mail address: {exc}"
    return None
