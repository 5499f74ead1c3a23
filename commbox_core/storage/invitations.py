"""Invitations in the job store: created with a run, looked up by the hash of their token,
claimed by exactly one click, then redeemed, or given back when CommBox fails at the click.

The token itself is never stored: only its SHA-256. A token has 192 random bits, so a plain hash
is as strong as a slow one here, and an indexed lookup by hash tells a guesser nothing through
its timing (the hash of a guess shares no prefix with a real token's by more than chance).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from commbox_core.storage.store import JobStore, now_iso
from commbox_core.storage.writer import Write

# A claim not settled after this long belongs to a process that died between claiming and
# minting: the invitation may be claimed again.
STALE_CLAIM_S = 120


class InvitationState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # a click is minting its ticket right now
    REDEEMED = "redeemed"
    REVOKED = "revoked"
    EXPIRED = "expired"  # never stored: a pending invitation past its expiry


@dataclass(frozen=True)
class StoredInvitation:
    id: str
    job_id: str | None
    row: int | None
    kind: str
    request: dict | None
    greeting: str
    confirm_email: bool
    single_use: bool
    valid_for_s: int
    created_at: datetime
    created_by: str
    expires_at: datetime
    stored_state: InvitationState
    redeemed_at: datetime | None
    redemptions: int
    failures: int
    last_error: str | None
    revoked_at: datetime | None
    replaced_by: str | None

    def state(self, now: datetime | None = None) -> InvitationState:
        """As a person sees it: a pending (or half-claimed) invitation past its expiry is expired."""
        if self.stored_state in (InvitationState.PENDING, InvitationState.CLAIMED) and (
            self.expires_at <= (now or datetime.now(UTC))
        ):
            return InvitationState.EXPIRED
        return self.stored_state


@dataclass(frozen=True)
class NewInvitation:
    id: str
    token_hash: str
    job_id: str | None
    row: int | None
    kind: str
    request: dict
    greeting: str
    confirm_email: bool
    single_use: bool
    valid_for_s: int
    created_at: datetime
    created_by: str

    @property
    def expires_at(self) -> datetime:
        return self.created_at + timedelta(seconds=self.valid_for_s)


_INSERT_COLUMNS = ("id", "token_hash", "job_id", "row", "kind", "request", "greeting", "confirm_email",
                   "single_use", "valid_for_s", "created_at", "created_by", "expires_at")


def _insert_values(item: NewInvitation) -> tuple:
    return (item.id, item.token_hash, item.job_id, item.row, item.kind, json.dumps(item.request), item.greeting,
            int(item.confirm_email), int(item.single_use), item.valid_for_s, item.created_at.isoformat(),
            item.created_by, item.expires_at.isoformat())


def insert_invitations(store: JobStore, items: Sequence[NewInvitation]) -> None:
    """In one transaction: a run's invitations exist all together or not at all."""
    sql = f"INSERT INTO invitations ({', '.join(_INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"
    store.transaction(lambda conn: conn.executemany(sql, [_insert_values(item) for item in items]))


def find_by_hash(store: JobStore, token_hash: str) -> StoredInvitation | None:
    rows = store.query("SELECT * FROM invitations WHERE token_hash = ?", [token_hash])
    return _invitation(rows[0]) if rows else None


def find(store: JobStore, invitation_id: str) -> StoredInvitation | None:
    rows = store.query("SELECT * FROM invitations WHERE id = ?", [invitation_id])
    return _invitation(rows[0]) if rows else None


def of_job(store: JobStore, job_id: str | None = None, limit: int = 100_000) -> list[StoredInvitation]:
    """A run's invitations by row (all runs' when job_id is None, newest first)."""
    if job_id is None:
        rows = store.query("SELECT * FROM invitations ORDER BY created_at DESC, id LIMIT ?", [limit])
    else:
        rows = store.query("SELECT * FROM invitations WHERE job_id = ? ORDER BY row, created_at LIMIT ?",
                           [job_id, limit])
    return [_invitation(row) for row in rows]


def claim(store: JobStore, invitation_id: str, now: datetime) -> str | None:
    """Take the invitation for one click: the claim's time if this caller got it, None if another
    click holds it, or it was used, revoked or expired meanwhile. One UPDATE, so of any number of
    racing clicks (threads or processes on one store) exactly one gets it."""
    claimed_at = now.isoformat()
    stale = (now - timedelta(seconds=STALE_CLAIM_S)).isoformat()
    taken = []

    def take(conn) -> None:
        cursor = conn.execute(
            "UPDATE invitations SET state = 'claimed', claimed_at = ? WHERE id = ? AND expires_at > ? "
            "AND (state = 'pending' OR (state = 'claimed' AND claimed_at < ?))",
            (claimed_at, invitation_id, claimed_at, stale))
        taken.append(cursor.rowcount == 1)

    store.transaction(take)
    return claimed_at if taken[0] else None


