/* Tests for the primary's view (issue 3): the pure formatting of
 * `tapshare watch` (primary/watch.h), the `shares` view with DEVICE and
 * --active (cli_print_shares_view, cli_shares_active) and the parsing of
 * their options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lib/ts_err.h"
#include "primary/cli.h"
#include "primary/watch.h"

#define ARGV(...) ((char *const[]){ "tapshare", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *const[]){ "tapshare", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err), sizeof(err))

#define EID "89049032123451234512345678901235"
#define T0 1764061200 /* 2025-11-25T09:00:00Z */

static json_t *
load(const char *txt)
{
	json_error_t je;
	json_t *j = json_loads(txt, JSON_REJECT_DUPLICATES, &je);
	assert_non_null(j);
	return j;
}

static int
utc(void **state)
{
	(void)state;
	setenv("TZ", "UTC0", 1);
	tzset();
	return 0;
}

static void
test_words(void **state)
{
	(void)state;
	assert_string_equal(watch_event_words("share.revoked"), "revoked");
	assert_string_equal(watch_event_words("share.expired"), "expired: time limit reached");
	assert_string_equal(watch_event_words("share.cancel_pending"),
	    "cancelled: waiting for the companion to delete it");
	assert_string_equal(watch_event_words("share.denied"), "denied by the provider");
	assert_string_equal(watch_event_words("share.failed"), "failed");
	assert_string_equal(watch_event_words("share.installed"), "installed, second confirmation");
	assert_string_equal(watch_event_words("share.key_certified"), "key certified by the provider");
	assert_string_equal(watch_event_words("share.certified"),
	    "certified: credential enabled in the companion");
	assert_string_equal(watch_event_words("share.eid_confirmed"), "requested, first confirmation");
	/* Unknown events stay visible by name. */
	assert_string_equal(watch_event_words("share.paused"), "paused");
	assert_string_equal(watch_event_words("share."), "share.");
	assert_string_equal(watch_event_words("message"), "message");
	assert_string_equal(watch_event_words(NULL), "event");
}

static void
test_event_time(void **state)
{
	(void)state;
	json_t *d = load("{\"state\":\"expired\",\"updated_at\":1764061204}");
	assert_int_equal(watch_event_time("share.expired", d, 5), 1764061204);
	/* An event that did not set the state: the time it was received. */
	assert_int_equal(watch_event_time("share.revoked", d, 5), 5);
	json_decref(d);
	d = load("{\"state\":\"installed\",\"updated_at\":1764061204}");
	assert_int_equal(watch_event_time("share.key_certified", d, 7), 7);
	assert_int_equal(watch_event_time("share.installed", d, 7), 1764061204);
	json_decref(d);
	d = load("{\"state\":\"installed\",\"updated_at\":\"soon\"}");
	assert_int_equal(watch_event_time("share.installed", d, 9), 9);
	json_decref(d);
	assert_int_equal(watch_event_time("share.installed", NULL, 11), 11);
	assert_int_equal(watch_event_time(NULL, NULL, 12), 12);
}

static void
test_line(void **state)
{
	(void)state;
	char line[WATCH_LINE_MAX];
	json_t *d = load("{\"share_id\":\"3f2a9c1b77e04d1c\",\"app_id\":\"sim-alice\","
	    "\"associated_app_id\":\"sim-alice-w1\",\"eid\":\"" EID "\",\"state\":\"expired\","
	    "\"updated_at\":1764061204,\"message\":\"time limit reached: grant expired\"}");
	assert_int_equal(watch_format_line("share.expired", d, T0 + 4, line, sizeof(line)), 0);
	assert_string_equal(line, "2025-11-25 09:00:04  3f2a9c1b  sim-alice -> sim-alice-w1 on " EID
	    "  expired: time limit reached (time limit reached: grant expired)");

	/* Local time: the same instant one hour east of UTC. */
	setenv("TZ", "XYZ-1", 1);
	tzset();
	assert_int_equal(watch_format_line("share.revoked", d, T0 + 4, line, sizeof(line)), 0);
	assert_string_equal(line, "2025-11-25 10:00:04  3f2a9c1b  sim-alice -> sim-alice-w1 on " EID
	    "  revoked (time limit reached: grant expired)");
	utc(NULL);

	/* Cut short: TS_ELIMIT and a terminated prefix. */
	assert_int_equal(watch_format_line("share.expired", d, T0, line, 21), TS_ELIMIT);
	assert_string_equal(line, "2025-11-25 09:00:00 ");
	assert_int_equal(watch_format_line("share.expired", d, T0, NULL, 10), TS_EINVAL);
	assert_int_equal(watch_format_line("share.expired", d, T0, line, 0), TS_EINVAL);
	json_decref(d);

	/* No associated app yet; the message is the words: left out. */
	d = load("{\"share_id\":\"ab\",\"app_id\":\"sim-alice\",\"associated_app_id\":\"\","
	    "\"eid\":\"" EID "\",\"message\":\"revoked\"}");
	assert_int_equal(watch_format_line("share.revoked", d, T0, line, sizeof(line)), 0);
	assert_string_equal(line, "2025-11-25 09:00:00  ab        sim-alice on " EID "  revoked");
	json_decref(d);
	/* ... or a part of them. */
	d = load("{\"share_id\":\"ab\",\"app_id\":\"a\",\"eid\":\"" EID "\","
	    "\"message\":\"time limit reached\"}");
	assert_int_equal(watch_format_line("share.expired", d, T0, line, sizeof(line)), 0);
	assert_string_equal(line, "2025-11-25 09:00:00  ab        a on " EID "  expired: time limit reached");
	assert_int_equal(watch_format_line("share.installed", d, T0, line, sizeof(line)), 0);
	assert_string_equal(line, "2025-11-25 09:00:00  ab        a on " EID
	    "  installed, second confirmation (time limit reached)");
	json_decref(d);

	/* No message: the reason; control characters cannot reach the terminal. */
	d = load("{\"share_id\":\"0123456789\",\"app_id\":\"sim\\u001b[2J\",\"eid\":\"" EID "\","
	    "\"reason\":\"8.1/3.8: not\\nallowed\"}");
	assert_int_equal(watch_format_line("share.denied", d, T0, line, sizeof(line)), 0);
	assert_string_equal(line, "2025-11-25 09:00:00  01234567  sim?[2J on " EID
	    "  denied by the provider (8.1/3.8: not?allowed)");
	json_decref(d);

	/* Nothing known about the share. */
	assert_int_equal(watch_format_line("share.cancel_pending", NULL, T0, line, sizeof(line)), 0);
	assert_string_equal(line, "2025-11-25 09:00:00  -         ?  cancelled: waiting for the companion "
	    "to delete it");
}

