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
#include "node/node.h"
#include "node/outbox.h"
#include "node/share.h"
#include "node/store.h"

#define EID "89049032123451234512345678901235"

#include "../tmpdir_fixture.h"

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
	if (tmpdir_setup("/tmp/ts-share-XXXXXX") != 0)
		return -1;
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
	return tmpdir_teardown();
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
	/* SQLite's partial indexes (migration 12) state these very terms */
	char big[300];
	assert_int_equal(share_state_sql_from_or(SHARE_EXPIRED, big, sizeof(big)), 0);
	assert_string_equal(big, "(state='authorised' OR state='delivered' OR state='installed')");
	assert_string_equal(store_sql_expirable_or(), big);
	assert_int_equal(share_state_sql_from_or(SHARE_EXPIRED, big, 20), TS_ELIMIT);
	assert_int_equal(share_state_sql_final_and(big, sizeof(big)), 0);
	assert_string_equal(big, "state<>'requested' AND state<>'eid_confirmed' AND state<>'authorised'"
				 " AND state<>'delivered' AND state<>'installed' AND state<>'cancel_pending'");
	assert_string_equal(store_sql_final_and(), big);
	assert_int_equal(share_state_sql_final_and(big, 30), TS_ELIMIT);
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
	/* a package fetched after the cancel is not recorded as delivered */
	store_tx tx;
	memset(&tx, 0, sizeof(tx));
	snprintf(tx.id, sizeof(tx.id), "%.32s", id);
	snprintf(tx.share_id, sizeof(tx.share_id), "%s", id);
	snprintf(tx.eid, sizeof(tx.eid), EID);
	tx.stage = 3;
	assert_int_equal(share_deliver(&svc, st, id, &tx), TS_ESTATE);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	store_tx got;
	assert_int_equal(st->ops->tx_get(st, tx.id, &got), TS_ENOTFOUND);
}

/* The SM-DS (ES11) events of EID: event ids into ids (at most 4). */
static size_t
smds_events(char ids[4][STORE_ID_MAX])
{
	size_t n = 99;
	assert_int_equal(st->ops->smds_events(st, EID, ids, 4, &n), 0);
	return n;
}

