import array
import pce

cache = pce.Cache(kv_budget=64 << 30)  # 64 GiB of KV, as declared per entry
prompt = array.array("I", [128000, 882, 271, 3923, 374, 279, 6864, 315, 9822, 30])
cache.store(prompt, 0x1000, kv_bytes=10 * 131072)  # value: where its KV lives

nxt = [128000, 882, 271, 3923, 374, 279, 1888, 11]  # shares the first 6 tokens
with cache.lookup(nxt, pin=True) as m:  # the pin is released on leaving
    if m:
        print(f"reuse {m.tokens} of {len(nxt)} tokens from KV {m.value:#x}")
