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
/* The text json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) gives, caller
 * frees; NULL when out of memory or v is NULL. */
char *ts_json_dump_sorted(const json_t *v);
/* The tree json_loads(s, 0, NULL) gives (duplicate keys: the last one
 * wins), or NULL when it gives none; caller decrefs. Documents the fast
 * reader takes (see json.c) skip jansson's character-at-a-time lexer. */
json_t *ts_json_loads(const char *s);

/*
 * ts_jw: a JSON text writer for the documents the node makes per flow, so
 * that they need no jansson tree (json_pack's format parser, an allocation
 * and a hash insert per member, a free per member). Objects of string,
 * integer, boolean, base64, raw-text and object members only, written in
 * the order the calls come: the same text as ts_json_dump of a jansson
 * object built in that order. Keys must be distinct within an object: the
 * writer does not look for repeats (jansson would replace the value in
 * place).
 *
 * Errors are sticky: after the first, every call does nothing and
 * ts_jw_finish says what it was. TS_JW_UNSURE: a string this writer does
 * not reproduce byte for byte (a NULL pointer, a byte above 0x7f: jansson
 * checks the UTF-8) — the caller makes the document with jansson instead,
 * whose answer (text or refusal) is then the answer.
 *
 * Caller-allocated: ts_jw_init, calls, ts_jw_finish (which frees its
 * buffer unless it hands it out). The object nesting is limited to
 * TS_JW_MAX_DEPTH.
 */
#define TS_JW_UNSURE 1
#define TS_JW_MAX_DEPTH 16

/* a growing text buffer (internal to json.c) */
struct ts_jbuf {
	char *p; /* owned */
	size_t len, cap;
};

typedef struct ts_jw {
	struct ts_jbuf b; /* the text so far */
	int status; /* 0, TS_JW_UNSURE or a negative TS_E* */
	unsigned depth;
	uint32_t more; /* bit d: the object at depth d already has a member */
} ts_jw;

void ts_jw_init(ts_jw *w);
/* Room for n more bytes of text at once (fewer reallocations for a
 * document whose size the caller knows roughly). */
void ts_jw_reserve(ts_jw *w, size_t n);
/* Opens an object: the document itself (key NULL, first call only) or a
 * member named key of the object open now. */
void ts_jw_open(ts_jw *w, const char *key);
/* Closes the object opened last. */
void ts_jw_close(ts_jw *w);
/* Members of the object open now (key and s borrowed). */
void ts_jw_str(ts_jw *w, const char *key, const char *s);
void ts_jw_strn(ts_jw *w, const char *key, const char *s, size_t n);
void ts_jw_int(ts_jw *w, const char *key, int64_t v);
void ts_jw_bool(ts_jw *w, const char *key, int v);
/* A string member: base64 of buf (what ts_json_set_b64 sets). */
void ts_jw_b64(ts_jw *w, const char *key, const uint8_t *buf, size_t len);
/* A member whose value is the JSON text `json` as it is (borrowed; the
 * caller vouches for it: ts_json_dump's or this writer's output). */
void ts_jw_raw(ts_jw *w, const char *key, const char *json);
/* 0 and *out the NUL-terminated text (caller frees), or the sticky error
 * (TS_JW_UNSURE, TS_ENOMEM, TS_ELIMIT nested too deep, TS_EINVAL
 * unbalanced objects or a member outside one) and *out
 * NULL. The writer is empty afterwards either way. */
int ts_jw_finish(ts_jw *w, char **out);

/* The text ts_json_dump gives for json_pack("{s:s,s:s,...}", kv[0][0],
 * kv[0][1], ...) of the n pairs (NULL where json_pack fails: a NULL or
 * invalid UTF-8 string; or out of memory). Caller frees. */
char *ts_json_strings_text(const char *const (*kv)[2], size_t n);

#endif
