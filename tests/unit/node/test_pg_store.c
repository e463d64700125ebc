/*
 * PostgreSQL only (issue 9), store_pg.c: the read-ahead (an ES9+ handler's
 * session, share, confirmation code and credential in one round trip; an
 * outbox worker's share, provider, user and app in one) and when its answers
 * end (any other statement, a new HTTP request of the thread, PQ_RA_MS).
 * The sends are counted by wrapping send(2) (libpq writes with it), as
 * test_pg_pipeline.c does. Runs when TS_PG_URL names a database it may wipe
 * (tests/integration/test_store_pg.sh); skips otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lib/httpd.h"
#include "lib/ts_err.h"
#include "node/store.h"

#include "../pg_fixture.h"

#define EID "89049032123451234512345678901235"
#define TID "00112233445566778899aabbccddeeff"

#include "../pg_sends.h" /* send(2) as libpq calls it, counted */

#define pause_ms pg_fixture_pause_ms

static int
setup(void **state)
{
	(void)state;
	return pg_fixture_wipe();
}

/* A user, provider, app, share S1 (authorised, with a credential and a
 * confirmation code) and its session TID. */
static store *
fixture(int64_t *uid)
{
	store *s = pg_fixture_store();
	assert_int_equal(s->ops->user_add(s, "alice", "hash-a", uid), 0);
	store_provider pr = { 0 };
	snprintf(pr.name, sizeof(pr.name), "operator");
	snprintf(pr.url, sizeof(pr.url), "https://127.0.0.1:1");
	snprintf(pr.ca_file, sizeof(pr.ca_file), "/ca.pem");
	assert_int_equal(s->ops->provider_put(s, &pr), 0);
	store_app ap = { .user_id = *uid, .shareable = 1 };
	snprintf(ap.app_id, sizeof(ap.app_id), "sim-alice");
	snprintf(ap.name, sizeof(ap.name), "Alice mobile");
	snprintf(ap.kind, sizeof(ap.kind), "sim");
	snprintf(ap.provider, sizeof(ap.provider), "operator");
	assert_int_equal(s->ops->app_put(s, &ap), 0);
	store_share sh = { .user_id = *uid, .state = SHARE_AUTHORISED, .created_at = 1, .updated_at = 1 };
	snprintf(sh.id, sizeof(sh.id), "S1");
	snprintf(sh.eid, sizeof(sh.eid), "%s", EID);
	snprintf(sh.app_id, sizeof(sh.app_id), "sim-alice");
	snprintf(sh.provider, sizeof(sh.provider), "operator");
	snprintf(sh.matching_id, sizeof(sh.matching_id), "m-S1");
	snprintf(sh.operation, sizeof(sh.operation), "share");
	assert_int_equal(s->ops->share_insert(s, &sh), 0);
	assert_int_equal(s->ops->share_set_credential(s, "S1", "{\"k\":1}"), 0);
	assert_int_equal(s->ops->cc_put(s, "S1", "ab"), 0);
	store_tx tx = { .stage = 2, .created_at = 1 };
	snprintf(tx.id, sizeof(tx.id), TID);
	snprintf(tx.share_id, sizeof(tx.share_id), "S1");
	snprintf(tx.eid, sizeof(tx.eid), EID);
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	return s;
}

