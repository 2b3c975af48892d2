/*
 * pce/pce.hpp - C++17 interface of libpce, header-only over the C API of
 * pce/cache.h and pce/router.h (which it includes; their structs and
 * constants are used as is).
 *
 * Objects
 *   pce::cache   owns one pce_cache (move-only).  Its destructor destroys the
 *                cache, which hands every value to on_release.
 *   pce::pin     owns one pin (move-only): releasing it is the destructor's
 *                job.  A pin may be moved to, and released on, any thread.
 *                Pinned lookups (match::pin) and stores that pin their
 *                holder (store_result::holder) hand one out.
 *   pce::tokens  a non-owning view of contiguous uint32_t token ids, made
 *                from a std::vector, std::array, C array, std::span (C++20)
 *                or pointer + length (not from a braced list, whose array
 *                would die before the view).  Like std::string_view
 *                it must not outlive what it views; every call copies what
 *                it keeps, so a temporary is fine as an argument.
 *   pce::router  owns one pce_router (move-only), the router index; match()
 *                writes pce_overlap results into the caller's array, span or
 *                vector and allocates nothing.  router_config is its config.
 *   pce::config  the C config with each field defaulting to
 *                pce_config_init()'s value, plus the callbacks as
 *                std::function: set fields by name (C++17) or with C++20
 *                designated initializers, in declaration order.
 *
 * Lifetimes
 *   A pin must be released (destroyed) before its cache.  Destroying a cache
 *   that still has live pins fails with PCE_EBUSY; close() reports that and
 *   leaves the cache usable, while the destructor, which cannot report,
 *   leaks the cache and its callbacks rather than free memory the pins still
 *   refer to.  Moving a cache or a pin keeps every pin valid: a pin refers to
 *   the pce_cache, not to the pce::cache object.  A moved-from cache or pin
 *   is empty: a cache's calls return errc::invalid_argument, a pin's
 *   release() does nothing.
 *
 * fork()
 *   In a child process (without exec), every call on a cache created before
 *   the fork returns errc::forked and changes nothing, close() included; the
 *   destructor then leaks the child's copy (its values, reclaim thread and
 *   locks are the parent's), and pins of it release nothing.  Caches the
 *   child creates work normally.
 *
 * Threads
 *   As in C: every member function of cache may run concurrently with any
 *   other except close(), the destructor and assignment, which must come
 *   last.  The callbacks run on libpce's threads and must be safe to call
 *   concurrently; they must not throw (an exception leaving one ends the
 *   program through std::terminate, since it would cross C frames), must not
 *   block and must not call into the cache:
 *     on_release  from the reclaim thread, from the thread in reclaim(),
 *                 evict() or set_budgets(), or from the thread destroying
 *                 the cache;
 *     on_event    synchronously, under the entry's shard writer lock, from
 *                 the thread that changed the index: the caller of store(),
 *                 remove(), remove_prefix(), clear(), clear_ns(), evict(),
 *                 set_budgets(), reclaim() or close() (or the destructor),
 *                 or the reclaim thread when it evicts;
 *     clock       from any thread calling into the cache, lookups included.
 *   The pce::config that created the cache can go away: the cache keeps
 *   copies of the callables until it is destroyed.
 *
 * Errors
 *   No exceptions are needed: calls return std::error_code (in the
 *   pce::category(), value = the PCE_E* code, message from pce_strerror()),
 *   or pce::result<T>, which holds a T or an error.  Codes that are negated
 *   errnos compare equal to their std::errc (PCE_ENOMEM ==
 *   std::errc::not_enough_memory).  With exceptions enabled, result::value()
 *   throws std::system_error on an error; otherwise only the calls that
 *   allocate (create, shard_entries, audit, dedup_analyze of anything but
 *   an array of pce_seq) can throw, std::bad_alloc.  pce::category() is one
 *   object per program as long as this header's inline functions are
 *   merged across shared objects (default visibility); error_codes compare
 *   their categories by address.
 *
 * Extending
 *   A new C function is one member function here, forwarding its arguments
 *   and wrapping its code with make_error_code().  The C structs of results
 *   and events (pce_store_result, pce_event, pce_stats, ...) are used as
 *   they are, so their new fields reach C++ unchanged; a new config field
 *   is one member of pce::config and one line of c_config(); a new PCE_E*
 *   code needs an errc name (a static_assert counts them).
 */
#ifndef PCE_PCE_HPP
#define PCE_PCE_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "pce/pce.hpp needs C++17 or later"
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>
#if __cplusplus >= 202002L && __has_include(<span>)
#include <span>
#endif

#include "pce/pce.h"