static void
test_smds_event_lifecycle(void **state)
{
	(void)state;
	char a[STORE_ID_MAX], b[STORE_ID_MAX], c[STORE_ID_MAX], ids[4][STORE_ID_MAX];
	store_share sh;
	share_why why;
	/* requested / eid_confirmed: nothing to discover yet */
	request(a);
	assert_int_equal(smds_events(ids), 0);
	/* S13: registered, eventId = the share's matchingId */
	authorise(a, 0);
	assert_int_equal(st->ops->share_get(st, a, &sh), 0);
	assert_int_equal(smds_events(ids), 1);
	assert_string_equal(ids[0], sh.matching_id);
	/* a second share for the same EID: two events, oldest first */
	request(b);
	authorise(b, 0);
	store_share shb;
	assert_int_equal(st->ops->share_get(st, b, &shb), 0);
	assert_int_equal(smds_events(ids), 2);
	assert_string_equal(ids[0], sh.matching_id);
	assert_string_equal(ids[1], shb.matching_id);
	/* download delivered: a's event is gone, b's stays */
	deliver(a);
	assert_int_equal(smds_events(ids), 1);
	assert_string_equal(ids[0], shb.matching_id);
	/* the share ends before its download (cancel): gone */
	assert_int_equal(share_cancel(&svc, st, alice, b, NULL, &sh, &why), 0);
	assert_int_equal(smds_events(ids), 0);
	/* the share fails after the grant: gone */
	request(c);
	authorise(c, 0);
	assert_int_equal(smds_events(ids), 1);
	assert_int_equal(share_fail(&svc, st, c, "test", 1), 0);
	assert_int_equal(smds_events(ids), 0);
	/* another EID sees none of them; registering twice keeps one row */
	size_t n = 9;
	assert_int_equal(st->ops->smds_event_put(st, "x-share", EID, "ev-1", 1), 0);
	assert_int_equal(st->ops->smds_event_put(st, "x-share", EID, "ev-1", 2), 0);
	assert_int_equal(smds_events(ids), 1);
	assert_int_equal(st->ops->smds_events(st, "89049032000000000000000000000000", ids, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(st->ops->smds_event_del(st, "x-share"), 0);
	assert_int_equal(st->ops->smds_event_del(st, "x-share"), 0);
	assert_int_equal(smds_events(ids), 0);
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

/* ---- ownership, idempotency, move ---------------------------------------- */

static void
test_other_users_device(void **state)
{
	(void)state;
	char id[STORE_ID_MAX];
	request(id);
	authorise(id, 0);
	deliver(id);
	assert_int_equal(share_installed(&svc, st, id, NULL), 0);
	store_share sh;
	share_why why;
	/* GET */
	assert_int_equal(share_get_owned(st, bob, id, &sh), TS_ENOTFOUND);
	assert_int_equal(share_get_owned(st, alice, id, &sh), 0);
	/* cancel */
	memset(&why, 0, sizeof(why));
	assert_int_equal(share_cancel(&svc, st, bob, id, NULL, &sh, &why), TS_ENOTFOUND);
	assert_string_equal(why.code, "unknown_share");
	assert_int_equal(state_of(id), SHARE_INSTALLED);
	assert_int_equal(count_cmds(id, CMD_DELETE), 0);
	/* release (move) of alice's app by bob, with alice's share */
	assert_int_equal(share_release(&svc, st, bob, "sim-a", id, NULL, &why), TS_ENOTFOUND);
	store_app app;
	assert_int_equal(st->ops->app_get(st, "sim-a", &app), 0);
	assert_string_equal(app.released_share, "");
	/* bob's own app with alice's share */
	assert_int_equal(share_release(&svc, st, bob, "sim-b", id, NULL, &why), TS_ENOTFOUND);
	/* sharing another user's app, a locked one, an unknown one */
	share_req r = { .user_id = bob, .device_id = "dev-b", .eid = EID, .app_id = "sim-a" };
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_EAUTH);
	assert_string_equal(why.code, "app_not_owned");
	r.user_id = alice;
	r.app_id = "locked";
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_EDENIED);
	assert_string_equal(why.code, "not_shareable");
	r.app_id = "nope";
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_ENOTFOUND);
	json_t *all = NULL;
	assert_int_equal(st->ops->shares_json(st, -1, &all), 0);
	assert_int_equal(json_array_size(all), 1);
	json_decref(all);
}

static void
test_eid_checks(void **state)
{
	(void)state;
	share_req r = { .user_id = alice, .device_id = "dev-a", .app_id = "sim-a" };
	store_share sh;
	share_why why;
	r.eid = "89049032123451234512345678901234";
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_EEIDCHK);
	assert_string_equal(why.code, "eid_check_digits");
	assert_non_null(strstr(why.msg, "should be 35"));
	r.eid = "8904903212345123451234567890123";
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_EEIDFMT);
	r.eid = "89001012012341234012345678901224"; /* valid, no trusted EUM */
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_EDENIED);
	assert_string_equal(why.code, "unknown_manufacturer");
	r.eid = EID;
	r.duration_s = -1;
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_EINVAL);
	r.duration_s = SHARE_MAX_DURATION_S + 1;
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_EINVAL);
	r.duration_s = 0;
	r.operation = "steal";
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_EINVAL);
	json_t *all = NULL;
	assert_int_equal(st->ops->shares_json(st, -1, &all), 0);
	assert_int_equal(json_array_size(all), 0); /* refusals leave no row */
	json_decref(all);
}

