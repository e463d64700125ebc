/*
 * sp.c — confirmOrder / cancelOrder logic of tapshare-sp (sp.h).
 */
#include "sp/sp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/eid.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "sp/credential.h"

static json_t *
status_success(void)
{
	return json_pack("{s:{s:{s:s}}}", "header", "functionExecutionStatus", "status",
	    "Executed-Success");
}

static json_t *
status_failed(const char *subject, const char *reason, const char *message)
{
	json_t *r = json_pack("{s:{s:{s:s,s:{s:s,s:s,s:s}}}}", "header",
	    "functionExecutionStatus", "status", "Failed", "statusCodeData", "subjectCode",
	    subject, "reasonCode", reason, "message", message);
	if (r == NULL) /* message not UTF-8 */
		r = json_pack("{s:{s:{s:s,s:{s:s,s:s}}}}", "header", "functionExecutionStatus",
		    "status", "Failed", "statusCodeData", "subjectCode", subject, "reasonCode",
		    reason);
	return r;
}

static int
bad_request(int *status, json_t **resp, const char *message)
{
	*status = 400;
	*resp = status_failed("1.2", "2.2", message);
	return *resp ? 0 : TS_ENOMEM;
}

/* Printable ASCII, 1..max chars. */
static int
text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* Optional string member: absent/null/"" -> *out NULL; otherwise a
 * printable string of at most max chars, else TS_EPARSE. */
