#include "companion/es9client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "companion/push.h"
#include "device/se_client.h"
#include "lib/der.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/ts_err.h"
#include "lib/util.h"

/* A printable excerpt of an untrusted string for error messages. */
static void
safe_copy(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	if (src == NULL)
		src = "";
	for (; src[i] != '\0' && i + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	dst[i] = '\0';
}

int
es9_check_status(long http_status, const json_t *resp, int allow_empty,
    char *errbuf, size_t errcap)
{
	char s1[64], s2[64], msg[256];

	if (resp == NULL) {
		if (allow_empty && http_status >= 200 && http_status < 300)
			return 0;
		ts_errbuf(errbuf, errcap, "HTTP %ld with an empty body%s", http_status,
		    allow_empty ? "" : " (a JSON response was expected)");
		return TS_EPROTO;
	}
	if (!json_is_object(resp)) {
		ts_errbuf(errbuf, errcap, "response is not a JSON object");
		return TS_EPROTO;
	}
	/* The node's generic error shape (docs/protocol.md, top). */
	const json_t *err = json_object_get(resp, "error");
	if (json_is_object(err)) {
		safe_copy(s1, sizeof(s1), ts_json_str(err, "code"));
		safe_copy(msg, sizeof(msg), ts_json_str(err, "message"));
		ts_errbuf(errbuf, errcap, "HTTP %ld %s: %s", http_status, s1, msg);
		return TS_EPROTO;
	}
	const json_t *hdr = json_object_get(resp, "header");
	const json_t *fes = json_is_object(hdr) ? json_object_get(hdr, "functionExecutionStatus") : NULL;
	const char *status = json_is_object(fes) ? ts_json_str(fes, "status") : NULL;
	if (status == NULL) {
		/* handleNotification / cancelSession answer 204; tolerate a bare 2xx object. */
		if (allow_empty && hdr == NULL && http_status >= 200 && http_status < 300)
			return 0;
		ts_errbuf(errbuf, errcap,
		    "HTTP %ld: response lacks header.functionExecutionStatus.status", http_status);
		return TS_EPROTO;
	}
	if (strcmp(status, "Executed-Success") == 0 ||
	    strcmp(status, "Executed-WithWarning") == 0) {
		if (http_status < 200 || http_status >= 300) {
			ts_errbuf(errbuf, errcap, "HTTP %ld with status %s", http_status, status);
			return TS_EPROTO;
		}
		return 0;
	}
	if (strcmp(status, "Failed") == 0 || strcmp(status, "Expired") == 0) {
		const json_t *scd = json_object_get(fes, "statusCodeData");
		if (json_is_object(scd)) {
			safe_copy(s1, sizeof(s1), ts_json_str(scd, "subjectCode"));
			safe_copy(s2, sizeof(s2), ts_json_str(scd, "reasonCode"));
			safe_copy(msg, sizeof(msg), ts_json_str(scd, "message"));
			ts_errbuf(errbuf, errcap, "%s: subjectCode %s reasonCode %s: %s", status, s1,
			    s2, msg[0] ? msg : "(no message)");
		} else {
			ts_errbuf(errbuf, errcap, "%s (no statusCodeData)", status);
		}
		return TS_EDENIED;
	}
	safe_copy(s1, sizeof(s1), status);
	ts_errbuf(errbuf, errcap, "unknown functionExecutionStatus.status \"%s\"", s1);
	return TS_EPROTO;
}

/* Required base64 member: TS_EPROTO naming the field when absent or bad. */
static int
need_b64(const json_t *resp, const char *key, uint8_t **out, size_t *len, char *errbuf,
    size_t errcap)
{
	*out = NULL;
	*len = 0;
	int rc = ts_json_b64(resp, key, out, len);
	if (rc == TS_ENOMEM)
		return rc;
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "response field %s is %s", key,
		    rc == TS_ENOTFOUND ? "missing" : "not valid base64");
		return TS_EPROTO;
	}
	if (*len == 0) {
		free(*out);
		*out = NULL;
		ts_errbuf(errbuf, errcap, "response field %s is empty", key);
		return TS_EPROTO;
	}
	return 0;
}

