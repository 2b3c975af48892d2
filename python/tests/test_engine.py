"""What an inference engine needs beyond store and lookup: evict on demand,
budgets changed at run time, touch, remove_prefix, the holder a store
reports (and pins), and entry ids in events and releases."""
import threading

import pytest

import pce


def manual(make_cache, **cfg):
    return make_cache(background_reclaim=False, **cfg)


def test_evict_entries_clock_order(make_cache):
    released = []
    c = manual(make_cache, shards=1, on_release=released.append)
    for i in range(6):
        c.store([i * 10, i * 10 + 1], i, 100)
    assert c.lookup([0, 1])  # a second chance for entry 0
    e = c.evict(2, "entries")
    assert isinstance(e, pce.Evicted) and e.complete
    assert (e.entries, e.kv_bytes, e.tokens) == (2, 200, 4) and e.index_bytes > 0
    # released before evict() returned: the cold ones, not entry 0
    assert sorted(r.value for r in released) == [1, 2]
    assert {r.reason for r in released} == {"capacity"}
    e = c.evict(150, "kv_bytes")
    assert e.complete and e.kv_bytes == 200  # whole entries
    assert c.evict(0, "tokens") == (0, 0, 0, 0, True)
    assert c.stats()["entries"] == 2


def test_evict_short_of_amount_is_a_result(make_cache):
    c = manual(make_cache)
    for i in range(3):
        c.store([i, i], i)
    with c.lookup([1, 1], pin=True):
        e = c.evict(10, "entries")
        assert not e.complete and e.entries == 2
        assert c.evict(1, "tokens") == (0, 0, 0, 0, False)  # only the pinned one
        assert c.lookup([1, 1]).value == 1
    e = c.evict(1, "tokens")
    assert e.complete and e.tokens == 2 and c.stats()["entries"] == 0


def test_evict_arguments(make_cache):
    c = manual(make_cache)
    with pytest.raises(ValueError, match="unit"):
        c.evict(1, "blocks")
    with pytest.raises(ValueError, match="unit"):
        c.evict(1, 0)
    with pytest.raises(TypeError):
        c.evict(1)  # the unit is not guessed
    with pytest.raises(ValueError):
        c.evict(-1, "entries")
    assert c.evict(amount=5, unit="entries") == (0, 0, 0, 0, False)  # empty cache


def test_set_budgets(make_cache):
    released = []
    c = manual(make_cache, kv_budget=1 << 20, on_release=released.append)
    for i in range(10):
        c.store([i, i], i, 10)
    c.set_budgets(max_entries=4)
    s = c.stats()
    assert s["entries"] == 4 and s["max_entries"] == 4 and s["kv_budget"] == 1 << 20
    assert len(released) == 6  # released in this thread before it returned
    c.store([50, 50], 50)  # in force for stores: the fifth evicts
    assert c.stats()["entries"] == 4
    c.set_budgets(kv_budget=0, max_entries=None)  # None keeps the value in force
    assert c.stats()["kv_budget"] == 0 and c.stats()["max_entries"] == 4
    with pytest.raises(pce.InvalidArgumentError, match="watermark"):
        c.set_budgets(max_entries=1, high_watermark_pct=50, low_watermark_pct=60)
    assert c.stats()["max_entries"] == 4  # nothing changed
    with pytest.raises(pce.InvalidArgumentError):
        c.set_budgets(low_watermark_pct=95)  # above the high mark in force (90)
    c.set_budgets(high_watermark_pct=99, low_watermark_pct=95)
    c.set_budgets(low_watermark_pct=99)  # checked against high 99: accepted
    with pytest.raises(ValueError):
        c.set_budgets(high_watermark_pct=2**32)
    with pytest.raises(TypeError):
        c.set_budgets(4)  # keywords only
    c.set_budgets(max_entries=0)
    assert c.stats()["max_entries"] == 0


def test_set_budgets_busy_with_pins(make_cache):
    c = manual(make_cache)
    for i in range(4):
        c.store([i, i], i)
    pins = [c.lookup([i, i], pin=True) for i in range(4)]
    with pytest.raises(pce.BusyError):
        c.set_budgets(max_entries=2)
    s = c.stats()
    assert s["max_entries"] == 2 and s["entries"] == 4  # in force anyway
    with pytest.raises(pce.NoSpaceError):
        c.store([9, 9], 9)
    del pins
    c.set_budgets(max_entries=2)
    assert c.stats()["entries"] == 2


