"""Invitations as the service offers them (`console.invitations`): issue one, list a run's with
their state, revoke some or a whole run's, and re-send (a new link for the same person; the old
one dies at once). Every change is audited as the acting user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from commbox_core.access import Action
from commbox_core.errors import ConsoleError
from commbox_core.invitations.issue import check_can_issue, invitation_result, new_invitation
from commbox_core.invitations.options import InvitationOptions
from commbox_core.runs.results import RowResult
from commbox_core.storage import invitations as stored
from commbox_core.storage.audit import AuditEntry, audit
from commbox_core.storage.invitations import InvitationState, StoredInvitation
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.request import TicketRequest, subject_of

COLUMNS = ["invitation_id", "row", "person", "state", "expires_at", "redeemed_at", "redemptions", "failures",
           "last_error"]


@dataclass(frozen=True)
class NewLink:
    """A link made now (re-sent): shown or written once, never kept."""

    invitation_id: str
    row: int | None
    person: str
    url: str = field(repr=False)
    expires_at: datetime


class Invitations:
    def __init__(self, console):
        self._console = console

    @property
    def _store(self):
        return self._console._need_store()

    def issue_one(self, request: TicketRequest, options: InvitationOptions = InvitationOptions()) -> RowResult:
        """One invitation for one person (the single-ticket form): its link is in the result's url."""
        self._console.require(Action.ISSUE)
        settings = self._console.settings
        check_can_issue(settings.public_url, self._console.store)
        LinkBuilder(settings).check(request.kind)
        token, item = new_invitation(request, options, created_by=self._console.user)
        stored.insert_invitations(self._store, [item])
        self._audit("invite", [item.id], request)
        return invitation_result(1, token, item, settings.public_url)

    def list(self, job_id: str | None = None) -> list[StoredInvitation]:
        self._console.require(Action.READ_HISTORY)
        return stored.of_job(self._store, job_id)

    def frame(self, job_id: str | None = None, now: datetime | None = None) -> pd.DataFrame:
        """A run's invitations (every run's without job_id): state as a person sees it, no link."""
        now = now or datetime.now(UTC)
        lines = [[item.id, item.row, _person(item), str(item.state(now)), item.expires_at, item.redeemed_at,
                  item.redemptions, item.failures, item.last_error or ""] for item in self.list(job_id)]
        frame = pd.DataFrame(lines, columns=COLUMNS)
        for column in ("expires_at", "redeemed_at"):  # never redeemed: an empty cell, not "None"
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def get(self, invitation_id: str) -> StoredInvitation:
        found = stored.find(self._store, invitation_id)
        if found is None:
            raise ConsoleError(f"no invitation {invitation_id} in the job store")
        return found

    def revoke(self, invitation_ids: list[str]) -> list[str]:
        """Revoke these (those still pending); returns the ids revoked."""
        for invitation_id in invitation_ids:  # an unknown id is a mistake worth saying
            self._console.require(Action.MANAGE_INVITATIONS, owner=self.get(invitation_id).created_by)
        done = stored.revoke(self._store, invitation_ids, by=self._console.user)
        self._audit("revoke", done)
        return done

    def revoke_run(self, job_id: str) -> list[str]:
        record, _ = self._console.stored_run(job_id)  # says so when there is no such run
        self._console.require(Action.MANAGE_INVITATIONS, owner=record.started_by)
        done = stored.revoke(self._store, job_id=job_id, by=self._console.user)
        self._audit("revoke", done, job_id=job_id)
        return done

    def resend(self, invitation_ids: list[str]) -> list[NewLink]:
        """A new link for each (still pending, or expired) invitation's person, valid as long as
        the first was; the old link stops working now."""
        return [self._resend_one(self.get(invitation_id)) for invitation_id in invitation_ids]

    def resend_pending(self, job_id: str) -> list[NewLink]:
        """New links for every pending invitation of a run (tokens are never kept, so exporting
        the pending links again means making new ones)."""
        now = datetime.now(UTC)
        return [self._resend_one(item) for item in self.list(job_id) if item.state(now) is InvitationState.PENDING]

    def _resend_one(self, old: StoredInvitation) -> NewLink:
        self._console.require(Action.MANAGE_INVITATIONS, owner=old.created_by)
        state = old.state()
        if state in (InvitationState.REDEEMED, InvitationState.REVOKED) or old.request is None:
            raise ConsoleError(f"invitation {old.id} is {state}: only a pending or expired one can be re-sent")
        request = TicketRequest.model_validate(old.request)
        options = InvitationOptions(timedelta(seconds=old.valid_for_s), old.single_use, old.confirm_email)
        token, item = new_invitation(request, options, created_by=self._console.user, job_id=old.job_id, row=old.row)
        if state is InvitationState.EXPIRED:
            stored.insert_invitations(self._store, [item])
        elif not stored.replace(self._store, old.id, item, by=self._console.user):
            raise ConsoleError(f"invitation {old.id} was used or revoked meanwhile")
        self._audit("invite", [item.id], request, job_id=old.job_id)
        url = invitation_result(old.row or 1, token, item, self._console.settings.public_url).url
        return NewLink(item.id, old.row, _person(old), url, item.expires_at)

    def _audit(self, action: str, ids: list[str], request: TicketRequest | None = None, job_id: str | None = None):
        console = self._console
        entries = [AuditEntry(console.user, console.settings.api_host, str(request.kind) if request else "",
                              "ok", action=action, brand=request.brand if request else "",
                              subject=request.subject if request else "", job_id=job_id, invitation_id=each,
                              role=str(console.role))
                   for each in ids]
        audit(console.store, entries, now=True)


def _person(item: StoredInvitation) -> str:
    return subject_of(item.kind, item.request or {})


def links_frame(links: list[NewLink]) -> pd.DataFrame:
    """Re-sent links as a table for a file: row, invitation_id, person, url, expires_at."""
    return pd.DataFrame([[link.row, link.invitation_id, link.person, link.url, link.expires_at.isoformat()]
                         for link in links], columns=["row", "invitation_id", "person", "url", "expires_at"])
