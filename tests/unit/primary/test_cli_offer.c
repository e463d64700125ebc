/* Tests for the `offer` command's part of primary/cli.c (companion-initiated
 * sharing): options, defaults, bounds and the usage page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/ts_err.h"
#include "primary/cli.h"

#define ARGV(...) ((char *const[]){ "tapshare", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *const[]){ "tapshare", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err), sizeof(err))

static void
test_parse_offer(void **state)
{
	(void)state;
	cli_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "offer", "--app", "sim-alice", "--link", "sim:/s.sock"), 0);
	assert_int_equal(o.cmd, CLI_CMD_OFFER);
	assert_string_equal(o.app_id, "sim-alice");
	assert_string_equal(o.link, "sim:/s.sock");
	assert_int_equal(o.ttl_s, CLI_OFFER_DEFAULT_TTL_S);
	assert_int_equal(o.ttl_s, 300);
	assert_int_equal(o.timeout_s, CLI_DEFAULT_TIMEOUT_S);
	assert_int_equal(o.no_wait, 0);
	assert_null(o.print_offer);
	assert_int_equal(o.expires_at, 0);

	assert_int_equal(PARSE(&o, err, "--home=/h", "offer", "--app=a", "--link=sim:/x", "--ttl",
	    "3600", "--timeout", "7", "--no-wait", "--json"), 0);
	assert_int_equal(o.ttl_s, 3600);
	assert_int_equal(o.timeout_s, 7);
	assert_int_equal(o.no_wait, 1);
	assert_int_equal(o.json, 1);
	assert_string_equal(o.home, "/h");

	/* Testing options: no link needed with --print-offer. */
	assert_int_equal(PARSE(&o, err, "offer", "--app", "a", "--print-offer", "/tmp/o.b64",
	    "--expires-at", "1700000000"), 0);
	assert_string_equal(o.print_offer, "/tmp/o.b64");
	assert_int_equal(o.expires_at, 1700000000LL);
	assert_null(o.link);
}

static void
test_parse_offer_refusals(void **state)
{
	(void)state;
	cli_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "offer", "--link", "sim:/s"), TS_EINVAL);
	assert_non_null(strstr(err, "--app"));
	assert_int_equal(PARSE(&o, err, "offer", "--app", "a"), TS_EINVAL);
	assert_non_null(strstr(err, "--link"));
	assert_int_equal(PARSE(&o, err, "offer", "--app", "a", "--link", "sim:/s", "--print-offer",
	    "/f"), TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "offer", "--app", "a", "--link", "sim:/s", "--ttl", "3601"),
	    TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "offer", "--app", "a", "--link", "sim:/s", "--ttl", "0"),
	    TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "offer", "--app", "a", "--link", "sim:/s", "--ttl", "5x"),
	    TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "offer", "--app", "a", "--print-offer", "/f",
	    "--expires-at", "-1"), TS_EINVAL);
	/* share options that offer does not take, and offer options share does not. */
	assert_int_equal(PARSE(&o, err, "offer", "--app", "a", "--link", "sim:/s", "--duration",
	    "60"), TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "offer", "--app", "a", "--link", "sim:/s", "--eid",
	    "89049032123451234512345678901235"), TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "share", "--app", "a", "--link", "sim:/s", "--ttl", "60"),
	    TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "share", "--app", "a", "--link", "sim:/s", "--print-offer",
	    "/f"), TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "offer", "extra", "--app", "a", "--link", "sim:/s"),
	    TS_EINVAL);
}

static void
test_offer_usage(void **state)
{
	(void)state;
	char buf[8192];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	assert_int_equal(cli_usage(f, "offer"), 0);
	fclose(f);
	assert_non_null(strstr(buf, "Usage: tapshare offer --app APP_ID --link SPEC"));
	assert_non_null(strstr(buf, "--ttl SECONDS"));
	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	assert_int_equal(cli_usage(f, NULL), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\n  offer "));
	assert_string_equal(cli_cmd_name(CLI_CMD_OFFER), "offer");

	cli_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "offer", "--help"), 0);
	assert_int_equal(o.cmd, CLI_CMD_HELP);
	assert_string_equal(o.help_topic, "offer");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_offer),
		cmocka_unit_test(test_parse_offer_refusals),
		cmocka_unit_test(test_offer_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
