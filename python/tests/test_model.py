"""Random operations compared with a reference model: a dict of entries."""
import array
import random

import pytest

import pce


class Model:
    """What libpce must answer, computed the slow and obvious way."""

    def __init__(self, block_size=1, min_prefix_len=1):
        self.entries = {}  # (ns, tuple(tokens)) -> value
        self.block = block_size
        self.min = min_prefix_len

    def _round(self, n):
        n -= n % self.block
        return n if n >= self.min else 0

    def lookup(self, ns, q, whole):
        """(matched tokens, the values that may be returned)."""
        best, values = 0, set()
        for (ens, toks), value in self.entries.items():
            if ens != ns:
                continue
            if whole:
                if len(toks) > len(q) or tuple(q[:len(toks)]) != toks:
                    continue
                n = len(toks)
            else:
                n = 0
                while n < len(toks) and n < len(q) and toks[n] == q[n]:
                    n += 1
            if n > best:
                best, values = n, {value}
            elif n == best and n:
                values.add(value)
        best = self._round(best)
        return best, values if best else {0}


@pytest.mark.parametrize("seed,block,minlen", [(1, 1, 1), (2, 1, 1), (3, 2, 1), (4, 1, 3)])
def test_random_operations_match_model(seed, block, minlen):
    rnd = random.Random(seed)
    c = pce.Cache(shards=4, block_size=block, min_prefix_len=minlen, background_reclaim=False)
    m = Model(block, minlen)
    next_value = 1

    def rand_seq():
        n = rnd.randint(1, 10)
        return [rnd.randint(0, 3) for _ in range(n)]

    for step in range(3000):
        op = rnd.random()
        ns = rnd.randint(0, 2)
        q = rand_seq()
        key = (ns, tuple(q))
        if op < 0.35:
            replace = rnd.random() < 0.2
            as_array = rnd.random() < 0.5
            toks = array.array("I", q) if as_array else q
            if len(q) < minlen:
                with pytest.raises(pce.TooShortError):
                    c.store(toks, next_value, ns=ns)
                continue
            r = c.store(toks, next_value, ns=ns, replace=replace)
            if key in m.entries and not replace:
                assert not r.stored and r.existing_value == m.entries[key]
            else:
                assert r.stored and r.replaced == (key in m.entries)
                m.entries[key] = next_value
            next_value += 1
        elif op < 0.5:
            if key in m.entries:
                assert c.remove(q, ns=ns) == m.entries.pop(key)
            else:
                with pytest.raises(pce.NotFoundError):
                    c.remove(q, ns=ns)
        elif op < 0.505:
            n = sum(1 for k in m.entries if k[0] == ns)
            assert c.clear(ns=ns) == n
            m.entries = {k: v for k, v in m.entries.items() if k[0] != ns}
        elif op < 0.8:
            whole = rnd.random() < 0.3
            got = c.lookup(q, ns=ns, whole=whole)
            tokens, values = m.lookup(ns, q, whole)
            assert got.tokens == tokens, (step, q, whole)
            assert got.value in values
            if got:
                assert got.blocks == got.tokens // block
        else:
            qs = [rand_seq() for _ in range(rnd.randint(0, 8))]
            got = c.lookup_many(qs, ns=ns)
            for g, q2 in zip(got, qs):
                tokens, values = m.lookup(ns, q2, False)
                assert g.tokens == tokens and g.value in values
        if step % 500 == 0:
            c.audit(quiescent=True)
    s = c.stats()
    assert s["entries"] == len(m.entries)
    c.audit(quiescent=True)
    c.close()
