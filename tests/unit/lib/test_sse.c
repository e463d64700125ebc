/* Unit tests for lib/sse: incremental event-stream parsing, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/sse.h"
#include "lib/ts_err.h"

#define MAX_EV 8

struct rec {
	int n;
	char event[MAX_EV][64];
	char id[MAX_EV][64];
	char data[MAX_EV][256];
	int stop_at; /* return 99 on this event number (1-based), 0 = never */
};

static int
on_event(const char *event, const char *id, const char *data, void *arg)
{
	struct rec *r = arg;
	if (r->n >= MAX_EV)
		return -1000;
	snprintf(r->event[r->n], sizeof(r->event[0]), "%s", event);
	snprintf(r->id[r->n], sizeof(r->id[0]), "%s", id);
	snprintf(r->data[r->n], sizeof(r->data[0]), "%s", data);
	r->n++;
	return r->stop_at == r->n ? 99 : 0;
}

static const char stream[] = ": keepalive\r\n"
			     "\r\n"
			     "id: 1\r\n"
			     "event: share.confirmed\r\n"
			     "data: {\"a\":1}\r\n"
			     "\r\n"
			     "data: line1\n"
			     "data:line2\n"
			     "data\n"
			     "retry: 100\n"
			     "unknown: x\n"
			     "\n"
			     "id: 7\revent: e\rdata: cr\r\r"
			     "event: dropped-no-data\n\n"
			     "data: tail-not-dispatched\n";

static void
check_stream(const struct rec *r)
{
	assert_int_equal(r->n, 3);
	assert_string_equal(r->event[0], "share.confirmed");
	assert_string_equal(r->id[0], "1");
	assert_string_equal(r->data[0], "{\"a\":1}");
	assert_string_equal(r->event[1], "message");
	assert_string_equal(r->id[1], "1"); /* last id persists */
	assert_string_equal(r->data[1], "line1\nline2\n");
	assert_string_equal(r->event[2], "e");
	assert_string_equal(r->id[2], "7");
	assert_string_equal(r->data[2], "cr");
}

static void
test_whole_stream(void **state)
{
	(void)state;
	struct rec r;
	memset(&r, 0, sizeof(r));
	sse_parser *p = NULL;
	assert_int_equal(sse_parser_new(on_event, &r, &p), 0);
	assert_int_equal(sse_parser_feed(p, stream, strlen(stream)), 0);
	check_stream(&r);
	sse_parser_free(p);
	sse_parser_free(NULL);
}

