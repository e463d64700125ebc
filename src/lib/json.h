/*
 * json.h — strict JSON helpers over jansson.
 */
#ifndef TS_JSON_H
#define TS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define TS_JSON_MAX (256u * 1024u)

/* Parses buf as one JSON object: duplicate keys rejected, size limited.
 * Caller decrefs *out. TS_EPARSE / TS_ELIMIT. */
int ts_json_parse(const char *buf, size_t len, json_t **out, char *errbuf, size_t errcap);
/* String member or NULL if absent / not a string (borrowed). */
const char *ts_json_str(const json_t *obj, const char *key);
/* Base64 member decoded (caller frees *out). TS_ENOTFOUND / TS_EPARSE. */
int ts_json_b64(const json_t *obj, const char *key, uint8_t **out, size_t *outlen);
/* Sets obj[key] = base64(buf). */
int ts_json_set_b64(json_t *obj, const char *key, const uint8_t *buf, size_t len);
/* Compact serialisation, caller frees. */
char *ts_json_dump(const json_t *v);

#endif
