"""on_event, on_release and clock: what they receive, from which thread, and
what happens when they raise or when the interpreter exits."""
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import pce


def wait_for(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def test_events_and_releases(make_cache):
    events, released = [], []
    c = make_cache(on_event=events.append, on_release=released.append,
                   background_reclaim=False)
    c.store([1, 2, 3], 7, 30, ns=4)
    (e,) = events
    assert (e.kind, e.reason, e.ns, e.value, e.kv_bytes, e.len) == ("stored", None, 4, 7, 30, 3)
    assert e.tokens.tolist() == [1, 2, 3] and e.tokens.format == "I"
    c.store([1, 2, 3], 8, ns=4, replace=True)
    assert [(e.kind, e.reason, e.value) for e in events[1:]] == [
        ("removed", "replaced", 7), ("stored", None, 8)] or \
        [(e.kind, e.reason, e.value) for e in events[1:]] == [
        ("stored", None, 8), ("removed", "replaced", 7)]
    c.reclaim()
    assert [(r.ns, r.value, r.kv_bytes, r.len, r.reason) for r in released] == [
        (4, 7, 30, 3, "replaced")]
    c.close()
    assert released[-1].value == 8 and released[-1].reason == "destroyed"


def test_release_from_the_reclaim_thread(make_cache):
    threads = []
    c = make_cache(on_release=lambda r: threads.append(threading.current_thread()),
                   default_ttl_ns=1, reclaim_interval_ns=100_000)
    c.store([1, 2], 1)
    assert wait_for(lambda: threads)
    assert threads[0] is not threading.main_thread()


def test_raising_callbacks_are_reported_and_the_cache_goes_on(make_cache, unraisable):
    unraisable = unraisable()

    def boom(_):
        raise RuntimeError("callback failed")

    c = make_cache(on_event=boom, on_release=boom, default_ttl_ns=1_000_000,
                   reclaim_interval_ns=100_000)
    for i in range(50):
        assert c.store([i, 1], i).stored
    assert c.lookup([3, 1]).tokens in (0, 2)
    assert wait_for(lambda: c.stats()["released"] == 50)
    assert wait_for(lambda: len(unraisable) >= 100)
    assert all(isinstance(u.exc_value, RuntimeError) for u in unraisable)
    assert {u.object for u in unraisable} == {boom}
    c.audit()


def test_clock_drives_ttl(make_cache):
    now = [1000]
    released = []
    c = make_cache(clock=lambda: now[0], on_release=released.append,
                   background_reclaim=False, default_ttl_ns=100)
    c.store([1, 2], 1)
    assert c.lookup([1, 2]).tokens == 2
    now[0] += 101
    assert c.lookup([1, 2]).tokens == 0  # expired on this clock
    c.reclaim()
    assert [r.reason for r in released] == ["ttl"]
    now[0] = 5  # going back is ignored: the clock never goes back
    c.store([3], 1)
    assert c.lookup([3]).tokens == 1


def test_raising_clock_repeats_its_last_value(make_cache, unraisable):
    unraisable = unraisable()
    state = {"now": 1000, "fail": False}

    def clock():
        if state["fail"]:
            raise ValueError("no time")
        return state["now"]

    c = make_cache(clock=clock, background_reclaim=False, default_ttl_ns=100)
    c.store([1, 2], 1)
    state["fail"] = True
    assert c.lookup([1, 2]).tokens == 2
    assert unraisable and isinstance(unraisable[0].exc_value, ValueError)


def test_callback_calling_close_does_not_crash(make_cache, unraisable):
    unraisable = unraisable()
    box = {}

    def on_event(e):
        box["c"].close()  # refused: the store is still running

    c = make_cache(on_event=on_event)
    box["c"] = c
    c.store([1], 1)
    assert isinstance(unraisable[0].exc_value, pce.BusyError)
    assert c.lookup([1]).tokens == 1
    box.clear()


REENTRY_SCRIPT = textwrap.dedent("""
    import sys, time, pce
    errors = []
    sys.unraisablehook = lambda u: errors.append(type(u.exc_value).__name__)
    box = {}
    def reenter(_):
        c = box["c"]
        c.store([9, 9], 1)   # under the writer lock this very store holds
        c.close()           # from the reclaim thread, which close() joins
    c = pce.Cache(on_event=reenter, on_release=reenter, default_ttl_ns=1,
                  reclaim_interval_ns=100_000)
    box["c"] = c
    c.store([1, 2], 1)
    t = time.monotonic() + 20
    while c.stats()["released"] == 0 and time.monotonic() < t:
        time.sleep(0.01)
    box.clear()
    print(sorted(set(errors)), c.stats()["released"], c.lookup([9, 9]).tokens)
""")


def test_callbacks_calling_into_their_cache_are_refused():
    # Run apart: before the refusal existed this deadlocked.
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pce.__file__)))
    p = subprocess.run([sys.executable, "-c", REENTRY_SCRIPT], capture_output=True, text=True,
                       timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["['BusyError']", "1", "0"]


def test_cycle_through_callbacks_is_collected():
    import gc
    import weakref

    class Holder:
        pass

    h = Holder()
    h.cache = pce.Cache(on_release=lambda r, h=h: None)
    h.cache.store([1], 1)
    ref = weakref.ref(h.cache)
    del h
    gc.collect()
    assert ref() is None


EXIT_SCRIPT = textwrap.dedent("""
    import sys, threading, pce
    sink = []
    def slow(x):
        sink.append(x)
    caches = [pce.Cache(on_event=slow, on_release=slow, default_ttl_ns=200_000,
                        reclaim_interval_ns=100_000) for _ in range(3)]
    pinned = caches[0]
    pinned.store([1, 2, 3], 1, ttl_ns=pce.NEVER)
    keep = pinned.lookup([1, 2, 3], pin=True)  # a live pin at exit
    def churn(c):
        i = 0
        while True:
            c.store([i % 5000, i], i)
            i += 1
    for c in caches:
        threading.Thread(target=churn, args=(c,), daemon=True).start()
    import time
    time.sleep(float(sys.argv[1]))
    print("exiting", flush=True)
""")


@pytest.mark.parametrize("delay", ["0.01", "0.2"])
def test_exit_while_callbacks_run(delay):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pce.__file__)))
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, delay], capture_output=True,
                           text=True, timeout=60, env=env)
        assert p.returncode == 0, p.stderr
        assert "exiting" in p.stdout