namespace pce {

/* ---- errors ---------------------------------------------------------------- */

/* The PCE_E* codes of pce/errors.h, as an error_code enum. */
enum class errc : int {
	invalid_argument = PCE_EINVAL,
	out_of_memory = PCE_ENOMEM,
	exists = PCE_EEXIST,
	not_found = PCE_ENOENT,
	busy = PCE_EBUSY,
	no_space = PCE_ENOSPC,
	stale = PCE_ESTALE,
	too_big = PCE_E2BIG,
	too_short = PCE_ESHORT,
	no_pins = PCE_ENOPINS,
	corrupt = PCE_ECORRUPT,
	thread = PCE_ETHREAD,
	forked = PCE_EFORKED, /* the cache was created before a fork() of this process */
	bad_snapshot = PCE_EBADSNAP,
	io_error = PCE_EIO,
	event_batch = PCE_EEVBATCH, /* a KV-event batch could not be decoded (pce/events.h) */
	zmq = PCE_EZMQ,             /* a ZMQ socket failed (pce/events.h) */
	timed_out = PCE_ETIMEDOUT,  /* a wait timed out (pce/events.h, pce/cluster.h) */
	unavailable = PCE_EUNAVAIL, /* cluster tier (pce/cluster.h): Redis unreachable */
};

namespace detail {
#define PCE_HPP_COUNT_(name, value, msg) +1
inline constexpr int c_error_codes = 0 PCE_ERRNO_MAP(PCE_HPP_COUNT_);
#undef PCE_HPP_COUNT_
static_assert(c_error_codes == 19, "pce/errors.h has a code that pce::errc does not name");

class category_impl final : public std::error_category {
public:
	const char *name() const noexcept override { return "pce"; }
	std::string message(int ev) const override { return pce_strerror(ev); }
	std::error_condition default_error_condition(int ev) const noexcept override
	{
		/* libpce's own codes are PCE_ESHORT (-30800) and below; the
		 * others are negated errnos. */
		if (ev < 0 && ev > PCE_ESHORT)
			return std::error_condition(-ev, std::generic_category());
		return std::error_condition(ev, *this);
	}
};
} // namespace detail

/* category - The error category of every libpce error_code ("pce"). */
inline const std::error_category &category() noexcept
{
	static const detail::category_impl c;
	return c;
}

/* make_error_code - A libpce return code as an error_code; 0 is no error. */
inline std::error_code make_error_code(int rc) noexcept
{
	return rc ? std::error_code(rc, category()) : std::error_code();
}

inline std::error_code make_error_code(errc e) noexcept
{
	return std::error_code(static_cast<int>(e), category());
}

/* error_name - "PCE_ENOSPC" for a libpce error, "PCE_OK" for none,
 * "PCE_EUNKNOWN" for an error of another category. */
inline const char *error_name(const std::error_code &ec) noexcept
{
	if (!ec)
		return pce_err_name(0);
	/* 1 is no libpce code: theirs are 0 or negative. */
	return pce_err_name(ec.category() == category() ? ec.value() : 1);
}

/*
 * result<T> - A T, or the error_code of the call that could not make one.
 * Test it like a pointer; *r and r-> require a value.
 */
template <class T>
class [[nodiscard]] result {
public:
	result(const T &v) : val_(v) {}
	result(T &&v) noexcept(std::is_nothrow_move_constructible_v<T>) : val_(std::move(v)) {}
	/* @ec must be an error. */
	result(std::error_code ec) noexcept : ec_(ec) {}
	result(errc e) noexcept : ec_(make_error_code(e)) {}

	bool has_value() const noexcept { return val_.has_value(); }
	explicit operator bool() const noexcept { return has_value(); }
	/* The error; no error (false) when there is a value. */
	const std::error_code &error() const noexcept { return ec_; }

	T &operator*() & noexcept { return *val_; }
	const T &operator*() const & noexcept { return *val_; }
	T &&operator*() && noexcept { return std::move(*val_); }
	T *operator->() noexcept { return &*val_; }
	const T *operator->() const noexcept { return &*val_; }

	template <class U>
	T value_or(U &&fallback) const &
	{
		return val_ ? *val_ : static_cast<T>(std::forward<U>(fallback));
	}

#if defined(__cpp_exceptions)
	/* value - The value; throws std::system_error(error()) if there is none. */
	T &value() &
	{
		check();
		return *val_;
	}
	const T &value() const &
	{
		check();
		return *val_;
	}
	T &&value() &&
	{
		check();
		return std::move(*val_);
	}

private:
	void check() const
	{
		if (!val_)
			throw std::system_error(ec_);
	}
#endif

private:
	std::optional<T> val_{};
	std::error_code ec_{};
};

/* ---- token views ------------------------------------------------------------- */

class tokens;

namespace detail {
template <class R>
using data_t = decltype(std::data(std::declval<const R &>()));

/* R is a contiguous range of exactly uint32_t (std::data and std::size),
 * other than tokens itself; int or uint64_t ids are not silently reread. */
template <class R, class = void>
struct is_token_range : std::false_type {};
template <class R>
struct is_token_range<R, std::void_t<data_t<R>, decltype(std::size(std::declval<const R &>()))>>
	: std::bool_constant<std::is_pointer_v<data_t<R>> &&
			     std::is_same_v<std::remove_cv_t<std::remove_pointer_t<data_t<R>>>,
					    std::uint32_t> &&
			     !std::is_same_v<std::remove_cv_t<std::remove_reference_t<R>>, tokens>> {};
} // namespace detail

/*
 * tokens - A view of @size() token ids at @data(), borrowed, never copied.
 */
class tokens {
public:
	using value_type = std::uint32_t;
	using const_iterator = const std::uint32_t *;
	using iterator = const_iterator;

	constexpr tokens() noexcept = default;
	constexpr tokens(const std::uint32_t *data, std::size_t len) noexcept : data_(data), len_(len) {}
	template <class R, std::enable_if_t<detail::is_token_range<R>::value, int> = 0>
	constexpr tokens(const R &range) noexcept
		: data_(std::data(range)), len_(std::size(range))
	{
	}