/* getBoundProfilePackage's reads (download.c): one round trip */
static void
test_session_reads_in_one_round_trip(void **state)
{
	(void)state;
	int64_t uid = 0;
	store *s = fixture(&uid);
	store_tx tx;
	store_share sh;
	char cc[65], *cred = NULL;
	int attempts = -1;
	assert_int_equal(s->ops->tx_get(s, TID, &tx), 0); /* prepared once per connection */
	sends = 0;
	assert_int_equal(s->ops->tx_get(s, TID, &tx), 0);
	assert_string_equal(tx.share_id, "S1");
	assert_int_equal(tx.stage, 2);
	assert_int_equal(s->ops->share_get(s, tx.share_id, &sh), 0);
	assert_string_equal(sh.eid, EID);
	assert_int_equal(sh.state, SHARE_AUTHORISED);
	assert_int_equal(s->ops->cc_get(s, sh.id, cc, &attempts), 0);
	assert_string_equal(cc, "ab");
	assert_int_equal(attempts, 0);
	assert_int_equal(s->ops->share_get_credential(s, sh.id, &cred), 0);
	assert_string_equal(cred, "{\"k\":1}");
	free(cred);
	assert_int_equal(sends, 1);
	/* another share's reads are not answered from it */
	assert_int_equal(s->ops->cc_get(s, "S2", cc, &attempts), TS_ENOTFOUND);
	assert_int_equal(sends, 3); /* prepared, then run */
	store_close(s);
}

/* an outbox worker's reads (outbox.c do_confirm): one round trip */
static void
test_worker_reads_in_one_round_trip(void **state)
{
	(void)state;
	int64_t uid = 0;
	store *s = fixture(&uid);
	store_share sh;
	store_provider pr;
	store_app ap;
	char name[64], hash[64];
	uint8_t pub[65];
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0); /* prepared once per connection */
	assert_int_equal(s->ops->companion_pub(s, EID, pub), TS_ENOTFOUND); /* (ends the read-ahead) */
	sends = 0;
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(s->ops->provider_get(s, sh.provider, &pr), 0);
	assert_string_equal(pr.url, "https://127.0.0.1:1");
	assert_string_equal(pr.ca_file, "/ca.pem");
	assert_int_equal(s->ops->user_get(s, sh.user_id, name, sizeof(name), hash, sizeof(hash)), 0);
	assert_string_equal(name, "alice");
	assert_string_equal(hash, "hash-a");
	assert_int_equal(s->ops->app_get(s, sh.app_id, &ap), 0);
	assert_string_equal(ap.name, "Alice mobile");
	assert_int_equal(ap.user_id, uid);
	assert_int_equal(sends, 1);
	/* a provider the share does not name is read */
	assert_int_equal(s->ops->provider_get(s, "other", &pr), TS_ENOTFOUND);
	assert_int_equal(sends, 3); /* prepared, then run */
	store_close(s);
}

/* S1's state changed by another connection (another node) */
static void
change_elsewhere(const char *state)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "UPDATE shares SET state='%s' WHERE id='S1'", state);
	pg_fixture_sql(sql);
}

/* What was read ahead is not an answer after another statement, in the
 * thread's next HTTP request or after PQ_RA_MS. */
static void
test_read_ahead_ends(void **state)
{
	(void)state;
	int64_t uid = 0;
	store *s = fixture(&uid);
	store_tx tx;
	store_share sh;
	uint8_t pub[65];
	/* another statement in between */
	assert_int_equal(s->ops->tx_get(s, TID, &tx), 0);
	change_elsewhere("delivered");
	assert_int_equal(s->ops->companion_pub(s, EID, pub), TS_ENOTFOUND);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(sh.state, SHARE_DELIVERED);
	/* the next request */
	assert_int_equal(s->ops->tx_get(s, TID, &tx), 0);
	change_elsewhere("installed");
	ts_httpd_request_mark();
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(sh.state, SHARE_INSTALLED);
	/* later */
	assert_int_equal(s->ops->tx_get(s, TID, &tx), 0);
	change_elsewhere("authorised");
	pause_ms(80);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(sh.state, SHARE_AUTHORISED);
	/* a transaction reads the row itself (FOR UPDATE) */
	assert_int_equal(s->ops->tx_get(s, TID, &tx), 0);
	change_elsewhere("delivered");
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(sh.state, SHARE_DELIVERED);
	s->ops->rollback(s);
	/* without any of them: the row read ahead answers (what the checks
	 * above rely on to bite) */
	assert_int_equal(s->ops->tx_get(s, TID, &tx), 0);
	change_elsewhere("installed");
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(sh.state, SHARE_DELIVERED);
	store_close(s);
}

