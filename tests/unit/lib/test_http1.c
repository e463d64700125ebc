/*
 * Unit tests for lib/http1: the HTTP/1.1 response parser, against messages
 * written from RFC 9112 (section numbers in the comments), each fed whole,
 * byte by byte and in odd-sized pieces the way ts_httpc feeds it (bytes not
 * consumed are kept and more appended).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/http1.h"
#include "lib/ts_err.h"

#define BODY_CAP (64 * 1024)

struct result {
	int rc;          /* 1 complete, 0 wants more after the input ended, < 0 error */
	size_t leftover; /* bytes after the complete response */
	char body[BODY_CAP];
	size_t body_len;
	http1_resp p;
};

/* Feeds msg[0..len) arriving step bytes at a time (0 = all at once), then
 * eof if asked and the parser still wants more. */
static void
run(const char *msg, size_t len, size_t step, size_t max_body, int head_req, int eof, struct result *r)
{
	static char buf[4 * HTTP1_MAX_HEAD + BODY_CAP];
	size_t have = 0, arrived = 0;
	memset(r, 0, sizeof(*r));
	http1_resp_init(&r->p, max_body, head_req);
	assert_true(len <= sizeof(buf));
	for (;;) {
		size_t more = step == 0 ? len - arrived : (len - arrived < step ? len - arrived : step);
		memcpy(buf + have, msg + arrived, more);
		have += more;
		arrived += more;
		size_t off = 0;
		int rc;
		for (;;) {
			size_t used = 0, blen = 0;
			const char *b = NULL;
			rc = http1_resp_feed(&r->p, buf + off, have - off, &used, &b, &blen);
			assert_true(used <= have - off);
			if (blen > 0) {
				/* a body span lies inside the bytes given */
				assert_true(b >= buf + off && b + blen <= buf + have);
				assert_true(r->body_len + blen <= sizeof(r->body));
				memcpy(r->body + r->body_len, b, blen);
				r->body_len += blen;
			}
			off += used;
			if (rc != 0 || (used == 0 && blen == 0))
				break;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		if (rc != 0) {
			r->rc = rc;
			r->leftover = have + (len - arrived);
			return;
		}
		if (arrived == len) {
			r->rc = eof ? http1_resp_eof(&r->p) : 0;
			return;
		}
	}
}

/* The same message must give the same result however it arrives. */
static void
run_all(const char *msg, size_t max_body, int head_req, int eof, struct result *r)
{
	static struct result other;
	size_t len = strlen(msg);
	run(msg, len, 0, max_body, head_req, eof, r);
	size_t steps[] = { 1, 2, 3, 7, 64 };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		run(msg, len, steps[i], max_body, head_req, eof, &other);
		assert_int_equal(other.rc, r->rc);
		if (r->rc < 0)
			continue; /* how much body came before the error depends on the pieces */
		assert_int_equal(other.body_len, r->body_len);
		assert_memory_equal(other.body, r->body, r->body_len);
		assert_int_equal(other.leftover, r->leftover);
		assert_int_equal(other.p.status, r->p.status);
		assert_int_equal(other.p.keep_alive, r->p.keep_alive);
	}
}

static void
expect_body(const char *msg, int status, const char *body, int keep_alive)
{
	static struct result r;
	run_all(msg, 1u << 20, 0, 1, &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.p.status, status);
	assert_int_equal(r.p.keep_alive, keep_alive);
	assert_int_equal(r.body_len, strlen(body));
	assert_memory_equal(r.body, body, r.body_len);
	assert_int_equal(r.leftover, 0);
}

static void
expect_error(const char *msg, size_t max_body, int err)
{
	static struct result r;
	run_all(msg, max_body, 0, 1, &r);
	assert_int_equal(r.rc, err);
	assert_non_null(r.p.why);
}

static void
test_content_length(void **state)
{
	(void)state;
	/* 6.3 item 6: Content-Length delimits the body; 9.3: 1.1 persists */
	expect_body("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}", 200,
	    "{\"a\":1}", 1);
	/* field names are case-insensitive (RFC 9110 5.1); OWS around the value */
	expect_body("HTTP/1.1 404 Not Found\r\ncontent-LENGTH:   2 \t\r\n\r\n{}", 404, "{}", 1);
	/* 2.2: a bare LF ends a line too */
	expect_body("HTTP/1.1 200 OK\nContent-Length: 2\n\n[]", 200, "[]", 1);
	/* 4: the reason phrase may be empty, even without its SP */
	expect_body("HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nx", 200, "x", 1);
	expect_body("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", 200, "x", 1);
	/* RFC 9110 8.6: the same value repeated, as a list or as fields */
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", 200, "abc", 1);
	/* a zero-length body completes with the head */
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "", 1);
	/* other fields, obs-text and an obs-fold in a field not interpreted (5.2) */
	expect_body("HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9\r\nX-B: one\r\n  two\r\nContent-Length: 1\r\n\r\nz", 200, "z", 1);
}

