/*
 * Unit tests for the share service (src/node/share.c): each patent step
 * driven through its function on a real SQLite store in a temporary
 * directory, with exact codes, and what each step writes (state, events,
 * companion commands, outbox rows) read back from the store. Also the
 * transition table and the outbox backoff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/outbox.h"
#include "node/share.h"
#include "node/store.h"

#define EID "89049032123451234512345678901235"

static char dir[64];
static char dbpath[128];
static store *st;
static share_svc svc;
static int64_t alice, bob;
static unsigned kicks;

static void
fake_kick(void *arg, unsigned what)
{
	(void)arg;
	kicks |= what;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ts-share-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/node.db", dir);
	if (store_open(dbpath, &st) != 0)
		return -1;
	memset(&svc, 0, sizeof(svc));
	svc.address = "https://127.0.0.1:1";
	svc.ein_prefixes = "89049032";
	svc.kick = fake_kick;
	kicks = 0;
	store_provider p = { .name = "op", .url = "https://127.0.0.1:1", .ca_file = "/dev/null" };
	if (st->ops->user_add(st, "alice", "h", &alice) != 0 || st->ops->user_add(st, "bob", "h", &bob) != 0 ||
	    st->ops->provider_put(st, &p) != 0 || st->ops->device_add(st, "dev-a", alice, "phone a") != 0 ||
	    st->ops->device_add(st, "dev-b", bob, "phone b") != 0)
		return -1;
	store_app a = { .app_id = "sim-a", .user_id = alice, .name = "A", .kind = "sim", .provider = "op",
		.shareable = 1 };
	store_app b = { .app_id = "sim-b", .user_id = bob, .name = "B", .kind = "sim", .provider = "op",
		.shareable = 1 };
	store_app l = { .app_id = "locked", .user_id = alice, .name = "L", .kind = "sim", .provider = "op",
		.shareable = 0 };
	if (st->ops->app_put(st, &a) != 0 || st->ops->app_put(st, &b) != 0 || st->ops->app_put(st, &l) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_close(st);
	st = NULL;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t
count_events(int64_t user, const char *share, const char *type)
{
	store_event ev[64];
	size_t n = 0, c = 0;
	assert_int_equal(st->ops->events_after(st, user, share, 0, ev, 64, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(ev[i].type, type) == 0)
			c++;
	return c;
}

static size_t
count_cmds(const char *share, const char *type)
{
	store_cmd c[32];
	size_t n = 0, k = 0;
	assert_int_equal(st->ops->cmds_pending(st, EID, 0, c, 32, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].type, type) == 0 && (share == NULL || strcmp(c[i].share_id, share) == 0))
			k++;
	return k;
}

/* Outbox rows of a kind for a share (claims them: use once per check). */
static size_t
count_outbox(const char *share, const char *kind)
{
	store_outbox ob[32];
	size_t n = 0, k = 0;
	assert_int_equal(st->ops->outbox_claim(st, ts_now() + 100000, 1, ob, 32, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(ob[i].kind, kind) == 0 && strcmp(ob[i].share_id, share) == 0)
			k++;
	assert_int_equal(st->ops->outbox_reset_leases(st), 0);
	return k;
}

static enum share_state
state_of(const char *id)
{
	store_share sh;
	assert_int_equal(st->ops->share_get(st, id, &sh), 0);
	return sh.state;
}

/* S11/S12 for alice's sim-a on EID; returns the share id in id. */
static void
request(char id[STORE_ID_MAX])
{
	share_req r = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = "sim-a" };
	store_share sh;
	share_why why;
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), 0);
	snprintf(id, STORE_ID_MAX, "%s", sh.id);
}

static void
authorise(const char *id, int64_t not_after)
{
	share_grant g = { .assoc_app_id = "sim-a2", .assoc_name = "A2", .assoc_kind = "sim",
		.not_after = not_after, .credential_json = "{\"iccid\":\"1\"}" };
	assert_int_equal(share_authorise(&svc, st, id, &g), 0);
}

static void
deliver(const char *id)
{
	store_tx tx;
	memset(&tx, 0, sizeof(tx));
	snprintf(tx.id, sizeof(tx.id), "%.32s", id);
	snprintf(tx.share_id, sizeof(tx.share_id), "%s", id);
	snprintf(tx.eid, sizeof(tx.eid), EID);
	tx.stage = 3;
	tx.created_at = ts_now();
	assert_int_equal(share_deliver(&svc, st, id, &tx), 0);
}