def test_set_budgets_from_threads(make_cache):
    """Each call completes what it is not given from the budgets in force, so
    threads changing different fields never undo each other."""
    c = make_cache()
    errors = []

    def run(field, values):
        try:
            for v in values:
                c.set_budgets(**{field: v})
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=run, args=("kv_budget", range(1 << 30, (1 << 30) + 200))),
          threading.Thread(target=run, args=("max_entries", range(1000, 1200)))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    s = c.stats()
    assert s["kv_budget"] == (1 << 30) + 199 and s["max_entries"] == 1199


def test_touch(make_cache):
    now = [1000]
    c = manual(make_cache, clock=lambda: now[0], default_ttl_ns=50)
    c.store([1, 2, 3], 1, ttl_ns=100)
    now[0] += 90
    c.touch([1, 2, 3], ttl_ns=200)  # expires at 1290
    c.touch([1, 2, 3], ttl_ns=10)  # never shortened
    now[0] += 150
    assert c.lookup([1, 2, 3]).tokens == 3
    with pytest.raises(pce.NotFoundError):
        c.touch([1, 2])  # a prefix, not an entry
    with pytest.raises(pce.NotFoundError):
        c.touch([1, 2, 3], ns=1)
    with pytest.raises(pce.InvalidArgumentError):
        c.touch([])
    now[0] += 100
    assert not c.lookup([1, 2, 3])
    with pytest.raises(pce.NotFoundError):
        c.touch([1, 2, 3], ttl_ns=1000)  # expired
    c.store([4, 5], 2, ttl_ns=10)
    c.touch([4, 5], ttl_ns=pce.NEVER)
    now[0] += 10**9
    assert c.lookup([4, 5]).value == 2


def test_touch_sets_the_clock_reference(make_cache):
    c = manual(make_cache, shards=1)
    for i in range(4):
        c.store([i, i], i)
    c.touch([0, 0])
    before = c.stats()["lookups"]
    assert c.evict(1, "entries").entries == 1
    assert c.lookup([0, 0])  # the touched one had its second chance
    assert c.stats()["lookups"] == before + 1  # a touch is no lookup


def test_remove_prefix(make_cache):
    events = []
    c = manual(make_cache, on_event=events.append)
    c.store([1, 2], 1)
    c.store([1, 2, 3], 2)
    c.store([1, 2, 4, 5], 3)
    c.store([1, 3], 4)
    c.store([1, 2, 3], 5, ns=7)
    assert c.remove_prefix([1, 2]) == 3
    assert c.lookup([1, 3]).value == 4 and c.lookup([1, 2, 3], ns=7).value == 5
    assert c.lookup([1, 2]).tokens == 1
    assert c.remove_prefix([9]) == 0
    assert c.remove_prefix([1], ns=7) == 1
    removed = [e for e in events if e.kind == "removed"]
    assert len(removed) == 4 and {e.reason for e in removed} == {"removed"}
    with pytest.raises(pce.InvalidArgumentError):
        c.remove_prefix([])
    with pytest.raises(ValueError):
        c.remove_prefix([1], ns=-1)


def test_remove_prefix_pinned(make_cache):
    released = []
    c = manual(make_cache, on_release=released.append)
    c.store([1, 2, 3], 1)
    c.store([1, 2, 4], 2)
    with c.lookup([1, 2, 3], pin=True):
        assert c.remove_prefix([1]) == 2
        assert not c.lookup([1, 2, 3])
        c.reclaim()
        assert [r.value for r in released] == [2]
    c.reclaim()
    assert sorted(r.value for r in released) == [1, 2]


def test_ids_in_events_and_releases(make_cache):
    events, released = [], []
    c = manual(make_cache, on_event=events.append, on_release=released.append)
    c.store([1, 2], 1)
    c.store([1, 2], 2, replace=True)
    c.store([3, 4], 3)
    stored = {e.id: e.value for e in events if e.kind == "stored"}
    assert len(stored) == 3 and 0 not in stored  # a replacement is a new entry
    c.clear()
    c.reclaim()
    removed = [e.id for e in events if e.kind == "removed"]
    assert sorted(removed) == sorted(stored)
    assert {r.id: r.value for r in released} == stored
    assert all(e[7] == e.id for e in events)  # the id is the eighth item


