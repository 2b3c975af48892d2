"""pce.Router: behaviour against a reference model of prefix-closed holdings,
errors, callbacks, threads, fork() and 100k-call loops."""
import array
import mmap
import os
import random
import subprocess
import sys
import textwrap
import threading

import pytest

import pce
from test_leaks import bounded, loop


class Model:
    """Holdings kept the obvious way: per (ns, owner), every held whole-block
    prefix with its tier."""

    def __init__(self, block, weights):
        self.block = block
        self.weights = weights
        self.held = {}  # (ns, owner) -> {prefix tuple: tier}

    def _len(self, toks):
        return len(toks) - len(toks) % self.block

    def add(self, owner, ns, toks, tier, retier):
        h = self.held.setdefault((ns, owner), {})
        new = 0
        for n in range(self.block, self._len(toks) + 1, self.block):
            p = tuple(toks[:n])
            if p not in h:
                new += 1
                h[p] = tier
            elif retier:
                h[p] = tier
        return new

    def remove(self, owner, ns, toks):
        h = self.held.get((ns, owner), {})
        n = self._len(toks)
        p = tuple(toks[:n])
        if p not in h:
            return False
        for s in [s for s in h if len(s) >= n and s[:n] == p]:
            del h[s]
        return True

    def clear(self, owner=None, ns=None):
        removed = 0
        for (hns, howner), h in self.held.items():
            if owner is not None and howner == owner or ns is not None and hns == ns:
                removed += len(h)
                h.clear()
        return removed

    def match(self, ns, q):
        """Every holder of the first block: (owner, tokens, tier, score)."""
        out = []
        for (hns, owner), h in self.held.items():
            if hns != ns:
                continue
            best = 0
            for n in range(self.block, self._len(q) + 1, self.block):
                if tuple(q[:n]) not in h:
                    break
                best = n
            if best:
                tier = h[tuple(q[:best])]
                out.append((owner, best, tier, best * self.weights[tier]))
        return out


def order(o):
    return (-o[3], -o[1], o[0])


@pytest.mark.parametrize("seed,block", [(1, 1), (2, 1), (3, 2), (4, 3)])
def test_random_operations_match_model(seed, block):
    rnd = random.Random(seed)
    weights = [1.0, 0.5, 0.25, 0.0, 2.0, 0.0, 0.0, 0.0]
    r = pce.Router(shards=4, block_size=block, tier_weight=weights, background_reclaim=False)
    m = Model(block, weights)

    def rand_seq():
        return [rnd.randint(0, 2) for _ in range(rnd.randint(0, 9))]

    for step in range(3000):
        op = rnd.random()
        ns = rnd.randint(0, 1)
        owner = rnd.randint(0, 5)
        q = rand_seq()
        if op < 0.4:
            tier = rnd.choice([0, 1, 2, 4])
            retier = rnd.random() < 0.3
            if len(q) < block:
                with pytest.raises(pce.TooShortError):
                    r.add(owner, q, tier, ns=ns, retier=retier)
            else:
                assert r.add(owner, q, tier, ns=ns, retier=retier) == \
                    m.add(owner, ns, q, tier, retier)
        elif op < 0.55:
            if len(q) < block:
                with pytest.raises(pce.TooShortError):
                    r.remove(owner, q, ns=ns)
            elif m.remove(owner, ns, q):
                r.remove(owner, q, ns=ns)
            else:
                with pytest.raises(pce.NotFoundError):
                    r.remove(owner, q, ns=ns)
        elif op < 0.57:
            assert r.clear_owner(owner) == m.clear(owner=owner)
        elif op < 0.58:
            assert r.clear_ns(ns) == m.clear(ns=ns)
        else:
            want = m.match(ns, q)
            k = rnd.choice([0, 1, 2, 3, 16])
            res = r.match(array.array("I", q), k, ns=ns)
            got = [tuple(o) for o in res.overlaps]
            assert len(got) == min(k, len(want))
            assert res.left == len(want) - len(got)
            assert got == sorted(got, key=order)
            # The k with most tokens (ties at the cut unspecified), each right.
            assert sorted((o[1] for o in got), reverse=True) == \
                sorted((o[1] for o in want), reverse=True)[:len(got)]
            assert set(got) <= set(want)
            if k >= len(want):
                assert got == sorted(want, key=order)
                [batch] = r.match_many([q], k, ns=ns)
                assert [tuple(o) for o in batch.overlaps] == got and batch.left == 0
        if step % 500 == 0:
            r.audit()
    r.audit()
    assert r.stats()["holdings"] == sum(len(h) for h in m.held.values())
    r.close()


