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


struct msgs {
	char m[8][512];
	size_t n;
};

static void
collect(void *arg, const char *msg)
{
	struct msgs *x = arg;
	if (x->n < 8)
		(void)ts_snprintf(x->m[x->n++], sizeof(x->m[0]), "%s", msg);
}

static const ts_config_key schema[] = {
	{ .section = "node", .key = "listen", .type = TS_CFG_HOSTPORT },
	{ .section = "node", .key = "log_level", .type = TS_CFG_ENUM, .choices = "debug|info|warn|error" },
	{ .section = "node", .key = "workers", .type = TS_CFG_INT, .min = 1, .max = 8 },
	{ .section = "node", .key = "database", .type = TS_CFG_DBURL, .secret = 1 },
	{ .section = "tls", .key = "cert", .type = TS_CFG_FILE, .required = 1 },
	{ .section = "app.*", .key = "max_duration_s", .type = TS_CFG_INT, .min = 0, .max = 100 },
	{ .section = "deny", .key = "eids", .type = TS_CFG_STRING },
	{ .section = "deny", .key = "eids.#", .type = TS_CFG_STRING, .idx_max = 99 },
};

static void
test_check_clean(void **state)
{
	(void)state;
	char text[512];
	(void)ts_snprintf(text, sizeof(text),
	    "[node]\nlisten = 127.0.0.1:0\nlog_level = warn\nworkers = 8\n"
	    "database = postgresql://u:pw@h/db\n[tls]\ncert = %s\n[app.x]\nmax_duration_s = 0\n"
	    "[deny]\neids =\neids.1 =\neids.99 =\n", path);
	write_cfg(text);
	ts_config *c = NULL;
	assert_int_equal(ts_config_load(path, &c, NULL, 0), 0);
	struct msgs m = { .n = 0 };
	assert_int_equal(ts_config_check(c, schema, sizeof(schema) / sizeof(schema[0]), NULL, collect, &m), 0);
	assert_int_equal(m.n, 0);
	assert_int_equal(ts_config_line(c, "node", "listen"), 2);
	assert_int_equal(ts_config_line(c, "tls", "cert"), 7);
	assert_int_equal(ts_config_line(c, "deny", "eids.99"), 13);
	ts_config_free(c);
}

/* Every problem named with file, line, section and key, in file order. */
static void
test_check_problems(void **state)
{
	(void)state;
	write_cfg("; a comment line\n"
		  "[node]\n"
		  "lisen = 127.0.0.1:9\n"              /* 3: misspelled key */
		  "log_level = verbose\n"              /* 4: bad enum */
		  "workers : 9\n"                       /* 5: out of range, colon separator */
		  "listen = localhost\n"               /* 6: no port */
		  "database = mysql://u:secret@h/db\n" /* 7: bad scheme, redacted */
		  "[tls]\n"
		  "cert = /nonexistent/tapshare.crt\n" /* 9: missing file */
		  "[app.y]\n"
		  "max_durration_s = 5\n"              /* 11: misspelled policy key */
		  "[deny]\n"
		  "eids.100 =\n"                       /* 13: index out of range */
		  "eids.01 =\n"                        /* 14: leading zero */
		  "[nodes]\n"
		  "a = 1\n"                            /* 16: unknown section */
		  "b = 2\n");
	ts_config *c = NULL;
	assert_int_equal(ts_config_load(path, &c, NULL, 0), 0);
	struct msgs m = { .n = 0 };
	assert_int_equal(ts_config_check(c, schema, sizeof(schema) / sizeof(schema[0]), NULL, collect, &m), 10);
	char want[256];
	(void)ts_snprintf(want, sizeof(want), "%s:3: [node] lisen: unknown key", path);
	assert_string_equal(m.m[0], want);
	(void)ts_snprintf(want, sizeof(want), "%s:4: [node] log_level: 'verbose' is not one of debug, info, warn, error", path);
	assert_string_equal(m.m[1], want);
	(void)ts_snprintf(want, sizeof(want), "%s:5: [node] workers: '9' is not an integer in 1..8", path);
	assert_string_equal(m.m[2], want);
	(void)ts_snprintf(want, sizeof(want), "%s:6: [node] listen: 'localhost' is not HOST:PORT (port 0..65535)", path);
	assert_string_equal(m.m[3], want);
	(void)ts_snprintf(want, sizeof(want),
	    "%s:7: [node] database: 'mysql://u:***@h/db' is not sqlite:PATH or postgresql://USER@HOST/DB", path);
	assert_string_equal(m.m[4], want);
	(void)ts_snprintf(want, sizeof(want), "%s:9: [tls] cert: /nonexistent/tapshare.crt: no such file", path);
	assert_string_equal(m.m[5], want);
	(void)ts_snprintf(want, sizeof(want), "%s:11: [app.y] max_durration_s: unknown key", path);
	assert_string_equal(m.m[6], want);
	(void)ts_snprintf(want, sizeof(want), "%s:13: [deny] eids.100: unknown key", path);
	assert_string_equal(m.m[7], want);
	ts_config_free(c);

	/* An absent required key. */
	write_cfg("[node]\nlisten = 1.2.3.4:5\n");
	assert_int_equal(ts_config_load(path, &c, NULL, 0), 0);
	m.n = 0;
	assert_int_equal(ts_config_check(c, schema, sizeof(schema) / sizeof(schema[0]), NULL, collect, &m), 1);
	(void)ts_snprintf(want, sizeof(want), "%s: [tls] cert: missing (required)", path);
	assert_string_equal(m.m[0], want);
	ts_config_free(c);
}

static void
test_unknown_section_once(void **state)
{
	(void)state;
	write_cfg("[nodes]\na = 1\nb = 2\n");
	ts_config *c = NULL;
	assert_int_equal(ts_config_load(path, &c, NULL, 0), 0);
	struct msgs m = { .n = 0 };
	const ts_config_key one[] = { { .section = "node", .key = "a" } };
	assert_int_equal(ts_config_check(c, one, 1, NULL, collect, &m), 1);
	char want[256];
	(void)ts_snprintf(want, sizeof(want), "%s:2: [nodes]: unknown section", path);
	assert_string_equal(m.m[0], want);
	ts_config_free(c);
}

static void
test_redact(void **state)
{
	(void)state;
	char out[256];
	ts_redact_url("postgresql://user:PASSWORD@host/db", out, sizeof(out));
	assert_string_equal(out, "postgresql://user:***@host/db");
	ts_redact_url("postgresql://user:p@ss@host:5432/db?sslmode=require", out, sizeof(out));
	assert_string_equal(out, "postgresql://user:***@host:5432/db?sslmode=require");
	ts_redact_url("postgresql://user@host/db", out, sizeof(out));
	assert_string_equal(out, "postgresql://user@host/db");
	ts_redact_url("postgresql:///db?host=/run/pg&password=hunter2&user=x", out, sizeof(out));
	assert_string_equal(out, "postgresql:///db?host=/run/pg&password=***&user=x");
	ts_redact_url("host=h dbname=d password=topsecret", out, sizeof(out));
	assert_string_equal(out, "host=h dbname=d password=***");
	ts_redact_url("sqlite:/var/lib/tapshare/node.db", out, sizeof(out));
	assert_string_equal(out, "sqlite:/var/lib/tapshare/node.db");
	ts_redact_url("postgresql://u:longpassword@h/d", out, 16);
	assert_null(strstr(out, "longpass"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_problems, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_section_once, setup, teardown),
		cmocka_unit_test(test_redact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
