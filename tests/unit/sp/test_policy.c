/*
 * test_policy.c — tapshare-sp: policy decisions, credential minting (Luhn-
 * valid ICCIDs), and the confirmOrder / cancelOrder handlers over a real
 * SQLite store (idempotent replays, refusals, malformed requests).
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

#include "lib/eid.h"
#include "lib/json.h"
#include "lib/ts_err.h"
#include "lib/upp.h"
#include "lib/util.h"
#include "sp/credential.h"
#include "sp/policy.h"
#include "sp/sp.h"
#include "sp/sp_store.h"

#include "../../asn1/dump.h"

#define NOW 1700000000LL
#define EID_OK "89049032123451234512345678901235"

static char tmpdir[64];
static char eid_denied[EID_DIGITS + 1];

static void
make_eid(const char *first30, char out[EID_DIGITS + 1])
{
	char cd[3];
	assert_int_equal(eid_check_digits(first30, cd), 0);
	snprintf(out, EID_DIGITS + 1, "%s%s", first30, cd);
	assert_int_equal(eid_is_valid(out), 1);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static sp_policy *
load_policy_text(const char *text, int want_rc)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/policy-%d.ini", tmpdir, rand());
	write_text(path, text);
	sp_policy *p = NULL;
	char err[256] = "";
	int rc = sp_policy_load(path, &p, err, sizeof(err));
	unlink(path);
	assert_int_equal(rc, want_rc);
	if (want_rc != 0) {
		assert_null(p);
		assert_true(err[0] != '\0');
	}
	return p;
}

static sp_policy *
main_policy(void)
{
	char text[1024];
	snprintf(text, sizeof(text),
	    "[default]\n"
	    "decision = approve\n"
	    "max_duration_s = 3600\n"
	    "\n"
	    "[app.bank1]\n"
	    "kind = bankid\n"
	    "name = My Bank ID\n"
	    "max_duration_s = 600\n"
	    "\n"
	    "[app.blocked]\n"
	    "decision = deny\n"
	    "\n"
	    "[app.svc]\n"
	    "kind = service\n"
	    "scope = car:unlock\n"
	    "max_duration_s = 0\n"
	    "\n"
	    "[deny]\n"
	    "eids = %s\n",
	    eid_denied);
	return load_policy_text(text, 0);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ts_sp_XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	char cd[3];
	if (eid_check_digits("890490320000000000000000000042", cd) != 0)
		return -1;
	snprintf(eid_denied, sizeof(eid_denied), "890490320000000000000000000042%s", cd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- Luhn and minting ---- */

static void
test_luhn(void **state)
{
	(void)state;
	/* The classic worked example: 7992739871 has check digit 3. */
	assert_int_equal(sp_luhn_check_digit("7992739871"), 3);
	assert_int_equal(sp_luhn_valid("79927398713"), 1);
	assert_int_equal(sp_luhn_valid("79927398710"), 0);
	assert_int_equal(sp_luhn_valid("79927398714"), 0);
	assert_int_equal(sp_luhn_check_digit("0"), 0);
	assert_int_equal(sp_luhn_check_digit("1"), 8);
	assert_int_equal(sp_luhn_check_digit("12a"), TS_EINVAL);
	assert_int_equal(sp_luhn_check_digit(""), TS_EINVAL);
	assert_int_equal(sp_luhn_valid("5"), 0);
}

