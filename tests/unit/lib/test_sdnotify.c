/* Unit tests for lib/sdnotify: the datagrams a service manager receives, read
 * from a socket bound here (path and abstract namespace). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/sdnotify.h"
#include "lib/ts_err.h"

/* Binds a datagram socket at name ("/path" or "@abstract"). */
static int
bind_dgram(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t l = strlen(name);
	memcpy(sa.sun_path, name, l);
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		sl++;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sl), 0);
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void
recv_expect(int fd, const char *want)
{
	char buf[256];
	ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(r > 0);
	buf[r] = '\0';
	assert_string_equal(buf, want);
}

static void
test_path_socket(void **state)
{
	(void)state;
	char dir[] = "/tmp/ts-sdnotify.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/notify", dir);
	int fd = bind_dgram(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(ts_sd_notify("READY=1\nSTATUS=listening"), 1);
	recv_expect(fd, "READY=1\nSTATUS=listening");
	assert_int_equal(ts_sd_notify_reloading(), 1);
	char buf[128];
	ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(r > 0);
	buf[r] = '\0';
	assert_int_equal(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
	assert_true(strlen(buf) > 27);
	for (const char *q = buf + 27; *q; q++)
		assert_true(*q >= '0' && *q <= '9');
	close(fd);
	unlink(path);
	rmdir(dir);
	/* Nobody listening any more: an error, not a crash or a block. */
	assert_int_equal(ts_sd_notify("STOPPING=1"), TS_EIO);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_abstract_socket(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "@ts-sdnotify-test-%ld", (long)getpid());
	int fd = bind_dgram(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(ts_sd_notify("STOPPING=1"), 1);
	recv_expect(fd, "STOPPING=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_not_under_systemd(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(ts_sd_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(ts_sd_notify("READY=1"), 0);
	/* Relative paths and over-long names are refused, not truncated. */
	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	assert_int_equal(ts_sd_notify("READY=1"), TS_EINVAL);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longp, 1);
	assert_int_equal(ts_sd_notify("READY=1"), TS_EINVAL);
	setenv("NOTIFY_SOCKET", "/tmp/x", 1);
	assert_int_equal(ts_sd_notify(""), TS_EINVAL);
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_not_under_systemd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
