#!/usr/bin/env python3
"""reference.py - expected results for the pce tool's tests, computed
independently of libpce and of the tool's C code.

    python3 tools/tests/reference.py > tools/tests/expected.h

Method, the definitions of `pce analyze --help` written out naively:
  * the inputs are read with Python's json and gzip modules, and merged by
    (arrival time, input order, position in the input) with a stable sort;
    kvtester sub-agent requests at the sub-agent's t plus their own t;
  * every namespace has a prefix trie of nested dicts; a request's hit is
    the number of its ids found walking down the trie (so no assumption
    that block ids are chained), then the request is inserted;
  * hit tokens = min(hit ids x tokens per id, request tokens);
  * the footprint is the number of trie nodes;
  * shared prefixes: every trie node counts the counted requests passing
    through it (ending there included); a node is listed when at least two
    do and no child has as many (a child's set is a subset: equal counts
    mean equal sets); ranked by count, then depth;
  * batch dedup: per batch, each request's match in the trie as it was
    before the batch ("cached") and in a trie of the batch's earlier
    requests; "shared" is the excess of the second over the first;
  * text is tokenized by the algorithm documented in tools/trace_text.c,
    reimplemented here.
The run takes a second; its output is checked in as expected.h.
"""
import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def load_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line for line in f.read().split("\n") if line.strip(" \t")]


def mooncake(path, bs=512):
    reqs = []
    for i, line in enumerate(load_lines(path)):
        o = json.loads(line)
        reqs.append(dict(ns=path, t=o.get("timestamp", 0) / 1000.0, ids=o["hash_ids"],
                         tokens=o["input_length"], bs=bs, order=(0, i)))
    return reqs


def tokens(path, inp):
    reqs = []
    for i, line in enumerate(load_lines(path)):
        o = json.loads(line)
        ns = o.get("ns")
        reqs.append(dict(ns="" if ns is None else str(ns), t=o.get("t", 0), ids=o["tokens"],
                         tokens=len(o["tokens"]), bs=1, order=(inp, i)))
    return reqs


def klass(b):
    if b in b" \t\n\r\f\v":
        return 0
    if (0x61 <= b <= 0x7a) or (0x41 <= b <= 0x5a) or b >= 0x80:
        return 1
    if 0x30 <= b <= 0x39:
        return 2
    return 3


def tokenize(s):
    out, i = [], 0
    while i < len(s):
        start, k = i, klass(s[i])
        if s[i] == 0x20 and i + 1 < len(s) and klass(s[i + 1]) != 0:
            i += 1
            k = klass(s[i])
        end = i
        while end < len(s) and klass(s[end]) == k:
            end += 1
        for p in range(start, end, 4):
            out.append(int.from_bytes(s[p:min(p + 4, end)], "little"))
        i = end
    return out


def text(path):
    reqs = []
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    for i, line in enumerate(lines):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip(b" \t"):
            continue
        ids = tokenize(line)
        reqs.append(dict(ns="", t=0, ids=ids, tokens=len(ids), bs=1, order=(0, i)))
    return reqs


