"""Snapshots: Cache.snapshot()/Cache.restore() and Router.snapshot()/
Router.restore() round trips, and the errors of bad files."""
import pytest

import pce


def test_cache_round_trip(tmp_path):
    now = [1000]
    released = []
    cfg = dict(background_reclaim=False, clock=lambda: now[0], shards=4)
    c = pce.Cache(**cfg)
    c.store([1, 2, 3, 4], 11, 100, ns=5)
    c.store([1, 2], 12, ttl_ns=50)
    c.store([9, 8, 7], 13, ttl_ns=5)
    now[0] += 10  # [9, 8, 7] expired: it is not written
    path = tmp_path / "cache.snap"
    c.snapshot(path)
    c.close()

    r = pce.Cache.restore(str(path), on_release=lambda rel: released.append(rel.value),
                          **dict(cfg, shards=8))
    m = r.lookup([1, 2, 3, 4, 5], ns=5)
    assert (m.tokens, m.value, m.kv_bytes) == (4, 11, 100)
    assert r.lookup([1, 2]).value == 12
    assert r.lookup([9, 8, 7]).tokens == 0
    assert r.stats()["entries"] == 2
    r.audit(quiescent=True)
    now[0] += 40  # the TTL left (40 ns) runs from the restore
    r.reclaim()
    assert r.lookup([1, 2]).tokens == 0
    assert released == [12]
    r.close()


def test_router_round_trip(tmp_path):
    r = pce.Router(background_reclaim=False, block_size=2)
    r.add(7, [1, 2, 3, 4], pce.TIER_CPU)
    r.add(8, [1, 2, 9, 9], ns=3)
    path = tmp_path / "router.snap"
    r.snapshot(str(path))
    b = pce.Router.restore(path, background_reclaim=False, block_size=2, shards=2)
    b.audit()
    assert [(o.owner, o.tokens, o.tier) for o in b.match([1, 2, 3, 4]).overlaps] == \
        [(7, 4, pce.TIER_CPU)]
    assert [(o.owner, o.tokens) for o in b.match([1, 2, 9, 9], ns=3).overlaps] == [(8, 4)]
    assert b.stats()["holdings"] == r.stats()["holdings"]
    b.close()
    r.close()


def test_bad_files(tmp_path):
    c = pce.Cache(background_reclaim=False)
    c.store([1, 2, 3], 1)
    path = tmp_path / "c.snap"
    c.snapshot(path)
    data = path.read_bytes()
    # Truncated, flipped, another kind, another block size.
    (tmp_path / "t.snap").write_bytes(data[:-1])
    with pytest.raises(pce.BadSnapshotError):
        pce.Cache.restore(tmp_path / "t.snap", background_reclaim=False)
    flipped = bytearray(data)
    flipped[60] ^= 4
    (tmp_path / "f.snap").write_bytes(bytes(flipped))
    with pytest.raises(pce.BadSnapshotError):
        pce.Cache.restore(tmp_path / "f.snap", background_reclaim=False)
    with pytest.raises(pce.BadSnapshotError):
        pce.Router.restore(path, background_reclaim=False)
    with pytest.raises(pce.InvalidArgumentError):
        pce.Cache.restore(path, background_reclaim=False, block_size=2)
    with pytest.raises(pce.NotFoundError):
        pce.Cache.restore(tmp_path / "none.snap")
    with pytest.raises(pce.NotFoundError):
        c.snapshot(tmp_path / "no" / "dir.snap")
    with pytest.raises(TypeError):
        pce.Cache.restore(path, not_an_option=1)
    c.close()
    with pytest.raises(pce.Error):
        c.snapshot(path)  # closed
