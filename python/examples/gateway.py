import pce

router = pce.Router(block_size=4)  # tier weights: GPU 1.0, CPU 0.8
sys_prompt = [128000, 882, 271, 3923, 374, 279, 6864, 315]
chat = sys_prompt + [9822, 30, 11, 7]
router.add(3, chat, pce.TIER_GPU)  # KV events: worker 3 holds it all on GPU,
router.add(5, sys_prompt, pce.TIER_CPU)  # worker 5 the system prompt on CPU

for o in router.match(chat + [42], k=4).overlaps:  # one wait-free walk
    print(f"worker {o.owner} holds {o.tokens} tokens (score {o.score:.1f})")