static void
test_json(void **state)
{
	(void)state;
	json_t *d = load("{\"share_id\":\"s1\",\"state\":\"revoked\",\"message\":\"deleted from the companion\"}");
	json_t *r = watch_event_json("share.revoked", "42", d, T0);
	assert_non_null(r);
	char *txt = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(txt, "{\"event\":\"share.revoked\",\"id\":42,\"message\":\"deleted from the "
	    "companion\",\"share\":{\"message\":\"deleted from the companion\",\"share_id\":\"s1\","
	    "\"state\":\"revoked\"},\"share_id\":\"s1\",\"text\":\"revoked\",\"time\":1764061200}");
	free(txt);
	json_decref(r);
	/* The record holds its own reference to data. */
	assert_int_equal(d->refcount, 1);
	json_decref(d);

	/* event ids are numbers (docs/cli.md): an id that is not one is null */
	r = watch_event_json("share.expired", "x-1", NULL, 3);
	txt = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(txt, "{\"event\":\"share.expired\",\"id\":null,\"message\":\"\",\"share\":null,"
	    "\"share_id\":\"\",\"text\":\"expired: time limit reached\",\"time\":3}");
	free(txt);
	json_decref(r);

	d = load("{\"reason\":\"no\"}");
	r = watch_event_json(NULL, NULL, d, 4);
	assert_true(json_is_null(json_object_get(r, "id")));
	assert_string_equal(json_string_value(json_object_get(r, "event")), "message");
	assert_string_equal(json_string_value(json_object_get(r, "message")), "no");
	json_decref(r);
	json_decref(d);
}

static void
test_changed_after(void **state)
{
	(void)state;
	json_t *d = load("{\"updated_at\":1764061201}");
	assert_int_equal(watch_changed_after(d, T0), 1);
	assert_int_equal(watch_changed_after(d, T0 + 1), 0); /* same second: history */
	assert_int_equal(watch_changed_after(d, T0 + 2), 0);
	json_decref(d);
	d = load("{\"updated_at\":\"1764061201\"}");
	assert_int_equal(watch_changed_after(d, T0), 0);
	json_decref(d);
	assert_int_equal(watch_changed_after(NULL, 0), 0);
}

static const char shares_txt[] =
    "[{\"share_id\":\"s1\",\"state\":\"installed\",\"app_id\":\"esim-1\",\"eid\":\"" EID "\","
    "\"associated_app_id\":\"esim-1-w\",\"not_after\":0,\"updated_at\":1764061200,"
    "\"device_id\":\"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90\"},"
    "{\"share_id\":\"s2\",\"state\":\"expired\",\"app_id\":\"esim-1\",\"eid\":\"" EID "\","
    "\"associated_app_id\":\"esim-1-x\",\"not_after\":1764061260,\"updated_at\":1764061260,"
    "\"device_id\":\"ffee0011ffee0011ffee0011ffee0011ffee0011ffee0011ffee0011ffee0011\"},"
    "{\"share_id\":\"s3\",\"state\":\"cancel_pending\",\"app_id\":\"esim-1\",\"eid\":\"" EID "\","
    "\"associated_app_id\":\"\",\"not_after\":0,\"updated_at\":1764061300},"
    "{\"share_id\":\"s4\",\"state\":\"revoked\",\"app_id\":\"esim-1\",\"eid\":\"" EID "\","
    "\"associated_app_id\":\"esim-1-y\",\"not_after\":0,\"updated_at\":1764061300,"
    "\"device_id\":\"a1b2c3d4\"}]";

