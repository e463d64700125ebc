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

static pthread_once_t lists_once = PTHREAD_ONCE_INIT;
static char expirable[160], open_states[200];

static void
build_lists(void)
{
	/* an empty list would be an SQL error, which is what a broken table deserves */
	if (share_state_sql_from(SHARE_EXPIRED, expirable, sizeof(expirable)) != 0)
		expirable[0] = '\0';
	if (share_state_sql_open(open_states, sizeof(open_states)) != 0)
		open_states[0] = '\0';
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
