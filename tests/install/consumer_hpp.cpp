// consumer_hpp.cpp - an out-of-tree C++20 program using the installed
// <pce/pce.hpp> through libpce's CMake package.
#include <pce/pce.hpp>

#include <array>
#include <cstdio>
#include <span>

static bool works()
{
	const std::array<std::uint32_t, 4> prompt{1, 2, 3, 4};
	int released = 0;
	{
		auto cache = pce::cache::create({.background_reclaim = 0,
						 .on_release = [&](const pce_released &) { released++; }});
		if (!cache || cache->store(0, prompt, 7))
			return false;
		auto m = cache->lookup(0, std::span(prompt).first(2), {PCE_LOOKUP_PIN});
		if (!m || m->tokens != 2 || m->value != 7 || !m->pin)
			return false;
	} // the pin, then the cache: its value leaves through on_release
	return released == 1;
}

int main()
{
	if (!works()) {
		std::fprintf(stderr, "consumer_hpp.cpp: libpce %s misbehaved\n", pce::version_string());
		return 1;
	}
	std::printf("consumer_hpp.cpp: libpce %s ok\n", pce::version_string());
	return 0;
}
