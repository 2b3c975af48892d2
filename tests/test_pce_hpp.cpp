// test_pce_hpp.cpp - pce/pce.hpp, the C++ interface: config defaults and
// designated initializers, token views, error codes, the cache's calls,
// pins released by RAII, moved between objects and across threads, moved-from
// objects, callbacks from any callable, the engine calls (evict, budgets,
// touch, remove_prefix, the store's holder and its pin, entry ids), a cache
// inherited across fork(), and concurrent use.  Built as C++17, as C++20 and
// as C++17 without exceptions, each with -Werror.
#include <pce/pce.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

// Counted from the test threads too.
std::atomic<int> failures{0};

void check(bool ok, const char *what, int line)
{
	if (!ok) {
		std::fprintf(stderr, "test_pce_hpp:%d: %s failed\n", line, what);
		failures++;
	}
}
#define CHECK(cond) check((cond), #cond, __LINE__)

std::uint64_t live_pins(const pce::cache &c)
{
	auto s = c.stats();
	return s ? s->live_pins : UINT64_MAX;
}

// Token ids; a temporary one lives until the end of the call it is passed to.
using toks = std::vector<std::uint32_t>;

// A cache whose reclaim runs only when a test calls it.
pce::config manual_config()
{
	pce::config cfg;
	cfg.background_reclaim = 0;
	return cfg;
}

void test_config_defaults()
{
	pce_config ref;
	pce_config_init(&ref);
	const pce::config cfg;
	CHECK(cfg.shards == ref.shards && cfg.min_prefix_len == ref.min_prefix_len);
	CHECK(cfg.block_size == ref.block_size && cfg.max_pins == ref.max_pins);
	CHECK(cfg.policy == ref.policy && cfg.kv_mode == ref.kv_mode);
	CHECK(cfg.kv_bytes_per_token == ref.kv_bytes_per_token && cfg.kv_budget == ref.kv_budget);
	CHECK(cfg.index_budget == ref.index_budget && cfg.max_entries == ref.max_entries);
	CHECK(cfg.high_watermark_pct == ref.high_watermark_pct);
	CHECK(cfg.low_watermark_pct == ref.low_watermark_pct);
	CHECK(cfg.default_ttl_ns == ref.default_ttl_ns);
	CHECK(cfg.default_pin_lease_ns == ref.default_pin_lease_ns);
	CHECK(cfg.reclaim_interval_ns == ref.reclaim_interval_ns);
	CHECK(cfg.background_reclaim == ref.background_reclaim);
	CHECK(!cfg.clock && !cfg.on_release && !cfg.on_event);
	const pce_config c = cfg.c_config();
	CHECK(c.shards == ref.shards && !c.clock && !c.on_release && !c.on_event);
	CHECK(cfg.error() == nullptr);

	pce::config bad;
	bad.shards = 3;
	CHECK(bad.error() != nullptr && std::string_view(bad.error()).find("shards") == 0);
	auto made = pce::cache::create(bad);
	CHECK(!made && made.error() == pce::errc::invalid_argument);

#if __cplusplus >= 202002L
	const pce::config d{.shards = 4, .kv_budget = 1u << 20, .background_reclaim = 0};
	CHECK(d.shards == 4 && d.kv_budget == (1u << 20) && d.background_reclaim == 0);
	CHECK(d.min_prefix_len == ref.min_prefix_len && d.max_pins == ref.max_pins);
	auto c20 = pce::cache::create({.shards = 2, .max_pins = 8});
	CHECK(c20 && c20->stats()->shards == 2);
#endif
}

void test_tokens()
{
	static_assert(std::is_constructible_v<pce::tokens, std::vector<std::uint32_t>>);
	static_assert(std::is_constructible_v<pce::tokens, const std::array<std::uint32_t, 3> &>);
	static_assert(std::is_constructible_v<pce::tokens, std::uint32_t (&)[4]>);
	// Ids of another type are not silently reinterpreted.
	static_assert(!std::is_constructible_v<pce::tokens, std::vector<int>>);
	static_assert(!std::is_constructible_v<pce::tokens, std::vector<std::uint64_t>>);
	static_assert(!std::is_constructible_v<pce::tokens, std::list<std::uint32_t>>);

	const std::vector<std::uint32_t> v{1, 2, 3};
	const std::array<std::uint32_t, 4> a{1, 2, 3, 4};
	std::uint32_t raw[2] = {1, 2};
	const pce::tokens tv(v), ta(a), tr(raw), tp(v.data() + 1, 2);
	CHECK(tv.data() == v.data() && tv.size() == 3);
	CHECK(ta.data() == a.data() && ta.size() == 4);
	CHECK(tr.data() == raw && tr.size() == 2);
	CHECK(tp.size() == 2 && tp[0] == 2 && tp[1] == 3);
	CHECK(tv.first(2).size() == 2 && tv.first(9).size() == 3);
	CHECK(pce::tokens().empty() && pce::tokens().data() == nullptr);
	std::uint32_t sum = 0;
	for (std::uint32_t t : ta)
		sum += t;
	CHECK(sum == 10);
	const auto view_of = [](pce::tokens t) { return t.size() == 3 && t[2] == 9; };
	CHECK(view_of(toks{7, 8, 9})); // a temporary lives through the call
#if defined(__cpp_lib_span)
	std::span<const std::uint32_t> sp = tv;
	CHECK(sp.data() == v.data() && sp.size() == 3);
	std::span<std::uint32_t> mut(raw);
	const pce::tokens ts(mut);
	CHECK(ts.data() == raw && ts.size() == 2);
#endif
}