	constexpr const std::uint32_t *data() const noexcept { return data_; }
	constexpr std::size_t size() const noexcept { return len_; }
	constexpr bool empty() const noexcept { return len_ == 0; }
	constexpr const_iterator begin() const noexcept { return data_; }
	constexpr const_iterator end() const noexcept { return data_ + len_; }
	/* @i < size(). */
	constexpr std::uint32_t operator[](std::size_t i) const noexcept { return data_[i]; }
	/* first - The first min(@n, size()) tokens. */
	constexpr tokens first(std::size_t n) const noexcept
	{
		return tokens(data_, n < len_ ? n : len_);
	}
#if defined(__cpp_lib_span)
	constexpr operator std::span<const std::uint32_t>() const noexcept { return {data_, len_}; }
#endif

private:
	const std::uint32_t *data_ = nullptr;
	std::size_t len_ = 0;
};

/* The stored tokens of a PCE_EVENT_STORED event (empty for others), valid
 * during the on_event call only. */
inline tokens event_tokens(const pce_event &ev) noexcept
{
	return ev.tokens ? tokens(ev.tokens, ev.len) : tokens();
}

/* ---- configuration -------------------------------------------------------------- */

namespace detail {
inline const pce_config &defaults() noexcept
{
	static const pce_config d = [] {
		pce_config c;
		pce_config_init(&c);
		return c;
	}();
	return d;
}
} // namespace detail

/*
 * config - struct pce_config (pce/cache.h documents every field and its
 * default) with the callbacks as callables.  Defaults are read from
 * pce_config_init(), so they cannot drift from the C library's.
 */
struct config {
	std::uint32_t shards = detail::defaults().shards;
	std::uint32_t min_prefix_len = detail::defaults().min_prefix_len;
	std::uint32_t block_size = detail::defaults().block_size;
	std::uint32_t max_pins = detail::defaults().max_pins;
	pce_policy policy = detail::defaults().policy;
	pce_kv_mode kv_mode = detail::defaults().kv_mode;
	std::uint64_t kv_bytes_per_token = detail::defaults().kv_bytes_per_token;
	std::uint64_t kv_budget = detail::defaults().kv_budget;
	std::uint64_t index_budget = detail::defaults().index_budget;
	std::uint64_t max_entries = detail::defaults().max_entries;
	std::uint32_t high_watermark_pct = detail::defaults().high_watermark_pct;
	std::uint32_t low_watermark_pct = detail::defaults().low_watermark_pct;
	std::uint64_t default_ttl_ns = detail::defaults().default_ttl_ns;
	std::uint64_t default_pin_lease_ns = detail::defaults().default_pin_lease_ns;
	std::uint64_t reclaim_interval_ns = detail::defaults().reclaim_interval_ns;
	int background_reclaim = detail::defaults().background_reclaim;
	/* The callables (any copyable callable) are copied into the cache;
	 * "Threads" above says where they run.
	 * clock: monotonic nanoseconds; empty: CLOCK_MONOTONIC. */
	std::function<std::uint64_t()> clock{};
	/* Empty: values are dropped silently.  Each value exactly once. */
	std::function<void(const pce_released &)> on_release{};
	/* Empty: no events. */
	std::function<void(const pce_event &)> on_event{};

	/* c_config - The C config of these fields, without the callbacks. */
	pce_config c_config() const noexcept
	{
		pce_config c = detail::defaults();
		c.shards = shards;
		c.min_prefix_len = min_prefix_len;
		c.block_size = block_size;
		c.max_pins = max_pins;
		c.policy = policy;
		c.kv_mode = kv_mode;
		c.kv_bytes_per_token = kv_bytes_per_token;
		c.kv_budget = kv_budget;
		c.index_budget = index_budget;
		c.max_entries = max_entries;
		c.high_watermark_pct = high_watermark_pct;
		c.low_watermark_pct = low_watermark_pct;
		c.default_ttl_ns = default_ttl_ns;
		c.default_pin_lease_ns = default_pin_lease_ns;
		c.reclaim_interval_ns = reclaim_interval_ns;
		c.background_reclaim = background_reclaim;
		return c;
	}

	/* error - Why this config is invalid (pce_config_error()), or nullptr. */
	const char *error() const noexcept
	{
		const pce_config c = c_config();
		return pce_config_error(&c);
	}
};

/* store() options: PCE_STORE_* flags; ttl_ns 0 = config.default_ttl_ns;
 * pin_lease_ns: with PCE_STORE_PIN_HOLDER, the holder pin's lease (0 =
 * config.default_pin_lease_ns, PCE_NEVER = none). */
struct store_options {
	unsigned flags = 0;
	std::uint64_t ttl_ns = 0;
	std::uint64_t pin_lease_ns = 0;
};

/* lookup() options: PCE_LOOKUP_* flags; pin_lease_ns 0 =
 * config.default_pin_lease_ns. */
struct lookup_options {
	unsigned flags = 0;
	std::uint64_t pin_lease_ns = 0;
};

/* ---- pins -------------------------------------------------------------------------- */

/*
 * pin - Owns one pin of a cache and releases it once, at the latest when
 * destroyed.  Empty when default-constructed, moved from, released or
 * detached.
 */
class pin {
public:
	pin() noexcept = default;
	pin(const pin &) = delete;
	pin &operator=(const pin &) = delete;
	pin(pin &&other) noexcept
		: cache_(std::exchange(other.cache_, nullptr)), pin_(std::exchange(other.pin_, pce_pin{}))
	{
	}
	/* Releases the pin this one held, then takes @other's. */
	pin &operator=(pin &&other) noexcept
	{
		if (this != &other) {
			(void)release();
			cache_ = std::exchange(other.cache_, nullptr);
			pin_ = std::exchange(other.pin_, pce_pin{});
		}
		return *this;
	}
	~pin() { (void)release(); }

	/* adopt - Own @p, a pin of @c taken through the C API. */
	static pin adopt(pce_cache *c, pce_pin p) noexcept { return pin(c, p); }