def test_result_shapes_tiers_and_stats():
    with pce.Router(block_size=2, tier_weight={pce.TIER_CPU: 0.5}) as r:
        assert r.add(1, [1, 2, 3, 4]) == 2
        assert r.add(2, [1, 2], tier=pce.TIER_CPU) == 1
        assert r.add(2, [1, 2, 3], tier=pce.TIER_CPU) == 0  # partial block not held
        res = r.match([1, 2, 3, 4, 5])
        assert isinstance(res, pce.MatchResult) and res.left == 0
        a, b = res.overlaps
        assert isinstance(a, pce.Overlap)
        assert (a.owner, a.tokens, a.tier, a.score) == (1, 4, pce.TIER_GPU, 4.0)
        assert (b.owner, b.tokens, b.tier, b.score) == (2, 2, pce.TIER_CPU, 1.0)
        assert r.match([1, 2], k=1).left == 1
        assert r.match([9, 9]).overlaps == [] and r.match([9, 9]).left == 0
        assert r.add(2, [1, 2], tier=pce.TIER_GPU, retier=True) == 0
        assert r.match([1, 2], k=2).overlaps[1].tier == pce.TIER_GPU
        assert r.match([1, 2], ns=1).overlaps == []
        before = r.stats()["matches"]
        r.match([1, 2], peek=True)
        s = r.stats()
        assert s["matches"] == before and s["holdings"] == 3 and s["shards"] == 16
        assert s["removed"]["removed"] == 0 and isinstance(s["bytes_per_owner_block"], float)
        r.remove(1, [1, 2, 3, 4])
        assert r.stats()["removed"]["removed"] == 1
        assert r.clear_owner(2) == 1 and r.clear_ns(0) == 1
        r.reclaim()
        r.audit()
    assert r.closed
    assert pce.TIERS == 8 and (pce.TIER_GPU, pce.TIER_CPU, pce.TIER_DISK,
                               pce.TIER_REMOTE) == (0, 1, 2, 3)


def test_ttl_with_clock_and_budget():
    now = [1_000]
    r = pce.Router(clock=lambda: now[0], background_reclaim=False, default_ttl_ns=100)
    r.add(1, [1, 2, 3])
    r.add(2, [1, 2, 3], ttl_ns=pce.NEVER)
    assert [o.owner for o in r.match([1, 2, 3]).overlaps] == [1, 2]
    now[0] += 200
    assert [o.owner for o in r.match([1, 2, 3]).overlaps] == [2]
    r.reclaim()
    assert r.stats()["removed"]["ttl"] == 3
    r.close()
    small = pce.Router(index_budget=1, background_reclaim=False)
    with pytest.raises(pce.NoSpaceError):
        small.add(1, [1, 2, 3])
    assert small.stats()["adds_refused"] == 1
    small.close()


