"""100k-call loops must not grow Python's heap (tracemalloc) nor the process
(RSS) beyond a bound: every reference, buffer export and pin is given back,
on success and on every error path."""
import array
import gc
import os
import sys
import tracemalloc

import pytest

import pce

N = 100_000
# ASan's quarantine keeps freed memory resident: RSS says nothing there.
UNDER_ASAN = "asan" in os.environ.get("LD_PRELOAD", "")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def loop(body):
    """Run body(i) N times; (tracemalloc growth, RSS growth).

    The warm-up runs while tracing already: a table the interpreter grows
    once (and so re-allocates under tracing) is not counted as growth.
    """
    tracemalloc.start()
    for i in range(2000):
        body(i)
    gc.collect()
    rss0 = rss_bytes()
    snap0 = tracemalloc.take_snapshot()
    for i in range(N):
        body(i)
    gc.collect()
    snap1 = tracemalloc.take_snapshot()
    rss1 = rss_bytes()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    return grown, rss1 - rss0


@pytest.fixture(scope="module")
def cache():
    c = pce.Cache(max_pins=64)
    toks = array.array("I", range(1024))
    c.store(toks, 1)
    c.store(list(range(100, 140)), 2)
    yield c
    c.close()


def bounded(grown, rss):
    # A leak of one object per call would be >= 100k * 16 bytes = 1.6 MB.
    assert grown < 256 * 1024, f"tracemalloc grew {grown} bytes"
    assert UNDER_ASAN or rss < 8 * 1024 * 1024, f"RSS grew {rss} bytes"


def test_lookup_buffer(cache):
    q = array.array("I", range(1024))
    refs = sys.getrefcount(q)
    bounded(*loop(lambda i: cache.lookup(q)))
    assert sys.getrefcount(q) == refs
    q.append(1)  # raises BufferError if an export was never released


def test_lookup_list_with_options(cache):
    q = list(range(100, 140)) + [7]
    refs = sys.getrefcount(q)
    bounded(*loop(lambda i: cache.lookup(q, ns=0, whole=False, lease_ns=0)))
    assert sys.getrefcount(q) == refs


def test_lookup_pin_release(cache):
    q = array.array("I", range(512))

    def body(i):
        with cache.lookup(q, pin=True) as m:
            assert m.pin
        cache.lookup(q, pin=True)  # dropped: released by collection

    bounded(*loop(body))
    assert cache.stats()["live_pins"] == 0


def test_store_remove(cache):
    def body(i):
        t = [7, i % 1000, 5]
        cache.store(t, i)
        cache.remove(t)

    bounded(*loop(body))
    cache.reclaim()


def test_batches(cache):
    qs = [array.array("I", range(k, k + 64)) for k in range(8)]
    vals = list(range(8))
    refs = [sys.getrefcount(q) for q in qs] + [sys.getrefcount(qs), sys.getrefcount(vals)]

    def body(i):
        cache.lookup_many(qs)
        cache.store_many(qs, vals)

    bounded(*loop(body))
    assert [sys.getrefcount(q) for q in qs] + [sys.getrefcount(qs),
                                                sys.getrefcount(vals)] == refs
    for q in qs:
        q.append(1)


def test_error_paths(cache):
    bad_range = [1, 2, -1]
    bad_type = [1, 2, "x"]
    bad_buf = array.array("h", [1, 2])

    def body(i):
        for q, exc in ((bad_range, ValueError), (bad_type, TypeError), (bad_buf, TypeError)):
            try:
                cache.lookup(q)
            except exc:
                pass
        try:
            cache.remove([9, 9, 9])
        except pce.NotFoundError:
            pass
        try:
            cache.lookup_many([[1], [2, -5]])
        except ValueError:
            pass

    bounded(*loop(body))


def test_stats_dedup(cache):
    qs = [[1, 2, 3], [1, 2, 4]]
    bounded(*loop(lambda i: (cache.stats(), cache.dedup(qs))))


def test_create_close():
    def body(i):
        with pce.Cache(shards=1, max_pins=1, background_reclaim=False) as c:
            c.store([i], i)

    for i in range(1000):
        body(i)
    gc.collect()
    rss0 = rss_bytes()
    for i in range(10_000):
        body(i)
    gc.collect()
    assert UNDER_ASAN or rss_bytes() - rss0 < 8 * 1024 * 1024