	/*
	 * release - pce_pin_release() now; the pin is empty afterwards.
	 * Return: no error (also when empty), or errc::stale if the pin's lease
	 * expired and it was force-released.
	 */
	std::error_code release() noexcept
	{
		if (!pin_.id)
			return {};
		pce_cache *c = std::exchange(cache_, nullptr);
		return make_error_code(pce_pin_release(c, std::exchange(pin_, pce_pin{})));
	}

	/* detach - Give up ownership: the caller releases the returned pin
	 * with pce_pin_release(). */
	pce_pin detach() noexcept
	{
		cache_ = nullptr;
		return std::exchange(pin_, pce_pin{});
	}

	explicit operator bool() const noexcept { return pin_.id != 0; }
	std::uint64_t id() const noexcept { return pin_.id; }

private:
	pin(pce_cache *c, pce_pin p) noexcept : cache_(p.id ? c : nullptr), pin_(p) {}

	pce_cache *cache_ = nullptr;
	pce_pin pin_{};
};

/* match - struct pce_match, with the pin (if PCE_LOOKUP_PIN hit) owned. */
struct match {
	std::size_t tokens = 0; /* matched tokens, whole blocks; 0 = miss */
	std::size_t blocks = 0;
	std::uint64_t value = 0;
	std::size_t entry_len = 0;
	std::uint64_t kv_bytes = 0;
	pce::pin pin;

	bool hit() const noexcept { return tokens != 0; }
};

/*
 * store_result - struct pce_store_result (its fields as pce/cache.h
 * documents them, new ones included) with the holder's pin owned: a store
 * with PCE_STORE_PIN_HOLDER that found a holder moves its pin from
 * holder_pin (left {0}) into holder, which releases it when destroyed.
 */
struct store_result : pce_store_result {
	store_result() noexcept : pce_store_result{} {}
	pce::pin holder;
};

/* sequence - One member of a dedup_analyze() batch. */
struct sequence {
	std::uint64_t ns = 0;
	pce::tokens tokens;
};

/* ---- the cache ---------------------------------------------------------------------- */

namespace detail {
/* The callables of a cache or a router, at the address the C callbacks
 * receive. */
struct hooks {
	std::function<std::uint64_t()> clock;
	std::function<void(const pce_released &)> on_release;
	std::function<void(const pce_event &)> on_event;

	static std::uint64_t clock_fn(void *ctx) noexcept { return static_cast<hooks *>(ctx)->clock(); }
	static void release_fn(void *ctx, const pce_released *r) noexcept
	{
		static_cast<hooks *>(ctx)->on_release(*r);
	}
	static void event_fn(void *ctx, const pce_event *ev) noexcept
	{
		static_cast<hooks *>(ctx)->on_event(*ev);
	}
};

/* Point the callbacks of @c (a pce_config or a pce_router_config, which has
 * no on_release) at *@h, made from @callables; none set: *@h stays empty. */
template <class CConfig>
std::error_code wire_hooks(CConfig &c, std::unique_ptr<hooks> &h, hooks &&callables)
{
	if (!callables.clock && !callables.on_release && !callables.on_event)
		return {};
	h.reset(new (std::nothrow) hooks{std::move(callables)});
	if (!h)
		return make_error_code(PCE_ENOMEM);
	if (h->clock) {
		c.clock = hooks::clock_fn;
		c.clock_ctx = h.get();
	}
	if (h->on_event) {
		c.on_event = hooks::event_fn;
		c.event_ctx = h.get();
	}
	if constexpr (std::is_same_v<CConfig, pce_config>) {
		if (h->on_release) {
			c.on_release = hooks::release_fn;
			c.release_ctx = h.get();
		}
	}
	return {};
}
} // namespace detail

/* Receives a caller section of a snapshot at restore (pce/snapshot.h):
 * its name, data and length, valid for the call; a non-zero return fails
 * the restore, which returns it.  Must not throw. */
using snapshot_section_fn = std::function<int(const char *name, const void *data, std::size_t len)>;

namespace detail {
inline int section_fn(void *ctx, const char *name, const void *data, std::size_t len) noexcept
{
	return (*static_cast<const snapshot_section_fn *>(ctx))(name, data, len);
}

inline pce_seq to_c_seq(const pce_seq &s) noexcept { return s; }
inline pce_seq to_c_seq(const sequence &s) noexcept { return {s.ns, s.tokens.data(), s.tokens.size()}; }

template <class R, class = void>
struct is_c_seq_array : std::false_type {};
template <class R>
struct is_c_seq_array<R, std::void_t<data_t<R>, decltype(std::size(std::declval<const R &>()))>>
	: std::is_same<std::remove_cv_t<std::remove_pointer_t<data_t<R>>>, pce_seq> {};

/* The batch as pce_seq: in place if it already is an array of them. */
template <class Seqs>
result<pce_dedup> dedup_analyze(pce_cache *c, const Seqs &batch)
{
	pce_dedup out{};
	int rc;
	if constexpr (is_c_seq_array<Seqs>::value) {
		rc = pce_dedup_analyze(c, std::data(batch), std::size(batch), &out);
	} else {
		std::vector<pce_seq> seqs;
		for (const auto &s : batch)
			seqs.push_back(to_c_seq(s));
		rc = pce_dedup_analyze(c, seqs.data(), seqs.size(), &out);
	}
	if (rc)
		return make_error_code(rc);
	return out;
}
} // namespace detail

/*
 * cache - Owns a pce_cache.  Each member function is the C function of the
 * same name (pce_cache_<name>): pce/cache.h documents what it does and every
 * code it returns.
 */
class cache {
public:
	/* An empty cache; create() makes a real one. */
	cache() noexcept = default;
	cache(const cache &) = delete;
	cache &operator=(const cache &) = delete;
	cache(cache &&other) noexcept
		: c_(std::exchange(other.c_, nullptr)), hooks_(std::move(other.hooks_))
	{
	}
	/* Destroys the cache this one held (see drop()), then takes @other's. */
	cache &operator=(cache &&other) noexcept
	{
		if (this != &other) {
			drop();
			c_ = std::exchange(other.c_, nullptr);
			hooks_ = std::move(other.hooks_);
		}
		return *this;
	}
	~cache() { drop(); }