def test_set_budgets_evicts_down_and_keeps_what_is_not_given():
    events = []
    r = pce.Router(block_size=4, background_reclaim=False, high_watermark_pct=70,
                   low_watermark_pct=60, on_event=lambda ev: events.append(ev.reason))
    for i in range(300):
        r.add(i % 5, range(i * 16, i * 16 + 16))
    before = r.stats()["index_bytes"]
    with pytest.raises(pce.InvalidArgumentError):
        r.set_budgets(index_budget=before // 4, low_watermark_pct=95)  # above high (70)
    assert r.stats()["index_budget"] == 0 and r.stats()["index_bytes"] == before
    r.set_budgets(index_budget=before // 4)
    s = r.stats()
    assert s["index_budget"] == before // 4 and s["index_bytes"] <= before // 4
    assert s["removed"]["capacity"] > 0 and "capacity" in events
    r.reclaim()  # down to the low watermark (60%) if above the high one (70%)
    assert r.stats()["index_bytes"] <= before // 4 * 70 // 100
    r.set_budgets(index_budget=0)
    for i in range(300, 400):
        r.add(i % 5, range(i * 16, i * 16 + 16))
    assert r.stats()["index_bytes"] > before // 4
    r.audit()
    with pytest.raises(TypeError):
        r.set_budgets(1)
    r.close()
    with pytest.raises(pce.InvalidArgumentError):
        r.set_budgets(index_budget=1)


def test_errors():
    for bad in ({"shards": 3}, {"tier_weight": [-1.0]}, {"block_size": 0},
                {"low_watermark_pct": 95}):
        with pytest.raises(pce.InvalidArgumentError):
            pce.Router(**bad)
    with pytest.raises(ValueError):
        pce.Router(tier_weight={8: 1.0})
    with pytest.raises(ValueError):
        pce.Router(tier_weight=[1.0] * 9)
    with pytest.raises(TypeError):
        pce.Router(tier_weight=[1.0, "x"])
    with pytest.raises(TypeError):
        pce.Router(cache_size=1)
    with pytest.raises(TypeError):
        pce.Router(on_event=1)
    with pytest.raises(TypeError):
        pce.Router(16)
    with pytest.raises(ValueError):
        pce.Router(block_size=2**32)
    r = pce.Router(block_size=2)
    with pytest.raises(pce.InvalidArgumentError):
        r.add(1, [1, 2], tier=pce.TIERS)
    with pytest.raises(pce.TooShortError):
        r.add(1, [1])
    # Untouched anonymous pages: the length is refused before a token is read.
    with mmap.mmap(-1, 4 * (pce.MAX_TOKENS + 1)) as big:
        view = memoryview(big).cast("I")
        with pytest.raises(pce.TooBigError):
            r.match(view)
        view.release()
    with pytest.raises(pce.NotFoundError):
        r.remove(1, [1, 2])
    with pytest.raises(ValueError):
        r.add(-1, [1, 2])
    with pytest.raises(ValueError):
        r.add(2**32, [1, 2])
    with pytest.raises(ValueError):
        r.match([1, 2], k=-1)
    with pytest.raises(ValueError):
        r.match([1, -2])
    with pytest.raises(TypeError):
        r.match(array.array("i", [1, 2]))
    with pytest.raises(ValueError):
        r.match_many([[1, 2]], ns=[0, 1])
    with pytest.raises(TypeError):
        r.clear_owner("x")
    r.close()
    r.close()
    with pytest.raises(pce.InvalidArgumentError):
        r.match([1, 2])
    with pytest.raises(pce.InvalidArgumentError):
        r.add(1, [1, 2])


def test_events_carry_owner_and_tier_and_callbacks_cannot_reenter():
    got, errors = [], []
    r = None

    def on_event(ev):
        got.append((ev.kind, ev.reason, ev.owner, ev.tier, ev.len,
                    None if ev.tokens is None else list(ev.tokens)))
        try:
            r.match([1])
        except pce.BusyError:
            errors.append("busy")

    r = pce.Router(on_event=on_event)
    r.add(7, [1, 2], tier=pce.TIER_DISK)
    r.remove(7, [1, 2])
    r.clear_owner(7)  # the remove kept the first block
    assert got == [("stored", None, 7, pce.TIER_DISK, 2, [1, 2]),
                   ("removed", "removed", 7, pce.TIER_DISK, 2, None),
                   ("removed", "cleared", 7, pce.TIER_DISK, 1, None)]
    assert errors == ["busy"] * 3
    r.close()


def test_match_while_a_thread_adds_and_removes():
    r = pce.Router(block_size=2, shards=2)
    base = list(range(100, 164))
    stop = threading.Event()
    bad = []

    def writer():
        rnd = random.Random(5)
        while not stop.is_set():
            owner = rnd.randint(0, 7)
            n = rnd.randint(1, 32) * 2
            if rnd.random() < 0.6:
                r.add(owner, base[:n], tier=owner % 2)
            else:
                try:
                    r.remove(owner, base[:n])
                except pce.NotFoundError:
                    pass
            if rnd.random() < 0.01:
                r.clear_owner(owner)

    def reader(i):
        q = array.array("I", base)
        for _ in range(3000):
            res = r.match(q, 4) if i % 2 else r.match_many([q, base[:10]], 4)[0]
            owners = [o.owner for o in res.overlaps]
            if len(set(owners)) != len(owners) or len(owners) > 4:
                bad.append(res)
            for o in res.overlaps:
                if not (0 <= o.owner < 8 and o.tokens % 2 == 0 and 2 <= o.tokens <= 64
                        and o.tier == o.owner % 2):
                    bad.append(o)

    w = threading.Thread(target=writer)
    readers = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    w.start()
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    w.join()
    assert not bad, bad[:3]
    r.audit()
    r.close()


def test_close_refused_while_a_call_runs():
    entered, resume = threading.Event(), threading.Event()

    def on_event(ev):
        entered.set()
        resume.wait()

    r = pce.Router(on_event=on_event)
    t = threading.Thread(target=r.add, args=(1, [1, 2]))
    t.start()
    entered.wait()
    with pytest.raises(pce.BusyError):
        r.close()
    resume.set()
    t.join()
    r.close()


FORK_SCRIPT = textwrap.dedent("""
    import os, sys
    import pce

    # No reclaim thread in the parent: under AddressSanitizer (pyasan), a
    # thread that allocates while another forks can leave ASan's allocator
    # locked in the child, and the child's next allocation in a new thread
    # then waits forever.
    r = pce.Router(background_reclaim=False)
    r.add(1, [1, 2, 3])
    pid = os.fork()
    if pid == 0:
        failed = []
        for call, args in ((r.match, ([1, 2],)), (r.match_many, ([[1]],)),
                           (r.add, (2, [4])), (r.remove, (1, [1])),
                           (r.clear_owner, (1,)), (r.clear_ns, (0,)), (r.reclaim, ()),
                           (r.stats, ()), (r.audit, ()), (r.close, ())):
            try:
                call(*args)
                failed.append(call.__name__ + " did not raise")
            except pce.ForkedError:
                pass
        with pce.Router() as fresh:
            fresh.add(3, [1, 2])
            assert fresh.match([1, 2]).overlaps[0].owner == 3
        print("\\n".join(failed) or "child ok")
        sys.exit(1 if failed else 0)
    _, status = os.waitpid(pid, 0)
    assert r.match([1, 2, 3]).overlaps[0].tokens == 3
    r.close()
    sys.exit(os.waitstatus_to_exitcode(status))
""")


def test_fork_inherited_router_raises_and_fresh_routers_work():
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pce.__file__)))
    out = subprocess.run([sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == "child ok\n"


@pytest.fixture(scope="module")
def router():
    r = pce.Router(block_size=4)
    r.add(1, array.array("I", range(1024)))
    r.add(2, list(range(512)), tier=pce.TIER_CPU)
    yield r
    r.close()


def test_leaks_match_and_batches(router):
    q = array.array("I", range(1024))
    qs = [q, list(range(64))]
    refs = (sys.getrefcount(q), sys.getrefcount(qs))

    def body(i):
        router.match(q, 2)
        router.match(qs[1], 64)
        router.match_many(qs, 2)

    bounded(*loop(body))
    assert (sys.getrefcount(q), sys.getrefcount(qs)) == refs
    q.append(1)  # raises BufferError if an export was never released


def test_leaks_add_remove_and_errors(router):
    bad_buf = array.array("h", [1, 2])

    def body(i):
        t = [7, i % 1000, 5, 9]
        router.add(3, t)
        router.remove(3, t)
        for call in (lambda: router.add(3, [1]), lambda: router.remove(4, t),
                     lambda: router.match(bad_buf), lambda: router.add(3, t, tier=99)):
            try:
                call()
            except (pce.Error, TypeError):
                pass

    bounded(*loop(body))
    router.reclaim()
    router.audit()


def test_clock_dropping_the_last_reference_leaks_instead_of_deadlocking(unraisable):
    import time
    got = unraisable()
    holder = [None]
    dropped = threading.Event()

    def clock():
        if holder[0] is not None and threading.current_thread() is not main:
            holder[0] = None  # the last reference, from the reclaim thread
            dropped.set()
        return time.monotonic_ns()

    main = threading.current_thread()
    holder[0] = pce.Router(clock=clock, reclaim_interval_ns=100_000, default_ttl_ns=10**9)
    holder[0].add(1, [1, 2])
    assert dropped.wait(60)
    deadline = time.monotonic() + 60
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got and isinstance(got[0].exc_value, pce.BusyError)
