/*
 * config.h — INI configuration files (inih), read once into memory.
 */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include <stddef.h>

typedef struct ts_config ts_config;

/* Loads path. On a syntax error returns TS_ECONFIG and, if errbuf, the line. */
int ts_config_load(const char *path, ts_config **out, char *errbuf, size_t errcap);
void ts_config_free(ts_config *c); /* NULL ok */
/* Value of section.key (borrowed) or def when absent. */
const char *ts_config_get(const ts_config *c, const char *section, const char *key, const char *def);
/* Integer value in [min,max], def when absent; TS_ECONFIG when malformed. */
int ts_config_get_int(const ts_config *c, const char *section, const char *key,
    long long def, long long min, long long max, long long *out);

#endif