	/*
	 * create - pce_cache_create() from @cfg; the callables are copied.
	 * Return: the cache, or errc::invalid_argument (cfg.error() says why),
	 * out_of_memory or thread.  Copying the callables may throw
	 * std::bad_alloc.
	 */
	static result<cache> create(const config &cfg = {})
	{
		pce_config c;
		std::unique_ptr<detail::hooks> h;
		if (std::error_code ec = c_config_hooked(cfg, c, h))
			return ec;
		pce_cache *raw = nullptr;
		if (int rc = pce_cache_create(&c, &raw))
			return make_error_code(rc);
		return cache(raw, std::move(h));
	}

	/*
	 * restore - pce_cache_snapshot_restore(): a new cache from @cfg, filled
	 * from the snapshot at @path; @on_section (may be empty) receives each
	 * caller section and must not throw.
	 * Return: the cache, or the error (errc::bad_snapshot, io_error, ...).
	 */
	static result<cache> restore(const config &cfg, const char *path,
				     const snapshot_section_fn &on_section = {})
	{
		pce_config c;
		std::unique_ptr<detail::hooks> h;
		if (std::error_code ec = c_config_hooked(cfg, c, h))
			return ec;
		pce_cache *raw = nullptr;
		if (int rc = pce_cache_snapshot_restore(&c, path,
							on_section ? detail::section_fn : nullptr,
							const_cast<snapshot_section_fn *>(&on_section), &raw))
			return make_error_code(rc);
		return cache(raw, std::move(h));
	}

	/* snapshot - pce_cache_snapshot_write() of this cache and @n caller
	 * sections to @path. */
	[[nodiscard]] std::error_code snapshot(const char *path,
					       const pce_snapshot_section *sections = nullptr,
					       std::size_t n = 0) const noexcept
	{
		return make_error_code(pce_cache_snapshot_write(c_, path, sections, n));
	}
	[[nodiscard]] std::error_code snapshot(const char *path,
					       const std::vector<pce_snapshot_section> &sections) const noexcept
	{
		return snapshot(path, sections.data(), sections.size());
	}

	/*
	 * close - pce_cache_destroy(): every value leaves through on_release.
	 * Return: no error, the cache is empty; or errc::busy: pins are live,
	 * nothing changed and the cache stays usable.
	 */
	std::error_code close() noexcept
	{
		const int rc = pce_cache_destroy(c_);
		if (!rc) {
			c_ = nullptr;
			hooks_.reset();
		}
		return make_error_code(rc);
	}

	explicit operator bool() const noexcept { return c_ != nullptr; }
	/* The C handle, for calls this header does not wrap; still owned here. */
	pce_cache *native_handle() const noexcept { return c_; }

	/* store - pce_cache_store(); @result: nullptr or receives the details,
	 * also on errc::exists.  A holder pin (PCE_STORE_PIN_HOLDER) taken
	 * through this overload is the caller's to release with
	 * pce_pin_release() (or to adopt with pin::adopt()). */
	[[nodiscard]] std::error_code store(std::uint64_t ns, tokens toks, std::uint64_t value,
					    std::uint64_t kv_bytes = 0, const store_options &opts = {},
					    pce_store_result *result = nullptr) noexcept
	{
		const pce_store_opts o{opts.flags, opts.ttl_ns, opts.pin_lease_ns};
		return make_error_code(
			pce_cache_store(c_, ns, toks.data(), toks.size(), value, kv_bytes, &o, result));
	}

	/* store - The same, with the holder pin owned by @result.holder (a pin
	 * it held before is released first).  PCE_STORE_PIN_HOLDER pins the
	 * holder on success and with errc::exists; on every other error
	 * @result.holder is empty. */
	[[nodiscard]] std::error_code store(std::uint64_t ns, tokens toks, std::uint64_t value,
					    std::uint64_t kv_bytes, const store_options &opts,
					    store_result &result) noexcept
	{
		const std::error_code ec = store(ns, toks, value, kv_bytes, opts,
						 static_cast<pce_store_result *>(&result));
		result.holder = pin::adopt(c_, std::exchange(result.holder_pin, pce_pin{}));
		return ec;
	}

	/* lookup - pce_cache_lookup(); a miss is a match with tokens == 0.  With
	 * PCE_LOOKUP_PIN, a hit's match.pin holds the pin. */
	result<match> lookup(std::uint64_t ns, tokens toks, const lookup_options &opts = {}) const noexcept
	{
		const pce_lookup_opts o{opts.flags, opts.pin_lease_ns};
		pce_match m{};
		if (int rc = pce_cache_lookup(c_, ns, toks.data(), toks.size(), &o, &m))
			return make_error_code(rc);
		match r;
		r.tokens = m.tokens;
		r.blocks = m.blocks;
		r.value = m.value;
		r.entry_len = m.entry_len;
		r.kv_bytes = m.kv_bytes;
		r.pin = pin::adopt(c_, m.pin);
		return result<match>(std::move(r));
	}