static void
test_byte_by_byte_and_splits(void **state)
{
	(void)state;
	size_t len = strlen(stream);
	/* Every split point, including between CR and LF. */
	for (size_t cut = 0; cut <= len; cut++) {
		struct rec r;
		memset(&r, 0, sizeof(r));
		sse_parser *p = NULL;
		assert_int_equal(sse_parser_new(on_event, &r, &p), 0);
		assert_int_equal(sse_parser_feed(p, stream, cut), 0);
		assert_int_equal(sse_parser_feed(p, stream + cut, len - cut), 0);
		check_stream(&r);
		sse_parser_free(p);
	}
	struct rec r;
	memset(&r, 0, sizeof(r));
	sse_parser *p = NULL;
	assert_int_equal(sse_parser_new(on_event, &r, &p), 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(sse_parser_feed(p, stream + i, 1), 0);
	check_stream(&r);
	sse_parser_free(p);
}

static void
test_bom_and_empty_data(void **state)
{
	(void)state;
	struct rec r;
	memset(&r, 0, sizeof(r));
	sse_parser *p = NULL;
	static const char s[] = "\xEF\xBB\xBF" "data:\n\n";
	assert_int_equal(sse_parser_new(on_event, &r, &p), 0);
	assert_int_equal(sse_parser_feed(p, s, strlen(s)), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.data[0], "");
	assert_string_equal(r.id[0], "");
	sse_parser_free(p);
}

static void
test_callback_stop(void **state)
{
	(void)state;
	struct rec r;
	memset(&r, 0, sizeof(r));
	r.stop_at = 1;
	sse_parser *p = NULL;
	static const char s[] = "data: a\n\ndata: b\n\n";
	assert_int_equal(sse_parser_new(on_event, &r, &p), 0);
	assert_int_equal(sse_parser_feed(p, s, strlen(s)), 99);
	assert_int_equal(r.n, 1);
	assert_int_equal(sse_parser_feed(p, s, strlen(s)), 99); /* sticky */
	assert_int_equal(r.n, 1);
	sse_parser_free(p);
}

static void
test_limits(void **state)
{
	(void)state;
	struct rec r;
	memset(&r, 0, sizeof(r));
	sse_parser *p = NULL;
	/* A line of SSE_MAX_LINE bytes is fine; one more byte is not. */
	char *line = malloc(SSE_MAX_LINE + 2);
	assert_non_null(line);
	memset(line, 'x', SSE_MAX_LINE + 1);
	memcpy(line, ":", 1);
	assert_int_equal(sse_parser_new(on_event, &r, &p), 0);
	assert_int_equal(sse_parser_feed(p, line, SSE_MAX_LINE), 0);
	assert_int_equal(sse_parser_feed(p, "\n", 1), 0);
	assert_int_equal(sse_parser_feed(p, line, SSE_MAX_LINE + 1), TS_ELIMIT);
	assert_int_equal(sse_parser_feed(p, "\n", 1), TS_ELIMIT);
	sse_parser_free(p);

	/* An event whose data adds up past SSE_MAX_EVENT. */
	assert_int_equal(sse_parser_new(on_event, &r, &p), 0);
	memcpy(line, "data: ", 6);
	line[SSE_MAX_LINE - 1] = '\n';
	int rc = 0;
	size_t fed = 0;
	for (int i = 0; i < 10 && rc == 0; i++) {
		rc = sse_parser_feed(p, line, SSE_MAX_LINE);
		fed += SSE_MAX_LINE;
	}
	assert_int_equal(rc, TS_ELIMIT);
	assert_true(fed > SSE_MAX_EVENT);
	assert_int_equal(r.n, 0);
	sse_parser_free(p);
	free(line);
}

static void
test_format(void **state)
{
	(void)state;
	char *s = NULL;
	size_t n = 0;
	assert_int_equal(sse_format("12", "share.done", "{\"x\":1}", &s, &n), 0);
	assert_string_equal(s, "id: 12\nevent: share.done\ndata: {\"x\":1}\n\n");
	assert_int_equal(n, strlen(s));

	/* Round trip through the parser. */
	struct rec r;
	memset(&r, 0, sizeof(r));
	sse_parser *p = NULL;
	assert_int_equal(sse_parser_new(on_event, &r, &p), 0);
	assert_int_equal(sse_parser_feed(p, s, n), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.id[0], "12");
	assert_string_equal(r.event[0], "share.done");
	assert_string_equal(r.data[0], "{\"x\":1}");
	sse_parser_free(p);
	free(s);

	assert_int_equal(sse_format(NULL, NULL, "d", &s, &n), 0);
	assert_string_equal(s, "data: d\n\n");
	free(s);
	assert_int_equal(sse_format(NULL, NULL, "a\nb", &s, &n), TS_EINVAL);
	assert_int_equal(sse_format("1\r", NULL, "a", &s, &n), TS_EINVAL);
	assert_int_equal(sse_format(NULL, "e\n", "a", &s, &n), TS_EINVAL);
	assert_int_equal(sse_format(NULL, NULL, NULL, &s, &n), TS_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_stream),
		cmocka_unit_test(test_byte_by_byte_and_splits),
		cmocka_unit_test(test_bom_and_empty_data),
		cmocka_unit_test(test_callback_stop),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
