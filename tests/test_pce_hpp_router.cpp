// test_pce_hpp_router.cpp - pce::router of pce/pce.hpp: config defaults and
// designated initializers, error codes, every call against what pce/router.h
// documents, match() into arrays, spans and vectors (in their own buffer),
// events with owner and tier from any callable, TTL with a caller's clock,
// set_budgets(),
// moved-from routers, a router inherited across fork(), and matches while
// another thread adds and removes.  Built as C++17, as C++20 and as C++17
// without exceptions, each with -Werror.
#include <pce/pce.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

std::atomic<int> failures{0};

void check(bool ok, const char *what, int line)
{
	if (!ok) {
		std::fprintf(stderr, "test_pce_hpp_router:%d: %s failed\n", line, what);
		failures++;
	}
}
#define CHECK(cond) check((cond), #cond, __LINE__)

using toks = std::vector<std::uint32_t>;

pce::router_config manual_config()
{
	pce::router_config cfg;
	cfg.background_reclaim = 0;
	return cfg;
}

void test_config()
{
	pce_router_config ref;
	pce_router_config_init(&ref);
	const pce::router_config cfg;
	CHECK(cfg.shards == ref.shards && cfg.block_size == ref.block_size);
	for (std::size_t i = 0; i < PCE_TIERS; i++)
		CHECK(cfg.tier_weight[i] == ref.tier_weight[i]);
	CHECK(cfg.index_budget == ref.index_budget);
	CHECK(cfg.high_watermark_pct == ref.high_watermark_pct);
	CHECK(cfg.low_watermark_pct == ref.low_watermark_pct);
	CHECK(cfg.default_ttl_ns == ref.default_ttl_ns);
	CHECK(cfg.reclaim_interval_ns == ref.reclaim_interval_ns);
	CHECK(cfg.background_reclaim == ref.background_reclaim);
	CHECK(!cfg.clock && !cfg.on_event && cfg.error() == nullptr);

	pce::router_config bad;
	bad.shards = 3;
	CHECK(bad.error() != nullptr);
	auto r = pce::router::create(bad);
	CHECK(!r && r.error() == pce::errc::invalid_argument);
	bad = pce::router_config{};
	bad.tier_weight[2] = -1.0;
	CHECK(bad.error() != nullptr && !pce::router::create(bad));
#if __cplusplus >= 202002L
	const pce::router_config d{.shards = 4, .block_size = 2, .background_reclaim = 0};
	CHECK(d.shards == 4 && d.block_size == 2 && d.tier_weight[PCE_TIER_GPU] == 1.0);
	CHECK(pce::router::create(d).has_value());
#endif
}

