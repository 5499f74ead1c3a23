"""Roles through the service's public API, without Streamlit: each role × each action, allowed or
refused with a clear error, every refusal audited with the role; an analyst never gets a link."""

from __future__ import annotations

import pytest

from commbox_core import Console, Kind
from commbox_core.access import Action, PermissionDenied, Role, oidc_role
from commbox_core.config.settings import load_settings
from commbox_core.invitations.options import InvitationOptions
from commbox_core.storage.audit import AuditFilter
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.request import RowDefaults, build_request

AGENTS = b"username,email\njohn.d,john.d@gmail.com\n"


@pytest.fixture
def admin(sandbox, tmp_path):
    console = Console.open(sandbox.settings(public_url="https://join.example.com"), db=tmp_path / "store.sqlite3",
                           user="ada@example.com", role=Role.ADMIN)
    yield console
    console.close()


def finished_run(console: Console, invitations=None):
    upload = console.read_upload(AGENTS, "agents.csv")
    plan = RunPlan(console.match_columns(upload.table, Kind.AGENT).mapping, RowDefaults(brand="demo"))
    job = console.start_run(upload.table, console.prepare(upload.table, Kind.AGENT, plan), Kind.AGENT, plan,
                            invitations=invitations)
    assert job.wait(30)
    return job


def request():
    made, _ = build_request({"username": "john.d"}, Kind.AGENT, RowDefaults(brand="demo"))
    return made


# What each action is, as a call on a console (given the admin's finished run and invitation run).
ACTIONS = {
    "issue a ticket": lambda c, run, inv: c.issue_ticket(request()),
    "issue an invitation": lambda c, run, inv: c.invitations.issue_one(request()),
    "start a run": lambda c, run, inv: finished_run(c),
    "retry a run": lambda c, run, inv: c.retry_failed(run),
    "re-issue expired links": lambda c, run, inv: c.reissue_expired(run),
    "resume a run": lambda c, run, inv: c.resume(run.id),
    "check the connection": lambda c, run, inv: c.check_connection(),
    "revoke invitations": lambda c, run, inv: c.invitations.revoke_run(inv.id),
    "look at history": lambda c, run, inv: c.history(),
    "read outcomes": lambda c, run, inv: c.outcomes(run.id),
    "read the audit log": lambda c, run, inv: c.audit(),
    "export the audit log": lambda c, run, inv: c.audit_file(),
    "purge personal data": lambda c, run, inv: c.purge(run.id),
}
ALLOWED = {
    Role.ADMIN: set(ACTIONS),
    # an issuer acting on the admin's runs: the run-bound link and invitation actions are refused
    Role.ISSUER: set(ACTIONS) - {"revoke invitations", "export the audit log", "purge personal data"},
    Role.ANALYST: {"look at history", "read outcomes", "read the audit log"},
}
BENIGN = (LookupError,)  # e.g. "nothing to retry": the call got past the role check


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_role_and_action(admin, role, action):
    run = finished_run(admin)
    invitation_run = finished_run(admin, InvitationOptions())
    console = admin.acting_as("someone@example.com", role=role)
    if action in ALLOWED[role]:
        try:
            ACTIONS[action](console, run, invitation_run)
        except PermissionDenied as refused:
            pytest.fail(f"{role} was refused {action}: {refused}")
        except Exception as other:  # noqa: BLE001 - past the role check, the call may still fail on its own
            assert not isinstance(other, PermissionDenied) and (isinstance(other, BENIGN) or "no rows" in str(other)
                                                                  or "still running" in str(other))
        return
    with pytest.raises(PermissionDenied, match=rf"your role \({role}\) cannot "):
        ACTIONS[action](console, run, invitation_run)
    refused = admin.audit(AuditFilter(outcome="refused"))
    assert refused.iloc[0]["role"] == str(role) and refused.iloc[0]["user"] == "someone@example.com"


def test_an_issuer_manages_and_sees_their_own_runs(admin):
    issuer = admin.acting_as("ian@example.com", role=Role.ISSUER)
    own = finished_run(issuer, InvitationOptions())
    assert issuer.job(own.id) is not None  # their own links
    assert issuer.job(finished_run(admin).id) is None  # not another's: History's stored view is theirs
    assert issuer.invitations.revoke_run(own.id)
    assert admin.audit(AuditFilter(job_id=own.id)).iloc[0]["role"] == "issuer"


def test_an_analyst_gets_outcomes_and_never_a_link(admin):
    run, invitations = finished_run(admin), finished_run(admin, InvitationOptions())
    analyst = admin.acting_as("bea@example.com", role=Role.ANALYST)
    assert analyst.job(run.id) is None and analyst.follow_ups(run) == []
    shown = analyst.outcomes(run.id).to_csv() + analyst.outcomes(invitations.id).to_csv()
    shown += analyst.invitations.frame(invitations.id).to_csv() + analyst.history_frame().to_csv()
    assert "ta=" not in shown and "/invite/" not in shown and "john.d" in shown
    assert not analyst.can(Action.ISSUE) and analyst.can(Action.READ_AUDIT)


@pytest.mark.parametrize(("claims", "env", "role"), [
    ({"email": "a@x.com", "roles": ["ccadmins"]}, {"COMMBOX_ROLE_MAP": "ccadmins=admin,bi=analyst"}, Role.ADMIN),
    ({"email": "a@x.com", "roles": "bi"}, {"COMMBOX_ROLE_MAP": "ccadmins=admin,bi=analyst"}, Role.ANALYST),
    ({"email": "a@x.com", "groups": ["issuer", "analyst"]}, {"COMMBOX_ROLE_CLAIM": "groups"}, Role.ISSUER),
    ({"email": "a@x.com", "roles": []}, {}, None),  # a role claim naming nothing
    ({"email": "ian@corp.com"}, {"COMMBOX_ISSUER_EMAILS": "@corp.com", "COMMBOX_ADMIN_EMAILS": "ada@corp.com"},
     Role.ISSUER),
    ({"email": "ada@corp.com"}, {"COMMBOX_ISSUER_EMAILS": "@corp.com", "COMMBOX_ADMIN_EMAILS": "ada@corp.com"},
     Role.ADMIN),  # the highest of the roles a person has
    ({"email": "ada@corp.com", "email_verified": False}, {"COMMBOX_ADMIN_EMAILS": "ada@corp.com"}, None),
    ({"email": "eve@evil.com"}, {"COMMBOX_ANALYST_EMAILS": "@corp.com"}, None),
    ({"email": "old@corp.com"}, {"COMMBOX_ALLOWED_DOMAIN": "corp.com"}, Role.ADMIN),  # old setups keep working
    ({"email": "anyone@any.com"}, {}, Role.ADMIN),  # nothing configured: the provider decides, as before
])
def test_roles_from_the_id_token(claims, env, role):
    assert oidc_role(claims, load_settings(env, dotenv_path=None)) is role
