#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define LOG_LINE_MAX 2048
#define LOG_MSG_MAX 1536

static const char *log_prog = "tapshare";
static int log_min = TS_LOG_INFO;

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

void
ts_log(int level, const char *fmt, ...)
{
	static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	if (level < log_min || level < 0 || level > TS_LOG_ERROR)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char line[LOG_LINE_MAX], msg[LOG_MSG_MAX];
	int off = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line + off, sizeof(line) - (size_t)off, ".%03ldZ %s %s ",
	    ts.tv_nsec / 1000000, log_prog, names[level]);
	if (n > 0)
		off += n;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Every field a message carries may come from a client (device names,
	 * app ids, a cancelSession reason): the whole formatted message is
	 * escaped, so no field can end this line or forge another. */
	if ((size_t)off < sizeof(line))
		ts_log_escape(msg, line + off, sizeof(line) - (size_t)off);
	/* One fputs per line so concurrent writers do not interleave mid-line. */
	fprintf(stderr, "%s\n", line);
}
