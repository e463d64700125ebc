/*
 * log.h — one-line logs to stderr: "2026-11-25T09:00:00.123Z prog LEVEL message".
 * Never log keys, tokens or passphrases.
 */
#ifndef TS_LOG_H
#define TS_LOG_H

enum ts_log_level { TS_LOG_DEBUG = 0, TS_LOG_INFO, TS_LOG_WARN, TS_LOG_ERROR };

/* Program name (borrowed, must outlive logging) and minimum level. */
void ts_log_init(const char *prog, int min_level);
void ts_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) ts_log(TS_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) ts_log(TS_LOG_INFO, __VA_ARGS__)
#define log_warn(...) ts_log(TS_LOG_WARN, __VA_ARGS__)
#define log_error(...) ts_log(TS_LOG_ERROR, __VA_ARGS__)

#endif