static int
need_sig(const json_t *resp, const char *key, uint8_t sig[PKI_SIG_LEN], char *errbuf,
    size_t errcap)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = need_b64(resp, key, &buf, &len, errbuf, errcap);
	if (rc != 0)
		return rc;
	/* SGP.22 ES9+: the whole data object, 5F37 40 r||s. */
	rc = es10_sig_from_do(buf, len, sig);
	free(buf);
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "response field %s is not a 5F37 signature data object (64 bytes r||s)",
		    key);
		return TS_EPROTO;
	}
	return 0;
}

/* Creates an object and sets string members from a NULL-terminated list of
 * key, value pairs (values borrowed, copied by jansson). */
static json_t *
obj_with_strings(const char *k1, const char *v1, const char *k2, const char *v2)
{
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	if (k1 != NULL && json_object_set_new(o, k1, json_string(v1)) != 0)
		goto fail;
	if (k2 != NULL && json_object_set_new(o, k2, json_string(v2)) != 0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static int
valid_text(const char *s, size_t max)
{
	if (s == NULL || s[0] == '\0')
		return 0;
	size_t n = strnlen(s, max + 1);
	return n <= max;
}

int
es9_initiate_auth_request(const uint8_t challenge[RSP_CHALLENGE_LEN], const uint8_t *euicc_info1,
    size_t euicc_info1_len, const char *smdp_address, const char *matching_id, json_t **out)
{
	*out = NULL;
	if (challenge == NULL || euicc_info1 == NULL || euicc_info1_len == 0 ||
	    !valid_text(smdp_address, RSP_STR_MAX) || (matching_id != NULL && !valid_text(matching_id, RSP_STR_MAX)))
		return TS_EINVAL;
	json_t *o = matching_id != NULL ? obj_with_strings("smdpAddress", smdp_address, "matchingId", matching_id)
					: json_pack("{s:s}", "smdpAddress", smdp_address);
	if (o == NULL)
		return TS_ENOMEM;
	int rc = ts_json_set_b64(o, "euiccChallenge", challenge, RSP_CHALLENGE_LEN);
	if (rc == 0)
		rc = ts_json_set_b64(o, "euiccInfo1", euicc_info1, euicc_info1_len);
	if (rc != 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

static int
is_hex(const char *s)
{
	for (; *s != '\0'; s++) {
		char c = *s;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

int
es9_initiate_auth_parse(const json_t *resp, es9_auth1 *out, char *errbuf, size_t errcap)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if (!json_is_object(resp)) {
		ts_errbuf(errbuf, errcap, "response is not a JSON object");
		return TS_EPROTO;
	}
	const char *tid = ts_json_str(resp, "transactionId");
	size_t tl = tid ? strnlen(tid, ES9_TID_HEX_MAX + 1) : 0;
	if (tid == NULL) {
		ts_errbuf(errbuf, errcap, "response field transactionId is missing");
		return TS_EPROTO;
	}
	if (tl < 2 || tl > ES9_TID_HEX_MAX || tl % 2 != 0 || !is_hex(tid)) {
		ts_errbuf(errbuf, errcap, "response field transactionId is not 2..64 hex digits");
		return TS_EPROTO;
	}
	memcpy(out->transaction_id, tid, tl + 1);
	if ((rc = need_b64(resp, "serverSigned1", &out->server_signed1,
	    &out->server_signed1_len, errbuf, errcap)) != 0)
		goto fail;
	if ((rc = need_sig(resp, "serverSignature1", out->server_signature1, errbuf, errcap)) != 0)
		goto fail;
	/* euiccCiPKIdToBeUsed: the DER SubjectKeyIdentifier, 04 L keyid. */
	if (json_object_get(resp, "euiccCiPKIdToBeUsed") != NULL) {
		uint8_t *k = NULL;
		size_t kl = 0;
		der_tlv t;
		if ((rc = need_b64(resp, "euiccCiPKIdToBeUsed", &k, &kl, errbuf, errcap)) != 0)
			goto fail;
		if (der_read_one(k, kl, &t) != 0 || t.tag != 0x04 || t.len < 1 || t.len > ES10_PKID_MAX) {
			free(k);
			ts_errbuf(errbuf, errcap, "response field euiccCiPKIdToBeUsed is not an OCTET STRING key id");
			rc = TS_EPROTO;
			goto fail;
		}
		memcpy(out->ci_pkid, t.val, t.len);
		out->ci_pkid_len = t.len;
		free(k);
	}
	if ((rc = need_b64(resp, "serverCertificate", &out->server_cert, &out->server_cert_len,
	    errbuf, errcap)) != 0)
		goto fail;
	return 0;
fail:
	es9_auth1_clear(out);
	return rc;
}

void
es9_auth1_clear(es9_auth1 *a)
{
	if (a == NULL)
		return;
	free(a->server_signed1);
	free(a->server_cert);
	memset(a, 0, sizeof(*a));
}

int
es9_check_server_signed1(const es9_auth1 *a, const uint8_t challenge[RSP_CHALLENGE_LEN],
    const char *smdp_address, char *errbuf, size_t errcap)
{
	es10_server_signed1 s;
	uint8_t tid[ES10_TID_MAX];
	size_t tidlen = 0;

	int rc = es10_server_signed1_decode(a->server_signed1, a->server_signed1_len, &s);
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "serverSigned1 does not decode (%s)", ts_strerror(rc));
		return TS_EPARSE;
	}
	if (ts_hex_decode(a->transaction_id, tid, sizeof(tid), &tidlen) != 0 ||
	    tidlen != s.tid_len || memcmp(tid, s.tid, s.tid_len) != 0) {
		ts_errbuf(errbuf, errcap,
		    "serverSigned1 transactionId differs from the response's transactionId %s",
		    a->transaction_id);
		return TS_EVERIFY;
	}
	/* Public value, but compare in constant time anyway: habit for challenges. */
	if (CRYPTO_memcmp(s.euicc_challenge, challenge, RSP_CHALLENGE_LEN) != 0) {
		ts_errbuf(errbuf, errcap, "serverSigned1 does not echo our euiccChallenge");
		return TS_EVERIFY;
	}
	/* SGP.22 serverAddress is the bare address: compare without the scheme
	 * and trailing '/' of the URL we used. */
	const char *want = smdp_address;
	if (strncmp(want, "https://", 8) == 0)
		want += 8;
	else if (strncmp(want, "http://", 7) == 0)
		want += 7;
	size_t wl = strlen(want);
	while (wl > 0 && want[wl - 1] == '/')
		wl--;
	if (strlen(s.server_address) != wl || strncmp(s.server_address, want, wl) != 0) {
		char got[ES10_ADDR_MAX + 1];
		safe_copy(got, sizeof(got), s.server_address);
		ts_errbuf(errbuf, errcap, "serverSigned1 names server address \"%s\", expected \"%s\"",
		    got, smdp_address);
		return TS_EVERIFY;
	}
	return 0;
}

static int
tid_and_b64(const char *tid, const char *key, const uint8_t *buf, size_t len, json_t **out)
{
	*out = NULL;
	if (!valid_text(tid, ES9_TID_HEX_MAX) || buf == NULL || len == 0)
		return TS_EINVAL;
	json_t *o = obj_with_strings("transactionId", tid, NULL, NULL);
	if (o == NULL)
		return TS_ENOMEM;
	int rc = ts_json_set_b64(o, key, buf, len);
	if (rc != 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

int
es9_authenticate_client_request(const char *transaction_id, const uint8_t *bf38,
    size_t bf38_len, json_t **out)
{
	return tid_and_b64(transaction_id, "authenticateServerResponse", bf38, bf38_len, out);
}

int
es9_authenticate_client_parse(const json_t *resp, es9_auth2 *out, char *errbuf, size_t errcap)
{
	int rc;
	uint8_t *meta = NULL;
	size_t metalen = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(resp)) {
		ts_errbuf(errbuf, errcap, "response is not a JSON object");
		return TS_EPROTO;
	}
	if (json_object_get(resp, "profileMetadata") != NULL) {
		if ((rc = need_b64(resp, "profileMetadata", &meta, &metalen, errbuf, errcap)) != 0)
			goto fail;
		if (rsp_metadata_decode(meta, metalen, &out->metadata) != 0) {
			ts_errbuf(errbuf, errcap, "response field profileMetadata does not decode");
			rc = TS_EPROTO;
			goto fail;
		}
		out->has_metadata = 1;
	}
	if ((rc = need_b64(resp, "smdpSigned2", &out->smdp_signed2, &out->smdp_signed2_len,
	    errbuf, errcap)) != 0)
		goto fail;
	if ((rc = need_sig(resp, "smdpSignature2", out->smdp_signature2, errbuf, errcap)) != 0)
		goto fail;
	if ((rc = need_b64(resp, "smdpCertificate", &out->smdp_cert, &out->smdp_cert_len,
	    errbuf, errcap)) != 0)
		goto fail;
	free(meta);
	return 0;
fail:
	free(meta);
	es9_auth2_clear(out);
	return rc;
}

void
es9_auth2_clear(es9_auth2 *a)
{
	if (a == NULL)
		return;
	free(a->smdp_signed2);
	free(a->smdp_cert);
	memset(a, 0, sizeof(*a));
}

int
es9_get_bpp_request(const char *transaction_id, const uint8_t *bf21, size_t bf21_len,
    json_t **out)
{
	return tid_and_b64(transaction_id, "prepareDownloadResponse", bf21, bf21_len, out);
}

int
es9_get_bpp_parse(const json_t *resp, uint8_t **bpp, size_t *bpp_len, char *errbuf,
    size_t errcap)
{
	*bpp = NULL;
	*bpp_len = 0;
	if (!json_is_object(resp)) {
		ts_errbuf(errbuf, errcap, "response is not a JSON object");
		return TS_EPROTO;
	}
	return need_b64(resp, "boundProfilePackage", bpp, bpp_len, errbuf, errcap);
}

int
es9_handle_notification_request(const uint8_t *notif, size_t len, json_t **out)
{
	*out = NULL;
	if (notif == NULL || len == 0)
		return TS_EINVAL;
	json_t *o = json_object();
	if (o == NULL)
		return TS_ENOMEM;
	int rc = ts_json_set_b64(o, "pendingNotification", notif, len);
	if (rc != 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

int
es9_cancel_session_request(const char *transaction_id, const uint8_t *csr, size_t csr_len, json_t **out)
{
	*out = NULL;
	if (!valid_text(transaction_id, ES9_TID_HEX_MAX) || csr == NULL || csr_len == 0)
		return TS_EINVAL;
	json_t *o = json_pack("{s:s}", "transactionId", transaction_id);
	if (o == NULL)
		return TS_ENOMEM;
	int rc = ts_json_set_b64(o, "cancelSessionResponse", csr, csr_len);
	if (rc != 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

int
es9_server_base(const char *smdp_address, char *out, size_t cap)
{
	if (smdp_address == NULL || out == NULL || cap == 0)
		return TS_EINVAL;
	out[0] = '\0';
	const char *host = smdp_address;
	const char *sep = strstr(smdp_address, "://");
	if (sep != NULL) {
		if (sep - smdp_address != 5 || strncasecmp(smdp_address, "https", 5) != 0)
			return TS_EINVAL;
		host = sep + 3;
	}
	if (host[0] == '\0' || host[0] == '/')
		return TS_EINVAL;
	for (const char *p = smdp_address; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '@' || *p == '?' || *p == '#')
			return TS_EINVAL;
	return ts_snprintf(out, cap, "%s%s", sep != NULL ? "" : "https://", smdp_address);
}

int
es9_url(const char *base, const char *function, char *out, size_t cap)
{
	if (base == NULL || function == NULL || base[0] == '\0' || function[0] == '\0')
		return TS_EINVAL;
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if (bl > (size_t)INT32_MAX)
		return TS_ELIMIT;
	return ts_snprintf(out, cap, "%.*s%s%s", (int)bl, base, ES9_PATH, function);
}

int
es9_post(ts_httpc *c, const char *base, const char *function, json_t *body,
    int allow_empty, json_t **resp, char *errbuf, size_t errcap)
{
	static const char *const headers[] = {
		"X-Admin-Protocol: " ES9_ADMIN_PROTOCOL,
		"Content-Type: application/json",
		"Accept: application/json",
		NULL,
	};
	char url[1024];
	long status = 0;
	json_t *r = NULL;
	char neterr[256] = "";

	if (resp != NULL)
		*resp = NULL;
	int rc = es9_url(base, function, url, sizeof(url));
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "node URL too long");
		return rc;
	}
	rc = ts_httpc_json(c, "POST", url, headers, body, &status, &r, neterr, sizeof(neterr));
	if (rc == TS_EPARSE) {
		ts_errbuf(errbuf, errcap, "%s: HTTP %ld with a body that is not JSON", function,
		    status);
		return TS_EPROTO;
	}
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "%s: %s (%s)", function, ts_strerror(rc),
		    neterr[0] ? neterr : "no detail");
		return rc;
	}
	char why[512] = "";
	rc = es9_check_status(status, r, allow_empty, why, sizeof(why));
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "%s: %s", function, why);
		json_decref(r);
		return rc;
	}
	if (resp != NULL)
		*resp = r;
	else
		json_decref(r);
	return 0;
}

/* ---- event stream authentication (issue 8) ---- */

/* POST base+path with a JSON body, then es9_check_status. */
static int
stream_post(ts_httpc *c, const char *base, const char *path, json_t *body, json_t **resp, char *errbuf,
    size_t errcap)
{
	static const char *const headers[] = { "Content-Type: application/json", "Accept: application/json", NULL };
	char url[1024], neterr[256] = "", why[512] = "";
	long status = 0;
	json_t *r = NULL;
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	*resp = NULL;
	if (ts_snprintf(url, sizeof(url), "%.*s%s", (int)bl, base, path) != 0) {
		ts_errbuf(errbuf, errcap, "node URL too long");
		return TS_ELIMIT;
	}
	int rc = ts_httpc_json(c, "POST", url, headers, body, &status, &r, neterr, sizeof(neterr));
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "%s: %s (%s)", path, ts_strerror(rc), neterr[0] ? neterr : "no detail");
		return rc == TS_EPARSE ? TS_EPROTO : rc;
	}
	if ((rc = es9_check_status(status, r, 0, why, sizeof(why))) != 0) {
		ts_errbuf(errbuf, errcap, "%s: %s", path, why);
		json_decref(r);
		return rc;
	}
	*resp = r;
	return 0;
}