static int
opt_text(const json_t *req, const char *key, size_t max, const char **out)
{
	*out = NULL;
	const json_t *v = json_object_get(req, key);
	/* Absent, null and "" all mean "not given". */
	if (v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		return 0;
	if (!json_is_string(v) || !text_ok(json_string_value(v), max))
		return TS_EPARSE;
	*out = json_string_value(v);
	return 0;
}

struct es2_header {
	const char *fci;
	const char *requester;
};

static int
parse_header(const json_t *req, struct es2_header *h, const char **why)
{
	const json_t *hdr = json_object_get(req, "header");
	if (!json_is_object(hdr)) {
		*why = "header is missing";
		return TS_EPARSE;
	}
	if (opt_text(hdr, "functionCallIdentifier", SP_FCI_MAX, &h->fci) != 0 || h->fci == NULL) {
		*why = "header.functionCallIdentifier is missing or malformed";
		return TS_EPARSE;
	}
	if (opt_text(hdr, "functionRequesterIdentifier", SP_TEXT_MAX, &h->requester) != 0) {
		*why = "header.functionRequesterIdentifier is malformed";
		return TS_EPARSE;
	}
	return 0;
}

/* The recorded answer for fci, if any: 1 replayed (status/resp set), 0 none,
 * < 0 error. */
static int
replay(sp_store *s, const char *fci, const char *function, int *status, json_t **resp)
{
	char *fn = NULL, *body = NULL;
	int http = 0;
	int rc = sp_store_lookup(s, fci, &fn, &body, &http);
	if (rc == TS_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (strcmp(fn, function) != 0) {
		*status = 409;
		*resp = status_failed("1.2", "3.3",
		    "functionCallIdentifier already used for another function");
		rc = *resp ? 1 : TS_ENOMEM;
		goto out;
	}
	rc = ts_json_parse(body, strlen(body), resp, NULL, 0);
	if (rc == 0) {
		*status = http;
		rc = 1;
		log_info("%s %s: repeated call, recorded answer returned", function, fci);
	}
out:
	free(fn);
	free(body);
	return rc;
}

/* Records the call and hands the response out. Takes the reference to body. */
static int
record(sp_store *s, sp_record *r, int http, json_t *body, int *status, json_t **resp)
{
	if (body == NULL)
		return TS_ENOMEM;
	char *text = ts_json_dump(body);
	if (text == NULL) {
		json_decref(body);
		return TS_ENOMEM;
	}
	r->http_status = http;
	r->response = text;
	int rc = sp_store_insert(s, r);
	/* Wipe before free: the text may hold a Ki or a token. */
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	if (rc != 0) {
		json_decref(body);
		return rc;
	}
	*status = http;
	*resp = body;
	return 0;
}

int
sp_confirm_order(sp_policy *p, sp_store *s, const json_t *req, const char *peer_id,
    int64_t now, int *status, json_t **resp)
{
	static const char fn[] = "confirmOrder";
	struct es2_header h = { 0 };
	const char *why = NULL;
	json_t *cred = NULL;
	*resp = NULL;
	*status = 500;
	if (p == NULL || s == NULL || !json_is_object(req))
		return TS_EINVAL;
	if (parse_header(req, &h, &why) != 0)
		return bad_request(status, resp, why);
	int rc = replay(s, h.fci, fn, status, resp);
	if (rc != 0)
		return rc < 0 ? rc : 0;

	const char *eid_s = NULL, *app_id = NULL, *user_id = NULL, *share_id = NULL;
	const char *kind_hint = NULL, *name_hint = NULL;
	if (opt_text(req, "eid", 64, &eid_s) != 0 || eid_s == NULL)
		return bad_request(status, resp, "eid is missing or malformed");
	if (opt_text(req, "appId", SP_APP_ID_MAX, &app_id) != 0 || !sp_app_id_valid(app_id))
		return bad_request(status, resp, "appId is missing or malformed");
	if (opt_text(req, "userId", SP_TEXT_MAX, &user_id) != 0 ||
	    opt_text(req, "shareId", SP_TEXT_MAX, &share_id) != 0 ||
	    opt_text(req, "kind", 16, &kind_hint) != 0 ||
	    opt_text(req, "name", SP_TEXT_MAX, &name_hint) != 0)
		return bad_request(status, resp, "userId, shareId, kind or name is malformed");
	if (kind_hint != NULL && !sp_kind_valid(kind_hint))
		return bad_request(status, resp, "kind must be sim, bankid or service");
	long long requested = 0;
	const json_t *rd = json_object_get(req, "requestedDurationS");
	if (rd != NULL && !json_is_null(rd)) {
		if (!json_is_integer(rd) || json_integer_value(rd) < 0 ||
		    json_integer_value(rd) > SP_MAX_DURATION_S)
			return bad_request(status, resp, "requestedDurationS must be 0..315360000");
		requested = json_integer_value(rd);
	}

	sp_record r = {
		.created_at = now,
		.function = fn,
		.fci = h.fci,
		.requester = h.requester,
		.peer_id = peer_id,
		.eid = eid_s,
		.app_id = app_id,
		.share_id = share_id,
		.user_id = user_id,
	};

	eid_t eid;
	int erc = eid_parse(eid_s, &eid);
	if (erc != 0) {
		char msg[160];
		(void)ts_snprintf(msg, sizeof(msg), "EID rejected: %s", ts_strerror(erc));
		r.decision = "denied";
		r.reason = msg;
		log_info("S13 confirmOrder %s: denied (%s)", h.fci, msg);
		return record(s, &r, 200, status_failed("8.1", "2.1", msg), status, resp);
	}

	sp_order o = {
		.eid = eid.digits,
		.app_id = app_id,
		.kind_hint = kind_hint,
		.name_hint = name_hint,
		.requested_s = requested,
	};
	sp_decision d;
	rc = sp_policy_decide(p, &o, now, &d);
	if (rc != 0) {
		log_error("confirmOrder %s: %s", h.fci, d.reason[0] ? d.reason : ts_strerror(rc));
		return rc;
	}
	r.kind = d.kind;
	if (!d.approved) {
		r.decision = "denied";
		r.reason = d.reason;
		log_info("S13 confirmOrder %s: denied app %s for EID %s (%s)", h.fci, app_id,
		    eid.digits, d.reason);
		return record(s, &r, 200, status_failed("8.1", "3.8", d.reason), status, resp);
	}

	char assoc[SP_ASSOC_ID_MAX];
	if ((rc = sp_cred_mint(d.kind, app_id, d.scope, d.not_after, &cred, assoc)) != 0)
		return rc;
	json_t *body = status_success();
	if (body == NULL || json_object_set_new(body, "associatedAppId", json_string(assoc)) != 0 ||
	    json_object_set_new(body, "name", json_string(d.name)) != 0 ||
	    json_object_set_new(body, "kind", json_string(d.kind)) != 0 ||
	    json_object_set_new(body, "notAfter", json_integer(d.not_after)) != 0 ||
	    json_object_set(body, "credential", cred) != 0) {
		json_decref(body);
		json_decref(cred);
		return TS_ENOMEM;
	}
	json_decref(cred);
	r.decision = "approved";
	r.associated_app_id = assoc;
	r.not_after = d.not_after;
	log_info("S13 confirmOrder %s: approved app %s for EID %s -> %s (%s, notAfter %lld)",
	    h.fci, app_id, eid.digits, assoc, d.kind, (long long)d.not_after);
	return record(s, &r, 200, body, status, resp);
}

int
sp_cancel_order(sp_store *s, const json_t *req, const char *peer_id, int64_t now,
    int *status, json_t **resp)
{
	static const char fn[] = "cancelOrder";
	struct es2_header h = { 0 };
	const char *why = NULL;
	*resp = NULL;
	*status = 500;
	if (s == NULL || !json_is_object(req))
		return TS_EINVAL;
	if (parse_header(req, &h, &why) != 0)
		return bad_request(status, resp, why);
	int rc = replay(s, h.fci, fn, status, resp);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	const char *eid_s = NULL, *assoc = NULL, *share_id = NULL, *fpsi = NULL;
	if (opt_text(req, "associatedAppId", SP_ASSOC_ID_MAX, &assoc) != 0 || assoc == NULL)
		return bad_request(status, resp, "associatedAppId is missing or malformed");
	if (opt_text(req, "eid", 64, &eid_s) != 0 ||
	    opt_text(req, "shareId", SP_TEXT_MAX, &share_id) != 0 ||
	    opt_text(req, "finalProfileStatusIndicator", 32, &fpsi) != 0)
		return bad_request(status, resp, "eid, shareId or finalProfileStatusIndicator is malformed");
	rc = sp_store_find_assoc(s, assoc);
	if (rc != 0 && rc != TS_ENOTFOUND)
		return rc;
	char reason[96];
	(void)ts_snprintf(reason, sizeof(reason), "%s%s%s",
	    rc == TS_ENOTFOUND ? "unknown associatedAppId" : "cancelled",
	    fpsi ? ", final status " : "", fpsi ? fpsi : "");
	sp_record r = {
		.created_at = now,
		.function = fn,
		.fci = h.fci,
		.requester = h.requester,
		.peer_id = peer_id,
		.eid = eid_s,
		.share_id = share_id,
		.decision = "cancelled",
		.associated_app_id = assoc,
		.reason = reason,
	};
	log_info("S16 cancelOrder %s: %s %s", h.fci, assoc, reason);
	return record(s, &r, 200, status_success(), status, resp);
}
