"""What a click on an invitation does, without HTTP: look (the GET: nothing used up), then
redeem (the POST: claim once, mint a fresh one-time ticket, hand back the CommBox URL).

Every redemption is audited (time, client address, browser, outcome, ticket fingerprint);
CommBox failing at the click gives the invitation back, counted, so the person can try again.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from commbox_core.api.client import CommBoxClient
from commbox_core.config.settings import Settings
from commbox_core.invitations.tokens import token_hash, well_formed
from commbox_core.runs.results import fingerprint
from commbox_core.storage import invitations as stored
from commbox_core.storage.audit import AuditEntry, audit, audit_write
from commbox_core.storage.invitations import InvitationState, StoredInvitation
from commbox_core.storage.store import JobStore
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.request import TicketRequest, subject_of
from commbox_core.vocabulary import ErrorCode

RECIPIENT = "recipient"  # the audit log's user for a click: the person is known by the invitation


class Verdict(StrEnum):
    CONFIRM = "confirm"  # a usable invitation: show the button
    MINTED = "minted"  # go on to `url`
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"
    BUSY = "busy"  # another click on it is being handled this moment
    WRONG_EMAIL = "wrong_email"
    FAILED = "failed"  # CommBox did not give a ticket; `retry` says whether trying again may help


@dataclass(frozen=True)
class Visit:
    verdict: Verdict
    invitation: StoredInvitation | None = None
    url: str | None = field(default=None, repr=False)  # a live ticket: a credential
    error_code: ErrorCode | None = None
    retry: bool = False


@dataclass(frozen=True)
class Clicker:
    """Who clicked, as far as the request tells (for the audit log)."""

    address: str = ""
    user_agent: str = ""


_ENDED = {InvitationState.EXPIRED: Verdict.EXPIRED, InvitationState.REDEEMED: Verdict.USED,
          InvitationState.REVOKED: Verdict.REVOKED}


class Redeemer:
    """Thread-safe; one per process serving invitations."""

    def __init__(self, settings: Settings, store: JobStore):
        # The person waits at the page: retry little, and say so if CommBox stays unwell.
        quick = settings.replace(max_retries=1, backoff_base=0.2, backoff_max=1.0)
        self.settings, self.store = settings, store
        self.client = CommBoxClient.from_settings(quick)
        self.links = LinkBuilder(settings)

    def close(self) -> None:
        self.client.close()

    def look(self, token: str) -> Visit:
        """What the link shows now. Never uses it up (mail scanners fetch every link)."""
        invitation = stored.find_by_hash(self.store, token_hash(token)) if well_formed(token) else None
        if invitation is None or invitation.request is None:
            return Visit(Verdict.UNKNOWN)
        state = invitation.state()
        if state in _ENDED:
            return Visit(_ENDED[state], invitation)
        return Visit(Verdict.CONFIRM, invitation)

    def redeem(self, token: str, clicker: Clicker, email: str = "") -> Visit:
        """Claim the invitation for this click and mint its ticket; exactly one of any number of
        racing clicks on a single-use invitation mints."""
        seen = self.look(token)
        invitation = seen.invitation
        if seen.verdict is not Verdict.CONFIRM or invitation is None:
            return seen
        if invitation.confirm_email and not _same_email(email, invitation.request.get("email")):
            audit(self.store, [self._entry(invitation, clicker, "refused", "wrong_email")], now=True)
            return Visit(Verdict.WRONG_EMAIL, invitation)
        claimed_at = stored.claim(self.store, invitation.id, datetime.now(UTC))
        if claimed_at is None:
            now = self.look(token)
            return now if now.verdict is not Verdict.CONFIRM else Visit(Verdict.BUSY, invitation)
        return self._mint(token, invitation, claimed_at, clicker)

    def _mint(self, token: str, invitation: StoredInvitation, claimed_at: str, clicker: Clicker) -> Visit:
        request = TicketRequest.model_validate(invitation.request).model_copy(update={"oneTimeUse": True})
        try:
            outcome = self.client.create_ticket(request)
            link = self.links.build(request, outcome.token, outcome.issued_at) if outcome.ok else None
        except Exception:  # a bug or a link that cannot be built: give the invitation back, then report
            stored.settle(self.store, invitation.id, claimed_at, minted=False, error="internal",
                          also=self._audit(invitation, clicker, "failed", "internal"))
            raise
        if link is None:
            code = outcome.error_code or ErrorCode.BAD_RESPONSE
            stored.settle(self.store, invitation.id, claimed_at, minted=False, error=str(code),
                          also=self._audit(invitation, clicker, "failed", str(code)))
            return Visit(Verdict.FAILED, invitation, error_code=code, retry=_may_help(code))
        stored.settle(self.store, invitation.id, claimed_at, minted=True,
                      also=self._audit(invitation, clicker, "ok", None, fingerprint(outcome.token)))
        return Visit(Verdict.MINTED, invitation, url=link.url)

    def _audit(self, invitation: StoredInvitation, clicker: Clicker, outcome: str, error_code: str | None,
               ticket_fingerprint: str | None = None):
        """The click's audit entry, as a write for the transaction that settles the claim."""
        return audit_write([self._entry(invitation, clicker, outcome, error_code, ticket_fingerprint)])

    def _entry(self, invitation: StoredInvitation, clicker: Clicker, outcome: str, error_code: str | None,
               ticket_fingerprint: str | None = None) -> AuditEntry:
        request = invitation.request or {}
        return AuditEntry(
            RECIPIENT, self.settings.api_host, invitation.kind, outcome, action="redeem",
            brand=request.get("brand") or "", subject=subject_of(invitation.kind, request), one_time_use=True, error_code=error_code,
            fingerprint=ticket_fingerprint, job_id=invitation.job_id, invitation_id=invitation.id,
            client=clicker.address or None, user_agent=clicker.user_agent or None)


def _same_email(given: str, on_record: str | None) -> bool:
    if not on_record:
        return False
    return hmac.compare_digest(given.strip().casefold().encode(), on_record.strip().casefold().encode())


def _may_help(code: ErrorCode) -> bool:
    """Whether the same click later may succeed (CommBox busy or away, or our key being fixed)."""
    return code.retryable or code is ErrorCode.UNAUTHORIZED
