"""Behaviour and errors of each call, tokens in every accepted form."""
import array
import gc

import pytest

import pce

try:
    import numpy as np
except ImportError:  # numpy is optional: its tests are skipped
    np = None


def test_store_lookup_roundtrip(make_cache):
    c = make_cache()
    r = c.store([1, 2, 3, 4], 7, 100)
    assert r.stored and not r.replaced and r.existing_value is None and r.new_tokens == 4
    assert r.error is None
    m = c.lookup([1, 2, 3, 9])
    assert m and m.tokens == 3 and m.value == 7 and m.entry_len == 4 and m.kv_bytes == 100
    assert m.blocks == 3 and m.pin is None
    miss = c.lookup([5, 6])
    assert not miss and miss.tokens == 0
    assert c.lookup([1, 2, 3, 4], ns=1).tokens == 0  # namespaces never match each other


def test_store_existing_and_replace(make_cache):
    c = make_cache()
    c.store([1, 2, 3], 7)
    r = c.store([1, 2, 3], 8)
    assert not r.stored and r.existing_value == 7 and r.error is None
    assert c.lookup([1, 2, 3]).value == 7
    r = c.store([1, 2, 3], 9, replace=True)
    assert r.stored and r.replaced and r.existing_value == 7
    assert c.lookup([1, 2, 3]).value == 9


def test_lookup_whole_and_peek(make_cache):
    c = make_cache()
    c.store([1, 2, 3, 4, 5], 1)
    c.store([1, 2], 2)
    assert c.lookup([1, 2, 3, 9]).tokens == 3
    w = c.lookup([1, 2, 3, 9], whole=True)
    assert w.tokens == 2 and w.value == 2
    before = c.stats()["lookups"]
    assert c.lookup([1, 2, 3], peek=True).tokens == 3
    assert c.stats()["lookups"] == before
    with pytest.raises(pce.InvalidArgumentError):
        c.lookup([1], pin=True, peek=True)


def test_block_size_and_min_prefix(make_cache):
    c = make_cache(block_size=4, min_prefix_len=4)
    c.store(list(range(10)), 1)
    m = c.lookup(list(range(7)) + [99])
    assert m.tokens == 4 and m.blocks == 1
    assert not c.lookup([0, 1, 2])
    with pytest.raises(pce.TooShortError) as e:
        c.store([1, 2], 1)
    assert isinstance(e.value, ValueError) and e.value.code == pce.TooShortError.code


def test_pins_context_managers(make_cache):
    c = make_cache()
    c.store([1, 2, 3], 5)
    with c.lookup([1, 2, 3], pin=True) as m:
        assert m.pin is not None and not m.pin.released
        assert c.stats()["live_pins"] == 1
        with pytest.raises(pce.BusyError):
            c.close()
    assert m.pin.released and c.stats()["live_pins"] == 0
    m = c.lookup([1, 2], pin=True)
    with m.pin as p:
        assert p is m.pin
    assert c.stats()["live_pins"] == 0
    m = c.lookup([1, 2], pin=True)
    m.pin.release()
    with pytest.raises(pce.StaleError):
        m.pin.release()
    assert c.lookup([7], pin=True).pin is None  # a miss takes no pin


def test_pinned_entry_outlives_removal(make_cache):
    released = []
    c = make_cache(on_release=released.append, background_reclaim=False)
    c.store([1, 2, 3], 5)
    m = c.lookup([1, 2, 3], pin=True)
    assert c.remove([1, 2, 3]) == 5
    c.reclaim()
    assert released == [] and c.stats()["pinned_unlinked"] == 1
    m.pin.release()
    c.reclaim()
    assert [(r.value, r.reason) for r in released] == [(5, "removed")]


def test_unreleased_pin_releases_when_collected(make_cache):
    c = make_cache()
    c.store([1, 2, 3], 5)
    c.lookup([1, 2, 3], pin=True)  # dropped at once
    m = c.lookup([1, 2, 3], pin=True)
    assert c.stats()["live_pins"] == 1
    del m
    gc.collect()
    assert c.stats()["live_pins"] == 0


def test_pin_keeps_cache_alive():
    c = pce.Cache()
    c.store([1, 2, 3], 5)
    pin = c.lookup([1, 2, 3], pin=True).pin
    del c
    gc.collect()
    pin.release()  # the cache is still there for it


def test_remove_clear(make_cache):
    c = make_cache()
    for ns in (1, 2):
        c.store([1, 2, 3], 10 + ns, ns=ns)
        c.store([1, 2, 3, 4], 20 + ns, ns=ns)
    assert c.remove([1, 2, 3], ns=1) == 11
    assert c.lookup([1, 2, 3, 4], ns=1).value == 21  # entries it prefixes stay
    with pytest.raises(pce.NotFoundError) as e:
        c.remove([1, 2, 3], ns=1)
    assert isinstance(e.value, LookupError)
    assert c.clear(ns=2) == 2
    assert c.stats()["entries"] == 1
    assert c.clear() == 1
    assert c.stats()["entries"] == 0