int
es9_stream_auth(ts_httpc *c, struct se_driver *se, const char *base, const char *eid, char token[65],
    long *expires_in, char *errbuf, size_t errcap)
{
	uint8_t challenge[RSP_CHALLENGE_LEN], *bf38 = NULL;
	size_t bf38_len = 0;
	json_t *req = NULL, *resp = NULL;
	es9_auth1 a1;
	char addr[1024];
	memset(&a1, 0, sizeof(a1));
	token[0] = '\0';
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	int rc = ts_snprintf(addr, sizeof(addr), "%.*s", (int)bl, base);
	if (rc != 0)
		goto out;
	if ((rc = se_get_challenge(se, challenge)) != 0) {
		ts_errbuf(errbuf, errcap, "SE GetEuiccChallenge: %s", ts_strerror(rc));
		goto out;
	}
	req = json_pack("{s:s}", "eid", eid);
	if (req == NULL || ts_json_set_b64(req, "euiccChallenge", challenge, sizeof(challenge)) != 0) {
		rc = TS_ENOMEM;
		goto out;
	}
	if ((rc = stream_post(c, base, "/v1/companion/stream/initiate", req, &resp, errbuf, errcap)) != 0 ||
	    (rc = es9_initiate_auth_parse(resp, &a1, errbuf, errcap)) != 0)
		goto out;
	/* serverAddress names the node we asked: its URL, or (SGP.22 style)
	 * the same without the scheme. */
	rc = es9_check_server_signed1(&a1, challenge, addr, errbuf, errcap);
	if (rc == TS_EVERIFY && strncmp(addr, "https://", 8) == 0)
		rc = es9_check_server_signed1(&a1, challenge, addr + 8, errbuf, errcap);
	if (rc != 0)
		goto out;
	json_decref(req);
	json_decref(resp);
	req = resp = NULL;
	if ((rc = se_authenticate_server(se, a1.server_signed1, a1.server_signed1_len, a1.server_signature1,
	    a1.server_cert, a1.server_cert_len, PUSH_STREAM_MATCHING_ID, &bf38, &bf38_len)) != 0) {
		ts_errbuf(errbuf, errcap, "SE AuthenticateServer: %s", ts_strerror(rc));
		goto out;
	}
	if ((rc = es9_authenticate_client_request(a1.transaction_id, bf38, bf38_len, &req)) != 0 ||
	    (rc = stream_post(c, base, "/v1/companion/stream/authenticate", req, &resp, errbuf, errcap)) != 0 ||
	    (rc = push_stream_token_parse(resp, token, expires_in, errbuf, errcap)) != 0)
		goto out;
out:
	es9_auth1_clear(&a1);
	free(bf38);
	json_decref(req);
	json_decref(resp);
	return rc;
}