static void
test_idempotent_replays(void **state)
{
	(void)state;
	share_req r = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = "sim-a" };
	share_idem idem = { .device_id = "dev-a", .key = "k1", .req_hash = "h1", .status = 201 };
	store_share sh, again;
	share_why why;
	assert_int_equal(share_request(&svc, st, &r, &idem, &sh, &why), 0);
	assert_int_equal(idem.replayed, 0);
	char *first = idem.response;
	share_idem idem2 = { .device_id = "dev-a", .key = "k1", .req_hash = "h1", .status = 201 };
	assert_int_equal(share_request(&svc, st, &r, &idem2, &again, &why), 0);
	assert_int_equal(idem2.replayed, 1);
	assert_int_equal(idem2.status, 201);
	assert_string_equal(idem2.response, first);
	free(idem2.response);
	free(first);
	share_idem other = { .device_id = "dev-a", .key = "k1", .req_hash = "h2", .status = 201 };
	assert_int_equal(share_request(&svc, st, &r, &other, &again, &why), TS_ECONFLICT);
	assert_string_equal(why.code, "idempotency_conflict");
	json_t *all = NULL;
	assert_int_equal(st->ops->shares_json(st, -1, &all), 0);
	assert_int_equal(json_array_size(all), 1);
	json_decref(all);

	/* cancel replayed with its key: the first answer, one cancelOrder */
	authorise(sh.id, 0);
	deliver(sh.id);
	assert_int_equal(share_installed(&svc, st, sh.id, NULL), 0);
	share_idem c1 = { .device_id = "dev-a", .key = "c1", .req_hash = "hc", .status = 202 };
	assert_int_equal(share_cancel(&svc, st, alice, sh.id, &c1, &again, &why), 0);
	assert_int_equal(again.state, SHARE_CANCEL_PENDING);
	share_idem c2 = { .device_id = "dev-a", .key = "c1", .req_hash = "hc", .status = 202 };
	assert_int_equal(share_cancel(&svc, st, alice, sh.id, &c2, &again, &why), 0);
	assert_int_equal(c2.replayed, 1);
	assert_int_equal(c2.status, 202);
	assert_string_equal(c2.response, c1.response);
	assert_non_null(strstr(c2.response, "\"cancel_pending\""));
	free(c1.response);
	free(c2.response);
	assert_int_equal(count_outbox(sh.id, OUTBOX_CANCEL_ORDER), 1);
	assert_int_equal(count_cmds(sh.id, CMD_DELETE), 1);
	/* a new key is a new request: not cancellable any more */
	share_idem c3 = { .device_id = "dev-a", .key = "c3", .req_hash = "hc", .status = 202 };
	assert_int_equal(share_cancel(&svc, st, alice, sh.id, &c3, &again, &why), TS_ESTATE);
	assert_string_equal(why.code, "not_cancellable");
}

static void
test_release_only_after_install(void **state)
{
	(void)state;
	char id[STORE_ID_MAX];
	share_why why;
	request(id);
	assert_int_equal(share_release(&svc, st, alice, "sim-a", id, NULL, &why), TS_ESTATE);
	assert_string_equal(why.code, "move_incomplete");
	authorise(id, 0);
	assert_int_equal(share_release(&svc, st, alice, "sim-a", id, NULL, &why), TS_ESTATE);
	deliver(id);
	assert_int_equal(share_release(&svc, st, alice, "sim-a", id, NULL, &why), TS_ESTATE);
	store_app app;
	assert_int_equal(st->ops->app_get(st, "sim-a", &app), 0);
	assert_string_equal(app.released_share, "");
	assert_int_equal(count_outbox(id, OUTBOX_RELEASE_ORIGINAL), 0);
	assert_int_equal(share_installed(&svc, st, id, NULL), 0);
	share_idem idem = { .device_id = "dev-a", .key = "r1", .req_hash = "hr", .status = 200 };
	assert_int_equal(share_release(&svc, st, alice, "sim-a", id, &idem, &why), 0);
	free(idem.response);
	assert_int_equal(st->ops->app_get(st, "sim-a", &app), 0);
	assert_string_equal(app.released_share, id);
	assert_int_equal(count_outbox(id, OUTBOX_RELEASE_ORIGINAL), 1);
	assert_int_equal(share_release(&svc, st, alice, "sim-a", id, NULL, &why), TS_EEXIST);
	assert_string_equal(why.code, "app_moved");
	/* a moved app cannot be shared again */
	share_req r = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = "sim-a" };
	store_share sh;
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), TS_ESTATE);
	assert_string_equal(why.code, "app_moved");
}

