/* Unit tests for lib/log's journal target: systemd's native protocol
 * (systemd.io/JOURNAL_NATIVE_PROTOCOL: "KEY=value\n", or for a value holding
 * a newline "KEY\n", the value's length as 64-bit little-endian, the value,
 * "\n"), byte for byte against hand-written vectors, then a record sent to a
 * datagram socket the test binds and read back with an independent parser
 * written from that description. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "lib/ts_err.h"

static void
test_field_plain(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t len = 0;
	assert_int_equal(ts_log_journal_field(buf, sizeof(buf), &len, "PRIORITY", "6", 1), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(buf, "PRIORITY=6\n", 11);
	/* a second field is appended */
	assert_int_equal(ts_log_journal_field(buf, sizeof(buf), &len, "A", "", 0), 0);
	assert_int_equal(len, 14);
	assert_memory_equal(buf + 11, "A=\n", 3);
}

static void
test_field_binary_safe(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t len = 0;
	/* "MESSAGE" '\n' | 03 00 00 00 00 00 00 00 | "a\nb" | '\n' */
	static const uint8_t want[] = { 'M', 'E', 'S', 'S', 'A', 'G', 'E', '\n', 0x03, 0, 0, 0, 0, 0, 0, 0, 'a', '\n',
		'b', '\n' };
	assert_int_equal(ts_log_journal_field(buf, sizeof(buf), &len, "MESSAGE", "a\nb", 3), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* a length above 255 uses the second byte (0x0102 = 258) */
	uint8_t big[400];
	char v[258];
	memset(v, 'x', sizeof(v));
	v[0] = '\n';
	len = 0;
	assert_int_equal(ts_log_journal_field(big, sizeof(big), &len, "K", v, sizeof(v)), 0);
	static const uint8_t head[] = { 'K', '\n', 0x02, 0x01, 0, 0, 0, 0, 0, 0, '\n', 'x' };
	assert_memory_equal(big, head, sizeof(head));
	assert_int_equal(len, 2 + 8 + 258 + 1);
	assert_int_equal(big[len - 1], '\n');
}

static void
test_field_bounds(void **state)
{
	(void)state;
	uint8_t buf[11];
	memset(buf, 0xee, sizeof(buf));
	size_t len = 0;
	/* "PRIORITY=6\n" is 11 bytes: fits exactly; one more byte does not */
	assert_int_equal(ts_log_journal_field(buf, sizeof(buf), &len, "PRIORITY", "6", 1), 0);
	assert_int_equal(len, 11);
	len = 1;
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(ts_log_journal_field(buf, sizeof(buf), &len, "PRIORITY", "6", 1), TS_ELIMIT);
	assert_int_equal(len, 1);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
}

static void
test_fields_of(void **state)
{
	(void)state;
	ts_log_fields f;
	ts_log_fields_of("S12 first confirmation for share 58cd80052cda92339af080abb0be49b1: EID "
			 "89049032123451234512345678901235 received and correct",
	    &f);
	assert_string_equal(f.share_id, "58cd80052cda92339af080abb0be49b1");
	assert_string_equal(f.eid, "89049032123451234512345678901235");
	assert_string_equal(f.device_id, "");
	/* "share request" is not a share id; the shortened device id is taken */
	ts_log_fields_of("S11 share request from device e17195a4a64a4649\xe2\x80\xa6: EID "
			 "89049032123451234512345678901235, app sim-alice",
	    &f);
	assert_string_equal(f.share_id, "");
	assert_string_equal(f.device_id, "e17195a4a64a4649");
	/* too short, inside a word, 31 or 33 digits, upper-case hex: nothing */
	ts_log_fields_of("share 0123abcd reshare 0123456789abcdef0123 EID 8904903212345123451234567890123 "
			 "EID 890490321234512345123456789012355 device 0123456789ABCDEF0123",
	    &f);
	assert_string_equal(f.share_id, "");
	assert_string_equal(f.eid, "");
	assert_string_equal(f.device_id, "");
}

static void
test_record(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t n = ts_log_journal_record(buf, sizeof(buf), TS_LOG_WARN, "tapshare-node",
	    "share 0123456789abcdef0123456789abcdef failed");
	static const char want[] = "PRIORITY=4\n"
				   "SYSLOG_IDENTIFIER=tapshare-node\n"
				   "MESSAGE=share 0123456789abcdef0123456789abcdef failed\n"
				   "TAPSHARE_SHARE_ID=0123456789abcdef0123456789abcdef\n";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
	/* syslog priorities of the other levels */
	n = ts_log_journal_record(buf, sizeof(buf), TS_LOG_DEBUG, "p", "m");
	assert_memory_equal(buf, "PRIORITY=7\n", 11);
	n = ts_log_journal_record(buf, sizeof(buf), TS_LOG_INFO, "p", "m");
	assert_memory_equal(buf, "PRIORITY=6\n", 11);
	n = ts_log_journal_record(buf, sizeof(buf), TS_LOG_ERROR, "p", "m");
	assert_memory_equal(buf, "PRIORITY=3\n", 11);
	/* does not fit: 0 */
	assert_int_equal(ts_log_journal_record(buf, 20, TS_LOG_INFO, "tapshare-node", "hello"), 0);
}

/* ---- an independent reader of the native protocol ------------------------- */

/* Finds KEY's value in a datagram; returns its length or -1 (also for a
 * malformed datagram). */
static long
dgram_get(const uint8_t *d, size_t n, const char *key, const uint8_t **val)
{
	size_t i = 0, kl = strlen(key);
	while (i < n) {
		size_t k = i, j = i;
		while (j < n && d[j] != '=' && d[j] != '\n')
			j++;
		if (j == n)
			return -1;
		const uint8_t *v;
		size_t vl;
		if (d[j] == '=') {
			size_t e = j + 1;
			while (e < n && d[e] != '\n')
				e++;
			if (e == n)
				return -1;
			v = d + j + 1;
			vl = e - j - 1;
			i = e + 1;
		} else {
			if (j + 9 > n)
				return -1;
			uint64_t l = 0;
			for (int b = 7; b >= 0; b--)
				l = (l << 8) | d[j + 1 + b];
			if (l >= n - j - 9 || d[j + 9 + l] != '\n')
				return -1;
			v = d + j + 9;
			vl = (size_t)l;
			i = j + 9 + vl + 1;
		}
		if (j - k == kl && memcmp(d + k, key, kl) == 0) {
			*val = v;
			return (long)vl;
		}
	}
	return -1;
}

static char sockdir[64];
static char sockpath[128];

static int
bind_journal(void)
{
	snprintf(sockdir, sizeof(sockdir), "/tmp/ts-journal.XXXXXX");
	assert_non_null(mkdtemp(sockdir));
	snprintf(sockpath, sizeof(sockpath), "%s/socket", sockdir);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sockpath, strlen(sockpath));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setenv("TAPSHARE_JOURNAL_SOCKET", sockpath, 1);
	return fd;
}