static int
all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int
all_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static void
test_mint_sim(void **state)
{
	(void)state;
	char prev_iccid[SP_ICCID_DIGITS + 1] = "";
	for (int i = 0; i < 50; i++) {
		json_t *c = NULL;
		char assoc[SP_ASSOC_ID_MAX];
		assert_int_equal(sp_cred_mint("sim", "sim-primary-1", NULL, 0, &c, assoc), 0);
		const char *iccid = ts_json_str(c, "iccid");
		const char *imsi = ts_json_str(c, "imsi");
		const char *ki = ts_json_str(c, "ki");
		const char *opc = ts_json_str(c, "opc");
		assert_non_null(iccid);
		assert_int_equal(strlen(iccid), 19);
		assert_true(all_digits(iccid));
		assert_memory_equal(iccid, "8944", 4);
		assert_int_equal(sp_luhn_valid(iccid), 1);
		assert_int_equal(strlen(imsi), 15);
		assert_true(all_digits(imsi));
		assert_memory_equal(imsi, "00101", 5);
		assert_int_equal(strlen(ki), 32);
		assert_true(all_hex(ki));
		assert_int_equal(strlen(opc), 32);
		assert_string_not_equal(ki, opc);
		/* The profile package carries exactly these values (decoded by
		 * lib/upp and, through the dump, by the asn1c check). */
		uint8_t *pkg = NULL;
		size_t pkg_len = 0;
		assert_int_equal(ts_b64_decode(ts_json_str(c, "profile_package"), &pkg, &pkg_len), 0);
		if (i < 3)
			asn1_dump("Package", pkg, pkg_len);
		upp_sim u;
		assert_int_equal(upp_decode(pkg, pkg_len, &u), 0);
		char digits[UPP_ICCID_DIGITS_MAX + 1], hex[2 * UPP_KEY_LEN + 1];
		assert_int_equal(upp_iccid_decode(u.iccid, digits), 0);
		assert_string_equal(digits, iccid);
		assert_string_equal(u.imsi, imsi);
		assert_int_equal(u.mnc_len, 2);
		ts_hex_encode(u.ki, UPP_KEY_LEN, hex, sizeof(hex));
		assert_string_equal(hex, ki);
		ts_hex_encode(u.opc, UPP_KEY_LEN, hex, sizeof(hex));
		assert_string_equal(hex, opc);
		upp_sim_clear(&u);
		free(pkg);
		assert_string_equal(ts_json_str(c, "primary_app_id"), "sim-primary-1");
		char want[64];
		snprintf(want, sizeof(want), "sim-%s", iccid);
		assert_string_equal(assoc, want);
		assert_string_not_equal(iccid, prev_iccid);
		snprintf(prev_iccid, sizeof(prev_iccid), "%s", iccid);
		json_decref(c);
	}
}

static void
test_mint_bankid_service(void **state)
{
	(void)state;
	json_t *c = NULL;
	char assoc[SP_ASSOC_ID_MAX];
	assert_int_equal(sp_cred_mint("bankid", "bank1", NULL, 0, &c, assoc), 0);
	assert_memory_equal(assoc, "bankid-", 7);
	assert_int_equal(strlen(assoc), 7 + 16);
	assert_int_equal(strlen(ts_json_str(c, "account")), 12);
	assert_non_null(strstr(ts_json_str(c, "certify_url"), "https://"));
	assert_int_equal(strlen(ts_json_str(c, "activation_code")), 8);
	assert_string_equal(ts_json_str(c, "primary_app_id"), "bank1");
	json_decref(c);

	assert_int_equal(sp_cred_mint("service", "svc", "car:unlock", NOW + 5, &c, assoc), 0);
	assert_memory_equal(assoc, "svc-", 4);
	assert_int_equal(strlen(ts_json_str(c, "token")), 64);
	assert_true(all_hex(ts_json_str(c, "token")));
	assert_string_equal(ts_json_str(c, "scope"), "car:unlock");
	assert_int_equal(json_integer_value(json_object_get(c, "expires_at")), NOW + 5);
	json_decref(c);

	c = (json_t *)1;
	assert_int_equal(sp_cred_mint("tape", "x", NULL, 0, &c, assoc), TS_EUNSUPP);
	assert_null(c);
	assert_string_equal(assoc, "");

	char d[41];
	assert_int_equal(sp_random_digits(d, 40), 0);
	assert_int_equal(strlen(d), 40);
	assert_true(all_digits(d));
}

/* ---- policy ---- */

