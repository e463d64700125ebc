/* Tests for device/se_pcsc.c that need no pcscd: what the driver does when
 * there is none. The full path through pcscd + vpcd is
 * tests/integration/test_se_pcsc.sh. PCSCLITE_CSOCK_NAME points libpcsclite
 * at a socket in a fresh directory, so a system pcscd is never reached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "device/se_driver.h"
#include "lib/ts_err.h"
#include "lib/util.h"

typedef struct fixture {
	char dir[64];
	char sock[128];
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	memcpy(f->dir, "/tmp/ts-pcsc-XXXXXX", sizeof("/tmp/ts-pcsc-XXXXXX"));
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(ts_snprintf(f->sock, sizeof(f->sock), "%s/pcscd.comm", f->dir), 0);
	assert_int_equal(setenv("PCSCLITE_CSOCK_NAME", f->sock, 1), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* No socket at all: pcscd not running -> TS_EIO, nothing returned. */
static void
test_no_pcscd(void **state)
{
	(void)state;
	se_driver *d = (se_driver *)0x1;
	assert_int_equal(se_driver_open("pcsc:", &d), TS_EIO);
	assert_ptr_equal(d, (se_driver *)0x1);
	assert_int_equal(se_driver_open("pcsc:Some Reader 00 00", &d), TS_EIO);
	assert_ptr_equal(d, (se_driver *)0x1);
}

/* A stale socket file nobody listens on is the same as no pcscd. */
static void
test_stale_socket(void **state)
{
	fixture *f = *state;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(f->sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* bound, never listened: connect() is refused */
	se_driver *d = NULL;
	assert_int_equal(se_driver_open("pcsc:", &d), TS_EIO);
	assert_null(d);
}

static void
test_bad_args(void **state)
{
	(void)state;
	void *ctx = NULL;
	assert_int_equal(se_pcsc_open(NULL, &ctx), TS_EINVAL);
	assert_int_equal(se_pcsc_open("", NULL), TS_EINVAL);
	assert_null(ctx);
	assert_string_equal(se_pcsc_ops.name, "pcsc");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_pcscd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket, setup, teardown),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