static void
test_keep_alive(void **state)
{
	(void)state;
	/* 9.3: close in a Connection list; HTTP/1.0 persists only on keep-alive */
	expect_body("HTTP/1.1 200 OK\r\nConnection: foo, Close\r\nContent-Length: 1\r\n\r\na", 200, "a", 0);
	expect_body("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na", 200, "a", 0);
	expect_body("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na", 200, "a", 1);
	/* RFC 9110 5.6.1: empty list elements are ignored */
	expect_body("HTTP/1.1 200 OK\r\nConnection: ,, close ,\r\nContent-Length: 1\r\n\r\na", 200, "a", 0);
}

static void
test_chunked(void **state)
{
	(void)state;
	/* 7.1: chunk sizes in hex (either case), extensions skipped, a trailer section */
	expect_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "4;name=value\r\nWiki\r\n"
		    "5 ; quoted=\"a;b\"\r\npedia\r\n"
		    "e\r\n in\r\n\r\nchunks.\r\n"
		    "0\r\nExpires: never\r\nX-T: 1\r\n\r\n",
	    200, "Wikipedia in\r\n\r\nchunks.", 1);
	expect_body("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", 200,
	    "0123456789", 1);
	/* leading zeros, bare LFs */
	expect_body("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n0002\nab\n000\n\n", 200, "ab", 1);
	/* 6.1: with a Content-Length as well, chunked wins; the connection is not reused */
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	    200, "ok", 0);
}