	/* remove - pce_cache_remove(); returns the removed entry's value. */
	result<std::uint64_t> remove(std::uint64_t ns, tokens toks) noexcept
	{
		std::uint64_t value = 0;
		if (int rc = pce_cache_remove(c_, ns, toks.data(), toks.size(), &value))
			return make_error_code(rc);
		return value;
	}

	/* clear_ns, clear - return the number of entries removed. */
	result<std::uint64_t> clear_ns(std::uint64_t ns) noexcept
	{
		std::uint64_t n = 0;
		if (int rc = pce_cache_clear_ns(c_, ns, &n))
			return make_error_code(rc);
		return n;
	}
	result<std::uint64_t> clear() noexcept
	{
		std::uint64_t n = 0;
		if (int rc = pce_cache_clear(c_, &n))
			return make_error_code(rc);
		return n;
	}

	[[nodiscard]] std::error_code reclaim() noexcept { return make_error_code(pce_cache_reclaim(c_)); }

	/* remove_prefix - pce_cache_remove_prefix(); returns the number of
	 * entries removed (0 when none starts with @toks). */
	result<std::uint64_t> remove_prefix(std::uint64_t ns, tokens toks) noexcept
	{
		std::uint64_t n = 0;
		if (int rc = pce_cache_remove_prefix(c_, ns, toks.data(), toks.size(), &n))
			return make_error_code(rc);
		return n;
	}

	/* touch - pce_cache_touch(): the entry storing exactly @toks gets its
	 * CLOCK reference and a TTL of at least @ttl_ns from now (0 =
	 * config.default_ttl_ns); errc::not_found if no live entry does. */
	[[nodiscard]] std::error_code touch(std::uint64_t ns, tokens toks,
					    std::uint64_t ttl_ns = 0) noexcept
	{
		return make_error_code(pce_cache_touch(c_, ns, toks.data(), toks.size(), ttl_ns));
	}

	/* evict - pce_cache_evict(): evict unpinned entries until @amount of
	 * @unit is freed, and release their values before returning (never
	 * from a callback).  @freed: nullptr, or receives what was freed, also
	 * with errc::no_space (less could be freed: the rest is pinned) and
	 * errc::out_of_memory. */
	[[nodiscard]] std::error_code evict(pce_evict_unit unit, std::uint64_t amount,
					    pce_evicted *freed = nullptr) noexcept
	{
		return make_error_code(pce_cache_evict(c_, unit, amount, freed));
	}

	/* set_budgets - pce_cache_set_budgets(): the new budgets are in force
	 * after every code but errc::invalid_argument; errc::busy says usage
	 * is still above them (pinned entries). */
	[[nodiscard]] std::error_code set_budgets(const pce_budgets &budgets) noexcept
	{
		return make_error_code(pce_cache_set_budgets(c_, &budgets));
	}

	result<pce_stats> stats() const noexcept
	{
		pce_stats s{};
		if (int rc = pce_cache_stats(c_, &s))
			return make_error_code(rc);
		return s;
	}

	/* shard_entries - Entries per shard, one count per shard. */
	result<std::vector<std::uint64_t>> shard_entries() const
	{
		const int n = pce_cache_shard_entries(c_, nullptr, 0);
		if (n < 0)
			return make_error_code(n);
		std::vector<std::uint64_t> counts(static_cast<std::size_t>(n));
		/* The shard count is fixed at create: this call writes all n. */
		(void)pce_cache_shard_entries(c_, counts.data(), counts.size());
		return counts;
	}

	/* audit - pce_cache_audit() with PCE_AUDIT_* @flags; @violation: nullptr,
	 * or receives the first broken invariant ("" if none). */
	[[nodiscard]] std::error_code audit(unsigned flags = 0, std::string *violation = nullptr) const
	{
		char msg[512];
		const int rc = pce_cache_audit(c_, flags, msg, sizeof(msg));
		if (violation)
			*violation = rc == PCE_ECORRUPT ? msg : "";
		return make_error_code(rc);
	}

	/* dedup_analyze - pce_dedup_analyze() against this cache, of a range of
	 * pce::sequence or pce_seq (a contiguous array of pce_seq is passed as
	 * is; anything else is copied into one, which may throw
	 * std::bad_alloc). */
	template <class Seqs>
	result<pce_dedup> dedup_analyze(const Seqs &batch) const
	{
		return detail::dedup_analyze(c_, batch);
	}

private:
	/* @cfg as a pce_config, its callables in *@h. */
	static std::error_code c_config_hooked(const config &cfg, pce_config &c,
					       std::unique_ptr<detail::hooks> &h)
	{
		c = cfg.c_config();
		return detail::wire_hooks(c, h, {cfg.clock, cfg.on_release, cfg.on_event});
	}

	cache(pce_cache *c, std::unique_ptr<detail::hooks> h) noexcept : c_(c), hooks_(std::move(h)) {}

	/* Destroy the cache; with live pins, leak it and its callables instead,
	 * since the pins still refer to both. */
	void drop() noexcept
	{
		if (close()) {
			(void)hooks_.release();
			c_ = nullptr;
		}
	}