void test_errors()
{
	CHECK(std::string_view(pce::category().name()) == "pce");
#define CHECK_CODE_(name, code, text)                                                          \
	{                                                                                      \
		const std::error_code ec = pce::make_error_code(PCE_##name);                   \
		CHECK(ec && ec.value() == (code) && ec.category() == pce::category());        \
		CHECK(ec.message() == pce_strerror(PCE_##name) && ec.message() == (text));      \
		CHECK(std::string_view(pce::error_name(ec)) == "PCE_" #name);                  \
	}
	PCE_ERRNO_MAP(CHECK_CODE_)
#undef CHECK_CODE_
	CHECK(!pce::make_error_code(0) && pce::make_error_code(0) == std::error_code());
	CHECK(std::string_view(pce::error_name(std::error_code())) == "PCE_OK");
	CHECK(std::string_view(pce::error_name(std::make_error_code(std::errc::io_error))) ==
	      "PCE_EUNKNOWN");

	const std::error_code inval = pce::make_error_code(PCE_EINVAL);
	CHECK(inval == pce::errc::invalid_argument && inval != pce::errc::busy);
	CHECK(static_cast<int>(pce::errc::no_pins) == PCE_ENOPINS);
	CHECK(static_cast<int>(pce::errc::exists) == PCE_EEXIST);
	// Negated errnos match std::errc; libpce's own codes match nothing generic.
	CHECK(inval == std::errc::invalid_argument);
	CHECK(pce::make_error_code(pce::errc::out_of_memory) == std::errc::not_enough_memory);
	CHECK(pce::make_error_code(pce::errc::exists) == std::errc::file_exists);
	const std::error_code shrt = pce::make_error_code(pce::errc::too_short);
	CHECK(shrt.default_error_condition().category() == pce::category());
	CHECK(shrt != std::errc::invalid_argument);

	pce::result<std::uint64_t> r = pce::errc::not_found;
	CHECK(!r && !r.has_value() && r.error() == pce::errc::not_found && r.value_or(5) == 5);
	pce::result<std::uint64_t> ok = std::uint64_t{7};
	CHECK(ok && !ok.error() && *ok == 7 && ok.value_or(5) == 7);
#if defined(__cpp_exceptions)
	bool threw = false;
	try {
		(void)r.value();
	} catch (const std::system_error &e) {
		threw = e.code() == pce::errc::not_found;
	}
	CHECK(threw);
	CHECK(ok.value() == 7);
#endif
}

struct release_log {
	std::mutex lock;
	std::map<std::uint64_t, int> times; // value -> on_release calls
	std::vector<pce_reason> reasons;
};

// A functor, not a lambda: any callable converts to the std::function.
struct release_recorder {
	release_log *log;
	void operator()(const pce_released &r) const
	{
		std::lock_guard<std::mutex> g(log->lock);
		log->times[r.value]++;
		log->reasons.push_back(r.reason);
	}
};

void test_calls()
{
	release_log log;
	std::vector<std::pair<pce_event_kind, std::vector<std::uint32_t>>> events;
	pce::config cfg = manual_config();
	cfg.min_prefix_len = 2;
	cfg.on_release = release_recorder{&log};
	cfg.on_event = [&events](const pce_event &ev) {
		const pce::tokens t = pce::event_tokens(ev);
		events.emplace_back(ev.kind, std::vector<std::uint32_t>(t.begin(), t.end()));
	};
	auto made = pce::cache::create(cfg);
	CHECK(made.has_value());
	pce::cache c = std::move(*made);
	CHECK(static_cast<bool>(c) && c.native_handle() != nullptr);

	const std::vector<std::uint32_t> prompt{101, 102, 103, 104, 105};
	const std::array<std::uint32_t, 3> other{7, 8, 9};
	CHECK(!c.store(1, prompt, 42, 4096));
	CHECK(!c.store(1, other, 43));
	pce_store_result sr{};
	CHECK(c.store(1, prompt, 44, 4096, {}, &sr) == pce::errc::exists && sr.existing_value == 42);
	CHECK(!c.store(1, prompt, 45, 4096, {PCE_STORE_REPLACE}, &sr) && sr.replaced == 1 &&
	      sr.existing_value == 42);
	CHECK(c.store(1, toks{1}, 46) == pce::errc::too_short);
	CHECK(c.store(1, pce::tokens(), 46) == pce::errc::invalid_argument);
	CHECK(c.store(1, prompt, 47, 0, {1u << 7}) == pce::errc::invalid_argument);
	// Stored 42, stored 43, and the replacement: 42 removed, 45 stored.
	CHECK(events.size() == 4 && events[0].first == PCE_EVENT_STORED && events[0].second == prompt);
	int removed_events = 0;
	for (const auto &ev : events)
		if (ev.first == PCE_EVENT_REMOVED)
			removed_events += ev.second.empty() ? 1 : 100;
	CHECK(removed_events == 1);

	auto m = c.lookup(1, toks{101, 102, 103, 9});
	CHECK(m && m->hit() && m->tokens == 3 && m->value == 45 && m->entry_len == 5 &&
	      m->kv_bytes == 4096 && !m->pin);
	auto miss = c.lookup(2, prompt);
	CHECK(miss && !miss->hit());
	auto whole = c.lookup(1, toks{101, 102, 103, 104, 105, 106}, {PCE_LOOKUP_WHOLE});
	CHECK(whole && whole->tokens == 5);
	CHECK(c.lookup(1, prompt, {PCE_LOOKUP_PIN | PCE_LOOKUP_PEEK}).error() ==
	      pce::errc::invalid_argument);
	const std::uint32_t one = 1;
	CHECK(c.lookup(1, pce::tokens(&one, PCE_MAX_TOKENS + 1)).error() == pce::errc::too_big);

	auto st = c.stats();
	CHECK(st && st->entries == 2 && st->shards == 16);
	auto shards = c.shard_entries();
	CHECK(shards && shards->size() == 16);
	std::uint64_t total = 0;
	for (std::uint64_t n : *shards)
		total += n;
	CHECK(total == 2);
	std::string violation = "x";
	CHECK(!c.audit(PCE_AUDIT_QUIESCENT, &violation) && violation.empty());
	CHECK(c.audit(1u << 5) == pce::errc::invalid_argument);

	// Dedup: a vector of pce::sequence (copied), an array of pce_seq (as is),
	// and without a cache.
	const std::vector<std::uint32_t> ext{101, 102, 103, 104, 105, 200, 201};
	const toks ext2{101, 102, 103, 104, 105, 200, 300};
	const std::vector<pce::sequence> batch{{1, ext}, {1, ext2}};
	auto d = c.dedup_analyze(batch);
	CHECK(d && d->sequences == 2 && d->total_tokens == 14 && d->cached_tokens == 10 &&
	      d->shared_tokens == 1 && d->unique_tokens == 3);
	const pce_seq cseqs[] = {{1, ext.data(), ext.size()}, {1, ext.data(), 6}};
	auto d2 = c.dedup_analyze(cseqs);
	CHECK(d2 && d2->total_tokens == 13 && d2->cached_tokens == 10 && d2->shared_tokens == 1);
	auto d3 = pce::dedup_analyze(batch);
	CHECK(d3 && d3->cached_tokens == 0 && d3->shared_tokens == 6);
	const std::list<pce_seq> listed(std::begin(cseqs), std::end(cseqs));
	auto d4 = pce::dedup_analyze(listed);
	CHECK(d4 && d4->shared_tokens == 6);

	auto removed = c.remove(1, other);
	CHECK(removed && *removed == 43);
	CHECK(c.remove(1, other).error() == pce::errc::not_found);
	CHECK(!c.store(2, other, 50) && !c.store(3, other, 51));
	auto cleared = c.clear_ns(2);
	CHECK(cleared && *cleared == 1);
	auto all = c.clear();
	CHECK(all && *all == 2);
	CHECK(!c.reclaim());
	{
		std::lock_guard<std::mutex> g(log.lock);
		CHECK(log.times.size() == 5); // 42 replaced, 43, 45, 50, 51
		for (const auto &kv : log.times)
			CHECK(kv.second == 1);
	}
	CHECK(!c.store(4, other, 60));
	CHECK(!c.close() && !c);
	{
		std::lock_guard<std::mutex> g(log.lock);
		CHECK(log.times[60] == 1 && log.reasons.back() == PCE_REASON_DESTROYED);
	}
	CHECK(std::string_view(pce::reason_name(PCE_REASON_TTL)) == pce_reason_name(PCE_REASON_TTL));
	CHECK(pce::version_number() == PCE_VERSION_NUMBER);
	CHECK(std::string_view(pce::version_string()) == PCE_VERSION_STRING);
}

void test_pin_raii()
{
	auto c = pce::cache::create(manual_config());
	CHECK(c.has_value());
	const std::vector<std::uint32_t> p{1, 2, 3, 4};
	CHECK(!c->store(0, p, 9));
	{
		auto m = c->lookup(0, p, {PCE_LOOKUP_PIN});
		CHECK(m && m->pin && m->pin.id() != 0 && live_pins(*c) == 1);
	}
	CHECK(live_pins(*c) == 0); // released by the match's destructor

	auto m1 = c->lookup(0, p, {PCE_LOOKUP_PIN});
	auto m2 = c->lookup(0, p, {PCE_LOOKUP_PIN});
	CHECK(m1 && m2 && live_pins(*c) == 2);
	pce::pin a = std::move(m1->pin);
	CHECK(!m1->pin && m1->pin.id() == 0 && a && live_pins(*c) == 2);
	a = std::move(m2->pin); // releases a's first pin, takes the second
	CHECK(a && !m2->pin && live_pins(*c) == 1);
	CHECK(!a.release() && !a && live_pins(*c) == 0);
	CHECK(!a.release()); // empty: nothing to do
	CHECK(!m1->pin.release());

	// Miss with PIN: nothing is held.
	auto none = c->lookup(0, toks{5, 6}, {PCE_LOOKUP_PIN});
	CHECK(none && !none->hit() && !none->pin);

	// detach and adopt hand the pin to C and back.
	auto m3 = c->lookup(0, p, {PCE_LOOKUP_PIN});
	CHECK(m3.has_value());
	const pce_pin raw = m3->pin.detach();
	CHECK(!m3->pin && raw.id != 0 && live_pins(*c) == 1);
	{
		pce::pin back = pce::pin::adopt(c->native_handle(), raw);
		CHECK(back.id() == raw.id);
	}
	CHECK(live_pins(*c) == 0);
	CHECK(pce_pin_release(c->native_handle(), raw) == PCE_ESTALE);

	// close() refuses while a pin is live and leaves the cache usable.
	auto held = c->lookup(0, p, {PCE_LOOKUP_PIN});
	CHECK(held && held->pin);
	CHECK(c->close() == pce::errc::busy && static_cast<bool>(*c));
	CHECK(c->lookup(0, p) && c->lookup(0, p)->tokens == 4);
	// The pin refers to the pce_cache, so moving the cache keeps it valid.
	pce::cache moved = std::move(*c);
	CHECK(!held->pin.release() && live_pins(moved) == 0);
	CHECK(!moved.close());
}

std::atomic<std::uint64_t> fake_time{1000};
std::uint64_t fake_now() { return fake_time.load(); }

void test_lease_stale()
{
	pce::config cfg = manual_config();
	cfg.clock = &fake_now; // a function pointer is a callable too
	cfg.default_pin_lease_ns = 500;
	auto c = pce::cache::create(cfg);
	CHECK(c.has_value());
	CHECK(!c->store(0, toks{1, 2, 3}, 1));
	auto m = c->lookup(0, toks{1, 2, 3}, {PCE_LOOKUP_PIN});
	auto forever = c->lookup(0, toks{1, 2}, {PCE_LOOKUP_PIN, PCE_NEVER});
	CHECK(m && m->pin && forever && forever->pin);
	fake_time += 1000;
	CHECK(!c->reclaim());
	CHECK(c->stats()->pins_forced == 1);
	CHECK(m->pin.release() == pce::errc::stale && !m->pin);
	CHECK(!forever->pin.release());
}

void test_moved_from()
{
	auto made = pce::cache::create(manual_config());
	CHECK(made.has_value());
	pce::cache a = std::move(*made);
	pce::cache b = std::move(a);
	CHECK(!a && a.native_handle() == nullptr && static_cast<bool>(b));
	CHECK(a.store(0, toks{1, 2}, 1) == pce::errc::invalid_argument);
	CHECK(a.lookup(0, toks{1, 2}).error() == pce::errc::invalid_argument);
	CHECK(a.remove(0, toks{1, 2}).error() == pce::errc::invalid_argument);
	CHECK(a.clear().error() == pce::errc::invalid_argument);
	CHECK(a.clear_ns(0).error() == pce::errc::invalid_argument);
	CHECK(a.reclaim() == pce::errc::invalid_argument);
	CHECK(a.stats().error() == pce::errc::invalid_argument);
	CHECK(a.shard_entries().error() == pce::errc::invalid_argument);
	CHECK(a.audit() == pce::errc::invalid_argument);
	CHECK(a.remove_prefix(0, toks{1}).error() == pce::errc::invalid_argument);
	CHECK(a.touch(0, toks{1, 2}) == pce::errc::invalid_argument);
	CHECK(a.evict(PCE_EVICT_ENTRIES, 1) == pce::errc::invalid_argument);
	const pce_budgets nb{0, 0, 0, 90, 80};
	CHECK(a.set_budgets(nb) == pce::errc::invalid_argument);
	pce::store_result sr;
	CHECK(a.store(0, toks{1, 2}, 1, 0, {PCE_STORE_PIN_HOLDER}, sr) ==
	      pce::errc::invalid_argument && !sr.holder);
	CHECK(!a.close()); // nothing to close

	CHECK(!b.store(0, toks{1, 2}, 1));
	a = std::move(b); // a was empty: nothing to destroy
	CHECK(a && !b && a.lookup(0, toks{1, 2})->tokens == 2);
	pce::cache empty;
	CHECK(!empty && empty.stats().error() == pce::errc::invalid_argument);
	// Assigning over a live cache destroys it, releasing its values.
	int released = 0;
	pce::config cfg = manual_config();
	cfg.on_release = [&released](const pce_released &) { released++; };
	auto with_hook = pce::cache::create(cfg);
	CHECK(with_hook && !with_hook->store(0, toks{5, 6}, 2));
	pce::cache target = std::move(*with_hook);
	target = std::move(a);
	CHECK(released == 1 && target.lookup(0, toks{1, 2})->tokens == 2);

	pce::pin p;
	CHECK(!p && p.id() == 0 && !p.release());
	pce::pin q = std::move(p);
	CHECK(!q && !p);
}

// Pins taken on one thread, moved through a queue and released on another.
void test_pins_across_threads()
{
	pce::config cfg;
	cfg.max_pins = 64;
	auto made = pce::cache::create(cfg);
	CHECK(made.has_value());
	pce::cache c = std::move(*made);
	for (std::uint32_t i = 0; i < 16; i++)
		CHECK(!c.store(0, toks{i, i + 1, i + 2}, i));

	constexpr int n = 2000;
	std::mutex lock;
	std::condition_variable cv;
	std::deque<pce::pin> queue;
	bool done = false;
	std::atomic<int> released{0};

	std::thread consumer([&] {
		for (;;) {
			std::unique_lock<std::mutex> g(lock);
			cv.wait(g, [&] { return !queue.empty() || done; });
			if (queue.empty())
				return;
			pce::pin p = std::move(queue.front());
			queue.pop_front();
			g.unlock();
			// Every other pin is released explicitly, the rest by ~pin.
			if (released.fetch_add(1) % 2 == 0 && p.release())
				failures++;
		}
	});
	std::thread producer([&] {
		int hits = 0;
		for (int i = 0; i < n; i++) {
			const std::uint32_t k = static_cast<std::uint32_t>(i % 16);
			auto m = c.lookup(0, toks{k, k + 1, k + 2}, {PCE_LOOKUP_PIN});
			if (m && m->pin) {
				hits++;
				std::lock_guard<std::mutex> g(lock);
				queue.push_back(std::move(m->pin));
				cv.notify_one();
			} else if (m.error() != pce::errc::no_pins) {
				failures++;
			}
		}
		std::lock_guard<std::mutex> g(lock);
		done = true;
		cv.notify_one();
		if (hits == 0)
			failures++;
	});
	producer.join();
	consumer.join();
	CHECK(released.load() > 0 && live_pins(c) == 0);

	// A pin moved into a thread's callable, released there.
	auto m = c.lookup(0, toks{1, 2, 3}, {PCE_LOOKUP_PIN});
	CHECK(m && m->pin && live_pins(c) == 1);
	std::thread t([p = std::move(m->pin)]() mutable {
		if (p.release())
			failures++;
	});
	t.join();
	CHECK(!m->pin && live_pins(c) == 0);
	CHECK(!c.close());
}

// Two lookup threads beside a storing thread, with the background reclaimer
// evicting: every value leaves through on_release exactly once.
void test_concurrent()
{
	std::mutex lock;
	std::map<std::uint64_t, int> released;
	std::atomic<std::uint64_t> stored_events{0};
	pce::config cfg;
	cfg.max_entries = 64;
	cfg.reclaim_interval_ns = 200 * 1000;
	cfg.on_release = [&](const pce_released &r) {
		std::lock_guard<std::mutex> g(lock);
		released[r.value]++;
	};
	cfg.on_event = [&](const pce_event &ev) {
		if (ev.kind == PCE_EVENT_STORED)
			stored_events.fetch_add(1, std::memory_order_relaxed);
	};
	auto made = pce::cache::create(cfg);
	CHECK(made.has_value());
	pce::cache c = std::move(*made);

	constexpr std::uint32_t stores = 1500;
	std::atomic<bool> stop{false};
	std::atomic<std::uint64_t> stored{0};
	std::thread writer([&] {
		std::vector<std::uint32_t> seq(32);
		for (std::uint32_t i = 0; i < stores; i++) {
			for (std::uint32_t j = 0; j < seq.size(); j++)
				seq[j] = (i % 8) * 1000 + (j < 16 ? j : i * 31 + j);
			const std::error_code ec = c.store(i % 4, seq, i);
			if (!ec)
				stored.fetch_add(1, std::memory_order_relaxed);
			else if (ec != pce::errc::no_space)
				failures++;
		}
		stop = true;
	});
	std::vector<std::thread> readers;
	for (int r = 0; r < 2; r++)
		readers.emplace_back([&, r] {
			std::vector<std::uint32_t> q(24);
			for (std::uint32_t i = 0; !stop.load(); i++) {
				for (std::uint32_t j = 0; j < q.size(); j++)
					q[j] = ((i + static_cast<std::uint32_t>(r)) % 8) * 1000 + j;
				auto m = c.lookup(i % 4, q, {i % 3 == 0 ? PCE_LOOKUP_PIN : 0u});
				if (!m || (m->pin && m->tokens == 0))
					failures++;
			}
		});
	writer.join();
	for (auto &t : readers)
		t.join();
	CHECK(!c.audit(PCE_AUDIT_QUIESCENT));
	CHECK(stored_events.load() == stored.load());
	CHECK(!c.close());
	std::lock_guard<std::mutex> g(lock);
	CHECK(released.size() == stored.load());
	for (const auto &kv : released)
		CHECK(kv.second == 1);
}

// evict: CLOCK order, what was freed, values released before it returns,
// no_space with the rest pinned, a bad unit.
void test_evict()
{
	std::vector<std::uint64_t> released;
	pce::config cfg = manual_config();
	cfg.shards = 1;
	cfg.on_release = [&released](const pce_released &r) { released.push_back(r.value); };
	auto c = pce::cache::create(cfg);
	CHECK(c.has_value());
	for (std::uint32_t i = 0; i < 6; i++)
		CHECK(!c->store(0, toks{i * 10, i * 10 + 1}, i, 100));
	CHECK(c->lookup(0, toks{0, 1})->hit()); // a second chance for entry 0
	pce_evicted f{};
	CHECK(!c->evict(PCE_EVICT_ENTRIES, 2, &f) && f.entries == 2 && f.kv_bytes == 200 &&
	      f.tokens == 4 && f.index_bytes > 0);
	// the cold ones, in any order
	CHECK(std::set<std::uint64_t>(released.begin(), released.end()) ==
	      std::set<std::uint64_t>({1, 2}));
	CHECK(!c->evict(PCE_EVICT_KV_BYTES, 150, &f) && f.kv_bytes == 200);
	CHECK(!c->evict(PCE_EVICT_TOKENS, 0, &f) && f.entries == 0); // nothing asked
	auto held = c->lookup(0, toks{0, 1}, {PCE_LOOKUP_PIN});
	CHECK(held && held->pin);
	CHECK(c->evict(PCE_EVICT_ENTRIES, 10, &f) == pce::errc::no_space && f.entries == 1);
	CHECK(c->stats()->entries == 1 && released.size() == 5);
	CHECK(c->evict(PCE_EVICT_ENTRIES, 1) == pce::errc::no_space); // only the pinned one
	CHECK(c->evict(static_cast<pce_evict_unit>(9), 1) == pce::errc::invalid_argument);
	CHECK(!held->pin.release());
	CHECK(!c->evict(PCE_EVICT_ENTRIES, 1) && c->stats()->entries == 0);
	CHECK(released.size() == 6);
}

// set_budgets: a shrink evicts and is in force for stores; pinned entries
// give busy with the budget in force anyway; bad watermarks change nothing.
void test_set_budgets()
{
	auto c = pce::cache::create(manual_config());
	CHECK(c.has_value());
	for (std::uint32_t i = 0; i < 10; i++)
		CHECK(!c->store(0, toks{i, i}, i));
	CHECK(!c->set_budgets({0, 0, 4, 90, 80}));
	CHECK(c->stats()->entries == 4 && c->stats()->max_entries == 4);
	CHECK(!c->store(0, toks{50, 50}, 50) && c->stats()->entries == 4); // evicts one
	std::vector<pce::match> pins;
	for (std::uint32_t i = 0; i < 60; i++) {
		auto m = c->lookup(0, toks{i, i}, {PCE_LOOKUP_PIN});
		if (m && m->pin)
			pins.push_back(std::move(*m));
	}
	CHECK(pins.size() == 4);
	CHECK(c->set_budgets({0, 0, 2, 90, 80}) == pce::errc::busy);
	CHECK(c->stats()->max_entries == 2 && c->stats()->entries == 4);
	CHECK(c->store(0, toks{60, 60}, 60) == pce::errc::no_space);
	CHECK(c->set_budgets({0, 0, 0, 50, 60}) == pce::errc::invalid_argument);
	CHECK(c->stats()->max_entries == 2); // unchanged
	pins.clear();
	CHECK(!c->set_budgets({0, 0, 2, 90, 80}) && c->stats()->entries == 2);
	CHECK(!c->set_budgets({0, 0, 0, 90, 80}) && c->stats()->max_entries == 0);
}

// touch: extends a TTL, never shortens it; not_found for a prefix that is no
// entry and for an expired entry.
void test_touch()
{
	std::atomic<std::uint64_t> now{1000};
	pce::config cfg = manual_config();
	cfg.clock = [&now] { return now.load(); };
	auto c = pce::cache::create(cfg);
	CHECK(c.has_value());
	CHECK(!c->store(0, toks{1, 2, 3}, 1, 0, {0, 100}));
	now += 90;
	CHECK(!c->touch(0, toks{1, 2, 3}, 200)); // expires at 1290
	CHECK(!c->touch(0, toks{1, 2, 3}, 10));  // never shortened
	now += 150;
	CHECK(c->lookup(0, toks{1, 2, 3})->tokens == 3);
	CHECK(c->touch(0, toks{1, 2}) == pce::errc::not_found);
	CHECK(c->touch(1, toks{1, 2, 3}) == pce::errc::not_found);
	CHECK(c->touch(0, pce::tokens()) == pce::errc::invalid_argument);
	now += 100;
	CHECK(c->lookup(0, toks{1, 2, 3})->tokens == 0);
	CHECK(c->touch(0, toks{1, 2, 3}, 1000) == pce::errc::not_found);
}

// remove_prefix: every entry of the namespace starting with the prefix,
// the prefix itself included, one event each with the STORED event's id.
void test_remove_prefix_and_ids()
{
	std::map<std::uint64_t, std::uint64_t> stored_ids;     // id -> value
	std::map<std::uint64_t, pce_reason> removed_ids;       // id -> reason
	std::map<std::uint64_t, std::uint64_t> released_ids;   // id -> value
	pce::config cfg = manual_config();
	cfg.on_event = [&](const pce_event &ev) {
		if (ev.kind == PCE_EVENT_STORED)
			stored_ids[ev.id] = ev.value;
		else
			removed_ids[ev.id] = ev.reason;
	};
	cfg.on_release = [&](const pce_released &r) { released_ids[r.id] = r.value; };
	auto c = pce::cache::create(cfg);
	CHECK(c.has_value());
	CHECK(!c->store(0, toks{1, 2}, 1) && !c->store(0, toks{1, 2, 3}, 2));
	CHECK(!c->store(0, toks{1, 2, 4, 5}, 3) && !c->store(0, toks{1, 3}, 4));
	CHECK(!c->store(7, toks{1, 2, 3}, 5));
	CHECK(!c->store(0, toks{1, 2, 3}, 6, 0, {PCE_STORE_REPLACE}));
	CHECK(stored_ids.size() == 6 && stored_ids.count(0) == 0);
	auto n = c->remove_prefix(0, toks{1, 2});
	CHECK(n && *n == 3);
	CHECK(c->lookup(0, toks{1, 3})->value == 4 && c->lookup(7, toks{1, 2, 3})->value == 5);
	CHECK(c->lookup(0, toks{1, 2})->tokens == 1);
	auto none = c->remove_prefix(0, toks{9});
	CHECK(none && *none == 0);
	CHECK(c->remove_prefix(0, pce::tokens()).error() == pce::errc::invalid_argument);
	CHECK(!c->reclaim());
	// 4 removals: the replaced entry and the three under [1 2], by the ids
	// their STORED events carried; their values left with the same ids.
	CHECK(removed_ids.size() == 4 && released_ids.size() == 4);
	int by_prefix = 0;
	for (const auto &kv : removed_ids) {
		CHECK(stored_ids.count(kv.first) == 1);
		CHECK(released_ids.count(kv.first) == 1 &&
		      released_ids[kv.first] == stored_ids[kv.first]);
		by_prefix += kv.second == PCE_REASON_REMOVED;
	}
	CHECK(by_prefix == 3);
}

// The holder: reported with its id; pinned into store_result::holder, which
// releases it; kept with exists, dropped with no_space; a raw holder_pin
// through the pce_store_result overload.
void test_holder()
{
	std::uint64_t first_id = 0;
	pce::config cfg = manual_config();
	cfg.max_entries = 2;
	cfg.on_event = [&first_id](const pce_event &ev) {
		if (ev.kind == PCE_EVENT_STORED && !first_id)
			first_id = ev.id;
	};
	auto c = pce::cache::create(cfg);
	CHECK(c.has_value());
	const toks a{1, 2, 3, 4}, b{1, 2, 3, 9}, d{1, 2, 7};
	CHECK(!c->store(0, a, 7));
	pce::store_result r;
	CHECK(!c->store(0, b, 8, 0, {}, r));
	CHECK(r.holder_tokens == 3 && r.holder_len == 4 && r.holder_value == 7 &&
	      r.holder_id == first_id && !r.holder && r.new_tokens == 1);
	CHECK(!c->remove(0, b).error());

	const pce::store_options pin_holder{PCE_STORE_PIN_HOLDER, 0, PCE_NEVER};
	CHECK(!c->store(0, b, 8, 0, pin_holder, r));
	CHECK(r.holder && r.holder_pin.id == 0 && r.holder_value == 7 && live_pins(*c) == 1);
	// The pinned holder outlives its removal.
	CHECK(*c->remove(0, a) == 7 && !c->reclaim() && c->stats()->pinned_unlinked == 1);
	{
		pce::pin moved = std::move(r.holder);
		CHECK(!r.holder && moved && live_pins(*c) == 1);
	}
	CHECK(live_pins(*c) == 0 && !c->reclaim() && c->stats()->pinned_unlinked == 0);

	// exists keeps the pin (the holder is the entry itself).
	CHECK(c->store(0, b, 9, 0, pin_holder, r) == pce::errc::exists);
	CHECK(r.existing_value == 8 && r.holder && r.holder_tokens == 4 && live_pins(*c) == 1);
	// A second store into the same result releases the first pin.
	CHECK(!c->store(0, d, 10, 0, pin_holder, r) && r.holder && live_pins(*c) == 1);
	CHECK(r.holder_value == 8 && r.holder_tokens == 2);
	CHECK(!r.holder.release() && live_pins(*c) == 0);
	// no_space: both entries held by pins, the store's holder pin dropped.
	auto m1 = c->lookup(0, b, {PCE_LOOKUP_PIN});
	auto m2 = c->lookup(0, d, {PCE_LOOKUP_PIN});
	CHECK(m1 && m1->pin && m2 && m2->pin);
	CHECK(c->store(0, toks{1, 2, 3, 9, 9}, 11, 0, pin_holder, r) == pce::errc::no_space);
	CHECK(!r.holder && live_pins(*c) == 2);
	CHECK(!m2->pin.release());

	// The C overload leaves the pin raw; pin::adopt takes it over.
	pce_store_result raw{};
	CHECK(!c->store(0, toks{5, 5}, 12, 0, {}, &raw) && raw.holder_tokens == 0);
	CHECK(c->store(0, b, 13, 0, pin_holder, &raw) == pce::errc::exists && raw.holder_pin.id);
	CHECK(live_pins(*c) == 2);
	{
		pce::pin owned = pce::pin::adopt(c->native_handle(), raw.holder_pin);
	}
	CHECK(live_pins(*c) == 1);
}

// A child process gets errc::forked from every call on the cache it
// inherited, close() included, and its destructor leaks the copy quietly;
// a cache the child creates works.  The child reports through its exit code.
void test_fork()
{
	auto c = pce::cache::create(manual_config());
	CHECK(c.has_value());
	CHECK(!c->store(0, toks{1, 2, 3}, 1));
	auto held = c->lookup(0, toks{1, 2, 3}, {PCE_LOOKUP_PIN});
	CHECK(held && held->pin);
	const pid_t pid = fork();
	if (pid == 0) {
		int bad = 0;
		const auto forked = [&bad](const std::error_code &ec) {
			bad += ec != pce::errc::forked;
		};
		forked(c->lookup(0, toks{1, 2, 3}).error());
		forked(c->store(0, toks{4, 5}, 2));
		forked(c->touch(0, toks{1, 2, 3}));
		forked(c->evict(PCE_EVICT_ENTRIES, 1));
		forked(c->set_budgets({0, 0, 1, 90, 80}));
		forked(c->remove_prefix(0, toks{1}).error());
		forked(c->stats().error());
		forked(held->pin.release());
		forked(c->close());
		bad += !*c; // close() refused: still owned, abandoned below
		pce::config fresh = manual_config();
		auto mine = pce::cache::create(fresh);
		bad += !mine || !!mine->store(0, toks{1, 2, 3}, 3);
		bad += !mine || mine->lookup(0, toks{1, 2})->value != 3;
		bad += !mine || !!mine->close();
		{
			pce::cache inherited = std::move(*c); // its destructor leaks it
		}
		_exit(bad);
	}
	CHECK(pid > 0);
	int status = -1;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	// The parent's cache and pin are untouched.
	CHECK(live_pins(*c) == 1 && !held->pin.release() && c->lookup(0, toks{1, 2, 3})->tokens == 3);
}

} // namespace

// Snapshot of a cache, caller sections, restore with the config's callables,
// and the errors of a bad file.
void test_snapshot()
{
	const std::string path = "/tmp/test_pce_hpp-" + std::to_string(getpid()) + ".snap";
	auto c = pce::cache::create(manual_config());
	CHECK(c.has_value());
	CHECK(!c->store(3, toks{1, 2, 3, 4}, 11, 100));
	CHECK(!c->store(3, toks{1, 2}, 12, 50));
	const char blob[] = "seq=42";
	std::vector<pce_snapshot_section> sec{{"events", blob, sizeof blob}};
	CHECK(!c->snapshot(path.c_str(), sec));

	std::uint64_t released = 0;
	pce::config cfg = manual_config();
	cfg.on_release = [&](const pce_released &) { released++; };
	std::string seen;
	auto r = pce::cache::restore(cfg, path.c_str(),
				     [&](const char *name, const void *data, std::size_t len) {
					     seen = std::string(name) + ":" +
						    std::string(static_cast<const char *>(data), len - 1);
					     return 0;
				     });
	CHECK(r.has_value());
	CHECK(seen == "events:seq=42");
	auto m = r->lookup(3, toks{1, 2, 3, 4, 5});
	CHECK(m.has_value() && m->tokens == 4 && m->value == 11 && m->kv_bytes == 100);
	CHECK(!r->close());
	CHECK(released == 2);

	// A refusing callback: its code, and nothing is left.
	auto refused = pce::cache::restore(cfg, path.c_str(),
					   [](const char *, const void *, std::size_t) { return -5; });
	CHECK(!refused.has_value() && refused.error().value() == -5);
	auto missing = pce::cache::restore(cfg, "/no/such/file.snap");
	CHECK(!missing.has_value() && missing.error() == std::errc::no_such_file_or_directory);
	std::FILE *f = std::fopen(path.c_str(), "wb");
	std::fputs("not a snapshot", f);
	std::fclose(f);
	auto bad = pce::cache::restore(cfg, path.c_str());
	CHECK(!bad.has_value() && bad.error() == pce::errc::bad_snapshot);
	CHECK(std::string(bad.error().message()) == pce_strerror(PCE_EBADSNAP));
	std::remove(path.c_str());
}

int main()
{
	test_config_defaults();
	test_snapshot();
	test_tokens();
	test_errors();
	test_calls();
	test_pin_raii();
	test_lease_stale();
	test_moved_from();
	test_pins_across_threads();
	test_evict();
	test_set_budgets();
	test_touch();
	test_remove_prefix_and_ids();
	test_holder();
	test_fork();
	test_concurrent();
	if (failures)
		std::fprintf(stderr, "test_pce_hpp: %d failures\n", failures.load());
	else
		std::printf("test_pce_hpp (C++%ld%s): all passed\n", __cplusplus / 100 % 100,
#if defined(__cpp_exceptions)
			    ""
#else
			    ", no exceptions"
#endif
		);
	return failures ? 1 : 0;
}
