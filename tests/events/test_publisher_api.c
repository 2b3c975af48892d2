/*
 * test_publisher_api.c - pce_publisher's argument checks, endpoints and
 * block mirror, without a subscriber (check_publisher.py reads the wire).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <pce/events.h>

#define SEC 1000000000ull

static struct pce_publisher *mk(struct pce_publisher_config *pc)
{
	struct pce_publisher *p = NULL;

	assert_int_equal(pce_publisher_create(pc, &p), 0);
	return p;
}

static void test_config(void **state)
{
	struct pce_publisher_config pc;
	struct pce_publisher *p = NULL;
	(void)state;

	pce_publisher_config_init(&pc);
	assert_int_equal(pc.block_size, 16);
	assert_int_equal(pc.replay_batches, 10000);
	assert_string_equal(pc.medium, "GPU");
	assert_null(pc.replay_endpoint);
	pce_publisher_config_init(NULL);
	assert_int_equal(pce_publisher_create(NULL, &p), PCE_EINVAL);
	assert_int_equal(pce_publisher_create(&pc, NULL), PCE_EINVAL);
	pc.block_size = 0;
	assert_int_equal(pce_publisher_create(&pc, &p), PCE_EINVAL);
	pce_publisher_config_init(&pc);
	pc.hash = (enum pce_pub_hash)7;
	assert_int_equal(pce_publisher_create(&pc, &p), PCE_EINVAL);
	pce_publisher_config_init(&pc);
	pc.queue_events = 0;
	assert_int_equal(pce_publisher_create(&pc, &p), PCE_EINVAL);
	assert_null(p);
	assert_int_equal(pce_publisher_destroy(NULL), 0);
	assert_int_equal(pce_publisher_flush(NULL, 0), PCE_EINVAL);
	pce_publisher_on_event(NULL, NULL); /* ignored */
}

static void test_endpoints(void **state)
{
	struct pce_publisher_config pc;
	struct pce_publisher *p, *q = NULL;
	char addr[256], small[8];
	(void)state;

	pce_publisher_config_init(&pc);
	p = mk(&pc);
	assert_int_equal(pce_publisher_endpoint(p, addr, sizeof(addr)), 0);
	assert_memory_equal(addr, "tcp://127.0.0.1:", 16);
	assert_true(strlen(addr) > 16);
	assert_int_equal(pce_publisher_endpoint(p, small, sizeof(small)), PCE_EINVAL);
	assert_int_equal(pce_publisher_replay_endpoint(p, addr + 100, 100), 0);
	assert_string_equal(addr + 100, ""); /* no replay socket */
	/* The same address again is in use. */
	pc.endpoint = addr;
	assert_int_equal(pce_publisher_create(&pc, &q), PCE_EZMQ);
	pc.endpoint = "nonsense://x";
	assert_int_equal(pce_publisher_create(&pc, &q), PCE_EZMQ);
	pce_publisher_config_init(&pc);
	pc.replay_endpoint = "tcp://127.0.0.1:*";
	q = mk(&pc);
	assert_int_equal(pce_publisher_replay_endpoint(q, addr, sizeof(addr)), 0);
	assert_memory_equal(addr, "tcp://127.0.0.1:", 16);
	assert_int_equal(pce_publisher_flush(q, 10 * SEC), 0); /* nothing queued */
	assert_int_equal(pce_publisher_destroy(q), 0);
	assert_int_equal(pce_publisher_destroy(p), 0);
}

/* The mirror, seen through the statistics: whole blocks only, shared
 * prefixes once, namespaces apart, refcounted removal. */
static void test_blocks(void **state)
{
	struct pce_publisher_config pc;
	struct pce_publisher_stats st;
	struct pce_config cc;
	struct pce_publisher *p;
	struct pce_cache *c;
	uint32_t t[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint32_t u[8] = { 1, 2, 3, 4, 50, 60, 70, 80 };
	(void)state;

	pce_publisher_config_init(&pc);
	pc.block_size = 4;
	p = mk(&pc);
	pce_config_init(&cc);
	cc.background_reclaim = 0;
	cc.on_event = pce_publisher_on_event;
	cc.event_ctx = p;
	assert_int_equal(pce_cache_create(&cc, &c), 0);

	assert_int_equal(pce_cache_store(c, 1, t, 11, 1, 0, NULL, NULL), 0); /* 2 blocks + 3 */
	assert_int_equal(pce_cache_store(c, 1, t, 3, 2, 0, NULL, NULL), 0);  /* no whole block */
	assert_int_equal(pce_cache_store(c, 1, u, 8, 3, 0, NULL, NULL), 0);  /* shares block 0 */
	assert_int_equal(pce_cache_store(c, 2, t, 8, 4, 0, NULL, NULL), 0);  /* other namespace */
	assert_int_equal(pce_publisher_flush(p, 60 * SEC), 0);
	assert_int_equal(pce_publisher_stats_get(p, &st), 0);
	assert_int_equal(st.blocks, 2 + 1 + 2);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.events, 3);
	assert_int_equal(st.drops, 0);

	assert_int_equal(pce_cache_remove(c, 1, t, 11, NULL), 0); /* block 0 stays for u */
	assert_int_equal(pce_publisher_stats_get(p, &st), 0);
	assert_int_equal(st.blocks, 1 + 1 + 2);
	assert_int_equal(pce_cache_clear(c, NULL), 0);
	assert_int_equal(pce_publisher_flush(p, 60 * SEC), 0);
	assert_int_equal(pce_publisher_stats_get(p, &st), 0);
	assert_int_equal(st.blocks, 0);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.events, 3 + 1 + 2);
	assert_int_equal(st.next_seq, st.batches);
	assert_int_equal(pce_cache_destroy(c), 0);
	assert_int_equal(pce_publisher_destroy(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
