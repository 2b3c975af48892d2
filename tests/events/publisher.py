#!/usr/bin/python3
"""publisher.py - a KV-event publisher speaking vLLM's wire, for the tests.

It does what vllm/distributed/kv_events.py's ZmqEventPublisher does: a PUB
socket sending [topic, seq (8 bytes big-endian, from 0), msgpack batch] and a
ROUTER socket answering ["", start_seq] with every buffered batch whose seq is
>= start_seq, then an END marker (seq -1).  The encodings of several vLLM
releases are selectable:
  --batch array|map     EventBatch as [ts, events, rank] or {"ts", ...}
  --events array|map|old
                        events as array_like structs (tag first, trailing
                        defaults omitted), as maps with "type" (defaults
                        omitted), or the v0.9 arrays (6-field BlockStored,
                        2-field BlockRemoved, no rank in the batch)
  --hash int|signed|bytes
                        block hashes as uint64 (often >= 2^63), as negative
                        int64, or as 32-byte sha256 digests
  --replay-topic 0|1    replies carry the topic frame (newer releases) or not
  --replay-silent       read replay requests and never answer them
Binds both sockets on 127.0.0.1 random ports and prints "ports PUB REPLAY".

Driven by JSON lines on stdin, each answered by "ok NEXT_SEQ":
  {"op": "batch", "events": [...], "drop": false}
      events: {"t": "S", "h": [..], "p": parent|null, "tok": [..], "bs": n,
               "medium": str|null, "lora": str|null, "lora_id": int|null,
               "extra": [..]|null, "group": int|null}
              {"t": "R", "h": [..], "medium": str|null}  {"t": "C"}
              {"t": "X"} (an event type no release has)
      drop: buffered for replay but not sent (a lost message)
  {"op": "rawbatch", "payload": hex}   a payload as is, with the next seq
  {"op": "raw", "frames": [hex, ...]}  frames as is, no seq
  {"op": "restart"}                    seq back to 0, replay buffer emptied
  {"op": "trim", "keep": n}            the replay buffer keeps its last n
  {"op": "quit"}
"""
import argparse
import hashlib
import json
import sys
import time

import msgpack
import zmq

END_SEQ = (-1).to_bytes(8, "big", signed=True)
U64 = 1 << 64


def block_hash(h, mode):
    if mode == "bytes":
        return hashlib.sha256(str(h).encode()).digest()
    v = (h * 0x9E3779B97F4A7C15 + 1) % U64
    if mode == "signed":
        return v - U64 if v >= 1 << 63 else -(v or 1)
    return v


def trim_defaults(fields, n_required):
    """array_like + omit_defaults: trailing fields equal to their default go."""
    while len(fields) > n_required and fields[-1] is None:
        fields.pop()
    return fields


def encode_event(ev, args):
    hm = args.hash
    if ev["t"] == "S":
        hashes = [block_hash(h, hm) for h in ev["h"]]
        parent = None if ev.get("p") is None else block_hash(ev["p"], hm)
        f = [("block_hashes", hashes), ("parent_block_hash", parent),
             ("token_ids", ev["tok"]), ("block_size", ev["bs"]),
             ("lora_id", ev.get("lora_id")), ("medium", ev.get("medium")),
             ("lora_name", ev.get("lora")), ("extra_keys", ev.get("extra")),
             ("group_idx", ev.get("group")), ("kv_cache_spec_kind", None),
             ("kv_cache_spec_sliding_window", None)]
        tag, required, old = "BlockStored", 7, 5
    elif ev["t"] == "R":
        f = [("block_hashes", [block_hash(h, hm) for h in ev["h"]]),
             ("medium", ev.get("medium")), ("group_idx", ev.get("group"))]
        tag, required, old = "BlockRemoved", 2, 1
    elif ev["t"] == "C":
        f, tag, required, old = [], "AllBlocksCleared", 0, 0
    else:
        f, tag, required, old = [("what", 1)], "BlockMoved", 1, 1
    if args.events == "map":
        m = {"type": tag}
        for i, (k, v) in enumerate(f):
            if i < required or v is not None:
                m[k] = v
        return m
    if args.events == "old":
        return [tag] + [v for _, v in f[:old]]
    return [tag] + trim_defaults([v for _, v in f], required)


def encode_batch(events, args):
    evs = [encode_event(e, args) for e in events]
    ts = time.time()
    if args.events == "old":
        return msgpack.packb([ts, evs])
    if args.batch == "map":
        return msgpack.packb({"ts": ts, "events": evs, "data_parallel_rank": args.rank})
    return msgpack.packb([ts, evs, args.rank])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", default="array", choices=["array", "map"])
    ap.add_argument("--events", default="map", choices=["array", "map", "old"])
    ap.add_argument("--hash", default="int", choices=["int", "signed", "bytes"])
    ap.add_argument("--replay-topic", type=int, default=1)
    ap.add_argument("--topic", default="kv")
    ap.add_argument("--rank", type=int, default=0)
    ap.add_argument("--buffer", type=int, default=10000)
    ap.add_argument("--replay-silent", action="store_true")
    args = ap.parse_args()

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 100000)
    pub.setsockopt(zmq.LINGER, 0)
    pub_port = pub.bind_to_random_port("tcp://127.0.0.1")
    rep = ctx.socket(zmq.ROUTER)
    rep.setsockopt(zmq.LINGER, 0)
    rep_port = rep.bind_to_random_port("tcp://127.0.0.1")
    topic = args.topic.encode()
    seq = 0
    buf = []
    print("ports %d %d" % (pub_port, rep_port), flush=True)

    poller = zmq.Poller()
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    poller.register(rep, zmq.POLLIN)
    pending = b""
    while True:
        ready = dict(poller.poll(1000))
        if rep in ready:
            frames = rep.recv_multipart()
            if len(frames) == 3 and not args.replay_silent:
                client, _, start = frames
                start = int.from_bytes(start, "big")
                for s, payload in buf:
                    if s >= start:
                        body = [s.to_bytes(8, "big"), payload]
                        if args.replay_topic:
                            body = [topic] + body
                        rep.send_multipart([client, b""] + body)
                end = [END_SEQ, b""]
                if args.replay_topic:
                    end = [b""] + end
                rep.send_multipart([client, b""] + end)
        if sys.stdin.fileno() not in ready:
            continue
        chunk = sys.stdin.buffer.raw.read(65536)
        if not chunk:
            break
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if not line.strip():
                continue
            cmd = json.loads(line)
            op = cmd["op"]
            if op == "quit":
                return
            if op in ("batch", "rawbatch"):
                if op == "batch":
                    payload = encode_batch(cmd["events"], args)
                else:
                    payload = bytes.fromhex(cmd["payload"])
                if not cmd.get("drop"):
                    pub.send_multipart([topic, seq.to_bytes(8, "big"), payload])
                buf.append((seq, payload))
                del buf[:-args.buffer]
                seq += 1
            elif op == "raw":
                pub.send_multipart([bytes.fromhex(f) for f in cmd["frames"]])
            elif op == "restart":
                seq = 0
                buf = []
            elif op == "trim":
                del buf[:len(buf) - cmd["keep"]]
            print("ok %d" % seq, flush=True)


if __name__ == "__main__":
    main()
