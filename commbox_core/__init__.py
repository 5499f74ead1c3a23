"""CommBox Ticket Console core: everything but the Streamlit pages, importable without Streamlit.

The public surface, for notebooks and scripts (each name is imported on first use, so importing
the package, or running the CLI, costs nothing extra):

    from commbox_core import Console
    console = Console.sandbox()                 # or Console.open(load_settings()) for your tenant
    result = console.issue("people.csv", kind="customer")   # or a DataFrame read with dtype=str
    result.success, result.errors, result.summary           # DataFrames and a dict
    console.runs()                              # past runs; console.outcomes(job_id): no links

See README.md ("Layout") for the rooms and the one-way data flow.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "Console": "commbox_core.service.console",
    "RunResult": "commbox_core.service.batch",
    "AuditFilter": "commbox_core.storage.audit",
    "Kind": "commbox_core.fields",
    "RunStatus": "commbox_core.vocabulary",
    "ErrorCode": "commbox_core.vocabulary",
    "ConsoleError": "commbox_core.errors",
    "load_settings": "commbox_core.config.settings",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'commbox_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