static void
decide(const sp_policy *p, const char *eid, const char *app, const char *hint,
    long long req, sp_decision *d, int want_rc)
{
	sp_order o = { .eid = eid, .app_id = app, .kind_hint = hint, .requested_s = req };
	assert_int_equal(sp_policy_decide(p, &o, NOW, d), want_rc);
}

static void
test_policy_decisions(void **state)
{
	(void)state;
	sp_policy *p = main_policy();
	sp_decision d;

	decide(p, EID_OK, "sim-1", NULL, 100, &d, 0);
	assert_int_equal(d.approved, 1);
	assert_string_equal(d.kind, "sim");
	assert_int_equal(d.not_after, NOW + 100);
	assert_string_equal(d.name, "eSIM for companion (sim-1)");

	decide(p, EID_OK, "sim-1", NULL, 7200, &d, 0); /* clamped to the default max */
	assert_int_equal(d.approved, 1);
	assert_int_equal(d.not_after, NOW + 3600);

	decide(p, EID_OK, "sim-1", NULL, 0, &d, 0); /* none requested: the max */
	assert_int_equal(d.not_after, NOW + 3600);

	decide(p, EID_OK, "bank1", "sim", 0, &d, 0); /* app section beats the hint */
	assert_int_equal(d.approved, 1);
	assert_string_equal(d.kind, "bankid");
	assert_string_equal(d.name, "My Bank ID");
	assert_int_equal(d.not_after, NOW + 600);

	decide(p, EID_OK, "svc", NULL, 0, &d, 0); /* unlimited and none requested */
	assert_int_equal(d.approved, 1);
	assert_string_equal(d.kind, "service");
	assert_string_equal(d.scope, "car:unlock");
	assert_int_equal(d.not_after, 0);
	decide(p, EID_OK, "svc", NULL, 50, &d, 0);
	assert_int_equal(d.not_after, NOW + 50);

	decide(p, EID_OK, "other", "service", 0, &d, 0); /* hint used for unknown app */
	assert_string_equal(d.kind, "service");
	decide(p, EID_OK, "other", "bogus", 0, &d, 0); /* invalid hint ignored */
	assert_string_equal(d.kind, "sim");

	decide(p, EID_OK, "blocked", NULL, 0, &d, 0);
	assert_int_equal(d.approved, 0);
	assert_non_null(strstr(d.reason, "blocked"));
	assert_int_equal(d.not_after, 0);

	decide(p, eid_denied, "sim-1", NULL, 0, &d, 0); /* deny list beats approve */
	assert_int_equal(d.approved, 0);
	assert_non_null(strstr(d.reason, "deny list"));

	decide(p, EID_OK, "bad app id!", NULL, 0, &d, TS_EINVAL);
	decide(p, EID_OK, "sim-1", NULL, -1, &d, TS_EINVAL);
	sp_policy_free(p);
	sp_policy_free(NULL);
}