def test_holder_reported(make_cache):
    ids = []
    c = manual(make_cache, on_event=lambda e: ids.append(e.id))
    r = c.store([5, 5], 5)
    assert r.holder_tokens == 0 and r.holder_pin is None  # empty: no holder
    c.store([1, 2, 3, 4, 5, 6, 7, 8], 11)
    r = c.store([1, 2, 3, 4, 9, 9], 22)
    assert (r.holder_tokens, r.holder_len, r.holder_value) == (4, 8, 11)
    assert r.holder_id == ids[1] and r.new_tokens == 2 and r.holder_pin is None
    assert c.store([1, 2, 3, 4, 9, 9], 33, ns=7).holder_tokens == 0  # other namespace
    r = c.store([1, 2, 3, 4, 5, 6, 7, 8], 44)  # already stored: the holder is the entry
    assert not r.stored and r.existing_value == 11
    assert (r.holder_tokens, r.holder_value) == (8, 11)
    assert c.stats()["lookups"] == 0  # finding the holder is no lookup


def test_holder_pin(make_cache):
    released = []
    c = manual(make_cache, on_release=released.append)
    c.store([1, 2, 3, 4], 7)
    r = c.store([1, 2, 3, 9], 8, pin_holder=True, lease_ns=pce.NEVER)
    assert isinstance(r.holder_pin, pce.Pin) and r.holder_value == 7
    assert c.stats()["live_pins"] == 1
    assert c.remove([1, 2, 3, 4]) == 7
    c.reclaim()
    assert released == []  # the pinned holder's value stays valid
    with r.holder_pin:
        with pytest.raises(pce.BusyError):
            c.close()
    c.reclaim()
    assert [x.value for x in released] == [7] and c.stats()["live_pins"] == 0
    # Already stored: the pin is kept (on the entry itself).
    r = c.store([1, 2, 3, 9], 9, pin_holder=True)
    assert not r.stored and r.holder_pin and r.holder_tokens == 4
    del r
    assert c.stats()["live_pins"] == 0  # collected, released
    r = c.store([4, 4], 1, pin_holder=True)
    assert r.stored and r.holder_pin is None  # no holder, nothing to pin


def test_holder_pin_errors(make_cache):
    c = manual(make_cache, max_pins=1, max_entries=1, shards=1)
    c.store([1, 2, 3], 1)
    with c.lookup([1, 2, 3], pin=True):
        with pytest.raises(pce.NoPinsError):
            c.store([1, 2, 4], 2, pin_holder=True)
        assert c.stats()["entries"] == 1  # nothing stored
        with pytest.raises(pce.NoSpaceError):
            c.store([7, 7], 3, pin_holder=True)  # no holder: refused by the budget
    assert c.stats()["live_pins"] == 0
    # The holder is the only evictable entry and the store pinned it: the pin
    # is dropped with the refusal.
    with pytest.raises(pce.NoSpaceError):
        c.store([1, 2, 4], 2, pin_holder=True)
    assert c.stats()["live_pins"] == 0 and c.lookup([1, 2, 3]).value == 1
    with pytest.raises(ValueError):
        c.store([1, 2, 4], 2, pin_holder=True, lease_ns=-1)


def test_store_many_holder_pins(make_cache):
    c = make_cache(max_pins=3)
    c.store([1, 2, 3], 1)
    res = c.store_many([[1, 2, 4], [1, 2, 5], [9, 9], [1, 2, 3]], [2, 3, 4, 5],
                       pin_holder=True)
    assert [r.stored for r in res] == [True, True, True, False]
    assert [r.holder_pin is not None for r in res] == [True, True, False, True]
    assert c.stats()["live_pins"] == 3
    res = c.store_many([[1, 2, 6]], [6], pin_holder=True)
    assert isinstance(res[0].error, pce.NoPinsError) and res[0].holder_pin is None
    del res
    assert c.stats()["live_pins"] == 0
