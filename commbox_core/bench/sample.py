"""A CSV of customers as people send them: distinct phones and e-mails, headers under aliases,
phones from several countries in the ways people write them, and about 2% of rows with a mistake."""

from __future__ import annotations

import csv
import io
import random

HEADER = ["Brand", "Customer ID", "E-mail", "Mobile", "First Name", "Last Name", "Channel", "Notes"]
_FIRST = ["Dana", "Avi", "Noa", "María", "Li", "Amara", "Sam", "יוסי", "Chloé", "Omar", "Wei", "Fatima"]
_LAST = ["Cohen", "Levi", "García", "Wang", "Okafor", "Taylor", "מזרחי", "Dubois", "Haddad", "Smith"]
_DOMAINS = ["example.com", "mail.example.co.uk", "corp.example.org", "example.co.il", "shop.example.es"]
_NOTES = ["", "", "", "VIP", "called twice", "prefers WhatsApp", "note, with a comma", 'said "urgent"']
# Digits of each pattern come from the row number, so every phone is distinct.
_PHONES = [
    lambda d: f"+44 7{d[:3]} {d[3:]}9",  # UK mobile
    lambda d: f"+972-5{d[0]}-{d[1:4]}-{d[4:]}",  # Israel
    lambda d: f"+1 (2{d[:2]}) 5{d[2:4]}-{d[4:]}",  # North America
    lambda d: f"0034 6{d[:2]} {d[2:5]} {d[5:]}",  # Spain, 00 instead of +
    lambda d: f"+49 30 {d}",  # Berlin
    lambda d: f"+33 (0)6 {d[:2]} {d[2:4]} {d[4:6]} {d[6:]}",  # France, with the trunk 0
]


def sample_csv(rows: int, seed: int = 6) -> bytes:
    """Another seed gives other phones and e-mails too, so no cache of an earlier file can help."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    first = rng.randrange(10**8 - rows)
    for i in range(first, first + rows):
        digits = f"{i:08d}"
        phone = _PHONES[i % len(_PHONES)](digits)
        email = f"{_ascii(rng.choice(_FIRST))}.{i}@{rng.choice(_DOMAINS)}"
        if i % 101 == 50:
            phone = f"020 {digits[:4]} {digits[4:]}"  # no country code
        if i % 103 == 51:
            email = email.replace("@", "@@")
        writer.writerow(["demo", f"C{i:08d}", email, phone, rng.choice(_FIRST), rng.choice(_LAST), "demo-channel",
                         rng.choice(_NOTES)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # with the BOM Excel writes


def _ascii(name: str) -> str:
    return name.lower() if name.isascii() else "user"
