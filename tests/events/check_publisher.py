"""check_publisher.py - subscribe to a libpce publisher (pub_driver) over
real sockets and check its stream against vLLM's KV-event schema.

Usage: /usr/bin/python3 check_publisher.py SCENARIO SEED [WRAPPER...] PUB_DRIVER
(WRAPPER: a command the driver runs under, valgrind in the memcheck suite)

The decoding below is written from vLLM's msgspec definitions
(vllm/distributed/kv_events.py), not from libpce's code:

  class EventBatch(msgspec.Struct, array_like=True, omit_defaults=True):
      ts: float; events: list[Any]; data_parallel_rank: int | None = None
  class KVCacheEvent(msgspec.Struct, omit_defaults=True, tag=True)
  class BlockStored(KVCacheEvent):
      block_hashes: list[ExternalBlockHash]; parent_block_hash: ExternalBlockHash | None
      token_ids: list[int]; block_size: int; lora_id: int | None
      medium: str | None; lora_name: str | None; event_version: int = 1
      extra_keys: ... = None; group_idx: int | None = None; ...
  class BlockRemoved(KVCacheEvent):
      block_hashes: list[ExternalBlockHash]; medium: str | None; group_idx: ... = None
  class AllBlocksCleared(KVCacheEvent)

A tagged struct is a map whose "type" key names the class; fields without a
default are required, omitted ones take their default, unknown keys are
ignored (msgspec's default).  PUB frames are [topic, seq (8 bytes,
big-endian), payload]; replay answers to ["", start] from a DEALER are
["", topic, seq, payload] ... and ["", "", ff*8, ""] last.
"""
import subprocess
import sys
import time

import msgpack
import zmq

REQUIRED = {
    "BlockStored": ["block_hashes", "parent_block_hash", "token_ids", "block_size",
                    "lora_id", "medium", "lora_name"],
    "BlockRemoved": ["block_hashes", "medium"],
    "AllBlocksCleared": [],
}
DEFAULTS = {
    "BlockStored": {"event_version": 1, "extra_keys": None, "group_idx": None,
                    "kv_cache_spec_kind": None, "kv_cache_spec_sliding_window": None,
                    "locality": None, "ownership": None},
    "BlockRemoved": {"group_idx": None, "locality": None, "ownership": None},
    "AllBlocksCleared": {},
}
U64 = 1 << 64
TIMEOUT = 60.0


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def ext_hash(h):
    """ExternalBlockHash = bytes | int."""
    check(isinstance(h, (int, bytes)) and not isinstance(h, bool), "hash type %r" % (h,))
    if isinstance(h, int):
        check(0 <= h < U64, "hash out of uint64 range")
    return h


def decode_event(pairs):
    check(isinstance(pairs, list), "event is not a map")
    keys = [k for k, _ in pairs]
    check(len(set(keys)) == len(keys), "duplicate keys")
    d = dict(pairs)
    tag = d.get("type")
    check(tag in REQUIRED, "unknown tag %r" % (tag,))
    check(keys[0] == "type", "tag not first")
    # omit_defaults + declaration order: exactly the required fields, in order.
    check(keys[1:] == REQUIRED[tag], "%s fields %r" % (tag, keys))
    ev = dict(DEFAULTS[tag])
    ev.update(d)
    if tag != "AllBlocksCleared":
        check(isinstance(ev["block_hashes"], list) and ev["block_hashes"], "block_hashes")
        for h in ev["block_hashes"]:
            ext_hash(h)
        check(ev["medium"] == "GPU", "medium")
    if tag == "BlockStored":
        p = ev["parent_block_hash"]
        check(p is None or ext_hash(p) is not None, "parent")
        check(ev["lora_id"] is None and ev["lora_name"] is None, "lora fields")
        check(all(isinstance(t, int) and 0 <= t < 1 << 32 for t in ev["token_ids"]), "tokens")
    return ev


def decode_batch(payload, rank):
    b = msgpack.unpackb(payload, raw=False, strict_map_key=False,
                        object_pairs_hook=list, use_list=True)
    check(isinstance(b, list) and len(b) == 3, "batch is not [ts, events, rank]")
    ts, events, dp = b
    check(isinstance(ts, float) and abs(ts - time.time()) < 3600, "ts")
    check(dp == rank, "data_parallel_rank %r" % (dp,))
    check(isinstance(events, list) and events, "events")
    # msgspec writes every value in its shortest form, maps in field order:
    # packing the decoded batch again gives the same bytes.
    again = msgpack.packb(msgpack.unpackb(payload, raw=False, strict_map_key=False),
                          use_bin_type=True)
    check(again == payload, "not the canonical (shortest) encoding")
    return [decode_event(e) for e in events]


