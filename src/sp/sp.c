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
#include "lib/pki.h"
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

/* The start every function shares: the arguments checked (args_ok: the
 * caller's own), the header parsed (a bad one answered 400) and a repeated
 * functionCallIdentifier answered from the record. 1: answered (*status,
 * *resp set), 0: go on with h, < 0: internal error (*resp NULL). */
static int
call_begin(sp_store *s, const json_t *req, const char *fn, int args_ok, struct es2_header *h,
    int *status, json_t **resp)
{
	const char *why = NULL;
	*resp = NULL;
	*status = 500;
	if (!args_ok || s == NULL || !json_is_object(req))
		return TS_EINVAL;
	if (parse_header(req, h, &why) != 0) {
		int rc = bad_request(status, resp, why);
		return rc < 0 ? rc : 1;
	}
	return replay(s, h->fci, fn, status, resp);
}

/* The bank account of the primary's app: the recorded one, else a new
 * random one (retried if the number is taken). */
static int
bank_account(sp_store *s, const char *app_id, const char *user_id, int64_t now,
    char account[SP_ACCOUNT_MAX])
{
	for (int tries = 0; tries < 8; tries++) {
		int rc = sp_store_account_get(s, app_id, account);
		if (rc != TS_ENOTFOUND)
			return rc;
		if ((rc = sp_random_digits(account, SP_ACCOUNT_DIGITS)) != 0)
			return rc;
		rc = sp_store_account_add(s, app_id, user_id, account, now);
		if (rc != TS_EEXIST)
			return rc;
	}
	return TS_ELIMIT;
}

