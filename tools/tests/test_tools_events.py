#!/usr/bin/python3
"""test_tools_events.py - `pce events watch` and the subscriber section of
`pce snapshot inspect`, against tests/events/publisher.py (vLLM's wire, real
ZMQ sockets on free 127.0.0.1 ports).

Three engines, each scripted: owner 1 loses a message that the replay
recovers (a gap, EXACT), owner 2 restarts from sequence 0 (a restart,
EXACT), owner 12 (rank 2 of an endpoint owned by rank) loses one that the
replay cannot cover (DEGRADED).  The engines are driven one after the
other, each phase waiting until the watch's JSON reports show it applied,
so the order of the requests, and so the hit ratio, is fixed; a model of
the router written here gives the figures the reports must show.  Then
the snapshots (SIGUSR1, and SIGTERM's) through `pce snapshot inspect`;
--duration, plain lines off a terminal and in-place reports on one (a
pty); usage errors.  A loaded machine only makes the waits longer: every
wait is for a condition, with a deadline of minutes.

Usage: test_tools_events.py PCE PUBLISHER_PY
"""
import json
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import time

PCE, PUBLISHER = sys.argv[1], sys.argv[2]
BS = 2
WAIT = 180.0


class Publisher:
    """One publisher.py process, driven through its stdin."""

    def __init__(self, *extra):
        self.p = subprocess.Popen(["/usr/bin/python3", PUBLISHER, *extra],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        _, pub, rep = self.p.stdout.readline().split()
        self.pub = "tcp://127.0.0.1:%s" % pub
        self.replay = "tcp://127.0.0.1:%s" % rep
        self.next = 0

    def cmd(self, **obj):
        self.p.stdin.write(json.dumps(obj) + "\n")
        self.p.stdin.flush()
        ok, seq = self.p.stdout.readline().split()
        assert ok == "ok"
        self.next = int(seq)

    def batch(self, events, drop=False):
        self.cmd(op="batch", events=events, drop=drop)

    def stop(self):
        try:
            self.p.stdin.write('{"op": "quit"}\n')
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


class Watch:
    """`pce events watch --json`, its report lines read as they come."""

    def __init__(self, args):
        self.p = subprocess.Popen([PCE, "events", "watch", "--json", *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buf = b""
        self.last = None

    def lines(self, timeout):
        """The report lines that arrive within @timeout seconds."""
        out = []
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if r:
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            if not chunk:
                raise EOFError
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                out.append(json.loads(line))
        if out:
            self.last = out[-1]
        return out

    def until(self, what, pred, tick=None):
        """Read reports until one satisfies @pred; @tick runs between reads."""
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            if tick:
                tick()
            for o in self.lines(0.02):
                if pred(o):
                    return o
        raise AssertionError("never saw %s; last report: %s" % (what, self.last))

    def finish(self, sig):
        self.p.send_signal(sig)
        rest, err = self.p.communicate(timeout=WAIT)
        lines = [json.loads(x) for x in (self.buf + rest).splitlines() if x.strip()]
        assert self.p.returncode == 0, (self.p.returncode, err)
        return lines, err.decode()


def endpoint(o, i):
    return o["endpoints"][i]


def settled(pub, i, state="EXACT"):
    """Endpoint @i applied every batch @pub sent and is in @state."""
    def pred(o):
        e = endpoint(o, i)
        return e["last_seq"] == pub.next - 1 and e["state"] == state
    return pred


# ---- the model: what a router fed with these events holds ---------------------

class Model:
    def __init__(self):
        self.held = {}    # owner -> set of whole-block prefixes (tuples)
        self.blocks = {}  # (owner, hash) -> path through that block
        self.total = dict(requests=0, tokens=0, hit=0, own=0, best=0)
        self.per = {}

    def match(self, owner, prompt):
        def longest(o):
            n = 0
            for k in range(BS, len(prompt) + 1, BS):
                if tuple(prompt[:k]) in self.held.get(o, ()):
                    n = k
            return n
        hit = max([longest(o) for o in self.held] + [0])
        own = longest(owner)
        for s in (self.total, self.per.setdefault(owner, dict.fromkeys(self.total, 0))):
            s["requests"] += 1
            s["tokens"] += len(prompt)
            s["hit"] += hit
            s["own"] += own
            s["best"] += own == hit

    def stored(self, owner, hashes, parent, tokens):
        path = list(self.blocks[(owner, parent)]) if parent is not None else []
        self.match(owner, path + tokens)
        held = self.held.setdefault(owner, set())
        for k, h in enumerate(hashes):
            path += tokens[k * BS:(k + 1) * BS]
            self.blocks[(owner, h)] = tuple(path)
            held.add(tuple(path))

    def removed(self, owner, h):
        cut = self.blocks[(owner, h)]
        self.held[owner] = {p for p in self.held[owner] if p[:len(cut)] != cut}
        self.blocks = {k: v for k, v in self.blocks.items()
                       if k[0] != owner or v[:len(cut)] != cut}

    def clear(self, owner):
        self.held[owner] = set()
        self.blocks = {k: v for k, v in self.blocks.items() if k[0] != owner}


def S(h, p, tok):
    return {"t": "S", "h": h, "p": p, "tok": tok, "bs": BS}


def check_sums(got, want, what):
    for k, g in (("requests", "requests"), ("tokens", "tokens"), ("hit_tokens", "hit"),
                 ("own_tokens", "own"), ("best", "best")):
        assert got[k] == want[g], (what, k, got, want)
    assert abs(got["hit_ratio"] - want["hit"] / want["tokens"]) < 1e-12, (what, got)
    assert 0 <= got["hit_ratio"] <= 1


def inspect(path):
    r = subprocess.run([PCE, "snapshot", "inspect", "--json", path], capture_output=True)
    assert r.returncode == 0, r
    o = json.loads(r.stdout)
    assert o["intact"] and o["kind"] == "router", o
    subs = [s for s in o["sections"] if "subscriber" in s]
    assert len(subs) == 1 and subs[0]["name"] == "pce.events.subscriber", o
    return subs[0]["subscriber"]


def scripted(tmp):
    a, b, c = Publisher(), Publisher(), Publisher("--rank", "2")
    snap = os.path.join(tmp, "router.snap")
    w = Watch(["--interval", "0.05", "--block-size", str(BS), "--snapshot", snap,
               "owner=1,pub=%s,replay=%s" % (a.pub, a.replay),
               "owner=2,pub=%s,replay=%s" % (b.pub, b.replay),
               "rank-base=10,pub=%s,replay=%s" % (c.pub, c.replay)])
    m = Model()
    try:
        # A PUB drops what it sends before the SUB has joined: empty batches
        # until each endpoint has applied one (and replayed the ones before).
        # (The first batch received is a gap when earlier ones were dropped.)
        gaps0 = []
        for i, p in enumerate((a, b, c)):
            def tick(p=p, i=i):
                if w.last is None or endpoint(w.last, i)["last_seq"] is None:
                    p.batch([])
            o = w.until("endpoint %d's first batch" % i, settled(p, i), tick=tick)
            gaps0.append(endpoint(o, i)["gaps"])

        # owner 1: a lost message, recovered by the replay
        a.batch([S([1, 2], None, [1, 2, 3, 4])])
        m.stored(1, [1, 2], None, [1, 2, 3, 4])
        a.batch([S([3], 2, [5, 6])])
        m.stored(1, [3], 2, [5, 6])
        a.batch([S([4], 3, [7, 8])], drop=True)
        m.stored(1, [4], 3, [7, 8])
        a.batch([S([5], 4, [9, 10])])
        m.stored(1, [5], 4, [9, 10])
        w.until("owner 1 recovered", settled(a, 0))

        # owner 2: a removal, then the engine restarts from sequence 0
        b.batch([S([1, 2], None, [1, 2, 3, 4])])
        m.stored(2, [1, 2], None, [1, 2, 3, 4])
        b.batch([S([6], 2, [11, 12])])
        m.stored(2, [6], 2, [11, 12])
        b.batch([{"t": "R", "h": [6]}])
        m.removed(2, 6)
        b.cmd(op="restart")
        m.clear(2)
        b.batch([S([1], None, [1, 2])])
        m.stored(2, [1], None, [1, 2])
        b.batch([S([7], 1, [3, 4])])
        m.stored(2, [7], 1, [3, 4])
        w.until("owner 2 restarted", lambda o: settled(b, 1)(o)
                and endpoint(o, 1)["restarts"] == 1)

        # owner 12: a lost message the replay no longer holds
        c.batch([S([1, 2], None, [1, 2, 3, 4])])
        m.stored(12, [1, 2], None, [1, 2, 3, 4])
        c.batch([S([8], 2, [13, 14])], drop=True)
        c.cmd(op="trim", keep=0)
        c.batch([S([9], None, [21, 22])])
        m.clear(12)
        m.stored(12, [9], None, [21, 22])
        w.until("owner 12 degraded", settled(c, 2, "DEGRADED"))

        # SIGUSR1: a snapshot while running
        w.p.send_signal(signal.SIGUSR1)
        w.until("the snapshot", lambda o: o["snapshots"] == 1)
        eps = inspect(snap)
        lines, err = w.finish(signal.SIGTERM)
    finally:
        if w.p.poll() is None:
            w.p.kill()
            w.p.wait()
        for p in (a, b, c):
            p.stop()

    want_blocks = {1: 5, 2: 2, 12: 1}
    want_seq = [a.next - 1, b.next - 1, c.next - 1]
    for e, (seq, (owner, blocks)) in enumerate(zip(want_seq, want_blocks.items())):
        assert eps[e] == {"endpoint": e, "last_seq": seq, "owners": 1, "blocks": blocks}, eps

    assert err == "", err
    summary = lines[-1]
    assert summary["type"] == "summary", summary
    assert all(x["type"] == "interval" for x in lines[:-1])
    assert summary["snapshots"] == 2 and summary["snapshot_failures"] == 0
    assert not summary["incomplete"]
    owners = {o["owner"]: o for o in summary["owners"]}
    assert sorted(owners) == [1, 2, 12], owners
    want = {1: ("EXACT", 1, 0, 0), 2: ("EXACT", 0, 1, 0), 12: ("DEGRADED", 1, 0, 1)}
    for e, (owner, (state, gaps, restarts, failed)) in enumerate(want.items()):
        o = owners[owner]
        assert (o["state"], o["gaps"] - gaps0[e], o["restarts"], o["recoveries_failed"]) == \
            (state, gaps, restarts, failed), o
        assert o["blocks"] == want_blocks[owner], o
        assert o["dropped"] == 0 and o["events_per_s"] >= 0, o
        check_sums(o["total"], m.per[owner], "owner %d" % owner)
        check_sums(o["window"], m.per[owner], "owner %d window" % owner)
    check_sums(summary["total"], m.total, "total")
    check_sums(summary["window"], m.total, "window")
    assert 0 < summary["total"]["hit_ratio"] < 1
    assert summary["holdings"] == sum(len(v) for v in m.held.values()), summary
    # the snapshot at exit: the same state
    assert inspect(snap) == eps


def on_terminal(pub):
    """A short watch with a terminal as standard output: what it wrote, its status."""
    master, slave = pty.openpty()
    p = subprocess.Popen([PCE, "events", "watch", "--duration", "2", "--interval", "0.2", pub],
                         stdout=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out, p.wait(timeout=WAIT)


def duration(tmp):
    """--duration ends the watch by itself; plain lines when not a terminal,
    in place on one."""
    a = Publisher()
    try:
        r = subprocess.run([PCE, "events", "watch", "--duration", "2", "--interval", "0.2",
                            a.pub], capture_output=True, timeout=WAIT)
        out, status = on_terminal(a.pub)
    finally:
        a.stop()
    # on a terminal, each report goes back over the previous one
    assert status == 0
    assert out.count(b"\033[3A\033[J") == out.count(b" s: 1 owner,") - 1 >= 1, out
    assert r.returncode == 0, r
    out = r.stdout.decode()
    assert "\033" not in out and out.count("summary after") == 1, out
    assert out.count("t = ") >= 1 and "owner" in out and r.stderr == b"", r


def usage():
    cases = [([], "no ENDPOINT given"),
             (["owner=x,pub=tcp://127.0.0.1:1"], "owner='x' is not an integer"),
             (["replay=tcp://127.0.0.1:1"], "no pub=ADDR"),
             (["colour=red,pub=tcp://127.0.0.1:1"], "unknown key 'colour'"),
             (["owner=1,pub=tcp://127.0.0.1:1", "owner=1,pub=tcp://127.0.0.1:2"],
              "owner 1 is given to two endpoints"),
             (["bogus://nowhere"], "cannot subscribe")]
    for args, msg in cases:
        r = subprocess.run([PCE, "events", "watch", *args], capture_output=True, timeout=WAIT)
        assert r.returncode == 2 and msg in r.stderr.decode(), (args, r)
    r = subprocess.run([PCE, "events", "--help"], capture_output=True)
    assert r.returncode == 0 and b"owner=3,pub=tcp://" in r.stdout, r


def main():
    with tempfile.TemporaryDirectory(prefix="pce-events-test-") as tmp:
        usage()
        duration(tmp)
        scripted(tmp)
    print("ok")


if __name__ == "__main__":
    main()