/* The API's authentication (api_primary.c auth_user): the device, then its
 * bearer token, in one round trip. */
static void
test_device_and_token_in_one_round_trip(void **state)
{
	(void)state;
	int64_t uid = 0, got = 0;
	store *s = fixture(&uid);
	int64_t now = (int64_t)time(NULL);
	uint8_t pub[65];
	assert_int_equal(s->ops->device_add(s, "dev1", uid, "phone"), 0);
	assert_int_equal(s->ops->token_add(s, "tok-live", "dev1", uid, now + 3600), 0);
	assert_int_equal(s->ops->token_add(s, "tok-old", "dev1", uid, now - 10), 0);
	assert_int_equal(s->ops->device_user(s, "dev1", &got), 0); /* prepared once per connection */
	assert_int_equal(s->ops->companion_pub(s, EID, pub), TS_ENOTFOUND);
	sends = 0;
	assert_int_equal(s->ops->device_user(s, "dev1", &got), 0);
	assert_int_equal(got, uid);
	assert_int_equal(s->ops->token_check(s, "tok-live", "dev1", now, &got), 0);
	assert_int_equal(got, uid);
	assert_int_equal(s->ops->token_check(s, "tok-old", "dev1", now, &got), TS_EAUTH);
	assert_int_equal(s->ops->token_check(s, "tok-none", "dev1", now, &got), TS_EAUTH);
	assert_int_equal(s->ops->token_check(s, "tok-live", "dev1", now + 7200, &got), TS_EAUTH); /* expired by then */
	assert_int_equal(sends, 1);
	/* another device's token is read */
	assert_int_equal(s->ops->token_check(s, "tok-live", "dev2", now, &got), TS_EAUTH);
	assert_int_equal(sends, 3); /* prepared, then run */
	/* after another statement a token made elsewhere meanwhile is seen */
	assert_int_equal(s->ops->device_user(s, "dev1", &got), 0);
	pg_fixture_sql("INSERT INTO tokens(token_hash, device_id, user_id, expires_at) VALUES('tok-new', 'dev1', 1, 99999999999)");
	assert_int_equal(s->ops->token_check(s, "tok-new", "dev1", now, &got), TS_EAUTH); /* read a moment earlier */
	assert_int_equal(s->ops->companion_pub(s, EID, pub), TS_ENOTFOUND);
	assert_int_equal(s->ops->token_check(s, "tok-new", "dev1", now, &got), 0);
	/* a share read after the device's (a primary's stream of one share) */
	store_share sh;
	assert_int_equal(s->ops->device_user(s, "dev1", &got), 0);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_string_equal(sh.id, "S1");
	assert_string_equal(sh.eid, EID);
	store_close(s);
}

/* An outbox worker asks outbox_next_due right after its claim or done mark
 * (outbox.c worker_main): read in the same round trip as that commit. */
static void
test_next_due_with_the_outbox_commit(void **state)
{
	(void)state;
	store *s = pg_fixture_store();
	int64_t id = 0, due = 0, now = (int64_t)time(NULL);
	store_outbox rows[4];
	size_t got = 0;
	uint8_t pub[65];
	assert_int_equal(s->ops->outbox_add(s, "confirm", "S1", &id), 0);
	assert_int_equal(s->ops->outbox_claim(s, now, 30, rows, 4, &got), 0);
	assert_int_equal(got, 1);
	sends = 0;
	assert_int_equal(s->ops->outbox_next_due(s, now, &due), 0);
	assert_int_equal(due, 30); /* the lease */
	assert_int_equal(sends, 0);
	assert_int_equal(s->ops->outbox_done(s, rows[0].id), 0);
	sends = 0;
	assert_int_equal(s->ops->outbox_next_due(s, now, &due), 0);
	assert_int_equal(due, -1); /* nothing pending */
	assert_int_equal(sends, 0);
	/* after another statement it is read */
	assert_int_equal(s->ops->outbox_add(s, "cancel", "S1", &id), 0);
	assert_int_equal(s->ops->companion_pub(s, EID, pub), TS_ENOTFOUND);
	sends = 0;
	assert_int_equal(s->ops->outbox_next_due(s, now, &due), 0);
	assert_int_equal(due, 0); /* the new row is due */
	assert_true(sends >= 1);
	store_close(s);
}

