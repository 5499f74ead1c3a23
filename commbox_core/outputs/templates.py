"""Template CSVs to download, fill in and upload: the columns the core reads, with example rows.

The example rows are people the sandbox knows (brand "demo"), so a new user can upload a
template as it is and see a whole run succeed before replacing them with real people.
"""

from __future__ import annotations

import pandas as pd

from commbox_core.fields import Kind
from commbox_core.outputs.files import to_csv_bytes

TEMPLATE_COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.AGENT: ("brand", "username", "email", "phone1", "firstName", "lastName", "remark", "oneTimeUse"),
    Kind.CUSTOMER: (
        "brand", "uniqueId", "email", "phone1", "firstName", "lastName", "remark",
        "channelId", "overrideUserInfo", "oneTimeUse",
    ),
}

# Blank cells take the run's options (default brand, channel, one-time use, override user info).
EXAMPLE_ROWS: dict[Kind, tuple[dict[str, str], ...]] = {
    Kind.AGENT: (
        {"brand": "demo", "username": "john.d", "email": "john.d@gmail.com", "phone1": "+44 2501 234567",
         "firstName": "John", "lastName": "Doe", "remark": "example row: replace me"},
        {"brand": "demo", "username": "maria.g", "email": "maria.garcia@example.es",
         "firstName": "María", "lastName": "García", "oneTimeUse": "true"},
    ),
    Kind.CUSTOMER: (
        {"brand": "demo", "uniqueId": "000123", "email": "dana.levi@example.co.il", "phone1": "+972 54 123 4567",
         "firstName": "Dana", "lastName": "Levi", "remark": "example row: replace me"},
        {"brand": "demo", "uniqueId": "C-9001", "firstName": "Jing", "lastName": "Chen",
         "channelId": "demo-channel", "overrideUserInfo": "true"},
    ),
}

TEMPLATE_FILENAMES = {Kind.AGENT: "agents-template.csv", Kind.CUSTOMER: "customers-template.csv"}


def template_frame(kind: Kind) -> pd.DataFrame:
    columns = TEMPLATE_COLUMNS[kind]
    rows = [[example.get(column, "") for column in columns] for example in EXAMPLE_ROWS[kind]]
    return pd.DataFrame(rows, columns=list(columns), dtype="str")


def template_csv(kind: Kind) -> bytes:
    """The template as the exports write CSV: UTF-8 with BOM, phones kept as text in Excel."""
    return to_csv_bytes(template_frame(kind))