static char *
view(const json_t *shares, int active)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	cli_print_shares_view(f, shares, active);
	fclose(f);
	return buf;
}

static void
test_shares_view(void **state)
{
	(void)state;
	json_t *s = load(shares_txt);
	char *out = view(s, 0);
	assert_string_equal(out,
	    "SHARE_ID  STATE           APP_ID  EID                               ASSOCIATED  DEVICE    NOT_AFTER             UPDATED\n"
	    "s1        installed       esim-1  " EID "  esim-1-w    a1b2c3d4  -                     2025-11-25T09:00:00Z\n"
	    "s2        expired         esim-1  " EID "  esim-1-x    ffee0011  2025-11-25T09:01:00Z  2025-11-25T09:01:00Z\n"
	    "s3        cancel_pending  esim-1  " EID "  -           -         -                     2025-11-25T09:01:40Z\n"
	    "s4        revoked         esim-1  " EID "  esim-1-y    a1b2c3d4  -                     2025-11-25T09:01:40Z\n");
	free(out);
	out = view(s, 1);
	assert_string_equal(out,
	    "SHARE_ID  STATE           APP_ID  EID                               ASSOCIATED  DEVICE    NOT_AFTER             UPDATED\n"
	    "s1        installed       esim-1  " EID "  esim-1-w    a1b2c3d4  -                     2025-11-25T09:00:00Z\n"
	    "s3        cancel_pending  esim-1  " EID "  -           -         -                     2025-11-25T09:01:40Z\n");
	free(out);

	json_t *act = cli_shares_active(s);
	assert_int_equal(json_array_size(act), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(act, 0), "share_id")), "s1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(act, 1), "share_id")), "s3");
	json_decref(act);
	assert_null(cli_shares_active(NULL));
	json_decref(s);

	/* Only final shares: none active. */
	s = load("[{\"share_id\":\"s9\",\"state\":\"denied\"},{\"share_id\":\"s8\",\"state\":\"failed\"}]");
	out = view(s, 1);
	assert_string_equal(out, "no active shares\n");
	free(out);
	json_decref(s);
	s = load("[]");
	out = view(s, 0);
	assert_string_equal(out, "no shares\n");
	free(out);
	json_decref(s);

	assert_int_equal(cli_share_final("denied"), 1);
	assert_int_equal(cli_share_final("failed"), 1);
	assert_int_equal(cli_share_final("revoked"), 1);
	assert_int_equal(cli_share_final("expired"), 1);
	assert_int_equal(cli_share_final("cancel_pending"), 0);
	assert_int_equal(cli_share_final("installed"), 0);
	assert_int_equal(cli_share_final("expire"), 0);
	assert_int_equal(cli_share_final(NULL), 0);
}

static void
test_parse(void **state)
{
	(void)state;
	cli_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "watch"), 0);
	assert_int_equal(o.cmd, CLI_CMD_WATCH);
	assert_int_equal(o.all, 0);
	assert_int_equal(o.timeout_set, 0);
	assert_null(o.share_id);
	assert_int_equal(PARSE(&o, err, "watch", "--all", "--share", "3f2a-9c_1", "--timeout=25", "--json"), 0);
	assert_int_equal(o.all, 1);
	assert_string_equal(o.share_id, "3f2a-9c_1");
	assert_int_equal(o.timeout_set, 1);
	assert_int_equal(o.timeout_s, 25);
	assert_int_equal(o.json, 1);
	assert_int_equal(PARSE(&o, err, "watch", "--share", "a/b"), TS_EINVAL);
	assert_non_null(strstr(err, "bad --share"));
	assert_int_equal(PARSE(&o, err, "watch", "--timeout", "0"), TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "watch", "--active"), TS_EINVAL);
	assert_non_null(strstr(err, "not valid for this command"));
	assert_int_equal(PARSE(&o, err, "watch", "extra"), TS_EINVAL);

	assert_int_equal(PARSE(&o, err, "shares", "--active"), 0);
	assert_int_equal(o.cmd, CLI_CMD_SHARES);
	assert_int_equal(o.active, 1);
	assert_int_equal(PARSE(&o, err, "shares", "--all"), TS_EINVAL);
	assert_int_equal(PARSE(&o, err, "share", "--eid", EID, "--share", "x"), TS_EINVAL);
	/* --timeout on other commands still counts as given. */
	assert_int_equal(PARSE(&o, err, "cancel", "s1", "--timeout", "3"), 0);
	assert_int_equal(o.timeout_set, 1);

	assert_int_equal(PARSE(&o, err, "help", "watch"), 0);
	assert_string_equal(o.help_topic, "watch");
	assert_string_equal(cli_cmd_name(CLI_CMD_WATCH), "watch");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(cli_usage(f, "watch"), 0);
	fclose(f);
	assert_non_null(strstr(buf, "Usage: tapshare watch [--all] [--share SHARE_ID] [--timeout SECONDS] [--json]"));
	assert_non_null(strstr(buf, "NDJSON"));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_event_time),
		cmocka_unit_test_setup(test_line, utc),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_changed_after),
		cmocka_unit_test_setup(test_shares_view, utc),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
