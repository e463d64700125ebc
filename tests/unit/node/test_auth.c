/*
 * Unit tests for the node's passphrase throttle (auth.c): a window is never
 * reset by another device (the collision case of the 256-slot table the node
 * used to have), it survives a restart, and it also counts per account.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/store.h"

#include "../tmpdir_fixture.h"

static int
setup(void **state)
{
	(void)state;
	return tmpdir_setup("/tmp/ts-auth-XXXXXX");
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_teardown();
}

static store *
open_store(void)
{
	store *s = NULL;
	assert_int_equal(store_open(dbpath, &s), 0);
	return s;
}

/* The slot the old in-memory throttle gave a device id (h*31+c mod 256). */
static unsigned
old_slot(const char *id)
{
	unsigned h = 0;
	for (const char *p = id; *p; p++)
		h = h * 31u + (unsigned char)*p;
	return h % 256;
}

static void
random_id(char out[65])
{
	uint8_t raw[32];
	assert_int_equal(ts_random(raw, sizeof(raw)), 0);
	assert_int_equal(ts_hex_encode(raw, sizeof(raw), out, 65), 0);
}

static int
attempt(store *s, const char *dev, int64_t uid, int64_t now, int *by_account)
{
	int64_t retry = 0;
	int rc = auth_throttle_begin(s, dev, uid, now, &retry, by_account);
	if (rc == TS_ELIMIT)
		assert_true(retry > 0 && retry <= NODE_PASS_WINDOW_S);
	return rc;
}

/* A device ground to share the victim's old slot, guessing between the
 * victim's guesses, does not give the victim's window a fresh start. */
static void
test_colliding_device_cannot_reset(void **state)
{
	(void)state;
	store *s = open_store();
	char a[65], b[65];
	random_id(a);
	do
		random_id(b);
	while (old_slot(b) != old_slot(a));
	int64_t now = 1700000000;
	int acct;
	int refused = 0, allowed = 0;
	for (int i = 0; i < 12; i++) {
		/* a's user is 1, b's user is 2: separate accounts */
		int rc = attempt(s, a, 1, now + i, &acct);
		if (rc == 0)
			allowed++;
		else {
			assert_int_equal(rc, TS_ELIMIT);
			assert_int_equal(acct, 0);
			refused++;
		}
		(void)attempt(s, b, 2, now + i, &acct);
	}
	assert_int_equal(allowed, NODE_PASS_MAX_FAILS);
	assert_int_equal(refused, 12 - NODE_PASS_MAX_FAILS);
	/* the window ends NODE_PASS_WINDOW_S after its first attempt, not later */
	assert_int_equal(attempt(s, a, 1, now + NODE_PASS_WINDOW_S - 1, &acct), TS_ELIMIT);
	assert_int_equal(attempt(s, a, 1, now + NODE_PASS_WINDOW_S, &acct), 0);
	store_close(s);
}

static void
test_survives_restart(void **state)
{
	(void)state;
	store *s = open_store();
	int64_t now = 1700000000;
	int acct;
	for (int i = 0; i < NODE_PASS_MAX_FAILS; i++)
		assert_int_equal(attempt(s, "dev-a", 1, now, &acct), 0);
	store_close(s);
	s = open_store(); /* the node restarted */
	assert_int_equal(attempt(s, "dev-a", 1, now + 1, &acct), TS_ELIMIT);
	store_close(s);
}

/* Several devices of one account together get NODE_PASS_MAX_FAILS_USER. */
static void
test_counts_per_account(void **state)
{
	(void)state;
	store *s = open_store();
	int64_t now = 1700000000;
	int acct = -1, n = 0;
	char dev[16];
	for (int d = 0; n < NODE_PASS_MAX_FAILS_USER; d++) {
		snprintf(dev, sizeof(dev), "dev-%d", d);
		for (int i = 0; i < NODE_PASS_MAX_FAILS && n < NODE_PASS_MAX_FAILS_USER; i++, n++)
			assert_int_equal(attempt(s, dev, 7, now, &acct), 0);
	}
	assert_int_equal(attempt(s, "dev-fresh", 7, now, &acct), TS_ELIMIT);
	assert_int_equal(acct, 1);
	/* another account is not affected */
	assert_int_equal(attempt(s, "dev-other", 8, now, &acct), 0);
	store_close(s);
}

/* A correct passphrase forgets its own device's window and gives back only
 * its own attempt to the account. */
static void
test_success(void **state)
{
	(void)state;
	store *s = open_store();
	int64_t now = 1700000000;
	int acct;
	for (int i = 0; i < NODE_PASS_MAX_FAILS - 1; i++)
		assert_int_equal(attempt(s, "dev-a", 1, now, &acct), 0);
	assert_int_equal(attempt(s, "dev-a", 1, now, &acct), 0); /* this one is right */
	auth_throttle_success(s, "dev-a", 1);
	for (int i = 0; i < NODE_PASS_MAX_FAILS; i++)
		assert_int_equal(attempt(s, "dev-a", 1, now, &acct), 0);
	assert_int_equal(attempt(s, "dev-a", 1, now, &acct), TS_ELIMIT);
	assert_int_equal(acct, 0);
	/* the account holds 4 + 5 wrong ones: one more device attempt, then full */
	assert_int_equal(attempt(s, "dev-b", 1, now, &acct), 0);
	assert_int_equal(attempt(s, "dev-b", 1, now, &acct), TS_ELIMIT);
	assert_int_equal(acct, 1);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_colliding_device_cannot_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_survives_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_per_account, setup, teardown),
		cmocka_unit_test_setup_teardown(test_success, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