static void
test_policy_default_deny_and_errors(void **state)
{
	(void)state;
	sp_policy *p = load_policy_text("[default]\ndecision = deny\n[app.ok]\ndecision = approve\n", 0);
	sp_decision d;
	decide(p, EID_OK, "x", NULL, 10, &d, 0);
	assert_int_equal(d.approved, 0);
	decide(p, EID_OK, "ok", NULL, 10, &d, 0);
	assert_int_equal(d.approved, 1);
	assert_int_equal(d.not_after, NOW + 10); /* no max anywhere */
	sp_policy_free(p);

	/* An empty file: approve, unlimited, sim. */
	p = load_policy_text("", 0);
	decide(p, EID_OK, "x", NULL, 0, &d, 0);
	assert_int_equal(d.approved, 1);
	assert_int_equal(d.not_after, 0);
	sp_policy_free(p);

	load_policy_text("[default]\ndecision = maybe\n", TS_ECONFIG);
	/* App sections are checked at load too (they used to be checked only
	 * when an order for that app came), and unknown keys are errors: a
	 * misspelled max_duration_s would silently lift the time limit. */
	load_policy_text("[default]\ndecision = approve\n[app.badkind]\nkind = tape\n", TS_ECONFIG);
	load_policy_text("[app.sim-1]\nmax_durration_s = 60\n", TS_ECONFIG);
	load_policy_text("[default]\nmax_duration_s = 60\nmaxduration = 1\n", TS_ECONFIG);
	load_policy_text("[defaults]\ndecision = deny\n", TS_ECONFIG);
	load_policy_text("[deny]\neids.100 =\n", TS_ECONFIG);
	sp_policy_free(load_policy_text("[deny]\neids.99 =\n[app.x]\nscope = a\nname = b\ntransfer_max_duration_s = 5\n", 0));
	load_policy_text("[default]\nmax_duration_s = -5\n", TS_ECONFIG);
	load_policy_text("[default]\nmax_duration_s = 12abc\n", TS_ECONFIG);
	load_policy_text("[default]\nkind = tape\n", TS_ECONFIG);
	load_policy_text("[deny]\neids = 89049032123451234512345678901234\n", TS_ECONFIG);
	load_policy_text("[deny]\neids = 1234\n", TS_ECONFIG);
	load_policy_text("not an ini line\n", TS_ECONFIG);

	/* Several lists, spaces and empty entries. */
	char text[512];
	snprintf(text, sizeof(text), "[deny]\neids = ,\neids.1 = %s , %s\n", EID_OK, eid_denied);
	p = load_policy_text(text, 0);
	decide(p, EID_OK, "x", NULL, 0, &d, 0);
	assert_int_equal(d.approved, 0);
	decide(p, eid_denied, "x", NULL, 0, &d, 0);
	assert_int_equal(d.approved, 0);
	char other[EID_DIGITS + 1];
	make_eid("890490320000000000000000000043", other);
	decide(p, other, "x", NULL, 0, &d, 0);
	assert_int_equal(d.approved, 1);
	sp_policy_free(p);
}

/* ---- confirmOrder / cancelOrder handlers ---- */

static sp_store *
open_store(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	sp_store *s = NULL;
	assert_int_equal(sp_store_open(path, &s), 0);
	return s;
}

static json_t *
confirm_req(const char *fci, const char *eid, const char *app, long long dur)
{
	json_t *r = json_pack("{s:{s:s,s:s},s:s,s:s,s:s,s:s}", "header",
	    "functionRequesterIdentifier", "tapshare-node", "functionCallIdentifier", fci, "eid",
	    eid, "appId", app, "userId", "alice", "shareId", "share-1");
	if (dur >= 0)
		json_object_set_new(r, "requestedDurationS", json_integer(dur));
	return r;
}

static const char *
exec_status(const json_t *resp)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(resp, "header"),
	    "functionExecutionStatus"), "status"));
}

static const json_t *
status_data(const json_t *resp)
{
	return json_object_get(json_object_get(json_object_get(resp, "header"),
	    "functionExecutionStatus"), "statusCodeData");
}

static void
call_confirm(sp_policy *p, sp_store *s, json_t *req, int want_status, json_t **resp)
{
	int status = 0;
	assert_int_equal(sp_confirm_order(p, s, req, "peer", NOW, &status, resp), 0);
	assert_int_equal(status, want_status);
	assert_non_null(*resp);
	json_decref(req);
}