	pce_cache *c_ = nullptr;
	std::unique_ptr<detail::hooks> hooks_;
};

/* dedup_analyze - pce_dedup_analyze() of a batch alone, without a cache. */
template <class Seqs>
result<pce_dedup> dedup_analyze(const Seqs &batch)
{
	return detail::dedup_analyze(nullptr, batch);
}

/* ---- the router index ------------------------------------------------------------ */

namespace detail {
inline const pce_router_config &router_defaults() noexcept
{
	static const pce_router_config d = [] {
		pce_router_config c;
		pce_router_config_init(&c);
		return c;
	}();
	return d;
}

inline std::array<double, PCE_TIERS> default_tier_weights() noexcept
{
	std::array<double, PCE_TIERS> w{};
	for (std::size_t i = 0; i < PCE_TIERS; i++)
		w[i] = router_defaults().tier_weight[i];
	return w;
}
} // namespace detail

/*
 * router_config - struct pce_router_config (pce/router.h documents every
 * field and its default) with the callbacks as callables, defaults read from
 * pce_router_config_init().  on_event runs under a shard's writer lock in
 * the thread whose add(), remove(), clear_owner(), clear_ns() or reclaim()
 * changed the holdings (or the reclaim thread), with owner and tier set; the
 * clock in any thread calling into the router.  The same rules as for a
 * cache's callables apply (no throwing, no blocking, no call into the
 * router).
 */
struct router_config {
	std::uint32_t shards = detail::router_defaults().shards;
	std::uint32_t block_size = detail::router_defaults().block_size;
	std::array<double, PCE_TIERS> tier_weight = detail::default_tier_weights();
	std::uint64_t index_budget = detail::router_defaults().index_budget;
	std::uint32_t high_watermark_pct = detail::router_defaults().high_watermark_pct;
	std::uint32_t low_watermark_pct = detail::router_defaults().low_watermark_pct;
	std::uint64_t default_ttl_ns = detail::router_defaults().default_ttl_ns;
	std::uint64_t reclaim_interval_ns = detail::router_defaults().reclaim_interval_ns;
	int background_reclaim = detail::router_defaults().background_reclaim;
	std::function<std::uint64_t()> clock{};
	std::function<void(const pce_event &)> on_event{};

	/* c_config - The C config of these fields, without the callbacks. */
	pce_router_config c_config() const noexcept
	{
		pce_router_config c = detail::router_defaults();
		c.shards = shards;
		c.block_size = block_size;
		for (std::size_t i = 0; i < PCE_TIERS; i++)
			c.tier_weight[i] = tier_weight[i];
		c.index_budget = index_budget;
		c.high_watermark_pct = high_watermark_pct;
		c.low_watermark_pct = low_watermark_pct;
		c.default_ttl_ns = default_ttl_ns;
		c.reclaim_interval_ns = reclaim_interval_ns;
		c.background_reclaim = background_reclaim;
		return c;
	}

	/* error - Why this config is invalid (pce_router_config_error()), or nullptr. */
	const char *error() const noexcept
	{
		const pce_router_config c = c_config();
		return pce_router_config_error(&c);
	}
};

/* add() options: PCE_ROUTER_ADD_* flags; ttl_ns 0 = config.default_ttl_ns,
 * PCE_NEVER = no expiry. */
struct add_options {
	unsigned flags = 0;
	std::uint64_t ttl_ns = 0;
};

/* What a match() wrote: @count results (the first @count of the caller's
 * array), and @left holders of the query's first block not reported. */
struct match_counts {
	std::size_t count = 0;
	std::size_t left = 0;
};

/*
 * router - Owns a pce_router.  Each member function is the C function of the
 * same name (pce_router_<name>): pce/router.h documents what it does and
 * every code it returns.  Move-only; a moved-from router is empty and its
 * calls return errc::invalid_argument.  In a child of fork(), calls on a
 * router created before the fork return errc::forked and the destructor
 * abandons it (pce_router_destroy() does).
 */
class router {
public:
	router() noexcept = default;
	router(const router &) = delete;
	router &operator=(const router &) = delete;
	router(router &&other) noexcept
		: r_(std::exchange(other.r_, nullptr)), hooks_(std::move(other.hooks_))
	{
	}
	/* Destroys the router this one held, then takes @other's. */
	router &operator=(router &&other) noexcept
	{
		if (this != &other) {
			close();
			r_ = std::exchange(other.r_, nullptr);
			hooks_ = std::move(other.hooks_);
		}
		return *this;
	}
	~router() { close(); }

	/*
	 * create - pce_router_create() from @cfg; the callables are copied.
	 * Return: the router, or errc::invalid_argument (cfg.error() says why),
	 * out_of_memory or thread.  Copying the callables may throw
	 * std::bad_alloc.
	 */
	static result<router> create(const router_config &cfg = {})
	{
		pce_router_config c;
		std::unique_ptr<detail::hooks> h;
		if (std::error_code ec = c_config_hooked(cfg, c, h))
			return ec;
		pce_router *raw = nullptr;
		if (int rc = pce_router_create(&c, &raw))
			return make_error_code(rc);
		return router(raw, std::move(h));
	}

	/* restore - pce_router_snapshot_restore(), as cache::restore(). */
	static result<router> restore(const router_config &cfg, const char *path,
				      const snapshot_section_fn &on_section = {})
	{
		pce_router_config c;
		std::unique_ptr<detail::hooks> h;
		if (std::error_code ec = c_config_hooked(cfg, c, h))
			return ec;
		pce_router *raw = nullptr;
		if (int rc = pce_router_snapshot_restore(&c, path,
							 on_section ? detail::section_fn : nullptr,
							 const_cast<snapshot_section_fn *>(&on_section),
							 &raw))
			return make_error_code(rc);
		return router(raw, std::move(h));
	}