static void
unbind_journal(int fd)
{
	close(fd);
	unlink(sockpath);
	rmdir(sockdir);
	unsetenv("TAPSHARE_JOURNAL_SOCKET");
}

static void
test_send_to_socket(void **state)
{
	(void)state;
	int fd = bind_journal();
	ts_log_init("test-journal", TS_LOG_DEBUG);
	ts_log_set_target(TS_LOG_JOURNAL);
	assert_int_equal(ts_log_get_target(), TS_LOG_JOURNAL);
	log_warn("share %s refused\nsecond line, EID %s", "00112233445566778899aabbccddeeff",
	    "89049032123451234512345678901235");
	uint8_t d[4096];
	ssize_t n = recv(fd, d, sizeof(d), 0);
	assert_true(n > 0);
	const uint8_t *v;
	long l = dgram_get(d, (size_t)n, "PRIORITY", &v);
	assert_int_equal(l, 1);
	assert_memory_equal(v, "4", 1);
	l = dgram_get(d, (size_t)n, "SYSLOG_IDENTIFIER", &v);
	assert_int_equal(l, 12);
	assert_memory_equal(v, "test-journal", 12);
	static const char msg[] = "share 00112233445566778899aabbccddeeff refused\nsecond line, EID "
				  "89049032123451234512345678901235";
	l = dgram_get(d, (size_t)n, "MESSAGE", &v);
	assert_int_equal(l, (long)strlen(msg));
	assert_memory_equal(v, msg, strlen(msg));
	l = dgram_get(d, (size_t)n, "TAPSHARE_SHARE_ID", &v);
	assert_int_equal(l, 32);
	assert_memory_equal(v, "00112233445566778899aabbccddeeff", 32);
	l = dgram_get(d, (size_t)n, "TAPSHARE_EID", &v);
	assert_int_equal(l, 32);
	assert_int_equal(dgram_get(d, (size_t)n, "TAPSHARE_DEVICE_ID", &v), -1);
	/* below the minimum level: nothing sent */
	ts_log_init("test-journal", TS_LOG_INFO);
	log_debug("not sent");
	log_error("sent");
	n = recv(fd, d, sizeof(d), 0);
	assert_true(n > 0);
	assert_int_equal(dgram_get(d, (size_t)n, "PRIORITY", &v), 1);
	assert_memory_equal(v, "3", 1);
	ts_log_set_target(TS_LOG_STDERR);
	unbind_journal(fd);
}