static void
test_transition_table(void **state)
{
	(void)state;
	assert_string_equal(share_state_name(SHARE_CANCEL_PENDING), "cancel_pending");
	for (int i = 0; i < SHARE_NSTATES; i++)
		assert_int_equal(share_state_parse(share_state_name((enum share_state)i)), i);
	assert_int_equal(share_state_parse("nope"), SHARE_NSTATES);
	assert_true(share_state_may(SHARE_REQUESTED, SHARE_EID_CONFIRMED));
	assert_false(share_state_may(SHARE_REQUESTED, SHARE_AUTHORISED));
	assert_false(share_state_may(SHARE_EID_CONFIRMED, SHARE_INSTALLED));
	assert_false(share_state_may(SHARE_REVOKED, SHARE_INSTALLED));
	assert_true(share_state_final(SHARE_REVOKED));
	assert_true(share_state_final(SHARE_DENIED));
	assert_false(share_state_final(SHARE_CANCEL_PENDING));
	char buf[128];
	assert_int_equal(share_state_sql_from(SHARE_EXPIRED, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "'authorised','delivered','installed'");
	assert_int_equal(share_state_sql_from(SHARE_EXPIRED, buf, 8), TS_ELIMIT);
	assert_string_equal(store_sql_expirable(), "'authorised','delivered','installed'");
}

static void
test_backoff(void **state)
{
	(void)state;
	static const int64_t want[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60 };
	for (int i = 0; i < (int)TS_ARRAY_LEN(want); i++)
		assert_int_equal(outbox_backoff_s(i + 1), want[i]);
	/* no step more than doubles */
	for (int i = 2; i < 40; i++)
		assert_true(outbox_backoff_s(i) <= 2 * outbox_backoff_s(i - 1));
}

static void
test_share_flow(void **state)
{
	(void)state;
	char id[STORE_ID_MAX];
	request(id);
	assert_int_equal(state_of(id), SHARE_EID_CONFIRMED);
	assert_int_equal(count_events(alice, id, "share.eid_confirmed"), 1);
	assert_int_equal(count_outbox(id, OUTBOX_CONFIRM_ORDER), 1);
	assert_true(kicks & SHARE_KICK_OUTBOX);

	/* only an eid_confirmed share can be authorised, once */
	assert_int_equal(share_installed(&svc, st, id, NULL), TS_ESTATE);
	authorise(id, 0);
	share_grant g2 = { .assoc_app_id = "x", .assoc_name = "x", .assoc_kind = "sim", .credential_json = "{}" };
	assert_int_equal(share_authorise(&svc, st, id, &g2), TS_ESTATE);
	store_share sh;
	assert_int_equal(st->ops->share_get(st, id, &sh), 0);
	assert_int_equal(sh.state, SHARE_AUTHORISED);
	assert_string_equal(sh.assoc_app_id, "sim-a2");
	assert_int_equal(strlen(sh.matching_id), 32);
	assert_int_equal(count_cmds(id, CMD_DOWNLOAD), 1);
	char *cred = NULL;
	assert_int_equal(share_credential(st, id, &cred), 0);
	assert_string_equal(cred, "{\"iccid\":\"1\"}");
	free(cred);

	deliver(id);
	deliver(id); /* a retried download: nothing new */
	assert_int_equal(count_events(alice, id, "share.delivered"), 1);
	assert_int_equal(share_installed(&svc, st, id, NULL), 0);
	assert_int_equal(share_installed(&svc, st, id, NULL), 0); /* repeated notification */
	assert_int_equal(count_events(alice, id, "share.installed"), 1);
	assert_int_equal(count_cmds(id, CMD_DOWNLOAD), 0);

	/* cancel: grant revoked at once, delete pushed, provider told */
	share_why why;
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &why), 0);
	assert_int_equal(sh.state, SHARE_CANCEL_PENDING);
	assert_int_equal(state_of(id), SHARE_CANCEL_PENDING);
	assert_int_equal(count_cmds(id, CMD_DELETE), 1);
	assert_int_equal(count_outbox(id, OUTBOX_CANCEL_ORDER), 1);
	/* the SE's delete notification settles it */
	assert_int_equal(share_deleted(&svc, st, id), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	assert_int_equal(count_cmds(id, CMD_DELETE), 0);
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &why), TS_ESTATE);
	assert_string_equal(why.code, "not_cancellable");
	assert_int_equal(share_deleted(&svc, st, id), TS_ESTATE);
}

static void
test_cancel_before_delivery(void **state)
{
	(void)state;
	char id[STORE_ID_MAX];
	request(id);
	authorise(id, 0);
	store_share sh;
	share_why why;
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &why), 0);
	assert_int_equal(sh.state, SHARE_REVOKED);
	assert_int_equal(count_cmds(id, CMD_DOWNLOAD), 0);
	assert_int_equal(count_cmds(id, CMD_DELETE), 0);
	assert_int_equal(count_outbox(id, OUTBOX_CANCEL_ORDER), 1);
}

static void
test_expiry(void **state)
{
	(void)state;
	char id[STORE_ID_MAX];
	request(id);
	authorise(id, ts_now() + 1000);
	deliver(id);
	assert_int_equal(share_installed(&svc, st, id, NULL), 0);
	size_t n = 9;
	assert_int_equal(share_expire_due(&svc, st, ts_now(), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(share_expire_due(&svc, st, ts_now() + 1000, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(state_of(id), SHARE_EXPIRED);
	assert_int_equal(count_cmds(id, CMD_DELETE), 1);
	assert_int_equal(count_events(alice, id, "share.expired"), 1);
	assert_int_equal(count_outbox(id, OUTBOX_CANCEL_ORDER), 1);
	assert_int_equal(share_deleted(&svc, st, id), 0);
	assert_int_equal(state_of(id), SHARE_EXPIRED);
	assert_int_equal(count_cmds(id, CMD_DELETE), 0);
}

static void
test_denied(void **state)
{
	(void)state;
	char id[STORE_ID_MAX];
	request(id);
	assert_int_equal(share_deny(&svc, st, id, "no"), 0);
	share_grant g = { .assoc_app_id = "x", .assoc_name = "x", .assoc_kind = "sim", .credential_json = "{}" };
	assert_int_equal(share_authorise(&svc, st, id, &g), TS_ESTATE);
	assert_int_equal(count_events(alice, id, "share.denied"), 1);
	assert_int_equal(count_outbox(id, OUTBOX_CANCEL_ORDER), 0);
}

int
main(void)
{
	ts_log_init("test_share", TS_LOG_WARN);
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_transition_table),
		cmocka_unit_test(test_backoff),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_share_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_before_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denied, setup, teardown),
	};
	int failed = cmocka_run_group_tests_name("share_state", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("share_service", tests, NULL, NULL);
	return failed;
}