/* Ends the store's server process (pg_terminate_backend: SQLSTATE 57P01,
 * what an administrator's kill or a server shutdown looks like). */
static void
terminate_store_backend(void)
{
	pg_fixture_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
		       " AND pid <> pg_backend_pid() AND backend_type = 'client backend'");
	pause_ms(100);
}

/* A session opened for share S1 with stage and created_at */
static void
put_tx(store *s, const char *id, int stage, int64_t created)
{
	store_tx tx = { .stage = stage, .created_at = created };
	snprintf(tx.id, sizeof(tx.id), "%s", id);
	snprintf(tx.share_id, sizeof(tx.share_id), "S1");
	snprintf(tx.eid, sizeof(tx.eid), EID);
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
}

static int
tx_rows(void)
{
	char v[32] = "";
	pg_fixture_value("SELECT count(*) FROM es9_tx WHERE share_id = 'S1'", v, sizeof(v));
	char *end = NULL;
	long n = strtol(v, &end, 10);
	assert_true(end != v && *end == '\0' && n >= 0 && n <= 1000);
	return (int)n;
}

/* initiateAuthentication's trim and the new session's insert (download.c,
 * outside a transaction): one round trip (Q_HOUSE), the trim done in it;
 * a trim that no statement follows goes with the next BEGIN; one sent
 * with a statement that fails (the server went away) is lost with it, and
 * the next statement reconnects and works. */
static void
test_trim_with_the_session_insert(void **state)
{
	(void)state;
	int64_t uid = 0;
	store *s = fixture(&uid); /* S1 with session TID (stage 2) */
	put_tx(s, "a1", 1, 2);
	put_tx(s, "a2", 1, 3);
	assert_int_equal(tx_rows(), 3);
	assert_int_equal(s->ops->tx_trim(s, "S1", 8), 0); /* prepared once per connection */
	put_tx(s, "a3", 1, 4);
	sends = 0;
	assert_int_equal(s->ops->tx_trim(s, "S1", 1), 0);
	put_tx(s, "a4", 1, 5);
	assert_int_equal(sends, 1);
	/* kept: TID (stage 2 first) and the new one */
	assert_int_equal(tx_rows(), 2);
	store_tx got;
	assert_int_equal(s->ops->tx_get(s, TID, &got), 0);
	assert_int_equal(s->ops->tx_get(s, "a4", &got), 0);
	/* with the next transaction */
	put_tx(s, "a5", 1, 6);
	assert_int_equal(s->ops->tx_trim(s, "S1", 1), 0);
	assert_int_equal(s->ops->begin(s), 0);
	int64_t ev = 0;
	assert_int_equal(s->ops->event_add(s, uid, "S1", "share.x", "{}", &ev), 0);
	assert_int_equal(s->ops->commit(s), 0);
	assert_int_equal(tx_rows(), 1);
	/* the server gone: the trim is lost with the failed read */
	put_tx(s, "a6", 1, 7);
	assert_int_equal(s->ops->tx_trim(s, "S1", 0), 0);
	terminate_store_backend();
	assert_int_not_equal(s->ops->tx_get(s, TID, &got), 0); /* busy: the server went away */
	put_tx(s, "a7", 1, 8);
	assert_int_equal(tx_rows(), 3);
	store_close(s);
}

/* A server gone away is the busy error (the callers retry or answer 503
 * with Retry-After), in a transaction's queued writes and commit and in a
 * read; the next statement outside a transaction reconnects, also after
 * a pipeline that failed part-way. */
