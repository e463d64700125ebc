/* Tests for the pure parts of `tapshare`: primary/cli.c and the pure
 * helpers of primary/nodeapi.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "lib/config.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "primary/cli.h"
#include "primary/nodeapi.h"

#define ARGV(...) ((char *const[]){ "tapshare", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *const[]){ "tapshare", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err), sizeof(err))

static void
test_parse_share(void **state)
{
	(void)state;
	cli_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "--home", "/h", "share", "--link", "sim:/s.sock", "--app=esim-1",
	    "--duration", "3600", "--no-wait", "--json"), 0);
	assert_int_equal(o.cmd, CLI_CMD_SHARE);
	assert_string_equal(o.home, "/h");
	assert_string_equal(o.link, "sim:/s.sock");
	assert_string_equal(o.app_id, "esim-1");
	assert_int_equal(o.duration_s, 3600);
	assert_int_equal(o.timeout_s, CLI_DEFAULT_TIMEOUT_S);
	assert_int_equal(o.no_wait, 1);
	assert_int_equal(o.json, 1);
	assert_null(o.passphrase_file);

	/* Global options after the command, --timeout. */
	assert_int_equal(PARSE(&o, err, "share", "--link=sim:/x", "--timeout", "5", "--home=/g",
	    "--passphrase-file", "/p"), 0);
	assert_int_equal(o.timeout_s, 5);
	assert_string_equal(o.home, "/g");
	assert_string_equal(o.passphrase_file, "/p");
	assert_null(o.app_id);
	assert_int_equal(o.duration_s, 0);
	assert_int_equal(o.no_wait, 0);
	assert_null(o.eid);

	/* --eid instead of --link (EID known already, S1 done earlier). */
	assert_int_equal(PARSE(&o, err, "share", "--eid", "89049032123451234512345678901235",
	    "--app", "a"), 0);
	assert_string_equal(o.eid, "89049032123451234512345678901235");
	assert_null(o.link);
}

static void
test_parse_enroll_cancel_list(void **state)
{
	(void)state;
	cli_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "enroll", "--node", "https://127.0.0.1:8443", "--ca", "ca.crt",
	    "--code", "ABCD-1234", "--name", "phone"), 0);
	assert_int_equal(o.cmd, CLI_CMD_ENROLL);
	assert_string_equal(o.node_url, "https://127.0.0.1:8443");
	assert_string_equal(o.ca_file, "ca.crt");
	assert_string_equal(o.code, "ABCD-1234");
	assert_string_equal(o.name, "phone");

	assert_int_equal(PARSE(&o, err, "cancel", "3f2a-b_9", "--no-wait", "--timeout=30"), 0);
	assert_int_equal(o.cmd, CLI_CMD_CANCEL);
	assert_string_equal(o.share_id, "3f2a-b_9");
	assert_int_equal(o.no_wait, 1);
	assert_int_equal(o.timeout_s, 30);

	assert_int_equal(PARSE(&o, err, "apps", "--json"), 0);
	assert_int_equal(o.cmd, CLI_CMD_APPS);
	assert_int_equal(PARSE(&o, err, "shares"), 0);
	assert_int_equal(o.cmd, CLI_CMD_SHARES);
	assert_int_equal(o.json, 0);
}

static void
test_parse_help_version(void **state)
{
	(void)state;
	cli_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "--help"), 0);
	assert_int_equal(o.cmd, CLI_CMD_HELP);
	assert_null(o.help_topic);
	assert_int_equal(PARSE(&o, err, "share", "--help"), 0);
	assert_int_equal(o.cmd, CLI_CMD_HELP);
	assert_string_equal(o.help_topic, "share");
	assert_int_equal(PARSE(&o, err, "help", "cancel"), 0);
	assert_int_equal(o.cmd, CLI_CMD_HELP);
	assert_string_equal(o.help_topic, "cancel");
	assert_int_equal(PARSE(&o, err, "help"), 0);
	assert_int_equal(o.cmd, CLI_CMD_HELP);
	assert_null(o.help_topic);
	assert_int_equal(PARSE(&o, err, "--version"), 0);
	assert_int_equal(o.cmd, CLI_CMD_VERSION);
	/* --help wins over missing required options. */
	assert_int_equal(PARSE(&o, err, "enroll", "--help"), 0);
	assert_string_equal(o.help_topic, "enroll");
}

