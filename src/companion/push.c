#include "companion/push.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/json.h"
#include "lib/ts_err.h"
#include "lib/util.h"

/* Copies obj[key] into dst: required, 1..cap-1 printable ASCII bytes (these
 * values end up in log lines and URLs, so control bytes are refused). */
static int
get_field(const json_t *obj, const char *key, char *dst, size_t cap, char *errbuf,
    size_t errcap)
{
	const char *v = ts_json_str(obj, key);
	if (v == NULL) {
		ts_errbuf(errbuf, errcap, "field %s is missing or not a string", key);
		return TS_EPROTO;
	}
	size_t n = strnlen(v, cap);
	if (n == 0 || n >= cap) {
		ts_errbuf(errbuf, errcap, "field %s must be 1..%zu bytes", key, cap - 1);
		return TS_EPROTO;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch < 0x21 || ch > 0x7e) {
			ts_errbuf(errbuf, errcap, "field %s holds a non-printable or space character", key);
			return TS_EPROTO;
		}
	}
	memcpy(dst, v, n + 1);
	return 0;
}

/* "certificate": base64 of one DER SEQUENCE (whether it is a certificate for
 * the right key is the SE's call), at most PUSH_CERT_MAX bytes. */
static int
get_cert(const json_t *obj, push_cmd *out, char *errbuf, size_t errcap)
{
	const char *v = ts_json_str(obj, "certificate");
	uint8_t *der = NULL;
	size_t len = 0;
	if (v == NULL) {
		ts_errbuf(errbuf, errcap, "field certificate is missing or not a string");
		return TS_EPROTO;
	}
	/* Checked before decoding: 4 characters per 3 bytes. */
	if (strlen(v) > (PUSH_CERT_MAX + 2) / 3 * 4) {
		ts_errbuf(errbuf, errcap, "field certificate exceeds %d bytes", PUSH_CERT_MAX);
		return TS_EPROTO;
	}
	if (ts_b64_decode(v, &der, &len) != 0 || len < 2 || len > PUSH_CERT_MAX || der[0] != 0x30) {
		free(der);
		ts_errbuf(errbuf, errcap, "field certificate is not base64 of a DER certificate");
		return TS_EPROTO;
	}
	memcpy(out->cert, der, len);
	out->cert_len = len;
	free(der);
	return 0;
}

int
push_parse(const char *event, const char *data, push_cmd *out, char *errbuf, size_t errcap)
{
	json_t *obj = NULL;
	int rc;
	char perr[128] = "";

	memset(out, 0, sizeof(*out));
	if (event == NULL || data == NULL)
		return TS_EINVAL;
	if (strcmp(event, "download") == 0) {
		out->kind = PUSH_DOWNLOAD;
	} else if (strcmp(event, "delete") == 0) {
		out->kind = PUSH_DELETE;
	} else if (strcmp(event, "certificate") == 0) {
		out->kind = PUSH_CERTIFICATE;
	} else {
		ts_errbuf(errbuf, errcap, "unknown event \"%.40s\"", event);
		return TS_EUNSUPP;
	}
	rc = ts_json_parse(data, strlen(data), &obj, perr, sizeof(perr));
	if (rc != 0 || !json_is_object(obj)) {
		ts_errbuf(errbuf, errcap, "%s event data is not a JSON object (%s)", event,
		    perr[0] ? perr : "wrong type");
		rc = TS_EPARSE;
		goto fail;
	}
	if ((rc = get_field(obj, "share_id", out->share_id, sizeof(out->share_id), errbuf,
	    errcap)) != 0)
		goto fail;
	if (out->kind == PUSH_DOWNLOAD) {
		if ((rc = get_field(obj, "matching_id", out->matching_id, sizeof(out->matching_id),
		    errbuf, errcap)) != 0)
			goto fail;
		if ((rc = get_field(obj, "smdp_address", out->smdp_address,
		    sizeof(out->smdp_address), errbuf, errcap)) != 0)
			goto fail;
	} else {
		if ((rc = get_field(obj, "app_id", out->app_id, sizeof(out->app_id), errbuf,
		    errcap)) != 0)
			goto fail;
	}
	if (out->kind == PUSH_CERTIFICATE && (rc = get_cert(obj, out, errbuf, errcap)) != 0)
		goto fail;
	json_decref(obj);
	return 0;
fail:
	json_decref(obj);
	memset(out, 0, sizeof(*out));
	return rc;
}

int
push_stream_token_parse(const json_t *resp, char token[PUSH_STREAM_TOKEN_LEN + 1], long *expires_in,
    char *errbuf, size_t errcap)
{
	const char *t = ts_json_str(resp, "streamToken");
	json_t *e = json_object_get(resp, "expiresIn");
	token[0] = '\0';
	if (t == NULL || strlen(t) != PUSH_STREAM_TOKEN_LEN || strspn(t, "0123456789abcdef") != PUSH_STREAM_TOKEN_LEN) {
		ts_errbuf(errbuf, errcap, "streamToken is missing or not %d hex characters", PUSH_STREAM_TOKEN_LEN);
		return TS_EPROTO;
	}
	if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > PUSH_STREAM_TTL_MAX) {
		ts_errbuf(errbuf, errcap, "expiresIn is missing or not 1..%d seconds", PUSH_STREAM_TTL_MAX);
		return TS_EPROTO;
	}
	memcpy(token, t, PUSH_STREAM_TOKEN_LEN + 1);
	*expires_in = (long)json_integer_value(e);
	return 0;
}
