/*
 * store.c — the one place a store backend is chosen, and what the SQLite
 * and PostgreSQL backends share: the share's JSON form, the SQL state lists
 * derived from the transition table, and the commit counter behind the
 * crash tests. Backends depend on this file, never on each other.
 */
#include "node/store.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include <stdlib.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "node/sealed.h"

int
store_open_opts(const char *url, const store_opts *opts, store **out)
{
	if (strncmp(url, "sqlite:", 7) == 0)
		return store_sqlite_open(url + 7, opts, out);
	if (strncmp(url, "postgresql:", 11) == 0 || strncmp(url, "postgres:", 9) == 0)
		return store_pg_open(url, opts, out);
	return store_sqlite_open(url, opts, out);
}

int
store_credential_seal(const uint8_t *key, const char *share_id, const char *plain, char **out)
{
	if (key != NULL)
		return sealed_seal(key, share_id, plain, out);
	*out = strdup(plain);
	return *out ? 0 : TS_ENOMEM;
}

int
store_credential_unseal(const uint8_t *key, const char *share_id, const char *stored, char **out)
{
	if (strncmp(stored, SEALED_PREFIX, strlen(SEALED_PREFIX)) == 0) {
		if (key == NULL) {
			log_error("a sealed credential, and this store was opened without the node key");
			return TS_ECONFIG;
		}
		return sealed_open(key, share_id, stored, out);
	}
	*out = strdup(stored);
	return *out ? 0 : TS_ENOMEM;
}

int
store_open(const char *url, store **out)
{
	return store_open_opts(url, NULL, out);
}

json_t *
store_share_json(const store_share *sh)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s}",
	    "share_id", sh->id, "eid", sh->eid, "app_id", sh->app_id, "provider", sh->provider,
	    "associated_app_id", sh->assoc_app_id, "associated_kind", sh->assoc_kind,
	    "state", share_state_name(sh->state), "not_after", (json_int_t)sh->not_after,
	    "created_at", (json_int_t)sh->created_at, "updated_at", (json_int_t)sh->updated_at,
	    "reason", sh->reason, "device_id", sh->device_id,
	    "operation", sh->operation[0] ? sh->operation : "share");
}

void
store_share_jw(ts_jw *w, const store_share *sh)
{
	ts_jw_str(w, "share_id", sh->id);
	ts_jw_str(w, "eid", sh->eid);
	ts_jw_str(w, "app_id", sh->app_id);
	ts_jw_str(w, "provider", sh->provider);
	ts_jw_str(w, "associated_app_id", sh->assoc_app_id);
	ts_jw_str(w, "associated_kind", sh->assoc_kind);
	ts_jw_str(w, "state", share_state_name(sh->state));
	ts_jw_int(w, "not_after", sh->not_after);
	ts_jw_int(w, "created_at", sh->created_at);
	ts_jw_int(w, "updated_at", sh->updated_at);
	ts_jw_str(w, "reason", sh->reason);
	ts_jw_str(w, "device_id", sh->device_id);
	ts_jw_str(w, "operation", sh->operation[0] ? sh->operation : "share");
}

char *
store_share_text(const store_share *sh, const char *const (*extra)[2], size_t n)
{
	ts_jw w;
	char *txt = NULL;
	ts_jw_init(&w);
	ts_jw_reserve(&w, 1024); /* an event is ~600 bytes: one allocation */
	ts_jw_open(&w, NULL);
	store_share_jw(&w, sh);
	for (size_t i = 0; i < n; i++)
		if (extra[i][1] != NULL)
			ts_jw_str(&w, extra[i][0], extra[i][1]);
	ts_jw_close(&w);
	if (ts_jw_finish(&w, &txt) != TS_JW_UNSURE)
		return txt;
	/* what the writer does not reproduce: jansson's tree, and its verdict */
	json_t *o = store_share_json(sh);
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (extra[i][1] != NULL)
			json_object_set_new(o, extra[i][0], json_string(extra[i][1]));
	txt = ts_json_dump(o);
	json_decref(o);
	return txt;
}

static pthread_once_t lists_once = PTHREAD_ONCE_INIT;
static char expirable[160], open_states[200], expirable_or[200], final_and[300];

static void
build_lists(void)
{
	/* an empty list would be an SQL error, which is what a broken table deserves */
	if (share_state_sql_from(SHARE_EXPIRED, expirable, sizeof(expirable)) != 0)
		expirable[0] = '\0';
	if (share_state_sql_open(open_states, sizeof(open_states)) != 0)
		open_states[0] = '\0';
	if (share_state_sql_from_or(SHARE_EXPIRED, expirable_or, sizeof(expirable_or)) != 0)
		expirable_or[0] = '\0';
	if (share_state_sql_final_and(final_and, sizeof(final_and)) != 0)
		final_and[0] = '\0';
}