def test_stats_dict(make_cache):
    c = make_cache(kv_budget=1 << 20, max_entries=100, shards=4)
    c.store([1, 2, 3], 1, 10)
    c.lookup([1, 2])
    c.lookup([9])
    s = c.stats()
    assert s["lookups"] == 2 and s["hits"] == 1 and s["misses"] == 1
    assert s["entries"] == 1 and s["kv_bytes"] == 10 and s["kv_budget"] == 1 << 20
    assert s["max_entries"] == 100 and s["shards"] == 4
    assert set(s["removed"]) == {"capacity", "ttl", "removed", "cleared", "replaced",
                                 "destroyed"}
    assert sum(c.shard_entries()) == 1 and len(c.shard_entries()) == 4


def test_budget_refuses(make_cache):
    c = make_cache(kv_budget=100)
    with pytest.raises(pce.NoSpaceError):
        c.store([1, 2, 3], 1, 1000)
    assert c.stats()["stores_refused"] == 1


def test_audit(make_cache):
    c = make_cache()
    for i in range(100):
        c.store([i % 7, i, i + 1], i)
    c.audit()
    c.audit(quiescent=True)


def test_dedup(make_cache):
    c = make_cache()
    c.store([1, 2, 3, 4], 1)
    d = c.dedup([[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 7], [9, 9]])
    assert d == {"sequences": 3, "total_tokens": 14, "cached_tokens": 8,
                 "shared_tokens": 1, "unique_tokens": 5, "dedup_ratio": 9 / 14}
    d = pce.dedup([[1, 2, 3], [1, 2, 4]])
    assert d["shared_tokens"] == 2 and d["cached_tokens"] == 0
    assert pce.dedup([])["dedup_ratio"] == 0.0
    d = pce.dedup([[1, 2, 3], [1, 2, 4]], ns=[1, 2])  # one namespace per sequence
    assert d["shared_tokens"] == 0


def test_batches(make_cache):
    c = make_cache()
    res = c.store_many([[1, 2, 3], [1, 2, 4], [1, 2, 3], [5]], [1, 2, 3, 4], kv_bytes=8)
    assert [r.stored for r in res] == [True, True, False, True]
    assert res[2].existing_value == 1
    ms = c.lookup_many([[1, 2, 3, 7], [1, 2, 4], [6], array.array("I", [5, 5])])
    assert [m.tokens for m in ms] == [3, 3, 0, 1]
    assert [m.value for m in ms if m] == [1, 2, 4]
    res = c.store_many([[1], [2]], [1, 2], ns=[7, 8], kv_bytes=[1, 2])
    assert c.lookup([2], ns=8).kv_bytes == 2 and not c.lookup([2], ns=7)
    ms = c.lookup_many([[1], [2]], ns=[7, 8], pin=True)
    assert all(m.pin for m in ms) and c.stats()["live_pins"] == 2
    del ms
    assert c.stats()["live_pins"] == 0
    assert c.lookup_many([]) == [] and c.store_many([], []) == []


def test_store_many_reports_refusals(make_cache):
    c = make_cache(min_prefix_len=2, kv_budget=100)
    res = c.store_many([[1], [1, 2], [3, 4]], [1, 2, 3], kv_bytes=[1, 1, 1000])
    assert [r.stored for r in res] == [False, True, False]
    assert isinstance(res[0].error, pce.TooShortError)
    assert isinstance(res[2].error, pce.NoSpaceError)
    with pytest.raises(ValueError):  # conversion fails before anything is stored
        c.store_many([[7, 8], [-1, 2]], [1, 2])
    assert not c.lookup([7, 8])
    with pytest.raises(ValueError):
        c.store_many([[7, 8]], [1, 2])
    with pytest.raises(TypeError):
        c.store_many([[7, 8]], 1)


def test_pin_table_full(make_cache):
    c = make_cache(max_pins=2)
    c.store([1], 1)
    p = [c.lookup([1], pin=True) for _ in range(2)]
    with pytest.raises(pce.NoPinsError):
        c.lookup([1], pin=True)
    ms = c.lookup_many([[1], [1]], pin=True)
    assert [m.tokens for m in ms] == [0, 0]  # a full table is a miss in a batch
    del p


def test_token_buffers(make_cache):
    c = make_cache()
    c.store(array.array("I", [1, 2, 3]), 1)
    assert c.lookup(memoryview(array.array("I", [1, 2, 9]))).tokens == 2
    assert c.lookup(memoryview(bytes(array.array("I", [1, 2]))).cast("I")).tokens == 2
    assert c.lookup((1, 2, 3)).tokens == 3
    assert c.lookup(range(1, 4)).tokens == 3
    assert c.lookup([]).tokens == 0
    assert c.lookup(array.array("I")).tokens == 0
    with pytest.raises(TypeError):
        c.lookup(array.array("i", [1, 2]))  # signed: could hold negatives
    with pytest.raises(TypeError):
        c.lookup(array.array("H", [1, 2]))
    with pytest.raises(TypeError):
        c.lookup(b"\x01\x00\x00\x00")
    with pytest.raises(TypeError):
        c.lookup([1, 2.0])
    with pytest.raises(TypeError):
        c.lookup(5)
    with pytest.raises(pce.InvalidArgumentError):
        c.store([], 1)


