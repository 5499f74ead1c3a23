"""Invitations in the job store: retention and purge forget the people behind them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from commbox_core.fields import Kind
from commbox_core.invitations.issue import new_invitation
from commbox_core.invitations.options import InvitationOptions
from commbox_core.storage import invitations as stored
from commbox_core.storage.store import JobStore
from commbox_core.tickets.request import RowDefaults, build_request


def made(store: JobStore, *, days_ago: float, valid_days: float) -> str:
    request, _ = build_request({"username": "john.d"}, Kind.AGENT, RowDefaults(brand="demo"))
    _, item = new_invitation(request, InvitationOptions(timedelta(days=valid_days)), created_by="test")
    stored.insert_invitations(store, [dataclasses.replace(item, created_at=datetime.now(UTC) - timedelta(days=days_ago))])
    return item.id


def test_retention_forgets_spent_single_invitations_and_keeps_usable_ones(store_target, open_store):
    store = open_store(store_target)
    spent = made(store, days_ago=100, valid_days=7)
    recent = made(store, days_ago=1, valid_days=7)
    store.apply_retention(90)
    assert [item.id for item in stored.of_job(store)] == [recent]
    assert stored.find(store, spent) is None
    store.close()