static void
test_confirm_idempotent(void **state)
{
	(void)state;
	sp_policy *p = main_policy();
	sp_store *s = open_store("confirm.db");
	json_t *r1, *r2, *r3;

	call_confirm(p, s, confirm_req("fci-1", EID_OK, "sim-1", 1200), 200, &r1);
	assert_string_equal(exec_status(r1), "Executed-Success");
	assert_string_equal(ts_json_str(r1, "kind"), "sim");
	assert_int_equal(json_integer_value(json_object_get(r1, "notAfter")), NOW + 1200);
	const json_t *cred = json_object_get(r1, "credential");
	const char *iccid = ts_json_str(cred, "iccid");
	assert_int_equal(sp_luhn_valid(iccid), 1);
	char want[64];
	snprintf(want, sizeof(want), "sim-%s", iccid);
	assert_string_equal(ts_json_str(r1, "associatedAppId"), want);
	assert_non_null(ts_json_str(r1, "name"));

	/* Same functionCallIdentifier: the recorded answer, byte for byte,
	 * even though the repeated body differs. */
	call_confirm(p, s, confirm_req("fci-1", EID_OK, "sim-1", 5), 200, &r2);
	char *a = ts_json_dump(r1), *b = ts_json_dump(r2);
	assert_string_equal(a, b);
	free(a);
	free(b);

	/* A new call mints a new credential. */
	call_confirm(p, s, confirm_req("fci-2", EID_OK, "sim-1", -1), 200, &r3);
	assert_string_not_equal(ts_json_str(json_object_get(r3, "credential"), "iccid"), iccid);
	assert_int_equal(json_integer_value(json_object_get(r3, "notAfter")), NOW + 3600);

	/* cancelOrder of the minted app, then of an unknown one: both succeed. */
	int status = 0;
	json_t *cresp = NULL;
	json_t *creq = json_pack("{s:{s:s},s:s,s:O,s:s,s:s}", "header", "functionCallIdentifier",
	    "fci-c1", "eid", EID_OK, "associatedAppId", json_object_get(r1, "associatedAppId"),
	    "shareId", "share-1", "finalProfileStatusIndicator", "Unavailable");
	assert_int_equal(sp_cancel_order(s, creq, NULL, NOW, &status, &cresp), 0);
	assert_int_equal(status, 200);
	assert_string_equal(exec_status(cresp), "Executed-Success");
	json_decref(cresp);
	assert_int_equal(sp_cancel_order(s, creq, NULL, NOW, &status, &cresp), 0); /* replay */
	assert_string_equal(exec_status(cresp), "Executed-Success");
	json_decref(cresp);
	json_decref(creq);
	creq = json_pack("{s:{s:s},s:s}", "header", "functionCallIdentifier", "fci-c2",
	    "associatedAppId", "sim-000");
	assert_int_equal(sp_cancel_order(s, creq, NULL, NOW, &status, &cresp), 0);
	assert_int_equal(status, 200);
	assert_string_equal(exec_status(cresp), "Executed-Success");
	json_decref(cresp);
	json_decref(creq);

	/* A confirmOrder fci reused for cancelOrder is a conflict. */
	creq = json_pack("{s:{s:s},s:s}", "header", "functionCallIdentifier", "fci-1",
	    "associatedAppId", "sim-000");
	assert_int_equal(sp_cancel_order(s, creq, NULL, NOW, &status, &cresp), 0);
	assert_int_equal(status, 409);
	assert_string_equal(exec_status(cresp), "Failed");
	json_decref(cresp);
	json_decref(creq);

	/* The record: two confirms and two cancels (replays add nothing). */
	json_t *list = NULL;
	assert_int_equal(sp_store_list(s, &list), 0);
	assert_int_equal(json_array_size(list), 4);
	json_t *row0 = json_array_get(list, 0);
	assert_string_equal(ts_json_str(row0, "functionCallIdentifier"), "fci-1");
	assert_string_equal(ts_json_str(row0, "decision"), "approved");
	assert_string_equal(ts_json_str(row0, "peer_id"), "peer");
	assert_string_equal(ts_json_str(row0, "user_id"), "alice");
	assert_null(json_object_get(row0, "response")); /* secrets stay in the db */
	json_t *row3 = json_array_get(list, 3);
	assert_string_equal(ts_json_str(row3, "decision"), "cancelled");
	assert_non_null(strstr(ts_json_str(row3, "reason"), "unknown associatedAppId"));
	assert_null(strstr(ts_json_str(json_array_get(list, 2), "reason"), "unknown"));
	json_decref(list);

	json_decref(r1);
	json_decref(r2);
	json_decref(r3);
	sp_store_close(s);
	sp_policy_free(p);
}