void test_calls()
{
	pce::router_config cfg = manual_config();
	cfg.block_size = 2;
	cfg.tier_weight[PCE_TIER_CPU] = 0.5;
	auto r = pce::router::create(cfg);
	CHECK(r.has_value());
	const toks four{1, 2, 3, 4};
	auto added = r->add(1, 0, four);
	CHECK(added && *added == 2);
	added = r->add(2, 0, toks{1, 2, 9}, PCE_TIER_CPU); // the partial block is not held
	CHECK(added && *added == 1);
	CHECK(r->add(2, 0, toks{1, 2}, PCE_TIER_CPU).value_or(9) == 0);

	std::array<pce_overlap, 4> out{};
	auto m = r->match(0, toks{1, 2, 3, 4, 5}, out.data(), out.size());
	CHECK(m && m->count == 2 && m->left == 0);
	CHECK(out[0].owner == 1 && out[0].tokens == 4 && out[0].tier == PCE_TIER_GPU &&
	      out[0].score == 4.0);
	CHECK(out[1].owner == 2 && out[1].tokens == 2 && out[1].tier == PCE_TIER_CPU &&
	      out[1].score == 1.0);
	m = r->match(0, four, out.data(), 1);
	CHECK(m && m->count == 1 && m->left == 1 && out[0].owner == 1);
	m = r->match(1, four, out.data(), out.size()); // another namespace
	CHECK(m && m->count == 0 && m->left == 0);

	// The vector overload writes into the caller's storage and only
	// shrinks it: the same buffer, the same capacity.
	std::vector<pce_overlap> v(8);
	const pce_overlap *const buf = v.data();
	m = r->match(0, four, v);
	CHECK(m && m->count == 2 && v.size() == 2 && v[1].owner == 2);
	v.resize(8);
	m = r->match(0, four, v, PCE_ROUTER_MATCH_PEEK);
	CHECK(m && v.size() == 2);
#if defined(__cpp_lib_span)
	m = r->match(0, four, std::span<pce_overlap>(out));
	CHECK(m && m->count == 2 && out[0].owner == 1);
#endif
	CHECK(v.data() == buf && v.capacity() == 8);

	CHECK(r->add(2, 0, toks{1, 2}, PCE_TIER_GPU, {PCE_ROUTER_ADD_RETIER, 0}).value_or(9) == 0);
	m = r->match(0, toks{1, 2}, out.data(), out.size());
	CHECK(m && m->count == 2 && out[0].tier == PCE_TIER_GPU && out[1].tier == PCE_TIER_GPU);

	auto s = r->stats();
	CHECK(s && s->holdings == 3 && s->adds == 4 && s->shards == 16);
	CHECK(!r->remove(1, 0, four));
	CHECK(r->remove(1, 0, four) == pce::errc::not_found);
	CHECK(r->clear_owner(2).value_or(0) == 1);
	CHECK(r->clear_ns(0).value_or(0) == 1);
	CHECK(!r->reclaim());
	std::string why = "x";
	CHECK(!r->audit(&why) && why.empty());
	s = r->stats();
	CHECK(s && s->holdings == 0 && s->removed[PCE_REASON_REMOVED] == 1 &&
	      s->removed[PCE_REASON_CLEARED] == 2);
}

void test_errors()
{
	pce::router_config cfg = manual_config();
	cfg.block_size = 2;
	auto r = pce::router::create(cfg);
	CHECK(r.has_value());
	CHECK(r->add(1, 0, toks{1}).error() == pce::errc::too_short);
	CHECK(r->add(1, 0, toks{1, 2}, PCE_TIERS).error() == pce::errc::invalid_argument);
	CHECK(r->add(1, 0, toks{1, 2}, 0, {0x80, 0}).error() == pce::errc::invalid_argument);
	CHECK(r->remove(1, 0, toks{1, 2}) == pce::errc::not_found);
	CHECK(r->match(0, toks{1, 2}, nullptr, 1).error() == pce::errc::invalid_argument);
	CHECK(r->match(0, toks{1, 2}, nullptr, 0).has_value());
	// The length is refused before a token is read.
	static const std::uint32_t one = 1;
	std::vector<pce_overlap> none(2);
	CHECK(r->match(0, pce::tokens(&one, PCE_MAX_TOKENS + 1), none).error() ==
	      pce::errc::too_big);
	CHECK(none.empty());

	pce::router_config small = manual_config();
	small.index_budget = 1;
	auto tiny = pce::router::create(small);
	CHECK(tiny && tiny->add(1, 0, toks{1, 2}).error() == pce::errc::no_space);

	// Moved from: empty, every call is invalid_argument.
	pce::router moved = std::move(*r);
	CHECK(!*r && moved);
	CHECK(r->add(1, 0, toks{1, 2}).error() == pce::errc::invalid_argument);
	CHECK(r->stats().error() == pce::errc::invalid_argument);
	CHECK(moved.add(1, 0, toks{1, 2}).value_or(0) == 1);
	*r = std::move(moved);
	CHECK(*r && !moved && r->stats()->holdings == 1);
	r->close();
	CHECK(!*r && r->reclaim() == pce::errc::invalid_argument);
}

