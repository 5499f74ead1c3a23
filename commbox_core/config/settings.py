"""One Settings object, from defaults < .env file < Streamlit secrets < environment < overrides.

Every value remembers where it came from, so the dashboard can show it (secrets masked).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from commbox_core.config.passwords import PasswordHash
from commbox_core.errors import ConfigError
from commbox_core.vocabulary import STORE_URL_PREFIXES

# The vendor's production server (servers[0] in the OpenAPI document).
DEFAULT_API_URL = "https://api.commbox.io"
# The vendor's documented login and apps URLs (its Create Ticket page), until set for a tenant.
DEFAULT_LOGIN_URL = "https://commbox.com/login"
DEFAULT_CHAT_URL = "https://apps.commbox.com"
# The vendor's example channel id, which the sandbox knows as well.
SANDBOX_CHANNEL_ID = "nex9tHPKdBkD_fAfbuUPABg=="
SANDBOX_BRAND = "demo"

# field name -> environment variable
ENV_NAMES = {
    "api_url": "COMMBOX_API_URL",
    "api_key": "COMMBOX_API_KEY",
    "login_url": "COMMBOX_LOGIN_URL",
    "chat_url": "COMMBOX_CHAT_URL",
    "channel_id": "COMMBOX_CHANNEL_ID",
    "brand": "COMMBOX_BRAND",
    "concurrency": "COMMBOX_CONCURRENCY",
    "rate_limit": "COMMBOX_RATE_LIMIT",
    "connect_timeout": "COMMBOX_CONNECT_TIMEOUT",
    "read_timeout": "COMMBOX_READ_TIMEOUT",
    "max_retries": "COMMBOX_MAX_RETRIES",
    "backoff_base": "COMMBOX_BACKOFF_BASE",
    "backoff_max": "COMMBOX_BACKOFF_MAX",
    "agent_ttl": "COMMBOX_AGENT_TTL",
    "customer_ttl": "COMMBOX_CUSTOMER_TTL",
    "max_upload_mb": "COMMBOX_MAX_UPLOAD_MB",
    "max_rows": "COMMBOX_MAX_ROWS",
    "data_dir": "COMMBOX_DATA_DIR",
    "database_url": "COMMBOX_DATABASE_URL",
    "lease_seconds": "COMMBOX_LEASE_SECONDS",
    "takeover_seconds": "COMMBOX_TAKEOVER_SECONDS",
    "retention_days": "COMMBOX_RETENTION_DAYS",
    # Invitation links (commbox_core/invitations): the address their recipients reach.
    "public_url": "COMMBOX_PUBLIC_URL",
    # The dashboard's access gate (see ui/gate.py and the README's "Securing the dashboard").
    "admin_password_hash": "COMMBOX_ADMIN_PASSWORD_HASH",
    "issuer_password_hash": "COMMBOX_ISSUER_PASSWORD_HASH",
    "analyst_password_hash": "COMMBOX_ANALYST_PASSWORD_HASH",
    # Roles (commbox_core/access.py): from the ID token's claim, and/or from allow-lists.
    "role_claim": "COMMBOX_ROLE_CLAIM",
    "role_map": "COMMBOX_ROLE_MAP",
    "admin_emails": "COMMBOX_ADMIN_EMAILS",
    "issuer_emails": "COMMBOX_ISSUER_EMAILS",
    "analyst_emails": "COMMBOX_ANALYST_EMAILS",
    "allowed_emails": "COMMBOX_ALLOWED_EMAILS",
    "allowed_domain": "COMMBOX_ALLOWED_DOMAIN",
    "allow_open_dashboard": "COMMBOX_ALLOW_OPEN_DASHBOARD",
}
PASSWORD_FIELDS = ("admin_password_hash", "issuer_password_hash", "analyst_password_hash")
SECRET_FIELDS = frozenset({"api_key", "database_url", *PASSWORD_FIELDS})  # a database URL may hold a password
URL_FIELDS = ("api_url", "login_url", "chat_url", "public_url")


class Settings(BaseModel):
    """Effective configuration. Immutable: derive a changed copy with `replace()`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_url: str | None = Field(None, description="Base URL of the CommBox API")
    api_key: SecretStr | None = Field(None, description="Bearer key of the CommBox API")
    login_url: str | None = Field(DEFAULT_LOGIN_URL, description="Agent console login URL; may hold {brand}")
    chat_url: str | None = Field(DEFAULT_CHAT_URL, description="Apps URL; chat links are <apps URL>/chat/<channel>")
    channel_id: str | None = Field(None, description="Default chat channel id for customer links")
    brand: str | None = Field(None, description="Default brand for rows that have none")
    concurrency: int = Field(8, ge=1, le=64, description="Requests in flight at once")
    rate_limit: float | None = Field(None, ge=0, description="Requests per second at most (empty: adaptive)")
    connect_timeout: float = Field(5.0, gt=0, le=120, description="Seconds to connect")
    read_timeout: float = Field(30.0, gt=0, le=600, description="Seconds to wait for an answer")
    max_retries: int = Field(4, ge=0, le=20, description="Retries of a throttled or failed request")
    backoff_base: float = Field(0.5, ge=0, le=60, description="First back-off delay, seconds")
    backoff_max: float = Field(30.0, ge=0, le=600, description="Longest back-off delay, seconds")
    agent_ttl: int = Field(60, ge=1, description="Lifespan of an agent console ticket, seconds")
    customer_ttl: int = Field(300, ge=1, description="Lifespan of a customer chat ticket, seconds")
    max_upload_mb: int = Field(50, ge=1, le=2048, description="Largest CSV accepted, MB")
    max_rows: int = Field(200_000, ge=1, description="Most data rows accepted in one file")
    data_dir: Path = Field(Path("data"), description="Folder for the job store and local data")
    database_url: SecretStr | None = Field(
        None, description="Job store shared by several servers (postgresql://…); unset: a SQLite file in data_dir"
    )
    lease_seconds: float = Field(
        60, ge=3, le=3600, description="A run's server silent this long is gone: a worker takes the run over"
    )
    takeover_seconds: float = Field(
        0, ge=0, le=3600, description="Dashboards look this often for runs whose server is gone and finish them; "
        "0: leave that to worker processes"
    )
    retention_days: int = Field(
        90, ge=1, le=36500, description="Days the job store keeps runs and audit entries (applied at start-up)"
    )
    public_url: str | None = Field(
        None, description="Address where invitation links are redeemed (the redeem app, or the dashboard's own)"
    )
    admin_password_hash: SecretStr | None = Field(
        None, description="Shared admin password as scrypt$n$r$p$salt$hash (python -m commbox_core hash-password)"
    )
    issuer_password_hash: SecretStr | None = Field(None, description="Password of the issuer role, hashed the same way")
    analyst_password_hash: SecretStr | None = Field(None, description="Password of the analyst role, hashed the same way")
    role_claim: str = Field("roles", description="ID-token claim holding the user's roles or groups (a list or a string)")
    role_map: str | None = Field(None, description="Provider groups to roles, e.g. ccadmins=admin,onboarding=issuer,bi=analyst")
    admin_emails: str | None = Field(None, description="OIDC: addresses and @domains given the admin role")
    issuer_emails: str | None = Field(None, description="OIDC: addresses and @domains given the issuer role")
    analyst_emails: str | None = Field(None, description="OIDC: addresses and @domains given the analyst role")
    allowed_emails: str | None = Field(None, description="OIDC sign-in: comma-separated emails allowed in (as admins)")
    allowed_domain: str | None = Field(None, description="OIDC sign-in: email domain allowed in, e.g. example.com")
    allow_open_dashboard: bool = Field(False, description="Serve a live dashboard with no sign-in (not advised)")
    sandbox: bool = Field(False, description="True when pointed at the embedded sandbox")
    sources: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)

    @field_validator(*URL_FIELDS)
    @classmethod
    def _http_url(cls, value: str | None, info) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        parts = urlsplit(value.replace("{brand}", "brand"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL with a host, got {value!r}")
        if parts.query or parts.fragment:
            if info.field_name != "login_url" or parts.fragment:
                raise ValueError("must not carry a query string or fragment")
        return value.rstrip("/") if info.field_name != "login_url" else value

    @field_validator("database_url")
    @classmethod
    def _store_url(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value().strip() if value is not None else ""
        if not text:
            return None
        if not text.startswith(STORE_URL_PREFIXES):
            raise ValueError("must start with postgresql:// (or sqlite:/// for a file)")
        return SecretStr(text)

    @field_validator("rate_limit")
    @classmethod
    def _zero_means_none(cls, value: float | None) -> float | None:
        return value or None

    @field_validator(*PASSWORD_FIELDS)
    @classmethod
    def _password_hash_format(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        PasswordHash.parse(value.get_secret_value())  # its message never quotes the value
        return SecretStr(value.get_secret_value().strip())

    @field_validator("allowed_domain")
    @classmethod
    def _bare_domain(cls, value: str | None) -> str | None:
        value = (value or "").strip().lower().lstrip("@")
        return value or None

    @field_validator("channel_id", "brand")
    @classmethod
    def _blank_means_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    # -- derived -----------------------------------------------------------------
    @property
    def is_live(self) -> bool:
        """True when a real API key is configured; otherwise the app runs on the sandbox."""
        return not self.sandbox and self.api_key is not None and bool(self.api_key.get_secret_value())

    @property
    def allowed_email_list(self) -> frozenset[str]:
        return frozenset(part.strip().lower() for part in (self.allowed_emails or "").split(",") if part.strip())

    @property
    def mode(self) -> str:
        return "sandbox" if self.sandbox else ("live" if self.is_live else "unconfigured")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def api_host(self) -> str:
        return urlsplit(self.api_url).netloc if self.api_url else ""

    def masked_key(self) -> str:
        return mask_secret(self.api_key.get_secret_value() if self.api_key else "")

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with some values changed (their source recorded as `_source`)."""
        source = changes.pop("_source", "session")
        data = self.model_dump()  # SecretStr stays wrapped; `sources` is excluded
        data.update(changes)
        return _build(data, dict(self.sources) | {name: source for name in changes})

    def for_sandbox(self, base_url: str, api_key: str) -> Settings:
        """These settings pointed at a sandbox at base_url (the embedded default)."""
        return self.replace(
            api_url=base_url,
            api_key=SecretStr(api_key),
            login_url=f"{base_url}/login",
            chat_url=base_url,
            channel_id=self.channel_id or SANDBOX_CHANNEL_ID,
            brand=self.brand or SANDBOX_BRAND,
            sandbox=True,
            _source="sandbox",
        )

    def describe(self) -> list[dict[str, str]]:
        """Rows of (setting, env variable, value with secrets masked, source) for display."""
        rows = []
        for name, field in type(self).model_fields.items():
            if name not in ENV_NAMES:
                continue
            value = getattr(self, name)
            if name == "api_key":
                shown = self.masked_key()
            elif name in SECRET_FIELDS:
                shown = "(set)" if value is not None else "(not set)"
            else:
                shown = "(not set)" if value is None else str(value)
            rows.append(
                {
                    "setting": name,
                    "variable": ENV_NAMES[name],
                    "value": shown,
                    "source": self.sources.get(name, "default"),
                    "meaning": field.description or "",
                }
            )
        return rows


def mask_secret(secret: str) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    if not secret:
        return "(not set)"
    if len(secret) <= 8:
        return "•" * 8
    return f"{secret[:3]}…{secret[-2:]}"


def load_settings(
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | Path | None = ".env",
    secrets: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read settings; later sources win: defaults < .env < secrets < environment < overrides.

    Raises ConfigError with a message naming the variable and the reason.
    """
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if dotenv_path is not None and Path(dotenv_path).is_file():
        layers.append((".env", _by_field(dotenv_values(dotenv_path))))
    if secrets:
        layers.append(("secrets", _secrets_by_field(secrets)))
    layers.append(("environment", _by_field(os.environ if environ is None else environ)))
    if overrides:
        layers.append(("override", {k: v for k, v in overrides.items() if v is not None}))

    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, values in layers:
        for name, value in values.items():
            if isinstance(value, str) and not value.strip():
                continue  # an empty variable means "not set", not "empty string"
            data[name] = value
            sources[name] = source
    return _build(data, sources)


def _build(data: dict[str, Any], sources: dict[str, str]) -> Settings:
    if data.get("api_key") and not data.get("api_url"):
        data["api_url"] = DEFAULT_API_URL  # the vendor's production server
    try:
        return Settings(**data, sources=sources)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "settings"
            variable = ENV_NAMES.get(name, name)
            # Never echo the input: it may be the API key.
            problems.append(f"{variable} ({sources.get(name, 'default')}): {error['msg']}")
        raise ConfigError("Invalid settings: " + "; ".join(problems)) from None


def _by_field(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: values[env] for name, env in ENV_NAMES.items() if values.get(env) is not None}


def _secrets_by_field(secrets: Mapping[str, Any]) -> dict[str, Any]:
    """Accept COMMBOX_* keys at the top level, or plain names under a [commbox] section."""
    found = _by_field(secrets)
    section = secrets.get("commbox")
    if isinstance(section, Mapping):
        found.update({name: section[name] for name in ENV_NAMES if section.get(name) is not None})
    return found
