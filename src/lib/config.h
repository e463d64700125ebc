/*
 * config.h — INI configuration files (inih), read once into memory.
 */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include <stddef.h>

typedef struct ts_config ts_config;

/* Loads path. On a syntax error returns TS_ECONFIG and, if errbuf, the line. */
int ts_config_load(const char *path, ts_config **out, char *errbuf, size_t errcap);
/* The same from memory (pure: no I/O); name is used in messages and
 * ts_config_path. text need not be NUL-terminated. */
int ts_config_parse(const char *text, size_t len, const char *name, ts_config **out, char *errbuf,
    size_t errcap);
void ts_config_free(ts_config *c); /* NULL ok */
/* Value of section.key (borrowed) or def when absent. */
const char *ts_config_get(const ts_config *c, const char *section, const char *key, const char *def);
/* Integer value in [min,max], def when absent; TS_ECONFIG when malformed. */
int ts_config_get_int(const ts_config *c, const char *section, const char *key,
    long long def, long long min, long long max, long long *out);

/* The path given to ts_config_load (borrowed). */
const char *ts_config_path(const ts_config *c);
/* 1-based line of section.key in the file, 0 when absent or unknown. */
int ts_config_line(const ts_config *c, const char *section, const char *key);

/* Strict checking against a schema: what a program reads, and nothing else. */
enum ts_config_type {
	TS_CFG_STRING = 0, /* any text */
	TS_CFG_INT,        /* decimal in [min, max] */
	TS_CFG_ENUM,       /* one of choices, "a|b|c" */
	TS_CFG_HOSTPORT,   /* HOST:PORT or [V6]:PORT, port 0..65535 */
	TS_CFG_FILE,       /* a readable file (relative: to base_dir) */
	TS_CFG_DBURL,      /* sqlite:PATH | postgresql://... | postgres://... */
	TS_CFG_URL,        /* empty or https://... */
};

typedef struct ts_config_key {
	const char *section; /* exact, or "prefix*" (e.g. "app.*") */
	const char *key;     /* exact, "prefix*", or "prefix#" = prefix + 1..idx_max */
	int type;            /* enum ts_config_type */
	long long min, max;  /* TS_CFG_INT */
	const char *choices; /* TS_CFG_ENUM */
	int required;        /* must be present (not for patterns) and, for files, non-empty */
	int secret;          /* value shown redacted (ts_redact_url) in messages */
	int idx_max;         /* "prefix#" keys: largest index (0 = 99) */
} ts_config_key;

/* Receives one message "FILE:LINE: [section] key: problem" (borrowed). */
typedef void (*ts_config_report_fn)(void *arg, const char *msg);

/* Checks every entry of c against schema: unknown sections and keys, values
 * of the wrong type or range, unreadable files, absent required keys. Calls
 * report (may be NULL) once per problem, in file order. Returns the number
 * of problems (0 = the configuration is clean). */
size_t ts_config_check(const ts_config *c, const ts_config_key *schema, size_t nschema,
    const char *base_dir, ts_config_report_fn report, void *arg);

/* A report callback that keeps the first message in a caller's buffer. */
struct ts_config_errbuf {
	char *buf; /* must start as "" */
	size_t cap;
};
void ts_config_first_problem(void *arg, const char *msg);

/* Copies in to out with the password of a URL's userinfo
 * ("postgresql://user:***@host/db") and any "password=" value replaced by
 * "***". Always NUL-terminates (truncating) when cap > 0. */
void ts_redact_url(const char *in, char *out, size_t cap);

#endif