void test_events_and_clock()
{
	struct seen {
		pce_event_kind kind;
		pce_reason reason;
		std::uint32_t owner, tier;
		std::size_t len;
		toks tokens;
	};
	std::vector<seen> got;
	std::uint64_t now = 1000;
	pce::router_config cfg = manual_config();
	cfg.default_ttl_ns = 100;
	cfg.clock = [&now] { return now; };
	cfg.on_event = [&got](const pce_event &ev) {
		const pce::tokens t = pce::event_tokens(ev);
		got.push_back({ev.kind, ev.reason, ev.owner, ev.tier, ev.len, toks(t.begin(), t.end())});
	};
	auto r = pce::router::create(cfg);
	CHECK(r.has_value());
	CHECK(r->add(7, 0, toks{1, 2}, PCE_TIER_DISK).has_value());
	CHECK(r->add(8, 0, toks{1, 2}, PCE_TIER_GPU, {0, PCE_NEVER}).has_value());
	CHECK(got.size() == 2 && got[0].kind == PCE_EVENT_STORED && got[0].owner == 7 &&
	      got[0].tier == PCE_TIER_DISK && got[0].len == 2 && got[0].tokens == toks({1, 2}));
	now += 200; // owner 7's holding expired
	std::array<pce_overlap, 4> out{};
	auto m = r->match(0, toks{1, 2}, out.data(), out.size());
	CHECK(m && m->count == 1 && out[0].owner == 8);
	CHECK(!r->reclaim());
	CHECK(r->stats()->removed[PCE_REASON_TTL] == 2);
	CHECK(got.size() >= 3 && got.back().kind == PCE_EVENT_REMOVED && got.back().owner == 7);
}

// set_budgets(): a shrink evicts down to the new budget before it returns;
// bad watermarks are invalid_argument and change nothing.
void test_set_budgets()
{
	auto r = pce::router::create(manual_config());
	CHECK(r.has_value());
	for (std::uint32_t i = 0; i < 200; i++)
		CHECK(r->add(i % 5, 0, toks{i * 4, i * 4 + 1, i * 4 + 2, i * 4 + 3}).has_value());
	const std::uint64_t before = r->stats()->index_bytes;
	CHECK(r->set_budgets({before / 4, 101, 80}) == pce::errc::invalid_argument);
	CHECK(r->stats()->index_budget == 0 && r->stats()->index_bytes == before);
	CHECK(!r->set_budgets({before / 4, 90, 80}));
	auto st = r->stats();
	CHECK(st && st->index_budget == before / 4 && st->index_bytes <= before / 4);
	CHECK(st && st->removed[PCE_REASON_CAPACITY] > 0);
	CHECK(!r->audit());
}

// A child process gets errc::forked from every call on the router it
// inherited; a router it creates works; the parent's is untouched.
void test_fork()
{
	auto r = pce::router::create(manual_config());
	CHECK(r && r->add(1, 0, toks{1, 2, 3}).has_value());
	const pid_t pid = fork();
	if (pid == 0) {
		int bad = 0;
		const auto forked = [&bad](const std::error_code &ec) {
			bad += ec != pce::errc::forked;
		};
		std::array<pce_overlap, 2> out{};
		forked(r->match(0, toks{1, 2}, out.data(), out.size()).error());
		forked(r->add(2, 0, toks{4}).error());
		forked(r->remove(1, 0, toks{1}));
		forked(r->clear_owner(1).error());
		forked(r->clear_ns(0).error());
		forked(r->reclaim());
		forked(r->set_budgets({0, 90, 80}));
		forked(r->stats().error());
		forked(r->audit());
		auto mine = pce::router::create(manual_config());
		bad += !mine || !mine->add(3, 0, toks{1, 2});
		bad += !mine || !mine->match(0, toks{1, 2}, out.data(), 1) || out[0].owner != 3;
		_exit(bad); // the inherited router's destructor would only abandon it
	}
	CHECK(pid > 0);
	int status = -1;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	std::array<pce_overlap, 2> out{};
	auto m = r->match(0, toks{1, 2, 3}, out.data(), out.size());
	CHECK(m && m->count == 1 && out[0].tokens == 3);
}