static void
test_fallback_to_stderr(void **state)
{
	(void)state;
	char path[] = "/tmp/ts-journal-err.XXXXXX";
	int tmp = mkstemp(path);
	assert_true(tmp >= 0);
	int saved = dup(STDERR_FILENO);
	dup2(tmp, STDERR_FILENO);
	setenv("TAPSHARE_JOURNAL_SOCKET", "/nonexistent/journal/socket", 1);
	ts_log_init("test-journal", TS_LOG_INFO);
	ts_log_set_target(TS_LOG_JOURNAL);
	log_info("still logged");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ts_log_set_target(TS_LOG_STDERR);
	unsetenv("TAPSHARE_JOURNAL_SOCKET");
	char buf[512] = "";
	ssize_t r = pread(tmp, buf, sizeof(buf) - 1, 0);
	close(tmp);
	unlink(path);
	assert_true(r > 0);
	assert_non_null(strstr(buf, "test-journal INFO still logged"));
}

static void
test_journal_stream_detection(void **state)
{
	(void)state;
	struct stat st;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	char v[64];
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_int_equal(ts_log_stderr_is_journal(), 1);
	ts_log_set_target(TS_LOG_AUTO);
	assert_int_equal(ts_log_get_target(), TS_LOG_JOURNAL);
	/* another inode (stdout redirected elsewhere, a stale variable): no */
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	assert_int_equal(ts_log_stderr_is_journal(), 0);
	static const char *const bad[] = { "", "12", "12:", ":34", "1x:2", "1:2x", "a:b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("JOURNAL_STREAM", bad[i], 1);
		assert_int_equal(ts_log_stderr_is_journal(), 0);
	}
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(ts_log_stderr_is_journal(), 0);
	ts_log_set_target(TS_LOG_AUTO);
	assert_int_equal(ts_log_get_target(), TS_LOG_STDERR);
	assert_int_equal(ts_log_target_parse("journal"), TS_LOG_JOURNAL);
	assert_int_equal(ts_log_target_parse("syslog"), TS_LOG_SYSLOG);
	assert_int_equal(ts_log_target_parse("stderr"), TS_LOG_STDERR);
	assert_int_equal(ts_log_target_parse("auto"), TS_LOG_AUTO);
	assert_int_equal(ts_log_target_parse("Journal"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_plain),
		cmocka_unit_test(test_field_binary_safe),
		cmocka_unit_test(test_field_bounds),
		cmocka_unit_test(test_fields_of),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_send_to_socket),
		cmocka_unit_test(test_fallback_to_stderr),
		cmocka_unit_test(test_journal_stream_detection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