class Model:
    """The block set as a consumer rebuilds it: hash -> (parent, tokens)."""

    def __init__(self, bs):
        self.bs = bs
        self.blocks = {}

    def apply(self, ev):
        tag = ev["type"]
        if tag == "AllBlocksCleared":
            self.blocks.clear()
        elif tag == "BlockStored":
            hs, toks = ev["block_hashes"], ev["token_ids"]
            check(ev["block_size"] == self.bs, "block_size")
            check(len(toks) == self.bs * len(hs), "token count")
            parent = ev["parent_block_hash"]
            check(parent is None or parent in self.blocks, "unknown parent")
            for i, h in enumerate(hs):
                check(h not in self.blocks, "block stored twice")
                self.blocks[h] = (parent, tuple(toks[i * self.bs:(i + 1) * self.bs]))
                parent = h
        else:
            for h in ev["block_hashes"]:
                check(h in self.blocks, "removing an unknown block")
                del self.blocks[h]
                # deepest first: nothing left hangs from a removed block
                check(all(p != h for p, _ in self.blocks.values()), "removed a parent first")

    def prefixes(self):
        out = set()
        for h in self.blocks:
            toks = []
            while h is not None:
                parent, t = self.blocks[h]
                toks[:0] = t
                h = parent
            out.add(tuple(toks))
        return out


def replay(dealer, start):
    dealer.send_multipart([b"", start.to_bytes(8, "big")])
    got = []
    while True:
        check(dealer.poll(int(TIMEOUT * 1000)), "replay answer timed out")
        f = dealer.recv_multipart()
        check(len(f) == 4 and f[0] == b"", "replay framing %d frames" % len(f))
        if f[2] == b"\xff" * 8:
            check(f[1] == b"" and f[3] == b"", "END marker")
            return got
        check(f[1] == TOPIC, "replay topic")
        got.append((int.from_bytes(f[2], "big"), f[3]))


def main():
    global TOPIC
    scenario, seed, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    p = subprocess.Popen(cmd + [scenario, seed], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        hello = {}
        for _ in range(5):
            k, v = p.stdout.readline().split(" ", 1)
            hello[k] = v.strip()
        TOPIC = hello["TOPIC"].encode()
        bs, rank = int(hello["BS"]), int(hello["RANK"])
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, TOPIC)
        sub.connect(hello["PUB"])
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(hello["REPLAY"])
        p.stdin.write("GO\n")
        p.stdin.flush()

        head = p.stdout.readline().split()
        check(head[0] == "LAST", "driver: %r" % (head,))
        last, skipped = int(head[1]), int(head[3])
        entries = []
        while True:
            line = p.stdout.readline().split()
            check(line and line[0] != "LOSTENTRY", "a live entry is not in the cache")
            if line[0] == "END":
                break
            entries.append(tuple(int(t) for t in line[2:]))

        # Live stream: everything was handed to ZMQ before LAST was printed,
        # but the PUB may have sent some before the subscription arrived;
        # what is missing is taken from the replay ring below, so a quiet
        # second ends the wait.
        live = {}
        prev = -1
        while prev < last:
            if not sub.poll(1000):
                break
            f = sub.recv_multipart()
            check(len(f) == 3 and f[0] == TOPIC and len(f[1]) == 8, "PUB framing")
            seq = int.from_bytes(f[1], "big")
            check(seq > prev, "sequence numbers go backwards")
            live[seq] = f[2]
            prev = seq

        batches = dict(live)
        rings = {}
        if scenario == "replay":
            # ring of 8 batches: from 0 -> what the ring holds, as vLLM does
            for start, want in ((0, range(last - 7, last + 1)), (last - 3, range(last - 3, last + 1)),
                                (last + 100, range(0))):
                got = replay(dealer, start)
                check([s for s, _ in got] == list(want), "replay from %d: %r" % (start, [s for s, _ in got]))
                rings[start] = got
            # a malformed request gets no answer and breaks nothing
            dealer.send_multipart([b"", b"\x00" * 3])
            check([s for s, _ in replay(dealer, last)] == [last], "after a bad request")
        else:
            got = replay(dealer, 0)
            for s, payload in got:
                check(s not in live or live[s] == payload, "replayed batch %d differs" % s)
                batches[s] = payload
            missing = [s for s in range(last + 1) if s not in batches]
            check(len(missing) == skipped, "gaps %r, skipped %d" % (missing, skipped))
            model = Model(bs)
            for s in range(last + 1):
                if s in missing:
                    check(s + 1 in batches, "a gap at the end")
                    continue
                evs = decode_batch(batches[s], rank)
                if s - 1 in missing:
                    check(evs[0]["type"] == "AllBlocksCleared", "no reset after the gap %d" % (s - 1))
                    # the replay cannot fill the gap either
                    check([x for x, _ in replay(dealer, s - 1)][0] == s, "gap replayed")
                for ev in evs:
                    model.apply(ev)
            want = set()
            for t in entries:
                for k in range(1, len(t) // bs + 1):
                    want.add(t[:k * bs])
            have = model.prefixes()
            check(have == want, "published block set != cache's: %d extra, %d missing"
                  % (len(have - want), len(want - have)))
            if scenario == "overflow":
                check(skipped >= 1 and int(head[5]) >= 1, "no overflow happened")
            print("blocks", len(have), "batches", len(batches), "gaps", len(missing))
        for t in sorted(want if scenario != "replay" else ()):
            p.stdin.write("C %d %s\n" % (len(t), " ".join(map(str, t))))
        p.stdin.write("Q\n")
        p.stdin.flush()
        res = p.stdout.readline().split()
        check(res[0] == "CHECKED" and res[3] == "0", "lookups: %r" % (res,))
        check(p.wait(TIMEOUT) == 0, "driver exit status")
        print("OK", scenario)
    finally:
        if p.poll() is None:
            p.kill()


if __name__ == "__main__":
    main()
