/*
 * push.c's wake queue: the wakes that come before the loop runs on_push
 * activate the push event once (each event_active takes libevent's base
 * lock, which the loop thread then waits for); once on_push has taken the
 * queue, the next wake activates it again, and a wake from another thread
 * while the loop waits reaches on_push. Counted with push_wake_arms.
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

#include <event2/event.h>
#include <event2/thread.h>

#include "node/node.h"
#include "node/store.h"

#include "../tmpdir_fixture.h"

#define EID "89049032123451234512345678901235"

static node n; /* large */

static int
setup(void **state)
{
	(void)state;
	if (tmpdir_setup("/tmp/ts-pushwake-XXXXXX") != 0)
		return -1;
	memset(&n, 0, sizeof(n));
	if (evthread_use_pthreads() != 0 || (n.base = event_base_new()) == NULL)
		return -1;
	if (store_open(dbpath, &n.st) != 0 || push_init(&n) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	push_fini(&n);
	store_close(n.st);
	event_base_free(n.base);
	return tmpdir_teardown();
}

static void
test_wakes_before_the_loop_runs_activate_once(void **state)
{
	(void)state;
	assert_int_equal(push_wake_arms(&n), 0);
	push_wake_eid(&n, EID);
	push_wake_user(&n, 7);
	push_wake_eid(&n, EID);
	push_wake_all(&n);
	assert_int_equal(push_wake_arms(&n), 1);
	/* on_push takes the queue: the next wake activates the event again */
	assert_true(event_base_loop(n.base, EVLOOP_NONBLOCK) >= 0);
	push_wake_user(&n, 7);
	assert_int_equal(push_wake_arms(&n), 2);
	push_kick(&n);
	assert_int_equal(push_wake_arms(&n), 2);
	assert_true(event_base_loop(n.base, EVLOOP_NONBLOCK) >= 0);
	push_kick(&n);
	assert_int_equal(push_wake_arms(&n), 3);
}

static void *
waker(void *arg)
{
	(void)arg;
	push_wake_eid(&n, EID);
	return NULL;
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void
test_a_wake_from_another_thread_reaches_the_loop(void **state)
{
	(void)state;
	/* the loop waits (EVLOOP_ONCE: until an event runs); the worker's wake
	 * must activate push_ev, or the loop below never returns */
	struct timeval limit = { 10, 0 };
	struct event *guard = evtimer_new(n.base, on_guard, n.base);
	assert_non_null(guard);
	assert_int_equal(evtimer_add(guard, &limit), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, waker, NULL), 0);
	assert_int_equal(event_base_loop(n.base, EVLOOP_ONCE), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(push_wake_arms(&n), 1);
	/* it was on_push that ran, not the guard: the queue is taken, so the
	 * next wake arms again */
	assert_int_equal(evtimer_pending(guard, NULL), EV_TIMEOUT);
	push_wake_user(&n, 7);
	assert_int_equal(push_wake_arms(&n), 2);
	event_free(guard);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wakes_before_the_loop_runs_activate_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_wake_from_another_thread_reaches_the_loop, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
