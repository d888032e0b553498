"""Slots whose delete failed: kept with their PDU, tried again at growing intervals (pure)."""

from __future__ import annotations

from smsd_crm.modem.slots import FIRST_RETRY, MAX_RETRY, Undeleted


def test_a_slot_is_tried_again_later_and_later():
    u = Undeleted()
    assert u.keep(("SM", 3), "07AB", now=100.0) is True  # first time: worth a warning
    assert u.next_due() == 100.0 + FIRST_RETRY and u.due(100.0) == []
    assert u.due(100.0 + FIRST_RETRY) == [("SM", 3)]
    assert u.keep(("SM", 3), "07ab", now=105.0) is False  # the same PDU again: backoff grows
    assert u.next_due() == 105.0 + 2 * FIRST_RETRY
    for _ in range(20):
        u.postpone(("SM", 3), now=200.0)
    assert u.next_due() == 200.0 + MAX_RETRY


def test_only_the_committed_pdu_counts_as_stored():
    u = Undeleted()
    u.keep(("SR", 1), "07AB", now=0.0)
    assert u.holds(("SR", 1), " 07ab ") and not u.holds(("SR", 1), "07CD") and not u.holds(("SM", 1), "07AB")
    u.forget(("SR", 1))
    assert len(u) == 0 and u.next_due() is None
    u.postpone(("SR", 1), now=0.0)  # nothing to postpone: stays forgotten
    assert len(u) == 0