/* ---- the outbox against a fake provider ----------------------------------- */

#define MAX_CALLS 16
static struct {
	int n;
	char function[MAX_CALLS][32];
	char call_id[MAX_CALLS][65];
	char share_id[MAX_CALLS][65];
	char user[MAX_CALLS][32], name[MAX_CALLS][32]; /* confirmOrder's userId and name */
	char body[MAX_CALLS][1024];                     /* the body's text as sent */
	int script[MAX_CALLS]; /* per call: 0 success, 1 5xx/unreachable, 2 refusal, 3 bad answer, 4 cancel first */
} prov;

static int
fake_call(void *arg, const store_provider *p, const char *function, const char *text, json_t **resp,
    char *reason, size_t rcap)
{
	(void)arg;
	(void)p;
	int i = prov.n++;
	assert_true(i < MAX_CALLS);
	snprintf(prov.function[i], sizeof(prov.function[i]), "%s", function);
	/* read by jansson, not by the node's reader */
	assert_non_null(text);
	assert_true(strlen(text) < sizeof(prov.body[i]));
	snprintf(prov.body[i], sizeof(prov.body[i]), "%s", text);
	json_t *body = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(body);
	json_t *h = json_object_get(body, "header");
	snprintf(prov.call_id[i], sizeof(prov.call_id[i]), "%s",
	    json_string_value(json_object_get(h, "functionCallIdentifier")));
	snprintf(prov.share_id[i], sizeof(prov.share_id[i]), "%s", json_string_value(json_object_get(body, "shareId")));
	const char *u = json_string_value(json_object_get(body, "userId"));
	const char *nm = json_string_value(json_object_get(body, "name"));
	snprintf(prov.user[i], sizeof(prov.user[i]), "%s", u ? u : "");
	snprintf(prov.name[i], sizeof(prov.name[i]), "%s", nm ? nm : "");
	json_decref(body);
	int what = prov.script[i];
	if (what == 1)
		return outbox_classify(0, NULL, "op", 503, NULL, resp, reason, rcap);
	if (what == 2)
		return outbox_classify(0, NULL, "op", 200, json_pack("{s:{s:{s:s,s:{s:s,s:s,s:s}}}}", "header",
		    "functionExecutionStatus", "status", "Failed", "statusCodeData", "subjectCode", "8.1", "reasonCode",
		    "3.8", "message", "not allowed"), resp, reason, rcap);
	if (what == 4) {
		/* the user cancels while the provider decides (F2) */
		store_share sh;
		share_why why;
		assert_int_equal(share_cancel(&svc, st, alice, prov.share_id[i], NULL, &sh, &why), 0);
	}
	json_t *ok = json_pack("{s:{s:{s:s}}}", "header", "functionExecutionStatus", "status", "Executed-Success");
	if (strcmp(function, "confirmOrder") == 0 && what != 3) {
		json_object_set_new(ok, "associatedAppId", json_string("sim-a-watch"));
		json_object_set_new(ok, "kind", json_string("sim"));
		json_object_set_new(ok, "credential", json_pack("{s:s}", "iccid", "8944"));
	}
	return outbox_classify(0, NULL, "op", 200, ok, resp, reason, rcap);
}

static node nd;

static size_t
run_outbox(int64_t now)
{
	nd.svc = svc;
	size_t n = 0;
	assert_int_equal(outbox_run_due(&nd, st, fake_call, NULL, now, &n), 0);
	return n;
}