	/* snapshot - pce_router_snapshot_write() of this router and @n caller
	 * sections to @path. */
	[[nodiscard]] std::error_code snapshot(const char *path,
					       const pce_snapshot_section *sections = nullptr,
					       std::size_t n = 0) const noexcept
	{
		return make_error_code(pce_router_snapshot_write(r_, path, sections, n));
	}
	[[nodiscard]] std::error_code snapshot(const char *path,
					       const std::vector<pce_snapshot_section> &sections) const noexcept
	{
		return snapshot(path, sections.data(), sections.size());
	}

	/* close - pce_router_destroy() (no events); the router is empty after. */
	void close() noexcept
	{
		pce_router_destroy(std::exchange(r_, nullptr));
		hooks_.reset();
	}

	explicit operator bool() const noexcept { return r_ != nullptr; }
	/* The C handle, for calls this header does not wrap; still owned here. */
	pce_router *native_handle() const noexcept { return r_; }

	/* add - pce_router_add(); returns the number of blocks @owner did not
	 * hold before. */
	result<std::size_t> add(std::uint32_t owner, std::uint64_t ns, tokens toks,
				std::uint32_t tier = PCE_TIER_GPU, const add_options &opts = {}) noexcept
	{
		const pce_router_add_opts o{opts.flags, opts.ttl_ns};
		std::size_t added = 0;
		if (int rc = pce_router_add(r_, owner, ns, toks.data(), toks.size(), tier, &o, &added))
			return make_error_code(rc);
		return added;
	}

	[[nodiscard]] std::error_code remove(std::uint32_t owner, std::uint64_t ns, tokens toks) noexcept
	{
		return make_error_code(pce_router_remove(r_, owner, ns, toks.data(), toks.size()));
	}

	/* clear_owner, clear_ns - return the number of (owner, block) holdings
	 * removed. */
	result<std::uint64_t> clear_owner(std::uint32_t owner) noexcept
	{
		std::uint64_t n = 0;
		if (int rc = pce_router_clear_owner(r_, owner, &n))
			return make_error_code(rc);
		return n;
	}
	result<std::uint64_t> clear_ns(std::uint64_t ns) noexcept
	{
		std::uint64_t n = 0;
		if (int rc = pce_router_clear_ns(r_, ns, &n))
			return make_error_code(rc);
		return n;
	}

	/*
	 * match - pce_router_match() into the caller's @out[0..@k): wait-free,
	 * no allocation.  PCE_ROUTER_MATCH_* @flags.
	 */
	result<match_counts> match(std::uint64_t ns, tokens toks, pce_overlap *out, std::size_t k,
				   unsigned flags = 0) const noexcept
	{
		match_counts m;
		if (int rc = pce_router_match(r_, ns, toks.data(), toks.size(), flags, out, k,
					      &m.count, &m.left))
			return make_error_code(rc);
		return m;
	}
	/* The same with k = @out.size(); @out is then shrunk to the results
	 * (never allocates: size it to k again before reusing it). */
	result<match_counts> match(std::uint64_t ns, tokens toks, std::vector<pce_overlap> &out,
				   unsigned flags = 0) const noexcept
	{
		result<match_counts> m = match(ns, toks, out.data(), out.size(), flags);
		out.resize(m ? m->count : 0);
		return m;
	}
#if defined(__cpp_lib_span)
	result<match_counts> match(std::uint64_t ns, tokens toks, std::span<pce_overlap> out,
				   unsigned flags = 0) const noexcept
	{
		return match(ns, toks, out.data(), out.size(), flags);
	}
#endif

	[[nodiscard]] std::error_code reclaim() noexcept { return make_error_code(pce_router_reclaim(r_)); }

	/* set_budgets - pce_router_set_budgets(): the new index budget and
	 * watermarks are in force, and the index within the budget, after
	 * success; errc::invalid_argument changes nothing. */
	[[nodiscard]] std::error_code set_budgets(const pce_router_budgets &budgets) noexcept
	{
		return make_error_code(pce_router_set_budgets(r_, &budgets));
	}

	result<pce_router_stats> stats() const noexcept
	{
		pce_router_stats s{};
		if (int rc = pce_router_stats_get(r_, &s))
			return make_error_code(rc);
		return s;
	}

	/* audit - pce_router_audit(); @violation: nullptr, or receives the first
	 * broken invariant ("" if none). */
	[[nodiscard]] std::error_code audit(std::string *violation = nullptr) const
	{
		char msg[512];
		const int rc = pce_router_audit(r_, 0, msg, sizeof(msg));
		if (violation)
			*violation = rc == PCE_ECORRUPT ? msg : "";
		return make_error_code(rc);
	}

private:
	/* @cfg as a pce_router_config, its callables in *@h. */
	static std::error_code c_config_hooked(const router_config &cfg, pce_router_config &c,
					       std::unique_ptr<detail::hooks> &h)
	{
		c = cfg.c_config();
		return detail::wire_hooks(c, h, {cfg.clock, {}, cfg.on_event});
	}

	router(pce_router *r, std::unique_ptr<detail::hooks> h) noexcept : r_(r), hooks_(std::move(h)) {}

	pce_router *r_ = nullptr;
	std::unique_ptr<detail::hooks> hooks_;
};

inline const char *reason_name(pce_reason reason) noexcept { return pce_reason_name(reason); }
inline unsigned version_number() noexcept { return pce_version_number(); }
inline const char *version_string() noexcept { return pce_version_string(); }

} // namespace pce

namespace std {
template <>
struct is_error_code_enum<pce::errc> : true_type {};
} // namespace std

#endif /* PCE_PCE_HPP */
