// quickstart.cpp - the README's C++ example: quickstart.c with RAII; the pin
// is released when the match goes out of scope, the cache when it does.
#include <pce/pce.hpp>
#include <cstdio>
#include <vector>

int main()
{
	pce::config cfg;             // C++20: pce::cache::create({.kv_budget = 64ull << 30})
	cfg.kv_budget = 64ull << 30; // 64 GiB of KV, as declared per entry
	auto cache = pce::cache::create(cfg);
	if (!cache) {
		std::fprintf(stderr, "create: %s\n", cache.error().message().c_str());
		return 1;
	}
	std::vector<uint32_t> prompt{128000, 882, 271, 3923, 374, 279, 6864, 315, 9822, 30};
	std::error_code ec = cache->store(/*ns=*/7, prompt, /*value=*/0x1000, /*kv_bytes=*/10 * 131072);
	if (ec && ec != pce::errc::exists)
		std::fprintf(stderr, "store: %s\n", ec.message().c_str());

	std::vector<uint32_t> next{128000, 882, 271, 3923, 374, 279, 1888, 11};
	if (auto m = cache->lookup(7, next, {PCE_LOOKUP_PIN}); m && m->hit())
		std::printf("reuse %zu of %zu tokens from KV %#llx\n", m->tokens, next.size(),
			    static_cast<unsigned long long>(m->value)); // ... prefill next[m->tokens..]
	return 0;
}