def settle(store: JobStore, invitation_id: str, claimed_at: str, *, minted: bool, error: str | None = None,
           also: Write | None = None) -> None:
    """End a claim: used up (single use), or pending again (a failure, or a reusable invitation);
    `also` (the click's audit entry) lands in the same transaction."""
    now = now_iso()
    if minted:
        sql = ("UPDATE invitations SET state = CASE WHEN single_use = 1 THEN 'redeemed' ELSE 'pending' END, "
               "claimed_at = NULL, redeemed_at = ?, redemptions = redemptions + 1 WHERE id = ? AND claimed_at = ?")
        params: tuple = (now, invitation_id, claimed_at)
    else:
        sql = ("UPDATE invitations SET state = 'pending', claimed_at = NULL, failures = failures + 1, "
               "last_error = ? WHERE id = ? AND claimed_at = ?")
        params = (error, invitation_id, claimed_at)

    def apply(conn) -> None:
        conn.execute(sql, params)
        if also is not None:
            also(conn)

    store.transaction(apply)


def revoke(store: JobStore, invitation_ids: Iterable[str] = (), *, job_id: str | None = None, by: str,
           replaced_by: str | None = None) -> list[str]:
    """Revoke invitations not used up yet (by id, or a whole run's); returns the ids revoked."""
    found: list[str] = []
    ids = list(invitation_ids)

    def apply(conn) -> None:
        if job_id is not None:
            where, params = "job_id = ?", [job_id]
        else:
            where, params = f"id IN ({', '.join('?' * len(ids))})", ids
        live = f"{where} AND state IN ('pending', 'claimed')"
        found.extend(row[0] for row in conn.execute(f"SELECT id FROM invitations WHERE {live}", params))
        conn.execute(f"UPDATE invitations SET state = 'revoked', revoked_at = ?, revoked_by = ?, replaced_by = ? "
                     f"WHERE {live}", [now_iso(), by, replaced_by, *params])

    if ids or job_id is not None:
        store.transaction(apply)
    return found


def replace(store: JobStore, old_id: str, new: NewInvitation, *, by: str) -> bool:
    """A new invitation for the same person, the old one revoked, in one transaction; False
    when the old one is no longer pending (used, revoked or gone)."""
    done = []

    def apply(conn) -> None:
        cursor = conn.execute(
            "UPDATE invitations SET state = 'revoked', revoked_at = ?, revoked_by = ?, replaced_by = ? "
            "WHERE id = ? AND state IN ('pending', 'claimed')", (now_iso(), by, new.id, old_id))
        if cursor.rowcount == 1:
            conn.execute(f"INSERT INTO invitations ({', '.join(_INSERT_COLUMNS)}) "
                         f"VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})", _insert_values(new))
            done.append(True)

    store.transaction(apply)
    return bool(done)


def purge_job(store: JobStore, job_id: str) -> None:
    """Forget the people behind a run's invitations; pending ones can no longer be redeemed."""
    store.transaction(lambda conn: conn.execute("UPDATE invitations SET request = NULL, greeting = '', "
                 "state = CASE WHEN state IN ('pending', 'claimed') THEN 'revoked' ELSE state END, "
                 "revoked_at = COALESCE(revoked_at, ?), revoked_by = COALESCE(revoked_by, 'purge') WHERE job_id = ?",
                 (now_iso(), job_id)))


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _invitation(row) -> StoredInvitation:
    return StoredInvitation(
        id=row["id"], job_id=row["job_id"], row=row["row"], kind=row["kind"],
        request=json.loads(row["request"]) if row["request"] else None, greeting=row["greeting"],
        confirm_email=bool(row["confirm_email"]), single_use=bool(row["single_use"]), valid_for_s=row["valid_for_s"],
        created_at=_moment(row["created_at"]), created_by=row["created_by"], expires_at=_moment(row["expires_at"]),
        stored_state=InvitationState(row["state"]), redeemed_at=_moment(row["redeemed_at"]),
        redemptions=row["redemptions"], failures=row["failures"], last_error=row["last_error"],
        revoked_at=_moment(row["revoked_at"]), replaced_by=row["replaced_by"],
    )
