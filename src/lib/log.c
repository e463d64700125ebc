#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/ts_err.h"

#define LOG_LINE_MAX 2048
#define LOG_MSG_MAX 1536
/* one record: the message and a few short fields */
#define LOG_DGRAM_MAX (LOG_MSG_MAX + 512)
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

static const char *log_prog = "tapshare";
static int log_min = TS_LOG_INFO;
static enum ts_log_target log_target = TS_LOG_STDERR;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int journal_fd = -1;
static int syslog_open;

void
ts_log_init(const char *prog, int min_level)
{
	log_prog = prog;
	log_min = min_level;
}

size_t
ts_log_escape(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (cap == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		/* C0 controls, DEL and the backslash (so "\x0a" typed by a client
		 * cannot pass for an escape we made) become \xNN, and so do both
		 * bytes of a UTF-8 C1 control (U+0080..U+009F: NEL is a line break
		 * to some readers). Other bytes are copied: escaped output holds
		 * no line break, so nothing a client sends can start a line. */
		int c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
		int esc = *p < 0x20 || *p == 0x7f || *p == '\\' || c1;
		size_t need = c1 ? 8 : esc ? 4 : 1;
		if (o + need >= cap)
			break;
		if (esc) {
			for (int k = 0; k < (c1 ? 2 : 1); k++) {
				out[o++] = '\\';
				out[o++] = 'x';
				out[o++] = hex[p[k] >> 4];
				out[o++] = hex[p[k] & 15];
			}
			p += c1;
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return o;
}

int
ts_log_target_parse(const char *name)
{
	static const char *const names[] = { "auto", "stderr", "journal", "syslog" };
	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

int
ts_log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	if (e == NULL || *e == '\0')
		return 0;
	char *end = NULL;
	errno = 0;
	unsigned long long dev = strtoull(e, &end, 10);
	if (errno != 0 || end == e || *end != ':')
		return 0;
	const char *ino_s = end + 1;
	unsigned long long ino = strtoull(ino_s, &end, 10);
	if (errno != 0 || end == ino_s || *end != '\0')
		return 0;
	struct stat st;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
ts_log_set_target(enum ts_log_target t)
{
	if (t == TS_LOG_AUTO)
		t = ts_log_stderr_is_journal() ? TS_LOG_JOURNAL : TS_LOG_STDERR;
	pthread_mutex_lock(&log_mu);
	if (t == TS_LOG_SYSLOG && !syslog_open) {
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		syslog_open = 1;
	}
	log_target = t;
	pthread_mutex_unlock(&log_mu);
}

enum ts_log_target
ts_log_get_target(void)
{
	return log_target;
}

/* hex digits (lower case) or decimal digits at p: how many */
static size_t
run_of(const char *p, int hex)
{
	size_t n = 0;
	while ((p[n] >= '0' && p[n] <= '9') || (hex && p[n] >= 'a' && p[n] <= 'f'))
		n++;
	return n;
}

/* Copies the first "<word> <run>" with lo <= run length <= hi into out. */
static void
field_after(const char *msg, const char *word, int hex, size_t lo, size_t hi, char *out, size_t cap)
{
	size_t wl = strlen(word);
	out[0] = '\0';
	for (const char *p = strstr(msg, word); p != NULL; p = strstr(p + 1, word)) {
		if (p != msg && ((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z')))
			continue; /* inside a longer word ("reshare ") */
		const char *v = p + wl;
		size_t n = run_of(v, hex);
		int boundary = !((v[n] >= 'a' && v[n] <= 'z') || (v[n] >= 'A' && v[n] <= 'Z') || (v[n] >= '0' && v[n] <= '9'));
		if (n >= lo && n <= hi && n < cap && boundary) {
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
	}
}

void
ts_log_fields_of(const char *msg, ts_log_fields *out)
{
	field_after(msg, "share ", 1, 16, 64, out->share_id, sizeof(out->share_id));
	field_after(msg, "EID ", 0, 32, 32, out->eid, sizeof(out->eid));
	field_after(msg, "device ", 1, 16, 64, out->device_id, sizeof(out->device_id));
}

int
ts_log_journal_field(uint8_t *buf, size_t cap, size_t *len, const char *key, const char *value, size_t vlen)
{
	size_t kl = strlen(key), o = *len;
	int binary = memchr(value, '\n', vlen) != NULL;
	size_t need = kl + 1 + (binary ? 8 : 0) + vlen + 1;
	if (o > cap || need > cap - o)
		return TS_ELIMIT;
	memcpy(buf + o, key, kl);
	o += kl;
	if (binary) {
		/* KEY\n, then the value's length as 64-bit little-endian */
		buf[o++] = '\n';
		uint64_t l = vlen;
		for (int i = 0; i < 8; i++)
			buf[o++] = (uint8_t)(l >> (8 * i));
	} else {
		buf[o++] = '=';
	}
	memcpy(buf + o, value, vlen);
	o += vlen;
	buf[o++] = '\n';
	*len = o;
	return 0;
}

size_t
ts_log_journal_record(uint8_t *buf, size_t cap, int level, const char *prog, const char *msg)
{
	/* syslog(3) priorities: debug 7, info 6, warning 4, err 3 */
	static const char *const prio[] = { "7", "6", "4", "3" };
	if (level < 0 || level > TS_LOG_ERROR)
		level = TS_LOG_ERROR;
	ts_log_fields f;
	ts_log_fields_of(msg, &f);
	size_t len = 0;
	if (ts_log_journal_field(buf, cap, &len, "PRIORITY", prio[level], 1) != 0 ||
	    ts_log_journal_field(buf, cap, &len, "SYSLOG_IDENTIFIER", prog, strlen(prog)) != 0 ||
	    ts_log_journal_field(buf, cap, &len, "MESSAGE", msg, strlen(msg)) != 0)
		return 0;
	if (f.share_id[0] && ts_log_journal_field(buf, cap, &len, "TAPSHARE_SHARE_ID", f.share_id, strlen(f.share_id)) != 0)
		return 0;
	if (f.eid[0] && ts_log_journal_field(buf, cap, &len, "TAPSHARE_EID", f.eid, strlen(f.eid)) != 0)
		return 0;
	if (f.device_id[0] &&
	    ts_log_journal_field(buf, cap, &len, "TAPSHARE_DEVICE_ID", f.device_id, strlen(f.device_id)) != 0)
		return 0;
	return len;
}

/* 0 when the journal took the record. */
static int
journal_send(int level, const char *msg)
{
	uint8_t rec[LOG_DGRAM_MAX];
	size_t len = ts_log_journal_record(rec, sizeof(rec), level, log_prog, msg);
	if (len == 0)
		return -1;
	const char *path = getenv("TAPSHARE_JOURNAL_SOCKET");
	if (path == NULL || *path == '\0')
		path = LOG_JOURNAL_SOCKET;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	pthread_mutex_lock(&log_mu);
	if (journal_fd < 0)
		journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int fd = journal_fd;
	pthread_mutex_unlock(&log_mu);
	if (fd < 0)
		return -1;
	ssize_t w = sendto(fd, rec, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, sizeof(sa));
	return w == (ssize_t)len ? 0 : -1;
}

/* "YYYY-MM-DDTHH:MM:SS" of t into out (20 bytes), formatted once per second
 * per thread (gmtime_r and strftime take the time-zone lock each call). */
static void
log_stamp(time_t t, char out[20])
{
	static _Thread_local time_t last = (time_t)-1;
	static _Thread_local char cached[20];
	if (t != last) {
		struct tm tm;
		gmtime_r(&t, &tm);
		if (strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
			cached[0] = '\0';
		last = t;
	}
	memcpy(out, cached, sizeof(cached));
}

/* Writes all of buf to fd (one write(2) for a line, unless interrupted). */
static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

void
ts_log(int level, const char *fmt, ...)
{
	static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	if (level < log_min || level < 0 || level > TS_LOG_ERROR)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char line[LOG_LINE_MAX], msg[LOG_MSG_MAX], stamp[20];
	log_stamp(ts.tv_sec, stamp);
	int off = snprintf(line, sizeof(line), "%s.%03ldZ %s %s ", stamp, ts.tv_nsec / 1000000, log_prog,
	    names[level]);
	if (off < 0 || (size_t)off >= sizeof(line))
		off = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	enum ts_log_target t = log_target;
	if (t == TS_LOG_JOURNAL && journal_send(level, msg) == 0)
		return;
	if (t == TS_LOG_SYSLOG) {
		static const int sprio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
		char clean[LOG_MSG_MAX * 2];
		ts_log_escape(msg, clean, sizeof(clean));
		syslog(sprio[level], "%s", clean);
		return;
	}
	/* Every field a message carries may come from a client (device names,
	 * app ids, a cancelSession reason): the whole formatted message is
	 * escaped, so no field can end this line or forge another. */
	size_t len = (size_t)off + ts_log_escape(msg, line + off, sizeof(line) - 1 - (size_t)off);
	line[len++] = '\n';
	/* One write(2) per line, straight to the descriptor (stderr is
	 * unbuffered: stdio would format into a buffer of its own and then
	 * write the same bytes), so concurrent writers do not interleave
	 * mid-line. */
	write_all(STDERR_FILENO, line, len);
}