static void
test_provider_classification(void **state)
{
	(void)state;
	json_t *resp = NULL;
	char reason[256];
	/* unreachable and 5xx are retried, never denials */
	assert_int_equal(outbox_classify(TS_ENET, "connection refused", "op", 0, NULL, &resp, reason, sizeof(reason)),
	    TS_ENET);
	assert_non_null(strstr(reason, "unreachable"));
	assert_int_equal(outbox_classify(TS_ETIMEOUT, "", "op", 0, NULL, &resp, reason, sizeof(reason)), TS_ENET);
	assert_int_equal(outbox_classify(0, NULL, "op", 500, json_object(), &resp, reason, sizeof(reason)), TS_ENET);
	assert_int_equal(outbox_classify(0, NULL, "op", 503, NULL, &resp, reason, sizeof(reason)), TS_ENET);
	/* a proxy's 404 page or a 200 that is not an ES2+ answer is retried */
	assert_int_equal(outbox_classify(0, NULL, "op", 404, NULL, &resp, reason, sizeof(reason)), TS_ENET);
	assert_int_equal(outbox_classify(0, NULL, "op", 200, json_object(), &resp, reason, sizeof(reason)), TS_ENET);
	/* a refusal in a well-formed answer is final */
	json_t *no = json_pack("{s:{s:{s:s}}}", "header", "functionExecutionStatus", "status", "Failed");
	assert_int_equal(outbox_classify(0, NULL, "op", 200, no, &resp, reason, sizeof(reason)), TS_EDENIED);
	json_t *ok = json_pack("{s:{s:{s:s}}}", "header", "functionExecutionStatus", "status", "Executed-Success");
	assert_int_equal(outbox_classify(0, NULL, "op", 200, ok, &resp, reason, sizeof(reason)), 0);
	assert_ptr_equal(resp, ok);
	json_decref(resp);
}

static void
test_provider_retries_keep_their_identifier(void **state)
{
	(void)state;
	memset(&prov, 0, sizeof(prov));
	prov.script[0] = 1;
	prov.script[1] = 1;
	prov.script[2] = 0;
	char id[STORE_ID_MAX];
	request(id);
	int64_t t0 = ts_now();
	assert_int_equal(run_outbox(t0), 1);
	/* not denied, not failed: waiting to retry after the first backoff */
	assert_int_equal(state_of(id), SHARE_EID_CONFIRMED);
	int64_t due = -1;
	assert_int_equal(st->ops->outbox_next_due(st, t0, &due), 0);
	assert_int_equal(due, outbox_backoff_s(1));
	assert_int_equal(run_outbox(t0), 0);
	assert_int_equal(run_outbox(t0 + 1), 1);
	assert_int_equal(st->ops->outbox_next_due(st, t0 + 1, &due), 0);
	assert_int_equal(due, outbox_backoff_s(2));
	assert_int_equal(run_outbox(t0 + 3), 1);
	assert_int_equal(prov.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(prov.function[i], "confirmOrder");
		assert_string_equal(prov.call_id[i], prov.call_id[0]);
	}
	assert_int_equal(strlen(prov.call_id[0]), 32);
	assert_int_equal(state_of(id), SHARE_AUTHORISED);
	/* a refusal is final: denied at once */
	memset(&prov, 0, sizeof(prov));
	prov.script[0] = 2;
	request(id);
	assert_int_equal(run_outbox(t0 + 10), 1);
	assert_int_equal(state_of(id), SHARE_DENIED);
}

static void
test_provider_recovery_wakes_waiting_rows(void **state)
{
	(void)state;
	memset(&prov, 0, sizeof(prov));
	prov.script[0] = 1; /* share 1: provider down */
	char a[STORE_ID_MAX], b[STORE_ID_MAX];
	request(a);
	int64_t t0 = ts_now();
	for (int i = 1; i < 5; i++) { /* four failures: 8 s to wait */
		prov.script[i] = 1;
		assert_int_equal(run_outbox(t0 + 100 * i), 1);
	}
	assert_int_equal(prov.n, 4);
	int64_t due = -1;
	assert_int_equal(st->ops->outbox_next_due(st, t0 + 400, &due), 0);
	assert_int_equal(due, outbox_backoff_s(4));
	/* a new share's call succeeds: the provider is back */
	request(b);
	prov.script[4] = 0;
	prov.script[5] = 0;
	assert_int_equal(run_outbox(t0 + 400), 1);
	assert_int_equal(state_of(b), SHARE_AUTHORISED);
	assert_int_equal(run_outbox(t0 + 400), 1); /* share 1 without waiting out its 8 s */
	assert_int_equal(state_of(a), SHARE_AUTHORISED);
}