static void
test_no_body_and_interim(void **state)
{
	(void)state;
	static struct result r;
	/* 6.3 items 1 and 2: no body after HEAD, 204, 304, whatever the fields say */
	run_all("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 1000, 1, 0, &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.body_len, 0);
	expect_body("HTTP/1.1 204 No Content\r\n\r\n", 204, "", 1);
	expect_body("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 304, "", 1);
	/* RFC 9110 15.2: interim 1xx responses before the final one are skipped */
	expect_body("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
		    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
	    201, "{}", 1);
	/* 101 is never asked for */
	expect_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 1000, TS_EPROTO);
}

static void
test_until_close(void **state)
{
	(void)state;
	static struct result r;
	/* 6.3 item 8: neither Content-Length nor chunked: the body ends with the connection */
	const char *m = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"x\":[1,2]}";
	run_all(m, 1000, 0, 1, &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.p.keep_alive, 0);
	assert_int_equal(r.body_len, 11);
	assert_memory_equal(r.body, "{\"x\":[1,2]}", 11);
	/* without the close it is not complete */
	run_all(m, 1000, 0, 0, &r);
	assert_int_equal(r.rc, 0);
	/* at most max_body bytes that way too */
	expect_error(m, 10, TS_ELIMIT);
	run_all(m, 11, 0, 1, &r);
	assert_int_equal(r.rc, 1);
}

static void
test_truncated(void **state)
{
	(void)state;
	/* the connection closes before the message ends */
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", 1000, TS_EPROTO);
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc", 1000, TS_EPROTO);
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", 1000, TS_EPROTO);
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", 1000, TS_EPROTO);
	expect_error("HTTP/1.1 200 OK\r\nContent-Le", 1000, TS_EPROTO);
	expect_error("", 1000, TS_EPROTO);
}

static void
test_limits(void **state)
{
	(void)state;
	static struct result r;
	/* the body limit: exactly max_body is fine, one more is not, seen at the head */
	run_all("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", 4, 0, 1, &r);
	assert_int_equal(r.rc, 1);
	run_all("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 4, 0, 0, &r);
	assert_int_equal(r.rc, TS_ELIMIT);
	/* chunked: the decoded body counts, over all chunks */
	run_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n", 4, 0, 1, &r);
	assert_int_equal(r.rc, 1);
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n", 4,
	    TS_ELIMIT);
	/* a head: HTTP1_MAX_HEAD bytes are accepted, one more is not */
	static char big[HTTP1_MAX_HEAD + 64];
	const char *start = "HTTP/1.1 200 OK\r\nX: ";
	const char *end = "\r\nContent-Length: 0\r\n\r\n";
	for (size_t extra = 0; extra < 2; extra++) {
		size_t fill = HTTP1_MAX_HEAD - strlen(start) - strlen(end) + extra;
		memcpy(big, start, strlen(start));
		memset(big + strlen(start), 'h', fill);
		memcpy(big + strlen(start) + fill, end, strlen(end) + 1);
		run(big, strlen(big), 0, 100, 0, 1, &r);
		assert_int_equal(r.rc, extra == 0 ? 1 : TS_ELIMIT);
		run(big, strlen(big), 1000, 100, 0, 1, &r);
		assert_int_equal(r.rc, extra == 0 ? 1 : TS_ELIMIT);
	}
	/* a chunk-size line (its extensions) and a trailer section are bounded too */
	static char line[HTTP1_MAX_CHUNK_LINE + 200];
	int n = snprintf(line, sizeof(line), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;");
	memset(line + n, 'e', HTTP1_MAX_CHUNK_LINE);
	memcpy(line + n + HTTP1_MAX_CHUNK_LINE, "\r\na\r\n0\r\n\r\n", sizeof("\r\na\r\n0\r\n\r\n"));
	expect_error(line, 100, TS_ELIMIT);
	static char trailer[HTTP1_MAX_HEAD + 200];
	n = snprintf(trailer, sizeof(trailer), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ");
	memset(trailer + n, 't', HTTP1_MAX_HEAD);
	memcpy(trailer + n + HTTP1_MAX_HEAD, "\r\n\r\n", sizeof("\r\n\r\n"));
	run(trailer, strlen(trailer), 0, 100, 0, 1, &r);
	assert_int_equal(r.rc, TS_ELIMIT);
}

static void
test_malformed_chunked(void **state)
{
	(void)state;
	const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	const char *bodies[] = {
		"zz\r\n\r\n",                    /* not hex */
		"\r\nab\r\n0\r\n\r\n",           /* empty chunk-size */
		"-2\r\nab\r\n0\r\n\r\n",         /* sign */
		"0x2\r\nab\r\n0\r\n\r\n",        /* C notation */
		"2 x\r\nab\r\n0\r\n\r\n",        /* garbage after the size, no ';' */
		"2\r\nabX\r\n0\r\n\r\n",         /* chunk data longer than its size */
		"2\r\nab\rX0\r\n\r\n",           /* CR without LF after the data */
		"2\r\nabX2\r\ncd\r\n0\r\n\r\n",   /* a byte, not CRLF, after the data */
		"2\r\nab\r\n0\r\nbad trailer\r\n\r\n", /* trailer line not a field */
		"2\r\nab\r\n0\r\n: v\r\n\r\n",   /* trailer field without a name */
		"10000000000000000\r\n",         /* 17 hex digits: more than size_t holds */
		"2\x01\r\nab\r\n0\r\n\r\n",      /* control character */
	};
	char msg[256];
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		snprintf(msg, sizeof(msg), "%s%s", h, bodies[i]);
		static struct result r;
		run_all(msg, SIZE_MAX, 0, 1, &r);
		if (r.rc != TS_EPROTO)
			fail_msg("case %zu: rc %d", i, r.rc);
	}
}

static void
test_malformed_head(void **state)
{
	(void)state;
	const char *heads[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 X\r\n\r\n",
		"HTTP/1.1 600 X\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx",      /* 5.1: no space before ':' */
		"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded first line\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 2\r\n\r\nx",   /* obs-fold in a field interpreted */
		"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n", /* 2.2: bare CR */
		"HTTP/1.1 200 OK\r\nX: a\x7f\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 2, 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		static struct result r;
		run_all(heads[i], 1000, 0, 1, &r);
		if (r.rc != TS_EPROTO)
			fail_msg("case %zu (%s): rc %d", i, heads[i], r.rc);
	}
	/* a NUL in the head (strlen-free) */
	static const char nul[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\nContent-Length: 0\r\n\r\n";
	static struct result r;
	run(nul, sizeof(nul) - 1, 0, 1000, 0, 1, &r);
	assert_int_equal(r.rc, TS_EPROTO);
}

static void
test_leftover_and_sticky(void **state)
{
	(void)state;
	static struct result r;
	/* bytes after the complete response are left unconsumed */
	run_all("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 1000, 0, 1, &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.leftover, 5);
	/* after completion or an error every call says the same and consumes nothing */
	size_t used = 99, blen = 99;
	const char *b = "x";
	assert_int_equal(http1_resp_feed(&r.p, "more", 4, &used, &b, &blen), 1);
	assert_int_equal(used, 0);
	assert_int_equal(blen, 0);
	assert_int_equal(http1_resp_eof(&r.p), 1);
	run_all("HTTP/9.9 200 OK\r\n\r\n", 1000, 0, 0, &r);
	assert_int_equal(r.rc, TS_EPROTO);
	assert_int_equal(http1_resp_feed(&r.p, "HTTP/1.1 200 OK\r\n\r\n", 19, &used, &b, &blen), TS_EPROTO);
	assert_int_equal(used, 0);
	assert_int_equal(http1_resp_eof(&r.p), TS_EPROTO);
	/* the head is reported done only with the final status */
	http1_resp p;
	http1_resp_init(&p, 100, 0);
	assert_false(http1_resp_head_done(&p));
	const char *m = "HTTP/1.1 100 Continue\r\n\r\n";
	assert_int_equal(http1_resp_feed(&p, m, strlen(m), &used, &b, &blen), 0);
	assert_int_equal(used, strlen(m));
	assert_false(http1_resp_head_done(&p));
	m = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
	assert_int_equal(http1_resp_feed(&p, m, strlen(m), &used, &b, &blen), 0);
	assert_true(http1_resp_head_done(&p));
	assert_int_equal(p.status, 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_no_body_and_interim),
		cmocka_unit_test(test_until_close),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_malformed_chunked),
		cmocka_unit_test(test_malformed_head),
		cmocka_unit_test(test_leftover_and_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
