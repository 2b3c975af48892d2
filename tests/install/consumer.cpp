// consumer.cpp - an out-of-tree C++ program built against installed libpce
// through its CMake package, linked statically.
#include <pce/pce.h>

#include <cstdio>
#include <vector>

int main()
{
	std::vector<uint32_t> prompt{1, 2, 3, 4};
	pce_config cfg;
	pce_config_init(&cfg);
	pce_cache *c = nullptr;
	pce_match m{};
	if (pce_cache_create(&cfg, &c) ||
	    pce_cache_store(c, 0, prompt.data(), prompt.size(), 7, 0, nullptr, nullptr) ||
	    pce_cache_lookup(c, 0, prompt.data(), 2, nullptr, &m) || m.tokens != 2 ||
	    pce_cache_destroy(c)) {
		std::fprintf(stderr, "consumer.cpp: libpce misbehaved\n");
		return 1;
	}
	std::printf("consumer.cpp: libpce %s ok\n", pce_version_string());
	return 0;
}
