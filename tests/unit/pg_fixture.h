/*
 * pg_fixture.h — what the PostgreSQL-only unit tests share (test_store's
 * PostgreSQL group, test_pg_order, test_pg_sweep): the database URL from
 * TS_PG_URL (tests/integration/test_store_pg.sh sets it to a database the
 * tests may wipe; unset, the test skips), psql-like statements on a
 * connection of the test's own, the wipe every test starts from, and a store
 * on the database. Include after <cmocka.h> (and its prerequisites).
 */
#ifndef TS_TEST_PG_FIXTURE_H
#define TS_TEST_PG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "node/store.h"

static const char *pg_url;

/* main(): pg_url from TS_PG_URL; 1 (after saying so) when it is unset. */
static inline int
pg_fixture_skip(const char *prog)
{
	pg_url = getenv("TS_PG_URL");
	if (pg_url != NULL && pg_url[0] != '\0')
		return 0;
	printf("%s: TS_PG_URL not set, skipped (tests/integration/test_store_pg.sh runs it)\n", prog);
	return 1;
}

/* A connection of the test's own; fails the test without one. */
static inline PGconn *
pg_fixture_conn(void)
{
	PGconn *c = PQconnectdb(pg_url);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	return c;
}

/* Runs sql on c; fails the test (with PostgreSQL's message) if it fails. */
static inline void
pg_fixture_run(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

/* Runs sql on a connection of its own. */
static inline void
pg_fixture_sql(const char *sql)
{
	PGconn *c = pg_fixture_conn();
	pg_fixture_run(c, sql);
	PQfinish(c);
}

/* Empties the database: every test starts from no schema. Connections a
 * failed test left open (an assertion skips store_close) are ended first so
 * that they cannot hold locks on what is dropped. 0, or -1 (said why). */
static inline int
pg_fixture_wipe(void)
{
	PGconn *c = PQconnectdb(pg_url);
	int ok = PQstatus(c) == CONNECTION_OK;
	if (ok) {
		PGresult *r = PQexec(c, "SET client_min_messages = warning; SET lock_timeout = '10s';"
					"SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
					" WHERE datname = current_database() AND pid <> pg_backend_pid();"
					"DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			fprintf(stderr, "pg wipe: %s", PQresultErrorMessage(r));
		PQclear(r);
	} else {
		fprintf(stderr, "pg connect: %s", PQerrorMessage(c));
	}
	PQfinish(c);
	return ok ? 0 : -1;
}

/* One value of a query on a connection of its own ("" for none). */
static inline void
pg_fixture_value(const char *sql, char *out, size_t cap)
{
	PGconn *c = pg_fixture_conn();
	PGresult *r = PQexec(c, sql);
	out[0] = '\0';
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
}

static inline void
pg_fixture_pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000 * 1000L };
	nanosleep(&ts, NULL);
}

/* Sets synchronous_standby_names (ALTER SYSTEM, reload) and waits until a
 * new session shows it: every backend then has its reload signal (sent by
 * the postmaster as it reloaded). "nobody" holds every synchronous commit
 * (no such standby); "" releases them. Fails the test after 20 s. */
static inline void
pg_fixture_sync_standby(const char *names)
{
	PGconn *c = pg_fixture_conn();
	char sql[160];
	snprintf(sql, sizeof(sql), "ALTER SYSTEM SET synchronous_standby_names = '%s'", names);
	pg_fixture_run(c, sql);
	pg_fixture_run(c, "SELECT pg_reload_conf()");
	PQfinish(c);
	char v[64];
	for (int i = 0; i < 400; i++) {
		pg_fixture_value("SHOW synchronous_standby_names", v, sizeof(v));
		if (strcmp(v, names) == 0)
			return;
		pg_fixture_pause_ms(50);
	}
	fail_msg("synchronous_standby_names = '%s' not loaded", names);
}

/* A store on the database (migrated on open). */
static inline store *
pg_fixture_store(void)
{
	store *s = NULL;
	assert_int_equal(store_open(pg_url, &s), 0);
	return s;
}

#endif