def kvtester(directory):
    reqs = []
    files = sorted(f for f in os.listdir(directory) if f.endswith((".json", ".json.gz")))
    for fi, name in enumerate(files):
        path = os.path.join(directory, name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            d = json.load(f)
        seq = [0]

        def walk(items, base):
            for r in items:
                if r.get("type") == "subagent":
                    walk(r["requests"], base + r["t"])
                else:
                    reqs.append(dict(ns=path, t=base + r["t"], ids=r["hash_ids"], tokens=r["in"],
                                     bs=d.get("block_size", 64), order=(fi, seq[0])))
                    seq[0] += 1
        walk(d["requests"], 0.0)
    return reqs


def merged(reqs):
    return sorted(reqs, key=lambda r: (r["t"], r["order"]))


class Trie:
    def __init__(self):
        self.roots = {}
        self.nodes = 0

    def match(self, ns, ids):
        node, n = self.roots.get(ns, {}), 0
        for x in ids:
            if x not in node:
                break
            node, n = node[x], n + 1
        return n

    def insert(self, ns, ids):
        node = self.roots.setdefault(ns, {})
        for x in ids:
            if x not in node:
                node[x] = {}
                self.nodes += 1
            node = node[x]


def analyze(reqs, warmup, batch=0):
    n = len(reqs)
    ws = int(warmup * n)
    trie = Trie()
    hits = []
    dedup = [0, 0, 0]  # ids, cached, shared over batches starting in the window
    for b0 in range(0, n, batch or n or 1):
        chunk = reqs[b0:b0 + (batch or n)]
        if batch:
            local = Trie()
            for r in chunk:
                c = trie.match(r["ns"], r["ids"])
                s = local.match(r["ns"], r["ids"])
                if b0 >= ws:
                    dedup[0] += len(r["ids"])
                    dedup[1] += c
                    dedup[2] += max(0, s - c)
                local.insert(r["ns"], r["ids"])
        for r in chunk:
            h = trie.match(r["ns"], r["ids"])
            hits.append(h)
            trie.insert(r["ns"], r["ids"])
    w = reqs[ws:]
    hw = hits[ws:]
    res = dict(requests=len(w), tokens=sum(r["tokens"] for r in w),
               hit_tokens=sum(min(h * r["bs"], r["tokens"]) for r, h in zip(w, hw)),
               ids=sum(len(r["ids"]) for r in w), hit_ids=sum(hw), footprint=trie.nodes,
               window_start=ws, dedup=dedup)
    # shared prefixes: counts per trie node over the window
    count = {}
    for r in w:
        key = (r["ns"],)
        for x in r["ids"]:
            key = key + (x,)
            count[key] = count.get(key, 0) + 1
    children = {}
    for key in count:
        children.setdefault(key[:-1], []).append(key)
    shared = []
    for key, c in count.items():
        if c >= 2 and all(count[k] != c for k in children.get(key, [])):
            shared.append((c, len(key) - 1))
    shared.sort(key=lambda x: (-x[0], -x[1]))
    res["shared"] = shared
    per_ns = {}
    for r, h in zip(w, hw):
        t = per_ns.setdefault(r["ns"], [0, 0, 0])
        t[0] += 1
        t[1] += r["tokens"]
        t[2] += min(h * r["bs"], r["tokens"])
    res["per_ns"] = per_ns
    return res


def emit(name, res):
    s = res["shared"]
    top = s[:10]
    print("static const struct expected %s = {" % name)
    print("\t.requests = %d, .window_start = %d," % (res["requests"], res["window_start"]))
    print("\t.tokens = %d, .hit_tokens = %d," % (res["tokens"], res["hit_tokens"]))
    print("\t.ids = %d, .hit_ids = %d, .footprint = %d," % (res["ids"], res["hit_ids"],
                                                            res["footprint"]))
    print("\t.dedup_ids = %d, .dedup_cached = %d, .dedup_shared = %d," % tuple(res["dedup"]))
    print("\t.n_shared = %d, .shared_count_sum = %d, .shared_depth_sum = %d," % (
        len(s), sum(c for c, _ in s), sum(c * d for c, d in s)))
    print("\t.n_top = %d, .top = {%s}," % (len(top), ", ".join("{%d, %d}" % t for t in top)))
    print("\t.n_ns = %d, .ns = {%s}," % (len(res["per_ns"]), ", ".join(
        "{\"%s\", %d, %d, %d}" % (os.path.relpath(k, ROOT) if os.path.isabs(k) else k, *v)
        for k, v in sorted(res["per_ns"].items())[:8])))
    print("};")


def main():
    os.chdir(ROOT)
    slice_path = "data/mooncake_conversation_1000.jsonl"
    kv_dir = "tools/tests/data/kvtester"
    print("/* Generated by tools/tests/reference.py: do not edit.  See that script for")
    print(" * the method (independent of libpce and of the tool's C code). */")
    mc = merged(mooncake(slice_path))
    emit("mooncake_w0", analyze(mc, 0, 64))
    emit("mooncake_w50", analyze(mc, 0.5, 64))
    kv = merged(kvtester(kv_dir))
    emit("kvtester_w0", analyze(kv, 0, 64))
    emit("kvtester_w50", analyze(kv, 0.5, 64))
    tk = merged(tokens("tools/tests/data/tokens_a.jsonl", 0) +
                tokens("tools/tests/data/tokens_b.jsonl", 1))
    emit("tokens_w0", analyze(tk, 0, 3))
    print("/* tokens_a + tokens_b in merged order: (namespace, length) */")
    print("static const struct { const char *ns; size_t len; } tokens_order[] = {%s};" %
          ", ".join("{\"%s\", %d}" % (r["ns"], len(r["ids"])) for r in tk))
    tx = merged(text("tools/tests/data/prompts.txt"))
    emit("text_w0", analyze(tx, 0, 64))
    print("/* the first prompt's tokens */")
    print("static const uint32_t text_first[] = {%s};" % ", ".join(str(x) for x in tx[0]["ids"]))


if __name__ == "__main__":
    sys.exit(main())