static void
test_confirm_refusals(void **state)
{
	(void)state;
	sp_policy *p = main_policy();
	sp_store *s = open_store("refuse.db");
	json_t *r;

	call_confirm(p, s, confirm_req("d-1", eid_denied, "sim-1", 10), 200, &r);
	assert_string_equal(exec_status(r), "Failed");
	assert_string_equal(ts_json_str(status_data(r), "subjectCode"), "8.1");
	assert_string_equal(ts_json_str(status_data(r), "reasonCode"), "3.8");
	assert_null(json_object_get(r, "credential"));
	json_decref(r);

	call_confirm(p, s, confirm_req("d-2", EID_OK, "blocked", 10), 200, &r);
	assert_string_equal(exec_status(r), "Failed");
	assert_string_equal(ts_json_str(status_data(r), "reasonCode"), "3.8");
	json_decref(r);

	/* Wrong check digits: refused (recorded), 8.1 / 2.1. */
	call_confirm(p, s, confirm_req("d-3", "89049032123451234512345678901234", "sim-1", 10),
	    200, &r);
	assert_string_equal(exec_status(r), "Failed");
	assert_string_equal(ts_json_str(status_data(r), "subjectCode"), "8.1");
	assert_string_equal(ts_json_str(status_data(r), "reasonCode"), "2.1");
	json_decref(r);

	/* Malformed requests: 400, nothing recorded. */
	call_confirm(p, s, json_pack("{s:s,s:s}", "eid", EID_OK, "appId", "x"), 400, &r);
	assert_string_equal(exec_status(r), "Failed");
	json_decref(r);
	call_confirm(p, s, confirm_req("m-1", EID_OK, "bad app!", 10), 400, &r);
	json_decref(r);
	call_confirm(p, s, confirm_req("m-2", EID_OK, "sim-1", 99999999999LL), 400, &r);
	json_decref(r);
	json_t *q = confirm_req("m-3", EID_OK, "sim-1", -1);
	json_object_set_new(q, "requestedDurationS", json_string("10"));
	call_confirm(p, s, q, 400, &r);
	json_decref(r);
	q = confirm_req("m-4", EID_OK, "sim-1", -1);
	json_object_set_new(q, "eid", json_integer(5));
	call_confirm(p, s, q, 400, &r);
	json_decref(r);

	json_t *list = NULL;
	assert_int_equal(sp_store_list(s, &list), 0);
	assert_int_equal(json_array_size(list), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(ts_json_str(json_array_get(list, i), "decision"), "denied");
	json_decref(list);
	sp_store_close(s);
	sp_policy_free(p);
}

/* A move is a TS.43 transfer: the shared-copy limit does not apply, only
 * transfer_max_duration_s (unlimited unless set). */
static void
test_policy_transfer(void **state)
{
	(void)state;
	sp_policy *p = load_policy_text("[default]\ndecision = approve\nmax_duration_s = 3600\n"
					"[app.t2]\ntransfer_max_duration_s = 60\n", 0);
	sp_decision d;
	sp_order o = { .eid = EID_OK, .app_id = "t1", .requested_s = 0 };
	assert_int_equal(sp_policy_decide(p, &o, NOW, &d), 0);
	assert_int_equal(d.not_after, NOW + 3600);
	o.transfer = 1;
	assert_int_equal(sp_policy_decide(p, &o, NOW, &d), 0);
	assert_int_equal(d.approved, 1);
	assert_int_equal(d.not_after, 0);
	o.app_id = "t2";
	assert_int_equal(sp_policy_decide(p, &o, NOW, &d), 0);
	assert_int_equal(d.not_after, NOW + 60);
	sp_policy_free(p);
}

int
main(void)
{
	asn1_dump_init("sp_policy");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_transfer),
		cmocka_unit_test(test_luhn),
		cmocka_unit_test(test_mint_sim),
		cmocka_unit_test(test_mint_bankid_service),
		cmocka_unit_test(test_policy_decisions),
		cmocka_unit_test(test_policy_default_deny_and_errors),
		cmocka_unit_test(test_confirm_idempotent),
		cmocka_unit_test(test_confirm_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
