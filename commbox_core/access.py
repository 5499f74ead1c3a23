"""Who may do what: three roles and one rule table, enforced by the application service, so the
dashboard, the CLI and a notebook obey the same rules.

- admin: everything, including Settings overrides, purging personal data, exporting the audit
  log and revoking any run's invitations;
- issuer: single and bulk tickets and invitations, fixing, retrying, re-issuing and resending
  runs, the live links of their own runs, History and the audit log;
- analyst: History, outcome files (never a link), the audit log, Settings read-only.
"""

from __future__ import annotations

from enum import StrEnum

from commbox_core.errors import ConsoleError


class Role(StrEnum):
    ADMIN = "admin"
    ISSUER = "issuer"
    ANALYST = "analyst"


class Action(StrEnum):
    """What the service is asked to do; each value reads as "your role cannot <value>"."""

    ISSUE = "issue tickets"  # single tickets and invitations, and starting runs
    FOLLOW_UP = "cancel, resume, retry or re-issue runs"
    SEE_LINKS = "see live links"  # a run's links and its files that hold them
    MANAGE_INVITATIONS = "revoke or re-send invitations"
    READ_HISTORY = "look at past runs"
    READ_AUDIT = "read the audit log"
    EXPORT_AUDIT = "export the audit log"
    CHANGE_SETTINGS = "change settings"
    PURGE = "purge personal data"
    CHECK_CONNECTION = "check the connection to CommBox"


_EVERYONE = frozenset(Role)
_MINTERS = frozenset({Role.ADMIN, Role.ISSUER})
RULES: dict[Action, frozenset[Role]] = {
    Action.ISSUE: _MINTERS,
    Action.FOLLOW_UP: _MINTERS,
    Action.SEE_LINKS: _MINTERS,  # an issuer: of their own runs only (see OWN_ONLY)
    Action.MANAGE_INVITATIONS: _MINTERS,  # an issuer: of their own runs only
    Action.READ_HISTORY: _EVERYONE,
    Action.READ_AUDIT: _EVERYONE,
    Action.EXPORT_AUDIT: frozenset({Role.ADMIN}),
    Action.CHANGE_SETTINGS: frozenset({Role.ADMIN}),
    Action.PURGE: frozenset({Role.ADMIN}),
    Action.CHECK_CONNECTION: _MINTERS,
}
# Actions an issuer may take on their own runs only (an admin: on any run).
OWN_ONLY = frozenset({Action.SEE_LINKS, Action.MANAGE_INVITATIONS})


class PermissionDenied(ConsoleError):
    """The acting role may not do this; the message says which role and what."""

    def __init__(self, role: Role, action: Action, detail: str = ""):
        self.role, self.action = role, action
        super().__init__(f"your role ({role}) cannot {action}{detail}")


def allowed(role: Role, action: Action, *, owner: str | None = None, user: str | None = None) -> bool:
    """Whether `role` may take `action`; for OWN_ONLY actions on a run, an issuer must own it."""
    if role not in RULES[action]:
        return False
    if action in OWN_ONLY and role is Role.ISSUER and owner is not None:
        return owner == user
    return True


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise ConsoleError(f"no role {text!r}: the roles are {', '.join(Role)}") from None


RANK = (Role.ADMIN, Role.ISSUER, Role.ANALYST)  # who wins when a person has several


def highest(roles) -> Role | None:
    found = set(roles)
    return next((role for role in RANK if role in found), None)


def role_map(text: str | None) -> dict[str, Role]:
    """"ccadmins=admin,onboarding=issuer" -> {"ccadmins": admin, ...}; a ConsoleError names a bad entry."""
    mapping: dict[str, Role] = {}
    for entry in filter(None, (part.strip() for part in (text or "").split(","))):
        group, equals, role = entry.partition("=")
        if not equals or not group.strip():
            raise ConsoleError(f"COMMBOX_ROLE_MAP entry {entry!r} is not group=role")
        mapping[group.strip()] = parse_role(role)
    return mapping


def roles_from_claim(value, mapping: dict[str, Role]) -> set[Role]:
    """The roles a claim names (a list or one string): a group mapped by COMMBOX_ROLE_MAP, or a role's own name."""
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []
    found = set()
    for name in (str(item).strip() for item in names):
        if name in mapping:
            found.add(mapping[name])
        elif name.lower() in {role.value for role in Role}:
            found.add(Role(name.lower()))
    return found


def _listed(email: str, entries: str | None) -> bool:
    for entry in filter(None, (part.strip().lower() for part in (entries or "").split(","))):
        if entry.startswith("@") and email.endswith(entry):
            return True
        if entry == email:
            return True
    return False


def oidc_role(claims, settings) -> Role | None:
    """The role of a person signed in through OIDC, from their ID token's claims: the role claim
    (mapped), the per-role allow-lists, and the older COMMBOX_ALLOWED_EMAILS/_DOMAIN (admin). With
    none of these configured, everyone the provider signs in is an admin, as before roles. An
    address the provider says is unverified counts for no list."""
    found = roles_from_claim(claims.get(settings.role_claim), role_map(settings.role_map))
    email = str(claims.get("email") or "").strip().lower()
    usable = bool(email) and claims.get("email_verified") is not False
    older = [settings.allowed_emails, f"@{settings.allowed_domain}" if settings.allowed_domain else None]
    lists = {Role.ADMIN: ",".join(filter(None, [settings.admin_emails, *older])),
             Role.ISSUER: settings.issuer_emails, Role.ANALYST: settings.analyst_emails}
    if usable:
        found |= {role for role, entries in lists.items() if _listed(email, entries)}
    configured = any(lists.values()) or settings.role_map
    if not found and not configured and settings.role_claim not in claims:
        return Role.ADMIN  # no roles configured at all: the provider decides who gets in, as before
    return highest(found)
