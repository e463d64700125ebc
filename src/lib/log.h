/*
 * log.h — one-line logs to stderr: "2026-11-25T09:00:00.123Z prog LEVEL message".
 * Never log keys, tokens or passphrases.
 */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stddef.h>

enum ts_log_level { TS_LOG_DEBUG = 0, TS_LOG_INFO, TS_LOG_WARN, TS_LOG_ERROR };

/* Program name (borrowed, must outlive logging) and minimum level. */
void ts_log_init(const char *prog, int min_level);
/* Formats one line; the formatted message is escaped with ts_log_escape, so
 * fields from clients cannot break the line or forge another. */
void ts_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies in to out (cap bytes, always NUL-terminated), writing each control
 * byte (< 0x20, 0x7f) and each backslash as \xNN; stops before a character
 * that would not fit. Returns the length written. Pure. */
size_t ts_log_escape(const char *in, char *out, size_t cap);

#define log_debug(...) ts_log(TS_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) ts_log(TS_LOG_INFO, __VA_ARGS__)
#define log_warn(...) ts_log(TS_LOG_WARN, __VA_ARGS__)
#define log_error(...) ts_log(TS_LOG_ERROR, __VA_ARGS__)

#endif