static void
test_no_confirm_order_after_cancel(void **state)
{
	(void)state;
	memset(&prov, 0, sizeof(prov));
	char id[STORE_ID_MAX];
	request(id);
	store_share sh;
	share_why why;
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &why), 0);
	assert_int_equal(sh.state, SHARE_REVOKED);
	assert_int_equal(run_outbox(ts_now()), 1);
	assert_int_equal(prov.n, 0); /* neither confirmOrder nor cancelOrder: nothing was asked */
	assert_int_equal(state_of(id), SHARE_REVOKED);
}

/* The transition that applies a provider's answer closes the outbox row in
 * its own transaction (share_outbox_arm): right after share_authorise /
 * share_deny committed (their crash points), before outbox.c could write
 * anything more, the row is no longer pending. */
static int64_t pending_at_point = -1;

static void
pending_at(void *arg, const char *point)
{
	(void)arg;
	if (strcmp(point, "share_authorise") == 0 || strcmp(point, "share_deny") == 0) {
		int64_t retrying = -1;
		assert_int_equal(st->ops->outbox_depth(st, &pending_at_point, &retrying), 0);
	}
}

static void
test_transition_closes_its_outbox_row(void **state)
{
	(void)state;
	memset(&prov, 0, sizeof(prov));
	svc.crash = pending_at;
	char id[STORE_ID_MAX];
	prov.script[0] = 2; /* a refusal */
	request(id);
	pending_at_point = -1;
	assert_int_equal(run_outbox(ts_now()), 1);
	assert_int_equal(state_of(id), SHARE_DENIED);
	assert_int_equal(pending_at_point, 0);
	request(id);
	pending_at_point = -1;
	assert_int_equal(run_outbox(ts_now()), 1);
	assert_int_equal(state_of(id), SHARE_AUTHORISED);
	assert_int_equal(pending_at_point, 0);
	assert_int_equal(run_outbox(ts_now() + 1000), 0); /* nothing left to claim */
	assert_int_equal(prov.n, 2);
	svc.crash = NULL;
}

/* F2: a grant the node no longer wants is cancelled at the provider. */
static void
test_late_grant_is_cancelled(void **state)
{
	(void)state;
	memset(&prov, 0, sizeof(prov));
	prov.script[0] = 4; /* cancelled while confirmOrder is in flight */
	char id[STORE_ID_MAX];
	request(id);
	int64_t t0 = ts_now();
	assert_int_equal(run_outbox(t0), 1);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	assert_int_equal(count_cmds(id, CMD_DOWNLOAD), 0);
	assert_int_equal(run_outbox(t0), 1);
	assert_int_equal(prov.n, 2);
	assert_string_equal(prov.function[1], "cancelOrder");
	assert_string_equal(prov.share_id[1], id);
	assert_string_not_equal(prov.call_id[1], prov.call_id[0]);

	/* an answer the node cannot use: failed, and the grant cancelled */
	memset(&prov, 0, sizeof(prov));
	prov.script[0] = 3;
	request(id);
	assert_int_equal(run_outbox(t0), 1);
	assert_int_equal(state_of(id), SHARE_FAILED);
	assert_int_equal(run_outbox(t0), 1);
	assert_int_equal(prov.n, 2);
	assert_string_equal(prov.function[1], "cancelOrder");
}