static void
test_server_gone_is_busy(void **state)
{
	(void)state;
	int64_t uid = 0;
	store *s = fixture(&uid);
	store_share sh;
	/* the transition once (its statements prepared on this connection) */
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(s->ops->smds_event_del(s, "S1"), 0);
	assert_int_equal(s->ops->commit(s), 0);
	/* mid-transaction: the queued writes and the COMMIT go in one
	 * pipeline to a backend that is gone */
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	terminate_store_backend();
	sh.state = SHARE_DELIVERED;
	assert_int_equal(s->ops->share_update(s, &sh), 0); /* queued */
	assert_int_equal(s->ops->smds_event_del(s, "S1"), 0);
	assert_int_equal(s->ops->commit(s), TS_ETIMEOUT);
	s->ops->rollback(s);
	/* reconnected, not left in pipeline mode: reads and transactions work */
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(sh.state, SHARE_AUTHORISED); /* nothing of it was kept */
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	sh.state = SHARE_INSTALLED;
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(s->ops->commit(s), 0);
	/* a read outside a transaction: busy, then answered */
	terminate_store_backend();
	uint8_t pub[65];
	assert_int_equal(s->ops->companion_pub(s, EID, pub), TS_ETIMEOUT);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(sh.state, SHARE_INSTALLED);
	/* the first statement of a transaction (BEGIN with it, one pipeline) */
	terminate_store_backend();
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), TS_ETIMEOUT);
	s->ops->rollback(s);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	store_close(s);
}

/* A pipeline whose send fails part-way (TAPSHARE_PG_FAIL_SEND: the second
 * pipeline of 2+ queued statements, with the connection itself fine) leaves
 * libpq in pipeline mode: the commit is busy, nothing of it is kept, and
 * the next statement runs (the session reopened), not "not allowed in
 * pipeline mode" for ever. */
static void
test_send_failed_part_way(void **state)
{
	(void)state;
	int64_t uid = 0;
	store *s = fixture(&uid);
	store_close(s);
	setenv("TAPSHARE_PG_FAIL_SEND", "2", 1);
	s = pg_fixture_store();
	unsetenv("TAPSHARE_PG_FAIL_SEND");
	store_share sh;
	for (int k = 0; k < 2; k++) {
		assert_int_equal(s->ops->begin(s), 0);
		assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
		sh.state = k == 0 ? SHARE_DELIVERED : SHARE_INSTALLED;
		assert_int_equal(s->ops->share_update(s, &sh), 0);
		assert_int_equal(s->ops->smds_event_del(s, "S1"), 0);
		assert_int_equal(s->ops->commit(s), k == 0 ? 0 : TS_ETIMEOUT);
		if (k == 1)
			s->ops->rollback(s);
	}
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(sh.state, SHARE_DELIVERED);
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	sh.state = SHARE_INSTALLED;
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(s->ops->smds_event_del(s, "S1"), 0);
	assert_int_equal(s->ops->commit(s), 0);
	assert_int_equal(s->ops->share_get(s, "S1", &sh), 0);
	assert_int_equal(sh.state, SHARE_INSTALLED);
	store_close(s);
}

int
main(void)
{
	if (pg_fixture_skip("test_pg_store"))
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_session_reads_in_one_round_trip, setup),
		cmocka_unit_test_setup(test_worker_reads_in_one_round_trip, setup),
		cmocka_unit_test_setup(test_read_ahead_ends, setup),
		cmocka_unit_test_setup(test_next_due_with_the_outbox_commit, setup),
		cmocka_unit_test_setup(test_device_and_token_in_one_round_trip, setup),
		cmocka_unit_test_setup(test_server_gone_is_busy, setup),
		cmocka_unit_test_setup(test_send_failed_part_way, setup),
		cmocka_unit_test_setup(test_trim_with_the_session_insert, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
