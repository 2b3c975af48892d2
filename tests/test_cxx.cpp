// test_cxx.cpp - the public header compiles as C++17 (-Wall -Wextra
// -Wpedantic) and the API is usable from C++: RAII ownership of the cache,
// std::vector token buffers, a lambda-backed release callback.
#include <pce/pce.h>

#include <cstdio>
#include <string_view>
#include <memory>
#include <vector>

namespace {

struct cache_deleter {
	void operator()(pce_cache *c) const { pce_cache_destroy(c); }
};
using cache_ptr = std::unique_ptr<pce_cache, cache_deleter>;

int failures = 0;

void check(bool ok, const char *what)
{
	if (!ok) {
		std::fprintf(stderr, "test_cxx: %s failed\n", what);
		failures++;
	}
}

} // namespace

int main()
{
	static_assert(PCE_VERSION_NUMBER >= 100, "version macros visible from C++");
	std::vector<uint64_t> released;
	pce_config cfg;
	pce_config_init(&cfg);
	cfg.background_reclaim = 0;
	cfg.on_release = [](void *ctx, const pce_released *r) {
		static_cast<std::vector<uint64_t> *>(ctx)->push_back(r->value);
	};
	cfg.release_ctx = &released;

	pce_cache *raw = nullptr;
	check(pce_cache_create(&cfg, &raw) == PCE_OK, "create");
	{
		cache_ptr cache(raw);
		std::vector<uint32_t> prompt{101, 102, 103, 104, 105};
		check(pce_cache_store(cache.get(), 1, prompt.data(), prompt.size(), 42, 4096, nullptr,
				      nullptr) == PCE_OK,
		      "store");
		std::vector<uint32_t> query{101, 102, 103, 9};
		pce_lookup_opts opts{PCE_LOOKUP_PIN, 0};
		pce_match m{};
		check(pce_cache_lookup(cache.get(), 1, query.data(), query.size(), &opts, &m) ==
			      PCE_OK,
		      "lookup");
		check(m.tokens == 3 && m.value == 42 && m.pin.id != 0, "match");
		check(pce_pin_release(cache.get(), m.pin) == PCE_OK, "release");
		check(pce_cache_remove(cache.get(), 1, prompt.data(), prompt.size(), nullptr) ==
			      PCE_OK,
		      "remove");
		check(std::string_view(pce_err_name(PCE_EEXIST)) == "PCE_EEXIST", "err_name");
	}
	check(released.size() == 1 && released[0] == 42, "released once");
	return failures ? 1 : 0;
}