// Readers match while a writer adds, removes and clears: every result is
// a holding the writer could have made, each owner at most once.
void test_concurrent()
{
	pce::router_config cfg;
	cfg.block_size = 2;
	cfg.shards = 2;
	auto r = pce::router::create(cfg);
	CHECK(r.has_value());
	toks base(64);
	for (std::uint32_t i = 0; i < 64; i++)
		base[i] = 100 + i;
	std::atomic<bool> stop{false};
	std::thread writer([&] {
		unsigned x = 5;
		while (!stop.load()) {
			x = x * 1103515245u + 12345u;
			const std::uint32_t owner = (x >> 8) % 8;
			const std::size_t n = ((x >> 12) % 32 + 1) * 2;
			const pce::tokens t(base.data(), n);
			if ((x >> 20) % 10 < 6)
				(void)r->add(owner, 0, t, owner % 2);
			else
				(void)r->remove(owner, 0, t);
			if ((x >> 24) % 100 == 0)
				(void)r->clear_owner(owner);
		}
	});
	std::vector<std::thread> readers;
	for (int i = 0; i < 3; i++)
		readers.emplace_back([&] {
			std::array<pce_overlap, 4> out{};
			for (int n = 0; n < 5000; n++) {
				auto m = r->match(0, base, out.data(), out.size());
				if (!m || m->count > 4) {
					failures++;
					continue;
				}
				unsigned seen = 0;
				for (std::size_t j = 0; j < m->count; j++) {
					const pce_overlap &o = out[j];
					const bool ok = o.owner < 8 && !(seen & 1u << o.owner) &&
							o.tokens % 2 == 0 && o.tokens >= 2 &&
							o.tokens <= 64 && o.tier == o.owner % 2;
					seen |= 1u << (o.owner & 31);
					if (!ok)
						failures++;
				}
			}
		});
	for (auto &t : readers)
		t.join();
	stop = true;
	writer.join();
	std::string why;
	CHECK(!r->audit(&why));
	if (!why.empty())
		std::fprintf(stderr, "audit: %s\n", why.c_str());
}

} // namespace

// Snapshot of a router and restore with another shard count.
void test_snapshot()
{
	const std::string path = "/tmp/test_pce_hpp_router-" + std::to_string(getpid()) + ".snap";
	pce::router_config cfg = manual_config();
	cfg.block_size = 2;
	auto r = pce::router::create(cfg);
	CHECK(r.has_value());
	CHECK(r->add(7, 0, toks{1, 2, 3, 4}, 1).has_value());
	CHECK(r->add(8, 0, toks{1, 2, 9, 9}, 0).has_value());
	CHECK(!r->snapshot(path.c_str()));
	cfg.shards = 2;
	auto b = pce::router::restore(cfg, path.c_str());
	CHECK(b.has_value());
	CHECK(!b->audit());
	std::vector<pce_overlap> out(4);
	auto m = b->match(0, toks{1, 2, 3, 4}, out);
	CHECK(m.has_value() && m->count == 2);
	CHECK(out[0].owner == 7 && out[0].tokens == 4 && out[0].tier == 1);
	CHECK(out[1].owner == 8 && out[1].tokens == 2 && out[1].tier == 0);
	cfg.block_size = 4;
	auto wrong = pce::router::restore(cfg, path.c_str());
	CHECK(!wrong.has_value() && wrong.error() == pce::errc::invalid_argument);
	std::remove(path.c_str());
}

int main()
{
	test_config();
	test_snapshot();
	test_calls();
	test_errors();
	test_events_and_clock();
	test_set_budgets();
	test_fork();
	test_concurrent();
	if (failures)
		std::fprintf(stderr, "test_pce_hpp_router: %d failures\n", failures.load());
	else
		std::printf("test_pce_hpp_router (C++%ld%s): all passed\n", __cplusplus / 100 % 100,
#if defined(__cpp_exceptions)
			    ""
#else
			    ", no exceptions"
#endif
		);
	return failures ? 1 : 0;
}
