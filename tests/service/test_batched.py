"""Results cross to another process in batches, all of them, in order, and a gone peer is told."""

from __future__ import annotations

import time

import pytest

from commbox_core.service.batched import BatchedSender


def test_every_item_arrives_once_in_order_in_few_batches():
    batches = []
    sender = BatchedSender(batches.append, "test-sender", every=0.05).start()
    for item in range(1_000):
        sender.add(item)
        if item % 250 == 0:
            time.sleep(0.06)  # a tick passes now and then
    sender.stop()
    assert [item for batch in batches for item in batch] == list(range(1_000))
    assert len([batch for batch in batches if batch]) <= 50  # not one send per item (about 5 here)


def test_a_gone_connection_is_raised_at_stop_and_ends_the_loop():
    def deliver(batch):
        if batch:
            raise OSError("peer gone")

    sender = BatchedSender(deliver, "test-sender", every=0.01).start()
    sender.add("a result")
    time.sleep(0.1)  # the loop met the error and ended
    sender.add("another")
    with pytest.raises(OSError):
        sender.stop()
