/*
 * The outbox workers' wake-ups (outbox.c): a kick wakes a waiting worker, a
 * kick while every worker is busy is not lost, a row that becomes due later
 * wakes a worker without any kick, and many kicks racing the workers' waits
 * lose none. Real worker threads on a real SQLite store; the poll interval
 * is set to 60 s (node.outbox_poll_ms), so a wake-up the code loses shows as
 * a row still pending when the bounded wait below gives up, not as a row
 * done a second late. The provider is a fake transport (node.outbox_call).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/outbox.h"
#include "node/share.h"
#include "node/store.h"

#include "../tmpdir_fixture.h"

#define EID "89049032123451234512345678901235"
/* The bound on every wait for the workers (ms): far below the test's poll
 * interval, far above what a woken worker needs. */
#define WAIT_MS 10000
#define POLL_MS 60000

static node n; /* large */
static int64_t alice;

/* The fake provider: the first call blocks while `hold` is set (the worker
 * is then busy); every call answers with a refusal (the row is closed). */
static pthread_mutex_t fk_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fk_cv = PTHREAD_COND_INITIALIZER;
static int hold, in_call, calls;

static int
fake_call(void *arg, const store_provider *p, const char *function, const char *body, json_t **resp, char *reason,
    size_t rcap)
{
	(void)arg;
	(void)p;
	(void)function;
	(void)body;
	pthread_mutex_lock(&fk_mu);
	calls++;
	in_call = 1;
	pthread_cond_broadcast(&fk_cv);
	while (hold)
		pthread_cond_wait(&fk_cv, &fk_mu);
	in_call = 0;
	pthread_mutex_unlock(&fk_mu);
	return outbox_classify(0, NULL, "op", 200, json_pack("{s:{s:{s:s,s:{s:s,s:s,s:s}}}}", "header",
	    "functionExecutionStatus", "status", "Failed", "statusCodeData", "subjectCode", "8.1", "reasonCode", "3.8",
	    "message", "not allowed"), resp, reason, rcap);
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int64_t
pending(void)
{
	int64_t p = -1, r = -1;
	assert_int_equal(n.st->ops->outbox_depth(n.st, &p, &r), 0);
	return p;
}

/* Waits (bounded) until no outbox row is pending: 1 if so. */
static int
drained(void)
{
	for (int i = 0; i < WAIT_MS; i++) {
		if (pending() == 0)
			return 1;
		pause_ms(1);
	}
	return 0;
}

/* Waits (bounded) until `want` workers wait for a kick: 1 if so. */
static int
idle_workers(int want)
{
	for (int i = 0; i < WAIT_MS; i++) {
		pthread_mutex_lock(&n.ob_mu);
		int idle = n.ob_idle;
		pthread_mutex_unlock(&n.ob_mu);
		if (idle == want)
			return 1;
		pause_ms(1);
	}
	return 0;
}

/* A row the worker closes without calling the provider (no such share). */
static int64_t
add_row(void)
{
	int64_t id = 0;
	assert_int_equal(n.st->ops->outbox_add(n.st, OUTBOX_CANCEL_ORDER, "no-such-share", &id), 0);
	return id;
}

static int
setup(void **state)
{
	(void)state;
	if (tmpdir_setup("/tmp/ts-obwake-XXXXXX") != 0)
		return -1;
	memset(&n, 0, sizeof(n));
	snprintf(n.db_url, sizeof(n.db_url), "sqlite:%s", dbpath);
	snprintf(n.ein_prefixes, sizeof(n.ein_prefixes), "89049032");
	snprintf(n.address, sizeof(n.address), "https://127.0.0.1:1");
	if (store_open(n.db_url, &n.st) != 0)
		return -1;
	node_svc_init(&n); /* kicks go to outbox_kick; no push state: wakes are no-ops */
	store_provider p = { .name = "op", .url = "https://127.0.0.1:1", .ca_file = "/dev/null" };
	store_app a = { .app_id = "sim-a", .name = "A", .kind = "sim", .provider = "op", .shareable = 1 };
	if (n.st->ops->user_add(n.st, "alice", "h", &alice) != 0 || n.st->ops->provider_put(n.st, &p) != 0 ||
	    n.st->ops->device_add(n.st, "dev-a", alice, "phone a") != 0)
		return -1;
	a.user_id = alice;
	if (n.st->ops->app_put(n.st, &a) != 0)
		return -1;
	n.outbox_poll_ms = POLL_MS;
	n.outbox_call = fake_call;
	hold = in_call = calls = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	outbox_stop(&n);
	store_close(n.st);
	n.st = NULL;
	return tmpdir_teardown();
}

static void
start(int workers)
{
	n.nworkers = workers;
	assert_int_equal(outbox_start(&n), 0);
	/* each worker's first pass finds nothing and waits */
	assert_true(idle_workers(workers));
}

static void
test_kick_wakes_a_waiting_worker(void **state)
{
	(void)state;
	start(2);
	add_row();
	outbox_kick(&n);
	assert_true(drained());
}

static void
test_kick_while_busy_is_not_lost(void **state)
{
	(void)state;
	start(1);
	hold = 1;
	share_req r = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = "sim-a" };
	store_share sh;
	share_why why;
	/* commits a confirmOrder row and kicks: the worker calls the provider */
	assert_int_equal(share_request(&n.svc, n.st, &r, NULL, &sh, &why), 0);
	pthread_mutex_lock(&fk_mu);
	for (int i = 0; i < WAIT_MS && !in_call; i++) {
		pthread_mutex_unlock(&fk_mu);
		pause_ms(1);
		pthread_mutex_lock(&fk_mu);
	}
	int busy = in_call;
	pthread_mutex_unlock(&fk_mu);
	assert_true(busy);
	/* the only worker is busy: this kick finds no one waiting (it is
	 * remembered in ob_kicked; the worker's look at the next due row
	 * after its pass would also find this row, 50 ms later, so a kick
	 * that forgot ob_kicked while no one waits is not caught here) */
	add_row();
	outbox_kick(&n);
	pthread_mutex_lock(&fk_mu);
	hold = 0;
	pthread_cond_broadcast(&fk_cv);
	pthread_mutex_unlock(&fk_mu);
	assert_true(drained());
	assert_int_equal(calls, 1);
}

