"""Lookups from four Python threads while a fifth stores and removes."""
import array
import threading
import time

import pce


def test_lookups_while_storing():
    c = pce.Cache(shards=8)
    base = [array.array("I", [i, i + 1, i + 2, 1000 + i]) for i in range(200)]
    for i, b in enumerate(base):
        c.store(b, i)
    stop = threading.Event()
    errors = []
    counts = [0] * 4

    def reader(k):
        try:
            while not stop.is_set():
                for i in range(k, len(base), 4):
                    q = list(base[i]) + [7, 7]
                    m = c.lookup(q)
                    assert m.tokens == 4 and m.value == i, (i, m)
                    with c.lookup(base[i], pin=True) as p:
                        assert p.value == i
                got = c.lookup_many(base[k::4])
                assert [g.value for g in got] == list(range(k, len(base), 4))
                counts[k] += 1
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    def writer():
        try:
            n = 0
            while not stop.is_set() or n < 2000:
                # Longer entries beside the base ones: they never change a
                # base lookup's answer (its query diverges at token 4).
                t = [n % 200, n % 200 + 1, n % 200 + 2, 1000 + n % 200, 5000 + n]
                c.store(t, 10**6 + n)
                if n % 3 == 0:
                    c.remove(t)
                if n % 97 == 0:
                    c.store_many([t + [1], t + [2]], [1, 2])
                n += 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    stop.wait(2.0)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert all(counts), counts
    c.audit()
    assert c.stats()["live_pins"] == 0
    c.close()



def test_close_while_threads_call():
    """close() succeeds only between calls; every call after it raises."""
    c = pce.Cache(on_event=lambda e: None, on_release=lambda r: None, default_ttl_ns=1_000_000)
    q = [array.array("I", [i, 1, 2]) for i in range(32)]
    errors, closed_seen = [], []
    start = threading.Barrier(4)

    def worker(k):
        start.wait()
        try:
            n = 0
            while True:
                c.store(q[n % 32], n)
                c.lookup_many(q, pin=True)
                with c.lookup(q[k], pin=True):
                    pass
                n += 1
                time.sleep(0.0005)  # leaves moments with no call running
        except pce.InvalidArgumentError as e:
            closed_seen.append(str(e))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(3)]
    for t in threads:
        t.start()
    start.wait()
    time.sleep(0.05)
    deadline = time.monotonic() + 30
    while True:
        try:
            c.close()
            break
        except pce.BusyError:  # a call or a pin is in progress
            assert time.monotonic() < deadline
            time.sleep(0.0002)
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(closed_seen) == 3 and all("closed" in m for m in closed_seen)
    assert c.closed
