/* Unit tests for lib/config: INI loading, lookups, integer ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/ts_err.h"
#include "lib/util.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	memcpy(dir, "/tmp/ts_cfg_XXXXXX", 19);
	if (mkdtemp(dir) == NULL)
		return -1;
	return ts_snprintf(path, sizeof(path), "%s/t.ini", dir);
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void
write_cfg(const char *text)
{
	assert_int_equal(ts_write_file_atomic(path, (const uint8_t *)text, strlen(text), 0600), 0);
}

static void
test_load_and_get(void **state)
{
	(void)state;
	write_cfg("; comment\n"
		  "top = level\n"
		  "[node]\n"
		  "listen = 127.0.0.1:8443\n"
		  "port=9000\r\n"
		  "# hash comment\n"
		  "name = with spaces  ; inline comment\n"
		  "[db]\n"
		  "path = /var/lib/x.db\n"
		  "neg = -5\n");
	ts_config *c = NULL;
	char err[128];
	assert_int_equal(ts_config_load(path, &c, err, sizeof(err)), 0);
	assert_non_null(c);
	assert_string_equal(ts_config_get(c, "", "top", NULL), "level");
	assert_string_equal(ts_config_get(c, "node", "listen", NULL), "127.0.0.1:8443");
	assert_string_equal(ts_config_get(c, "node", "name", NULL), "with spaces");
	assert_string_equal(ts_config_get(c, "db", "path", NULL), "/var/lib/x.db");
	assert_string_equal(ts_config_get(c, "db", "listen", "dflt"), "dflt");
	assert_null(ts_config_get(c, "nosuch", "listen", NULL));
	assert_string_equal(ts_config_get(NULL, "node", "listen", "d"), "d");

	long long v = 0;
	assert_int_equal(ts_config_get_int(c, "node", "port", 1, 1, 65535, &v), 0);
	assert_int_equal(v, 9000);
	assert_int_equal(ts_config_get_int(c, "node", "absent", 77, 1, 65535, &v), 0);
	assert_int_equal(v, 77);
	assert_int_equal(ts_config_get_int(c, "db", "neg", 0, -10, 10, &v), 0);
	assert_int_equal(v, -5);
	v = 123;
	assert_int_equal(ts_config_get_int(c, "node", "port", 1, 1, 8999, &v), TS_ECONFIG);
	assert_int_equal(v, 123);
	assert_int_equal(ts_config_get_int(c, "db", "neg", 0, 0, 10, &v), TS_ECONFIG);
	assert_int_equal(ts_config_get_int(c, "node", "listen", 0, 0, 10, &v), TS_ECONFIG);
	ts_config_free(c);
	ts_config_free(NULL);
}

static void
test_errors(void **state)
{
	(void)state;
	ts_config *c = (ts_config *)0x1;
	char err[128];

	write_cfg("[a]\nok = 1\nthis line has no equals sign\n");
	assert_int_equal(ts_config_load(path, &c, err, sizeof(err)), TS_ECONFIG);
	assert_null(c);
	assert_non_null(strstr(err, ":3:"));

	write_cfg("[a\nx=1\n");
	assert_int_equal(ts_config_load(path, &c, err, sizeof(err)), TS_ECONFIG);
	assert_non_null(strstr(err, ":1:"));

	/* Duplicate key in one section is an error; same key in two is fine. */
	write_cfg("[a]\nx=1\n[b]\nx=2\n[a]\nx=3\n");
	assert_int_equal(ts_config_load(path, &c, err, sizeof(err)), TS_ECONFIG);
	assert_non_null(strstr(err, ":6: duplicate key"));
	write_cfg("[a]\nx=1\n[b]\nx=2\n");
	assert_int_equal(ts_config_load(path, &c, NULL, 0), 0);
	assert_string_equal(ts_config_get(c, "b", "x", NULL), "2");
	ts_config_free(c);

	/* Over-long line refused instead of being split by inih. */
	char text[400];
	memcpy(text, "[a]\nk = ", 8);
	memset(text + 8, 'v', 300);
	memcpy(text + 308, "\n", 2);
	write_cfg(text);
	assert_int_equal(ts_config_load(path, &c, err, sizeof(err)), TS_ECONFIG);
	assert_non_null(strstr(err, ":2: line too long"));

	/* Missing file. */
	char missing[160];
	assert_int_equal(ts_snprintf(missing, sizeof(missing), "%s/none.ini", dir), 0);
	assert_int_equal(ts_config_load(missing, &c, err, sizeof(err)), TS_ENOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