int
sp_confirm_order(sp_policy *p, sp_store *s, const json_t *req, const char *peer_id,
    int64_t now, int *status, json_t **resp)
{
	static const char fn[] = "confirmOrder";
	struct es2_header h = { 0 };
	json_t *cred = NULL;
	int rc = call_begin(s, req, fn, p != NULL, &h, status, resp);
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
	int transfer = 0;
	const json_t *op = json_object_get(req, "operationType");
	if (op != NULL && !json_is_null(op)) {
		if (!json_is_string(op) || (strcmp(json_string_value(op), "subscribe") != 0 &&
		    strcmp(json_string_value(op), "transfer") != 0))
			return bad_request(status, resp, "operationType must be subscribe or transfer");
		transfer = strcmp(json_string_value(op), "transfer") == 0;
	}
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
		.transfer = transfer,
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

	/* A bank-ID credential is minted under the account of the primary's
	 * app, so that certifyKey certifies the companion's key under it. */
	char account[SP_ACCOUNT_MAX] = "";
	int bankid = strcmp(d.kind, "bankid") == 0;
	if (bankid && (rc = bank_account(s, app_id, user_id, now, account)) != 0)
		return rc;
	char assoc[SP_ASSOC_ID_MAX];
	if ((rc = sp_cred_mint_account(d.kind, app_id, d.scope, d.not_after,
	    bankid ? account : NULL, &cred, assoc)) != 0)
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
	r.account = bankid ? account : NULL;
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
	int rc = call_begin(s, req, fn, 1, &h, status, resp);
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

int
sp_download_progress(sp_store *s, const json_t *req, const char *peer_id, int64_t now,
    int *status, json_t **resp)
{
	static const char fn[] = "handleDownloadProgressInfo";
	struct es2_header h = { 0 };
	int rc = call_begin(s, req, fn, 1, &h, status, resp);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	const char *eid_s = NULL, *assoc = NULL, *share_id = NULL, *csr = NULL;
	if (opt_text(req, "associatedAppId", SP_ASSOC_ID_MAX, &assoc) != 0 || assoc == NULL)
		return bad_request(status, resp, "associatedAppId is missing or malformed");
	const json_t *np = json_object_get(req, "notificationPointId");
	if (!json_is_integer(np) || json_integer_value(np) < 0 || json_integer_value(np) > 999)
		return bad_request(status, resp, "notificationPointId is missing or malformed");
	if (opt_text(req, "eid", 64, &eid_s) != 0 || opt_text(req, "shareId", SP_TEXT_MAX, &share_id) != 0 ||
	    opt_text(req, "cancelSessionReason", 32, &csr) != 0)
		return bad_request(status, resp, "eid, shareId or cancelSessionReason is malformed");
	char reason[96];
	(void)ts_snprintf(reason, sizeof(reason), "cancelSession %s at notification point %lld",
	    csr ? csr : "(no reason)", (long long)json_integer_value(np));
	sp_record r = {
		.created_at = now,
		.function = fn,
		.fci = h.fci,
		.requester = h.requester,
		.peer_id = peer_id,
		.eid = eid_s,
		.share_id = share_id,
		.decision = "noted",
		.associated_app_id = assoc,
		.reason = reason,
	};
	log_info("handleDownloadProgressInfo %s: %s %s", h.fci, assoc, reason);
	return record(s, &r, 200, status_success(), status, resp);
}

/* A recorded certifyKey refusal: 8.1 / code. */
static int
refuse_certify(sp_store *s, sp_record *r, const char *code, const char *msg, int *status,
    json_t **resp)
{
	r->decision = "denied";
	r->reason = msg;
	log_info("certifyKey %s: refused for %s: %s", r->fci, r->associated_app_id, msg);
	return record(s, r, 200, status_failed("8.1", code, msg), status, resp);
}

/* Executed-Success with the certificate, recorded as "certified". */
static int
certified(sp_store *s, sp_record *r, const uint8_t *der, size_t der_len, int *status,
    json_t **resp)
{
	json_t *body = status_success();
	if (body == NULL || ts_json_set_b64(body, "certificate", der, der_len) != 0) {
		json_decref(body);
		return TS_ENOMEM;
	}
	r->decision = "certified";
	return record(s, r, 200, body, status, resp);
}

/* base64 of a 65-byte point is 88 characters; allow some slack for the
 * refusal to say "not a valid point" rather than "malformed". */
#define SP_PUBKEY_B64_MAX 512

int
sp_certify_key(sp_store *s, const sp_ca *ca, const json_t *req, const char *peer_id,
    int64_t now, int *status, json_t **resp)
{
	static const char fn[] = "certifyKey";
	struct es2_header h = { 0 };
	uint8_t *point = NULL, *old_point = NULL, *der = NULL;
	size_t point_len = 0, old_len = 0, der_len = 0;
	EVP_PKEY *pub = NULL;
	char msg[192];
	int rc = call_begin(s, req, fn, ca != NULL, &h, status, resp);
	if (rc != 0)
		return rc < 0 ? rc : 0;

	const char *eid_s = NULL, *assoc = NULL, *share_id = NULL, *pk = NULL;
	if (opt_text(req, "associatedAppId", SP_ASSOC_ID_MAX, &assoc) != 0 || assoc == NULL)
		return bad_request(status, resp, "associatedAppId is missing or malformed");
	if (opt_text(req, "eid", 64, &eid_s) != 0 || eid_s == NULL)
		return bad_request(status, resp, "eid is missing or malformed");
	if (opt_text(req, "publicKey", SP_PUBKEY_B64_MAX, &pk) != 0 || pk == NULL)
		return bad_request(status, resp, "publicKey is missing or malformed");
	if (opt_text(req, "shareId", SP_TEXT_MAX, &share_id) != 0)
		return bad_request(status, resp, "shareId is malformed");

	sp_record r = {
		.created_at = now,
		.function = fn,
		.fci = h.fci,
		.requester = h.requester,
		.peer_id = peer_id,
		.eid = eid_s,
		.share_id = share_id,
		.associated_app_id = assoc,
	};
	sp_minted m;
	rc = sp_store_get_minted(s, assoc, &m);
	if (rc == TS_ENOTFOUND) {
		rc = refuse_certify(s, &r, "3.9", "associatedAppId was not minted by this provider",
		    status, resp);
		goto out;
	}
	if (rc != 0)
		goto out;
	r.app_id = m.app_id;
	r.user_id = m.user_id[0] ? m.user_id : NULL;
	r.kind = m.kind;
	r.account = m.account[0] ? m.account : NULL;
	r.not_after = m.not_after;
	if (strcmp(m.kind, "bankid") != 0) {
		(void)ts_snprintf(msg, sizeof(msg),
		    "associatedAppId is a %s credential; only bankid keys are certified", m.kind);
		rc = refuse_certify(s, &r, "3.8", msg, status, resp);
		goto out;
	}
	if (m.account[0] == '\0') { /* minted before accounts were recorded */
		rc = refuse_certify(s, &r, "3.8", "no bank account is recorded for associatedAppId",
		    status, resp);
		goto out;
	}
	eid_t eid;
	int erc = eid_parse(eid_s, &eid);
	if (erc != 0) {
		(void)ts_snprintf(msg, sizeof(msg), "EID rejected: %s", ts_strerror(erc));
		rc = refuse_certify(s, &r, "2.1", msg, status, resp);
		goto out;
	}
	if (strcmp(eid.digits, m.eid) != 0) {
		rc = refuse_certify(s, &r, "3.10",
		    "EID is not the companion the credential was minted for", status, resp);
		goto out;
	}
	if ((rc = sp_store_cancelled(s, assoc)) < 0)
		goto out;
	if (rc == 1) {
		rc = refuse_certify(s, &r, "3.7", "associatedAppId was cancelled", status, resp);
		goto out;
	}
	if (m.not_after != 0 && m.not_after <= now) {
		rc = refuse_certify(s, &r, "6.3", "the grant for associatedAppId has expired",
		    status, resp);
		goto out;
	}
	rc = ts_b64_decode(pk, &point, &point_len);
	if (rc == 0)
		rc = pki_pubkey_from_point(point, point_len, &pub);
	if (rc == TS_EPARSE || rc == TS_EINVAL) {
		rc = refuse_certify(s, &r, "2.1",
		    "publicKey is not a valid P-256 point (base64 of 65-byte X9.62 uncompressed)",
		    status, resp);
		goto out;
	}
	if (rc != 0)
		goto out;

	rc = sp_store_cert_get(s, assoc, &old_point, &old_len, &der, &der_len);
	if (rc == 0) {
		if (old_len == point_len && CRYPTO_memcmp(old_point, point, point_len) == 0) {
			log_info("certifyKey %s: %s already certified with this key", h.fci, assoc);
			rc = certified(s, &r, der, der_len, status, resp);
		} else {
			rc = refuse_certify(s, &r, "3.3",
			    "another key is already certified for associatedAppId", status, resp);
		}
		goto out;
	}
	if (rc != TS_ENOTFOUND)
		goto out;
	if ((rc = sp_ca_issue(ca, pub, m.account, assoc, m.not_after, now, &der, &der_len)) != 0 ||
	    (rc = sp_store_cert_put(s, assoc, point, point_len, der, der_len, now)) != 0)
		goto out;
	log_info("certifyKey %s: certified a key for %s (account %s, app %s, notAfter %lld)",
	    h.fci, assoc, m.account, m.app_id, (long long)m.not_after);
	rc = certified(s, &r, der, der_len, status, resp);
out:
	EVP_PKEY_free(pub);
	free(point);
	free(old_point);
	free(der);
	return rc;
}