const char *
store_sql_expirable(void)
{
	pthread_once(&lists_once, build_lists);
	return expirable;
}

const char *
store_sql_open_states(void)
{
	pthread_once(&lists_once, build_lists);
	return open_states;
}

const char *
store_sql_expirable_or(void)
{
	pthread_once(&lists_once, build_lists);
	return expirable_or;
}

const char *
store_sql_final_and(void)
{
	pthread_once(&lists_once, build_lists);
	return final_and;
}

static atomic_long crash_after;
static atomic_long commits;

void
store_crash_after_commits(long n)
{
	atomic_store(&commits, 0);
	atomic_store(&crash_after, n);
}

void
store_committed(void)
{
	long limit = atomic_load(&crash_after);
	if (limit <= 0)
		return;
	if (atomic_fetch_add(&commits, 1) + 1 == limit) {
		log_warn("fault injection: TAPSHARE_NODE_CRASH_AFTER=commit:%ld reached, killing myself with SIGKILL",
		    limit);
		raise(SIGKILL);
	}
}

/* ---- test hooks ------------------------------------------------------------
 * The environment variables the test suites drive (TAPSHARE_NODE_CRASH_AFTER,
 * TAPSHARE_NODE_STORE_BUSY, TAPSHARE_PG_SWEEP_IDLE_MS, TAPSHARE_STORE_EXPLAIN,
 * TAPSHARE_PG_FAIL_SEND, TAPSHARE_PUSH_STALL_MS)
 * are read only through here. A build without TS_TEST_HOOKS (the CMake
 * option: off in a Release build, the one that is packaged and installed)
 * ignores them: a set one is named in a warning and has no effect. */
const char *
store_test_hook(const char *name)
{
	const char *v = getenv(name);
#ifdef TS_TEST_HOOKS
	return v;
#else
	if (v != NULL)
		log_warn("%s is a test hook and this build has none (TS_TEST_HOOKS off): ignored", name);
	return NULL;
#endif
}

/* ---- fault injection: reads that never get an answer (tests) -----------
 * TAPSHARE_NODE_STORE_BUSY=op[,op...] makes the named operations of the
 * node's event-loop store fail with TS_ETIMEOUT, as when another thread or
 * process holds the database: a busy read must be answered 503 store_busy
 * (1.2 / 4.4 on ES9+), never the refusal a missing row earns
 * (tests/integration/test_store_busy.sh). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define BUSY_OPS(X) \
	X(device_user, (store *s, const char *device_id, int64_t *user_id)) \
	X(token_check, (store *s, const char *token_hash, const char *device_id, int64_t now, int64_t *user_id)) \
	X(user_get, (store *s, int64_t id, char *name, size_t cap, char *pass_hash, size_t hcap)) \
	X(user_by_name, (store *s, const char *name, int64_t *id)) \
	X(enroll_code_use, (store *s, const char *code_hash, int64_t now, int64_t *user_id)) \
	X(app_get, (store *s, const char *app_id, store_app *a)) \
	X(share_get, (store *s, const char *id, store_share *sh)) \
	X(share_by_matching, (store *s, const char *matching_id, store_share *sh)) \
	X(tx_get, (store *s, const char *id, store_tx *tx)) \
	X(companion_owner, (store *s, const char *eid, int64_t *user_id)) \
	X(companion_pub, (store *s, const char *eid, uint8_t pub[65])) \
	X(cc_get, (store *s, const char *share_id, char cc_hash_hex[65], int *attempts)) \
	X(provider_get, (store *s, const char *name, store_provider *p)) \
	X(smds_events, (store *s, const char *eid, char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n))
#define BUSY_FN(name, params) \
	static int busy_##name params { return TS_ETIMEOUT; }
BUSY_OPS(BUSY_FN)
#pragma GCC diagnostic pop

int
store_fault_busy(store *s, const char *list)
{
	static struct store_ops busy; /* the node's one loop handle */
	if (s == NULL || list == NULL || list[0] == '\0')
		return 0;
	busy = *s->ops;
	const char *p = list;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		int known = 0;
#define BUSY_SET(name, params) \
		if (n == sizeof(#name) - 1 && strncmp(p, #name, n) == 0) { \
			busy.name = busy_##name; \
			known = 1; \
		}
		BUSY_OPS(BUSY_SET)
#undef BUSY_SET
		if (!known) {
			log_error("TAPSHARE_NODE_STORE_BUSY: no such store read \"%.*s\"", (int)n, p);
			return TS_EINVAL;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	log_warn("fault injection: TAPSHARE_NODE_STORE_BUSY=%s: these store reads always time out", list);
	s->ops = &busy;
	return 0;
}