static void
expect_usage_error(int rc, const char *err, const char *needle)
{
	assert_int_equal(rc, TS_EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void
test_parse_errors(void **state)
{
	(void)state;
	cli_opts o;
	char err[256];
	assert_int_equal(cli_parse(1, ARGV("x") , &o, err, sizeof(err)), TS_EINVAL);
	expect_usage_error(PARSE(&o, err, "frobnicate"), err, "unknown command");
	expect_usage_error(PARSE(&o, err, "share", "--bogus"), err, "unknown option");
	expect_usage_error(PARSE(&o, err, "share", "-x"), err, "unknown option");
	expect_usage_error(PARSE(&o, err, "share", "--link"), err, "needs a value");
	expect_usage_error(PARSE(&o, err, "share", "--app", "a"), err, "--link");
	expect_usage_error(PARSE(&o, err, "share", "--link", "sim:/x", "--eid", "1"), err, "not both");
	expect_usage_error(PARSE(&o, err, "share", "--eid", ""), err, "bad --eid");
	expect_usage_error(PARSE(&o, err, "apps", "--link", "sim:/x"), err, "not valid for this command");
	expect_usage_error(PARSE(&o, err, "share", "--link", "sim:/x", "--timeout", "0"), err, "--timeout");
	expect_usage_error(PARSE(&o, err, "share", "--link", "sim:/x", "--timeout", "12s"), err, "--timeout");
	expect_usage_error(PARSE(&o, err, "share", "--link", "sim:/x", "--duration", "-5"), err, "--duration");
	expect_usage_error(PARSE(&o, err, "share", "--link", "sim:/x", "--no-wait=1"), err, "takes no value");
	expect_usage_error(PARSE(&o, err, "enroll", "--node", "http://x", "--ca", "c", "--code", "k"), err, "https://");
	expect_usage_error(PARSE(&o, err, "enroll", "--node", "https://x", "--code", "k"), err, "--ca");
	expect_usage_error(PARSE(&o, err, "enroll", "--node", "https://x", "--ca", "c", "--code", ""), err, "--code");
	expect_usage_error(PARSE(&o, err, "cancel"), err, "SHARE_ID");
	expect_usage_error(PARSE(&o, err, "cancel", "../x"), err, "bad SHARE_ID");
	expect_usage_error(PARSE(&o, err, "cancel", "a", "b"), err, "unexpected argument");
	expect_usage_error(PARSE(&o, err, "apps", "extra"), err, "unexpected argument");
	expect_usage_error(PARSE(&o, err, "help", "nope"), err, "unknown command");
	expect_usage_error(PARSE(&o, err, "--link", "sim:/x"), err, "no command");
	expect_usage_error(PARSE(&o, err, "apps", "--home", "a\nb"), err, "control characters");
}

static void
test_usage(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(cli_usage(f, "share"), 0);
	assert_int_equal(cli_usage(f, "nope"), TS_ENOTFOUND);
	fclose(f);
	assert_non_null(strstr(buf, "Usage: tapshare share --link SPEC"));
	assert_non_null(strstr(buf, "SIMULATED proximity link"));
	free(buf);
	for (int c = CLI_CMD_ENROLL; c <= CLI_CMD_CANCEL; c++) {
		assert_non_null(cli_cmd_name(c));
		f = fopen("/dev/null", "w");
		assert_int_equal(cli_usage(f, cli_cmd_name(c)), 0);
		fclose(f);
	}
	assert_null(cli_cmd_name(CLI_CMD_HELP));
}

static void
test_home_dir(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(cli_home_dir("/opt", "/env", "/home/u", out, sizeof(out)), 0);
	assert_string_equal(out, "/opt");
	assert_int_equal(cli_home_dir(NULL, "/env", "/home/u", out, sizeof(out)), 0);
	assert_string_equal(out, "/env");
	assert_int_equal(cli_home_dir("", "", "/home/u", out, sizeof(out)), 0);
	assert_string_equal(out, "/home/u/.tapshare");
	assert_int_equal(cli_home_dir(NULL, NULL, NULL, out, sizeof(out)), TS_ECONFIG);
	char tiny[8];
	assert_int_equal(cli_home_dir(NULL, NULL, "/home/user", tiny, sizeof(tiny)), TS_ELIMIT);
}

static void
test_format_ini_roundtrip(void **state)
{
	(void)state;
	char *ini = NULL;
	assert_int_equal(cli_format_ini("https://127.0.0.1:8443", "alice",
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "phone", &ini), 0);
	assert_string_equal(ini,
	    "; tapshare primary device, written by `tapshare enroll`\n"
	    "[node]\n"
	    "url = https://127.0.0.1:8443\n"
	    "\n"
	    "[device]\n"
	    "user = alice\n"
	    "device_id = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	    "name = phone\n");

	/* What enroll writes is what the other commands read back. */
	char dir[] = "/tmp/ts-cli-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	assert_int_equal(ts_snprintf(path, sizeof(path), "%s/primary.ini", dir), 0);
	assert_int_equal(ts_write_file_atomic(path, (const uint8_t *)ini, strlen(ini), 0600), 0);
	ts_config *c = NULL;
	assert_int_equal(ts_config_load(path, &c, NULL, 0), 0);
	assert_string_equal(ts_config_get(c, "node", "url", NULL), "https://127.0.0.1:8443");
	assert_string_equal(ts_config_get(c, "device", "user", NULL), "alice");
	assert_string_equal(ts_config_get(c, "device", "name", NULL), "phone");
	ts_config_free(c);
	unlink(path);
	rmdir(dir);
	free(ini);

	assert_int_equal(cli_format_ini("https://x", "bob", "id", NULL, &ini), 0);
	assert_null(strstr(ini, "name ="));
	free(ini);
	ini = NULL;
	assert_int_equal(cli_format_ini("https://x", "bob\n[evil]", "id", NULL, &ini), TS_EINVAL);
	assert_int_equal(cli_format_ini("https://x", "", "id", NULL, &ini), TS_EINVAL);
	assert_int_equal(cli_format_ini("https://x", "; comment", "id", NULL, &ini), TS_EINVAL);
	assert_int_equal(cli_format_ini("https://x", "bob", "id", "a\rb", &ini), TS_EINVAL);
	assert_null(ini);
}

static json_t *
sample_apps(void)
{
	json_error_t je;
	json_t *a = json_loads("["
	    "{\"app_id\":\"esim-1\",\"name\":\"Mobile plan\",\"kind\":\"sim\",\"provider\":\"op\",\"shareable\":true},"
	    "{\"app_id\":\"bank-1\",\"name\":\"Bank ID\",\"kind\":\"bankid\",\"provider\":\"bank\",\"shareable\":false},"
	    "{\"app_id\":\"car-key\",\"name\":\"Car key\",\"kind\":\"service\",\"provider\":\"carco\",\"shareable\":true}"
	    "]", 0, &je);
	assert_non_null(a);
	return a;
}

static void
test_app_choice(void **state)
{
	(void)state;
	json_t *apps = sample_apps();
	assert_int_equal(cli_app_find(apps, "car-key"), 2);
	assert_int_equal(cli_app_find(apps, "esim-1"), 0);
	assert_int_equal(cli_app_find(apps, "esim"), -1);
	assert_int_equal(cli_app_find(NULL, "esim-1"), -1);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	size_t map[8];
	size_t n = cli_app_menu(f, apps, map, 8);
	fclose(f);
	assert_int_equal(n, 2); /* bank-1 is not shareable: not offered */
	assert_int_equal(map[0], 0);
	assert_int_equal(map[1], 2);
	assert_string_equal(buf,
	    "  1) esim-1  Mobile plan (sim, op)\n"
	    "  2) car-key  Car key (service, carco)\n");
	free(buf);
	assert_int_equal(cli_app_menu(NULL, apps, map, 1), 1);

	size_t idx = 99;
	assert_int_equal(cli_parse_choice("2\n", 2, &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(cli_parse_choice("  1 \r\n", 2, &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(cli_parse_choice("3\n", 2, &idx), TS_EINVAL);
	assert_int_equal(cli_parse_choice("0\n", 2, &idx), TS_EINVAL);
	assert_int_equal(cli_parse_choice("1x\n", 2, &idx), TS_EINVAL);
	assert_int_equal(cli_parse_choice("\n", 2, &idx), TS_EINVAL);
	assert_int_equal(cli_parse_choice("1\n", 0, &idx), TS_EINVAL);
	json_decref(apps);
}

static void
test_tables(void **state)
{
	(void)state;
	json_t *apps = sample_apps();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cli_print_apps(f, apps);
	cli_print_apps(f, NULL);
	fclose(f);
	assert_string_equal(buf,
	    "APP_ID   NAME         KIND     PROVIDER  SHAREABLE\n"
	    "esim-1   Mobile plan  sim      op        yes\n"
	    "bank-1   Bank ID      bankid   bank      no\n"
	    "car-key  Car key      service  carco     yes\n"
	    "no applications\n");
	free(buf);
	json_decref(apps);

	json_error_t je;
	json_t *shares = json_loads("[{\"share_id\":\"s1\",\"state\":\"installed\",\"app_id\":\"esim-1\","
	    "\"eid\":\"89049032123451234512345678901235\",\"associated_app_id\":\"esim-1-w\","
	    "\"not_after\":0,\"updated_at\":1764061200}]", 0, &je);
	assert_non_null(shares);
	buf = NULL;
	f = open_memstream(&buf, &len);
	cli_print_shares(f, shares);
	fclose(f);
	assert_string_equal(buf,
	    "SHARE_ID  STATE      APP_ID  EID                               ASSOCIATED  NOT_AFTER             UPDATED\n"
	    "s1        installed  esim-1  89049032123451234512345678901235  esim-1-w    -                     2025-11-25T09:00:00Z\n");
	free(buf);
	json_decref(shares);
}

static void
test_events(void **state)
{
	(void)state;
	char line[256];
	json_error_t je;
	json_t *d = json_loads("{\"share_id\":\"s1\",\"state\":\"installed\",\"associated_app_id\":\"esim-1-w\","
	    "\"reason\":\"provider said no\",\"not_after\":0}", 0, &je);
	assert_non_null(d);

	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.eid_confirmed", d, line, sizeof(line)), CLI_EV_IGNORE);
	assert_string_equal(line, "");
	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.authorised", d, line, sizeof(line)), CLI_EV_PROGRESS);
	assert_string_equal(line, "... authorised by provider");
	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.delivered", d, line, sizeof(line)), CLI_EV_PROGRESS);
	assert_string_equal(line, "... delivered to companion");
	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.installed", d, line, sizeof(line)), CLI_EV_SUCCESS);
	assert_string_equal(line, "S6 second confirmation: installed in companion (esim-1-w)");
	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.denied", d, line, sizeof(line)), CLI_EV_FAILURE);
	assert_string_equal(line, "... denied by provider: provider said no");
	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.failed", NULL, line, sizeof(line)), CLI_EV_FAILURE);
	assert_string_equal(line, "... failed: no reason given");
	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.expired", d, line, sizeof(line)), CLI_EV_FAILURE);
	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.revoked", d, line, sizeof(line)), CLI_EV_FAILURE);
	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.something_new", d, line, sizeof(line)), CLI_EV_IGNORE);

	/* Waiting for a revoke: replayed history is not news. */
	assert_int_equal(cli_event(CLI_WAIT_REVOKE, "share.installed", d, line, sizeof(line)), CLI_EV_IGNORE);
	assert_int_equal(cli_event(CLI_WAIT_REVOKE, "share.revoked", d, line, sizeof(line)), CLI_EV_SUCCESS);
	assert_string_equal(line, "S8 share s1 revoked");

	json_object_set_new(d, "not_after", json_integer(1764064800));
	assert_int_equal(cli_event(CLI_WAIT_INSTALL, "share.authorised", d, line, sizeof(line)), CLI_EV_PROGRESS);
	assert_string_equal(line, "... authorised by provider (until 2025-11-25T10:00:00Z)");
	json_decref(d);
}

static void
test_sanitize_and_ids(void **state)
{
	(void)state;
	char out[16];
	cli_sanitize("Watch\x1b[31m\r\n", out, sizeof(out));
	assert_string_equal(out, "Watch?[31m??");
	cli_sanitize("0123456789abcdefXYZ", out, sizeof(out));
	assert_string_equal(out, "0123456789abcde");
	cli_sanitize(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	assert_int_equal(cli_check_id("abc-DEF_012"), 0);
	assert_int_equal(cli_check_id(""), TS_EINVAL);
	assert_int_equal(cli_check_id("a/b"), TS_EINVAL);
	assert_int_equal(cli_check_id("a?b"), TS_EINVAL);
	char longid[CLI_MAX_ID + 2];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(cli_check_id(longid), TS_EINVAL);
	longid[CLI_MAX_ID] = '\0';
	assert_int_equal(cli_check_id(longid), 0);
}

static void
test_nodeapi_pure(void **state)
{
	(void)state;
	assert_int_equal(nodeapi_retryable(TS_ENET, 0), 1);
	assert_int_equal(nodeapi_retryable(TS_ETIMEOUT, 0), 1);
	assert_int_equal(nodeapi_retryable(0, 503), 1);
	assert_int_equal(nodeapi_retryable(TS_EPROTO, 503), 1);
	assert_int_equal(nodeapi_retryable(TS_EPROTO, 500), 0);
	assert_int_equal(nodeapi_retryable(0, 502), 1);
	assert_int_equal(nodeapi_retryable(0, 504), 1);
	assert_int_equal(nodeapi_retryable(0, 500), 0);
	assert_int_equal(nodeapi_retryable(0, 409), 0);
	assert_int_equal(nodeapi_retryable(0, 400), 0);
	assert_int_equal(nodeapi_retryable(TS_EPARSE, 200), 0);
	assert_int_equal(nodeapi_status_err(201), 0);
	assert_int_equal(nodeapi_status_err(400), TS_EINVAL);
	assert_int_equal(nodeapi_status_err(401), TS_EAUTH);
	assert_int_equal(nodeapi_status_err(403), TS_EDENIED);
	assert_int_equal(nodeapi_status_err(404), TS_ENOTFOUND);
	assert_int_equal(nodeapi_status_err(409), TS_ECONFLICT);
	assert_int_equal(nodeapi_status_err(413), TS_ELIMIT);
	assert_int_equal(nodeapi_status_err(422), TS_EDENIED);
	assert_int_equal(nodeapi_status_err(500), TS_EPROTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_share),
		cmocka_unit_test(test_parse_enroll_cancel_list),
		cmocka_unit_test(test_parse_help_version),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_home_dir),
		cmocka_unit_test(test_format_ini_roundtrip),
		cmocka_unit_test(test_app_choice),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_sanitize_and_ids),
		cmocka_unit_test(test_nodeapi_pure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