static void
test_row_due_later_wakes_a_worker(void **state)
{
	(void)state;
	start(1);
	/* a row in backoff, due in 2 s, and one kick while it is not due yet */
	int64_t id = add_row();
	assert_int_equal(n.st->ops->outbox_retry(n.st, id, ts_now() + 2, "provider down"), 0);
	outbox_kick(&n);
	assert_int_equal(pending(), 1);
	/* no kick when it becomes due: the worker's wait ends at the due time */
	assert_true(drained());
}

/* An answer from a provider makes its rows in backoff due at once
 * (outbox.c rows_may_wait), also a row a worker learns of only by looking
 * (another node put it in backoff) after it had found nothing pending. */
static void
test_answer_wakes_rows_in_backoff(void **state)
{
	(void)state;
	start(1);
	share_req r = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = "sim-a" };
	store_share a, b;
	share_why why;
	/* a confirmOrder the provider answers: the worker then finds nothing pending */
	assert_int_equal(share_request(&n.svc, n.st, &r, NULL, &a, &why), 0);
	assert_true(drained());
	assert_int_equal(calls, 1);
	assert_true(idle_workers(1));
	/* a row of the same provider in backoff for a minute, no worker's retry */
	int64_t id = 0;
	assert_int_equal(n.st->ops->outbox_add(n.st, OUTBOX_CANCEL_ORDER, a.id, &id), 0);
	assert_int_equal(n.st->ops->outbox_retry(n.st, id, ts_now() + 60, "provider down"), 0);
	/* a kick with nothing due: the worker claims nothing and looks at the
	 * next due row (waited for by its count, at most 2 s: a worker that
	 * does not count the row it sees fails below, not here) */
	unsigned long looked = atomic_load(&n.ob_later);
	outbox_kick(&n);
	for (int i = 0; i < 2000 && atomic_load(&n.ob_later) == looked; i++)
		pause_ms(1);
	assert_true(idle_workers(1));
	assert_int_equal(pending(), 1);
	/* another share's call is answered: the row in backoff goes at once */
	assert_int_equal(share_request(&n.svc, n.st, &r, NULL, &b, &why), 0);
	assert_true(drained());
	assert_int_equal(calls, 3);
}

static void
test_racing_kicks_lose_no_row(void **state)
{
	(void)state;
	start(2);
	/* each row is kicked as the workers come back from the last one:
	 * the kicks land in every phase of their loop */
	for (int i = 0; i < 300; i++) {
		add_row();
		if (i % 3 == 0)
			add_row();
		outbox_kick(&n);
		assert_true(drained());
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kick_wakes_a_waiting_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_while_busy_is_not_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_row_due_later_wakes_a_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_wakes_rows_in_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_racing_kicks_lose_no_row, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
