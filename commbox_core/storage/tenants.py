"""The tenant board: runs on one tenant (on any server sharing the store) tell each other how fast
they send, and the tenant's latest cut after a 429, so that together they keep to its limit.

A run says what it sends every few tenths of a second; one silent for SENDER_TTL_S is gone
(a server that died). Times are wall-clock epoch seconds, the only clock servers share.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from commbox_core.api.pacing import SETTLE_S, TenantCut  # SETTLE_S: cuts this close are one episode
from commbox_core.storage.store import JobStore

SENDER_TTL_S = 1.5  # a run that said nothing for this long no longer counts as sending
CUT_TTL_S = 300.0  # an older cut says little about the limit now: newcomers start from scratch


@dataclass(frozen=True, slots=True)
class TenantView:
    others: int  # runs sending to the tenant besides the one asking
    others_rate: float  # their requests per second, together
    others_accepted: float  # of which the tenant accepted this many
    cut: TenantCut | None  # the tenant's latest cut, if recent


class TenantBoard:
    def __init__(self, store: JobStore):
        self.store = store

    def report(self, tenant: str, job_id: str, send_rate: float, accept_rate: float,
               cut: TenantCut | None = None) -> TenantView:
        """Say what this run sends and gets accepted (and the cut it made, if any); hear what the
        others say."""
        now = time.time()

        def write(conn) -> None:
            conn.execute("INSERT INTO tenant_senders (tenant_host, job_id, send_rate, accept_rate, seen_at) "
                         "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_host, job_id) DO UPDATE SET "
                         "send_rate=excluded.send_rate, accept_rate=excluded.accept_rate, seen_at=excluded.seen_at",
                         (tenant, job_id, send_rate, accept_rate, now))
            if cut is not None:  # it replaces the tenant's last cut unless that one is of the same episode
                conn.execute("INSERT INTO tenant_cuts (tenant_host, revealed, floor, cut_at) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT (tenant_host) DO UPDATE SET revealed=excluded.revealed, "
                             "floor=excluded.floor, cut_at=excluded.cut_at WHERE tenant_cuts.cut_at < ?",
                             (tenant, cut.revealed, cut.floor, cut.at, cut.at - SETTLE_S))

        # Through the store's writer, committed with what it holds: a transaction of its own, ten
        # times a second, took SQLite's write lock from under the run's commits, which then slept
        # (SQLite's busy handler) while the run's requests waited for their marks.
        self.store.submit(write)
        self.store.flush()
        return self.view(tenant, job_id, now)

    def view(self, tenant: str, job_id: str, now: float | None = None) -> TenantView:
        now = time.time() if now is None else now
        with self.store.database.connection() as conn:  # one connection for both
            senders = conn.execute(
                "SELECT count(*), COALESCE(sum(send_rate), 0), COALESCE(sum(accept_rate), 0) FROM tenant_senders "
                "WHERE tenant_host=? AND job_id<>? AND seen_at>?", (tenant, job_id, now - SENDER_TTL_S)).fetchall()
            cuts = conn.execute("SELECT revealed, floor, cut_at FROM tenant_cuts WHERE tenant_host=? AND cut_at>?",
                                (tenant, now - CUT_TTL_S)).fetchall()
        cut = TenantCut(float(cuts[0][0]), float(cuts[0][1]), float(cuts[0][2])) if cuts else None
        return TenantView(int(senders[0][0]), float(senders[0][1]), float(senders[0][2]), cut)

    def leave(self, tenant: str, job_id: str) -> None:
        """The run stopped sending: the others may take its part at once."""
        self.store.transaction(lambda conn: conn.execute(
            "DELETE FROM tenant_senders WHERE tenant_host=? AND (job_id=? OR seen_at<?)",
            (tenant, job_id, time.time() - 60 * SENDER_TTL_S)))

