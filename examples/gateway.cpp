// gateway.cpp - the README's C++ router example: gateway.c with pce::router;
// the matches land in the caller's array, and the router is destroyed when
// it goes out of scope.
#include <pce/pce.hpp>
#include <array>
#include <cstdio>
#include <vector>

int main()
{
	pce::router_config cfg; // tier weights: GPU 1.0, CPU 0.8
	cfg.block_size = 4;     // the engines' KV block, in tokens
	auto router = pce::router::create(cfg);
	if (!router) {
		std::fprintf(stderr, "create: %s\n", router.error().message().c_str());
		return 1;
	}
	// KV events: worker 3 cached the system prompt + question on GPU, worker 5
	// the system prompt on CPU.
	std::vector<uint32_t> sys{128000, 882, 271, 3923, 374, 279, 6864, 315};
	std::vector<uint32_t> chat{128000, 882, 271, 3923, 374, 279, 6864, 315, 9822, 30, 11, 7};
	(void)router->add(/*owner=*/3, /*ns=*/0, chat, PCE_TIER_GPU);
	(void)router->add(5, 0, sys, PCE_TIER_CPU);

	std::vector<uint32_t> req{128000, 882, 271, 3923, 374, 279, 6864, 315, 9822, 30, 11, 7, 42};
	std::array<pce_overlap, 4> best;
	if (auto m = router->match(0, req, best.data(), best.size()))
		for (std::size_t i = 0; i < m->count; i++)
			std::printf("worker %u holds %zu tokens (score %.1f)\n", best[i].owner,
				    best[i].tokens, best[i].score);
	return 0;
}