static void
test_give_up_after_max_attempts(void **state)
{
	(void)state;
	memset(&prov, 0, sizeof(prov));
	for (int i = 0; i < MAX_CALLS; i++)
		prov.script[i] = 1;
	char id[STORE_ID_MAX];
	request(id);
	int64_t t = ts_now();
	for (int i = 0; i < NODE_OUTBOX_MAX_ATTEMPTS; i++, t += 100)
		assert_int_equal(run_outbox(t), 1);
	assert_int_equal(state_of(id), SHARE_FAILED);
	/* the provider is told to drop whatever one of the lost answers granted */
	for (int i = 0; i < MAX_CALLS; i++)
		prov.script[i] = 0;
	assert_int_equal(run_outbox(t), 1);
	assert_string_equal(prov.function[prov.n - 1], "cancelOrder");
}

/* ---- the outbox on a store that gives no answer --------------------------- */

/* One outbox run at now with the store reads in `busy` ("op[,op]") timing
 * out, as when another connection holds the database (store.c's fault
 * hook); returns the rows processed. */
static size_t
run_outbox_busy(int64_t now, const char *busy)
{
	const struct store_ops *real = st->ops;
	assert_int_equal(store_fault_busy(st, busy), 0);
	nd.svc = svc;
	size_t n = 0;
	int rc = outbox_run_due(&nd, st, fake_call, NULL, now, &n);
	st->ops = real;
	assert_int_equal(rc, 0);
	return n;
}

/* Seconds until the next outbox row is due at now (-1: none). */
static int64_t
next_due(int64_t now)
{
	int64_t due = -1;
	assert_int_equal(st->ops->outbox_next_due(st, now, &due), 0);
	return due;
}

/* A read that gets no answer is no verdict: the row waits out a backoff and is
 * tried again; it is never done as if the share were gone, the share never
 * fails as if the provider were not configured, and the provider is never
 * asked with what a busy read left empty. */

/* The ES2+ bodies the outbox writes (ts_jw, jansson when a value is not
 * plain ASCII) are byte for byte the json_pack trees they were, dumped by
 * json_dumps: confirmOrder with a plain and with a UTF-8 app name (with a
 * quote and a newline), cancelOrder. */
static void
test_outbox_bodies(void **state)
{
	(void)state;
	memset(&prov, 0, sizeof(prov));
	store_app u = { .app_id = "sim-u", .user_id = alice, .name = "Zo\xc3\xab \"q\"\n", .kind = "sim",
		.provider = "op", .shareable = 1 };
	assert_int_equal(st->ops->app_put(st, &u), 0);
	static const char *const apps[] = { "sim-a", "sim-u" };
	static const char *const names[] = { "A", "Zo\xc3\xab \"q\"\n" };
	for (int k = 0; k < 2; k++) {
		share_req r = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = apps[k], .duration_s = 3600 };
		store_share sh;
		share_why why;
		assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), 0);
		int i = prov.n;
		assert_int_equal(run_outbox(ts_now()), 1);
		assert_int_equal(prov.n, i + 1);
		assert_string_equal(prov.function[i], "confirmOrder");
		json_t *want = json_pack("{s:{s:s,s:s},s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s}", "header",
		    "functionRequesterIdentifier", "tapshare-node", "functionCallIdentifier", prov.call_id[i], "eid", EID,
		    "appId", apps[k], "userId", "alice", "shareId", sh.id, "requestedDurationS", (json_int_t)3600, "kind",
		    "sim", "name", names[k], "operationType", "subscribe");
		char *t = json_dumps(want, JSON_COMPACT);
		assert_string_equal(prov.body[i], t);
		free(t);
		json_decref(want);
		assert_int_equal(share_cancel(&svc, st, alice, sh.id, NULL, &sh, &why), 0);
		assert_int_equal(run_outbox(ts_now()), 1);
		assert_int_equal(prov.n, i + 2);
		assert_string_equal(prov.function[i + 1], "cancelOrder");
		want = json_pack("{s:{s:s,s:s},s:s,s:s,s:s,s:s}", "header", "functionRequesterIdentifier", "tapshare-node",
		    "functionCallIdentifier", prov.call_id[i + 1], "eid", EID, "associatedAppId", "sim-a-watch", "shareId",
		    sh.id, "finalProfileStatusIndicator", "Unavailable");
		t = json_dumps(want, JSON_COMPACT);
		assert_string_equal(prov.body[i + 1], t);
		free(t);
		json_decref(want);
	}
}

