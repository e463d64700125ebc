/*
 * test_progress.c — tapshare-sp handleDownloadProgressInfo (ES2+; SGP.22
 * §5.6.5 step 1): the node's notice of a cancelled download is answered
 * Executed-Success and recorded ("noted", with the reason and the
 * notification point), a repeated functionCallIdentifier gets the recorded
 * answer, and each malformed request is 400 (1.2 / 2.2), not recorded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/json.h"
#include "lib/ts_err.h"
#include "sp/sp.h"
#include "sp/sp_store.h"

static char tmpdir[64];
static char dbpath[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ts_spp_XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/sp.db", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(dbpath);
	char p[160];
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	rmdir(tmpdir);
	return 0;
}

static json_t *
request(const char *fci)
{
	json_t *r = json_pack("{s:{s:s,s:s},s:s,s:s,s:s,s:s,s:i,s:{s:s},s:s}", "header",
	    "functionRequesterIdentifier", "tapshare-node", "functionCallIdentifier", fci, "eid",
	    "89049032123451234512345678901235", "associatedAppId", "sim-a-1", "shareId", "S1",
	    "timestamp", "2026-12-02T15:00:00Z", "notificationPointId", 3, "notificationPointStatus",
	    "status", "Failed", "cancelSessionReason", "postponed");
	assert_non_null(r);
	return r;
}

static const char *
exec_status(const json_t *resp)
{
	return json_string_value(json_object_get(
	    json_object_get(json_object_get(resp, "header"), "functionExecutionStatus"), "status"));
}

/* the recorded calls: count, and the reason of the last */
static size_t
recorded(sp_store *s, char *reason, size_t cap)
{
	json_t *all = NULL;
	assert_int_equal(sp_store_list(s, &all), 0);
	size_t n = json_array_size(all);
	if (n > 0 && reason != NULL) {
		json_t *last = json_array_get(all, n - 1);
		assert_string_equal(json_string_value(json_object_get(last, "function")),
		    "handleDownloadProgressInfo");
		assert_string_equal(json_string_value(json_object_get(last, "decision")), "noted");
		snprintf(reason, cap, "%s", json_string_value(json_object_get(last, "reason")));
	}
	json_decref(all);
	return n;
}

static void
test_noted_and_idempotent(void **state)
{
	(void)state;
	sp_store *s = NULL;
	assert_int_equal(sp_store_open(dbpath, &s), 0);
	json_t *req = request("p-1");
	json_t *resp = NULL;
	int status = 0;
	assert_int_equal(sp_download_progress(s, req, "node", 1000, &status, &resp), 0);
	assert_int_equal(status, 200);
	assert_string_equal(exec_status(resp), "Executed-Success");
	json_decref(resp);
	char reason[128] = "";
	assert_int_equal(recorded(s, reason, sizeof(reason)), 1);
	assert_string_equal(reason, "cancelSession postponed at notification point 3");
	/* the same call again: the recorded answer, nothing added */
	assert_int_equal(sp_download_progress(s, req, "node", 1001, &status, &resp), 0);
	assert_int_equal(status, 200);
	assert_string_equal(exec_status(resp), "Executed-Success");
	json_decref(resp);
	assert_int_equal(recorded(s, NULL, 0), 1);
	json_decref(req);
	sp_store_close(s);
}

/* each field that makes the request malformed: 400, 1.2 / 2.2, not recorded */
static void
test_malformed(void **state)
{
	(void)state;
	sp_store *s = NULL;
	assert_int_equal(sp_store_open(dbpath, &s), 0);
	static const struct {
		const char *key;
		int remove; /* 1: leave the key out; 0: set it to 42 or "x" */
	} bad[] = {
		{ "associatedAppId", 1 },
		{ "associatedAppId", 0 },
		{ "notificationPointId", 1 },
		{ "notificationPointId", 0 }, /* a string */
		{ "cancelSessionReason", 0 }, /* a number */
		{ "shareId", 0 },
		{ "eid", 0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char fci[16];
		snprintf(fci, sizeof(fci), "bad-%zu", i);
		json_t *req = request(fci);
		if (bad[i].remove)
			json_object_del(req, bad[i].key);
		else if (strcmp(bad[i].key, "notificationPointId") == 0)
			json_object_set_new(req, bad[i].key, json_string("x"));
		else
			json_object_set_new(req, bad[i].key, json_integer(42));
		json_t *resp = NULL;
		int status = 0;
		assert_int_equal(sp_download_progress(s, req, "node", 1000, &status, &resp), 0);
		if (status != 400)
			fail_msg("%s %s: status %d", bad[i].key, bad[i].remove ? "missing" : "malformed", status);
		const json_t *scd = json_object_get(
		    json_object_get(json_object_get(resp, "header"), "functionExecutionStatus"), "statusCodeData");
		assert_string_equal(json_string_value(json_object_get(scd, "subjectCode")), "1.2");
		assert_string_equal(json_string_value(json_object_get(scd, "reasonCode")), "2.2");
		json_decref(resp);
		json_decref(req);
	}
	/* a notification point out of range */
	json_t *req = request("bad-range");
	json_object_set_new(req, "notificationPointId", json_integer(1000));
	json_t *resp = NULL;
	int status = 0;
	assert_int_equal(sp_download_progress(s, req, "node", 1000, &status, &resp), 0);
	assert_int_equal(status, 400);
	json_decref(resp);
	json_decref(req);
	assert_int_equal(recorded(s, NULL, 0), 0);
	sp_store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_noted_and_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	};
	return cmocka_run_group_tests_name("sp_progress", tests, NULL, NULL);
}
