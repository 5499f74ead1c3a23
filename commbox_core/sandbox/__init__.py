"""A faithful local emulator of CommBox's ticket API (POST /auth/ticket), made stateful.

It knows agents per brand, issues real random tokens with lifespans and one-time use, keeps
customer records, serves the login and chat pages the tickets open, and injects faults on
demand (latency, rate limit, 5xx, HTML, malformed bodies, dropped connections). Test controls
live under /_sandbox/ (see controls.py).
"""

from commbox_core.sandbox.agents import AgentRecord, load_agents_csv
from commbox_core.sandbox.app import create_app
from commbox_core.sandbox.config import SandboxConfig
from commbox_core.sandbox.server import SandboxServer

__all__ = ["AgentRecord", "SandboxConfig", "SandboxServer", "create_app", "load_agents_csv"]
