/*
 * json.c — strict JSON helpers over jansson (see json.h).
 */
#include "lib/json.h"

#include <stdlib.h>
#include <string.h>

#include "lib/ts_err.h"
#include "lib/util.h"

static void
set_err(char *errbuf, size_t errcap, const char *msg, int line, int col)
{
	if (errbuf == NULL || errcap == 0)
		return;
	if (line > 0) {
		if (ts_snprintf(errbuf, errcap, "line %d column %d: %s", line, col, msg) == 0)
			return;
	}
	/* Truncation is fine for a diagnostic. */
	(void)ts_snprintf(errbuf, errcap, "%s", msg);
}

int
ts_json_parse(const char *buf, size_t len, json_t **out, char *errbuf, size_t errcap)
{
	json_error_t jerr;
	json_t *v;

	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if ((buf == NULL && len != 0) || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	if (len > TS_JSON_MAX) {
		set_err(errbuf, errcap, "document too large", 0, 0);
		return TS_ELIMIT;
	}
	v = json_loadb(buf == NULL ? "" : buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		set_err(errbuf, errcap, jerr.text, jerr.line, jerr.column);
		return TS_EPARSE;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		set_err(errbuf, errcap, "not a JSON object", 0, 0);
		return TS_EPARSE;
	}
	*out = v;
	return 0;
}

const char *
ts_json_str(const json_t *obj, const char *key)
{
	if (obj == NULL || key == NULL || !json_is_object(obj))
		return NULL;
	/* json_object_get takes a non-const object but does not modify it. */
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int
ts_json_b64(const json_t *obj, const char *key, uint8_t **out, size_t *outlen)
{
	if (obj == NULL || key == NULL || out == NULL || outlen == NULL || !json_is_object(obj))
		return TS_EINVAL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return TS_ENOTFOUND;
	if (!json_is_string(v))
		return TS_EPARSE;
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return TS_EPARSE; /* embedded NUL */
	int rc = ts_b64_decode(s, out, outlen);
	return rc == TS_ENOMEM ? rc : (rc != 0 ? TS_EPARSE : 0);
}

int
ts_json_set_b64(json_t *obj, const char *key, const uint8_t *buf, size_t len)
{
	char *s = NULL;
	if (obj == NULL || key == NULL || !json_is_object(obj) || (buf == NULL && len != 0))
		return TS_EINVAL;
	int rc = ts_b64_encode(buf == NULL ? (const uint8_t *)"" : buf, len, &s);
	if (rc != 0)
		return rc;
	/* base64 is ASCII: no UTF-8 scan of a package-sized string */
	json_t *v = json_stringn_nocheck(s, 4 * ((len + 2) / 3));
	free(s);
	if (v == NULL)
		return TS_ENOMEM;
	/* json_object_set_new steals v, also on failure. */
	return json_object_set_new(obj, key, v) == 0 ? 0 : TS_ENOMEM;
}

char *
ts_json_dump(const json_t *v)
{
	if (v == NULL)
		return NULL;
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}