static void
test_outbox_busy_reads_are_retried(void **state)
{
	(void)state;
	memset(&prov, 0, sizeof(prov));
	char id[STORE_ID_MAX];
	request(id);
	int64_t t = ts_now();
	static const char *const confirm_reads[] = { "share_get", "provider_get", "app_get", "user_get" };
	for (size_t i = 0; i < TS_ARRAY_LEN(confirm_reads); i++) {
		assert_int_equal(run_outbox_busy(t, confirm_reads[i]), 1);
		assert_int_equal(prov.n, 0);                      /* nothing asked */
		assert_int_equal(state_of(id), SHARE_EID_CONFIRMED); /* not failed, not denied */
		assert_int_equal(next_due(t), outbox_backoff_s((int)i + 1)); /* retried, not done */
		t += outbox_backoff_s((int)i + 1);
	}
	/* the store answers again: the same row asks the provider, with the app's kind and name */
	assert_int_equal(run_outbox(t), 1);
	assert_int_equal(prov.n, 1);
	assert_string_equal(prov.function[0], "confirmOrder");
	assert_string_equal(prov.user[0], "alice");
	assert_string_equal(prov.name[0], "A"); /* the app's name, not the id a missing app leaves */
	assert_int_equal(state_of(id), SHARE_AUTHORISED);

	/* cancelOrder: the provider is still told after a busy read */
	store_share sh;
	share_why why;
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &why), 0);
	static const char *const cancel_reads[] = { "share_get", "provider_get" };
	for (size_t i = 0; i < TS_ARRAY_LEN(cancel_reads); i++) {
		assert_int_equal(run_outbox_busy(t, cancel_reads[i]), 1);
		assert_int_equal(prov.n, 1);
		assert_int_equal(next_due(t), outbox_backoff_s((int)i + 1));
		t += outbox_backoff_s((int)i + 1);
	}
	assert_int_equal(run_outbox(t), 1);
	assert_int_equal(prov.n, 2);
	assert_string_equal(prov.function[1], "cancelOrder");
	assert_string_equal(prov.share_id[1], id);
	assert_int_equal(next_due(t), -1); /* done */
}

/* ---- store waits ------------------------------------------------------------ */

static void
test_busy_store_fails_fast(void **state)
{
	(void)state;
	store *loop = NULL, *other = NULL;
	store_opts lo = { .wait_ms = STORE_WAIT_LOOP_MS };
	assert_int_equal(store_open_opts(dbpath, &lo, &loop), 0);
	assert_int_equal(store_open(dbpath, &other), 0);
	assert_int_equal(other->ops->begin(other), 0); /* another connection holds the write lock */
	share_req r = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = "sim-a" };
	store_share sh;
	share_why why;
	int64_t t0 = ts_mono_ms();
	int rc = share_request(&svc, loop, &r, NULL, &sh, &why);
	int64_t took = ts_mono_ms() - t0;
	assert_int_equal(rc, TS_ETIMEOUT);
	assert_string_equal(why.code, "store_busy");
	assert_true(took >= STORE_WAIT_LOOP_MS - 50);
	assert_true(took < 2 * STORE_WAIT_LOOP_MS + 500);
	other->ops->rollback(other);
	assert_int_equal(share_request(&svc, loop, &r, NULL, &sh, &why), 0);
	store_close(other);
	store_close(loop);
}

int
main(void)
{
	ts_log_init("test_share", TS_LOG_WARN);
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_transition_table),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_provider_classification),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_share_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transition_closes_its_outbox_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_before_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_users_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eid_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_replays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_only_after_install, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provider_retries_keep_their_identifier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provider_recovery_wakes_waiting_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_confirm_order_after_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_grant_is_cancelled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_up_after_max_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_busy_reads_are_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_store_fails_fast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smds_event_lifecycle, setup, teardown),
	};
	int failed = cmocka_run_group_tests_name("share_state", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("share_service", tests, NULL, NULL);
	return failed;
}
