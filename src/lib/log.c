#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *log_prog = "tapshare";
static int log_min = TS_LOG_INFO;

void
ts_log_init(const char *prog, int min_level)
{
	log_prog = prog;
	log_min = min_level;
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
	char line[2048];
	int off = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line + off, sizeof(line) - (size_t)off, ".%03ldZ %s %s ",
	    ts.tv_nsec / 1000000, log_prog, names[level]);
	if (n > 0)
		off += n;
	va_list ap;
	va_start(ap, fmt);
	if ((size_t)off < sizeof(line))
		vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
	va_end(ap);
	/* One fputs per line so concurrent writers do not interleave mid-line. */
	fprintf(stderr, "%s\n", line);
}
