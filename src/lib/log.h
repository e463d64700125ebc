/*
 * log.h — one log record per event, to one of three targets:
 *   stderr   "2026-11-25T09:00:00.123Z prog LEVEL message" (the default on a
 *            terminal and in tests)
 *   journal  systemd's native protocol: one datagram per record to
 *            /run/systemd/journal/socket with PRIORITY=, MESSAGE=,
 *            SYSLOG_IDENTIFIER= and the structured fields TAPSHARE_SHARE_ID=,
 *            TAPSHARE_EID=, TAPSHARE_DEVICE_ID= (no libsystemd needed)
 *   syslog   syslog(3) with the record's priority (facility daemon)
 * TS_LOG_AUTO picks the journal when systemd connected stderr to it
 * (JOURNAL_STREAM names stderr's device:inode), else stderr. A journal that
 * cannot be reached falls back to stderr for that record.
 * Never log keys, tokens or passphrases.
 */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stddef.h>
#include <stdint.h>

enum ts_log_level { TS_LOG_DEBUG = 0, TS_LOG_INFO, TS_LOG_WARN, TS_LOG_ERROR };
enum ts_log_target { TS_LOG_AUTO = 0, TS_LOG_STDERR, TS_LOG_JOURNAL, TS_LOG_SYSLOG };

/* Program name (borrowed, must outlive logging) and minimum level. */
void ts_log_init(const char *prog, int min_level);
/* Where records go from now on (TS_LOG_AUTO resolves at once). The
 * journal socket is $TAPSHARE_JOURNAL_SOCKET when set, else
 * /run/systemd/journal/socket: an operator setting (a container's journal
 * socket elsewhere), honoured in every build and named in tapshare-node
 * --help and its man page; not a test hook (the tests use it too,
 * tests/integration/test_journal.sh). */
void ts_log_set_target(enum ts_log_target t);
/* The target in use (never TS_LOG_AUTO). */
enum ts_log_target ts_log_get_target(void);
/* Parses "stderr" | "journal" | "syslog" | "auto"; -1 if none of them. */
int ts_log_target_parse(const char *name);
/* 1 when systemd connected stderr to the journal: $JOURNAL_STREAM is
 * "DEV:INODE" of file descriptor 2 (systemd.exec(5)). */
int ts_log_stderr_is_journal(void);

/* Formats one record; on stderr the formatted message is escaped with
 * ts_log_escape, so fields from clients cannot break the line or forge
 * another (the journal is binary-safe and gets it as it is). */
void ts_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies in to out (cap bytes, always NUL-terminated), writing each control
 * byte (< 0x20, 0x7f) and each backslash as \xNN; stops before a character
 * that would not fit. Returns the length written. Pure. */
size_t ts_log_escape(const char *in, char *out, size_t cap);

/* The structured fields of a message, as the node's messages spell them:
 * "share <hex id>" (16..64 hex digits), "EID <32 digits>", "device <hex>"
 * (16..64 hex digits; logs shorten device ids to 16). Empty when absent.
 * Pure. */
typedef struct ts_log_fields {
	char share_id[65];
	char eid[33];
	char device_id[65];
} ts_log_fields;
void ts_log_fields_of(const char *msg, ts_log_fields *out);

/* Appends one native-protocol field to buf (cap bytes) at *len: "KEY=value\n",
 * or, when value holds a newline, "KEY\n" + 64-bit little-endian length +
 * value + "\n" (systemd's binary-safe form). vlen bytes of value (may hold
 * NUL). TS_ELIMIT (buf unchanged) when it does not fit. Pure. */
int ts_log_journal_field(uint8_t *buf, size_t cap, size_t *len, const char *key, const char *value, size_t vlen);
/* The whole datagram of one record (PRIORITY, SYSLOG_IDENTIFIER, MESSAGE,
 * then the non-empty fields of ts_log_fields_of(msg)). Returns its length,
 * 0 if it does not fit. Pure. */
size_t ts_log_journal_record(uint8_t *buf, size_t cap, int level, const char *prog, const char *msg);

#define log_debug(...) ts_log(TS_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) ts_log(TS_LOG_INFO, __VA_ARGS__)
#define log_warn(...) ts_log(TS_LOG_WARN, __VA_ARGS__)
#define log_error(...) ts_log(TS_LOG_ERROR, __VA_ARGS__)

#endif