@pytest.mark.skipif(np is None, reason="numpy is not installed")
def test_numpy_tokens(make_cache):
    c = make_cache()
    a = np.arange(1, 100, dtype=np.uint32)
    c.store(a, 3)
    assert c.lookup(a[:50]).tokens == 50
    assert c.lookup(np.array([1, 2, 77], dtype="<u4")).tokens == 2
    with pytest.raises((ValueError, BufferError, TypeError)):
        c.lookup(a[::2])  # not contiguous
    with pytest.raises(TypeError):
        c.lookup(a.astype(np.int64))
    with pytest.raises(TypeError):
        c.lookup(a.reshape(9, 11))
    assert c.lookup(list(a[:10])).tokens == 10  # numpy scalars in a list


@pytest.mark.parametrize("bad", [-1, 2**32, 2**64, -(2**70)])
def test_token_range(make_cache, bad):
    c = make_cache()
    with pytest.raises(ValueError, match="out of range"):
        c.store([1, bad], 1)
    with pytest.raises(ValueError, match="out of range"):
        c.lookup([bad] * 100)
    assert c.stats()["stores"] == 0
    c.store([0, 2**32 - 1], 1)
    assert c.lookup([0, 2**32 - 1]).tokens == 2


def test_integer_arguments_never_wrap(make_cache):
    c = make_cache()
    for kw in ({"ns": -1}, {"ns": 2**64}):
        with pytest.raises(ValueError):
            c.lookup([1], **kw)
    with pytest.raises(ValueError):
        c.store([1], -1)
    with pytest.raises(ValueError):
        c.store([1], 2**64)
    c.store([1], 2**64 - 1, ns=2**64 - 1)
    assert c.lookup([1], ns=2**64 - 1).value == 2**64 - 1
    with pytest.raises(ValueError):
        pce.Cache(shards=2**32 + 16)
    with pytest.raises(ValueError):
        pce.Cache(kv_budget=-1)


def test_config_errors():
    with pytest.raises(pce.InvalidArgumentError, match="shards"):
        pce.Cache(shards=3)
    with pytest.raises(pce.InvalidArgumentError):
        pce.Cache(high_watermark_pct=50, low_watermark_pct=60)
    with pytest.raises(pce.InvalidArgumentError):
        pce.Cache(kv_mode="per_token")  # needs kv_bytes_per_token
    with pytest.raises(ValueError):
        pce.Cache(policy="fifo")
    with pytest.raises(TypeError):
        pce.Cache(shard=16)
    with pytest.raises(TypeError):
        pce.Cache(16)
    with pytest.raises(TypeError):
        pce.Cache(on_release=5)


def test_per_token_lfu(make_cache):
    c = make_cache(kv_mode="per_token", kv_bytes_per_token=10, policy="lfu")
    c.store([1, 2, 3], 1, 99999)
    c.store([1, 2, 4], 2)
    assert c.stats()["kv_bytes"] == 40  # a shared prefix counts once


def test_close(make_cache):
    c = pce.Cache()
    c.store([1], 1)
    with c:
        pass
    assert c.closed
    c.close()  # idempotent
    with pytest.raises(pce.InvalidArgumentError, match="closed"):
        c.lookup([1])
    with pytest.raises(pce.InvalidArgumentError):
        c.stats()


def test_errors_hierarchy():
    classes = [pce.InvalidArgumentError, pce.OutOfMemoryError, pce.ExistsError,
               pce.NotFoundError, pce.BusyError, pce.NoSpaceError, pce.StaleError,
               pce.TooBigError, pce.TooShortError, pce.NoPinsError, pce.CorruptError,
               pce.ThreadError, pce.ForkedError, pce.EventBatchError, pce.ZmqError,
               pce.TimedOutError, pce.UnavailableError]
    assert len({k.code for k in classes}) == len(classes)
    for k in classes:
        assert issubclass(k, pce.Error)
        assert pce.err_name(k.code) == k.name
        assert pce.strerror(k.code) in k.__doc__
    assert pce.err_name(12345) == "PCE_EUNKNOWN"
    assert pce.strerror(0) == "success"
    assert issubclass(pce.OutOfMemoryError, MemoryError)
    assert issubclass(pce.TimedOutError, TimeoutError)
    try:
        pce.Cache(shards=0)
    except pce.Error as e:
        assert "(PCE_EINVAL)" in str(e) and e.code == pce.InvalidArgumentError.code


def test_version():
    assert pce.version.count(".") == 2
    major, minor, patch = map(int, pce.version.split("."))
    assert pce.version_number == major * 10000 + minor * 100 + patch


def test_help_reads_like_the_header():
    doc = pce.Cache.__doc__
    for word in ("kv_budget", "on_release", "GIL", "unraisablehook", "reclaim thread"):
        assert word in doc
    for name in ("store", "lookup", "lookup_many", "store_many", "remove", "clear",
                 "stats", "audit", "dedup", "reclaim", "close", "remove_prefix", "touch",
                 "evict", "set_budgets"):
        assert getattr(pce.Cache, name).__doc__.startswith(name + "(")
