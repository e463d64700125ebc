/*
 * http1.c — HTTP/1.1 response parser (RFC 9112), see http1.h.
 *
 * What is read (RFC 9112 section numbers):
 *   2.2  lines end in LF with an optional CR before it; a CR anywhere else,
 *        a NUL or another control character in a line is an error
 *   4    status-line = "HTTP/1." DIGIT SP 3DIGIT [ SP reason-phrase ]
 *        (a missing SP after the code is accepted, the reason is ignored)
 *   5    field-name ":" OWS field-value OWS; no whitespace before the
 *        colon; obs-fold (5.2) is ignored in fields this parser does not
 *        interpret and an error in those it does
 *   6.1  Transfer-Encoding: only "chunked" alone is supported; with a
 *        Content-Length as well, it wins and the connection is not reused
 *   6.3  body length: none after HEAD, 1xx, 204, 304; chunked; else
 *        Content-Length (RFC 9110 8.6: identical repeated values accepted,
 *        different ones an error); else read until the connection closes
 *   7.1  chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF, extensions
 *        skipped; last-chunk, then a trailer section of fields (ignored)
 *   9.3  HTTP/1.1 persists unless "Connection: close"; HTTP/1.0 only with
 *        "Connection: keep-alive"
 * Interim 1xx responses are skipped (RFC 9110 15.2); 101 is an error
 * (ts_httpc never asks for an upgrade). Lists (RFC 9110 5.6.1) may hold
 * empty elements.
 */
#include "lib/http1.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "lib/ts_err.h"
#include "lib/util.h"

enum {
	S_HEAD,
	S_BODY_CL,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_CRLF,
	S_TRAILER,
	S_TILL_CLOSE,
	S_DONE,
	S_ERR,
};

void
http1_resp_init(http1_resp *p, size_t max_body, int head_request)
{
	memset(p, 0, sizeof(*p));
	p->state = S_HEAD;
	p->max_body = max_body;
	p->no_body = head_request ? 1 : 0;
}

int
http1_resp_head_done(const http1_resp *p)
{
	return p->state != S_HEAD && p->status != 0;
}

static int
fail(http1_resp *p, int err, const char *why)
{
	p->state = S_ERR;
	p->err = err;
	p->why = why;
	return err;
}

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Field-value octets (RFC 9110 5.5): VCHAR, obs-text, SP, HTAB. */
static int
is_vchar_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

/* Offset just past the LF ending the line at buf, or 0 if no LF within
 * max bytes (or len). */
static size_t
line_end(const char *buf, size_t len, size_t max)
{
	size_t n = len < max ? len : max;
	const char *lf = memchr(buf, '\n', n);
	return lf != NULL ? (size_t)(lf - buf) + 1 : 0;
}

/* The line's content length without its LF and optional CR; -1 if a CR
 * stands anywhere else or a control character other than HTAB occurs. */
static long
line_check(const char *l, size_t with_lf)
{
	size_t n = with_lf - 1;
	if (n > 0 && l[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++)
		if (!is_vchar_ws((unsigned char)l[i]))
			return -1;
	return (long)n;
}

static const char *
skip_ows(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* Calls fn for each non-empty element of a comma-separated list, OWS
 * trimmed. Stops at the first nonzero return of fn. */
static int
each_elem(http1_resp *p, const char *v, const char *end,
    int (*fn)(http1_resp *p, const char *e, size_t n))
{
	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		const char *e_end = comma ? comma : end;
		const char *s = skip_ows(v, e_end), *t = e_end;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (t > s) {
			int rc = fn(p, s, (size_t)(t - s));
			if (rc != 0)
				return rc;
		}
		v = comma ? comma + 1 : end;
	}
	return 0;
}

static int
cl_elem(http1_resp *p, const char *e, size_t n)
{
	size_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i] < '0' || e[i] > '9')
			return fail(p, TS_EPROTO, "malformed Content-Length");
		if (v > (SIZE_MAX - 9) / 10)
			return fail(p, TS_EPROTO, "Content-Length out of range");
		v = v * 10 + (size_t)(e[i] - '0');
	}
	if (p->have_cl && v != p->remaining)
		return fail(p, TS_EPROTO, "conflicting Content-Length values");
	p->have_cl = 1;
	p->remaining = v;
	return 0;
}

static int
te_elem(http1_resp *p, const char *e, size_t n)
{
	/* chunked, exactly once, as the only coding */
	if (n != 7 || strncasecmp(e, "chunked", 7) != 0 || p->chunked)
		return fail(p, TS_EPROTO, "unsupported transfer coding");
	p->chunked = 1;
	return 0;
}

static int
conn_elem(http1_resp *p, const char *e, size_t n)
{
	if (n == 5 && strncasecmp(e, "close", 5) == 0)
		p->conn_close = 1;
	else if (n == 10 && strncasecmp(e, "keep-alive", 10) == 0)
		p->conn_keep = 1;
	return 0;
}

/* One field line (content n bytes, no line ending). *sig says whether it is
 * one of the fields interpreted here (for a following obs-fold). */
static int
field_line(http1_resp *p, const char *l, size_t n, int *sig)
{
	size_t i = 0;
	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ':')
		return fail(p, TS_EPROTO, "malformed header field");
	const char *v = l + i + 1, *end = l + n;
	*sig = 1;
	if (i == 14 && strncasecmp(l, "content-length", 14) == 0) {
		const char *s = v;
		while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
			s++;
		if (s == end) /* no value at all (only empty list elements) */
			return fail(p, TS_EPROTO, "malformed Content-Length");
		return each_elem(p, v, end, cl_elem);
	}
	if (i == 17 && strncasecmp(l, "transfer-encoding", 17) == 0) {
		p->te_seen = 1;
		return each_elem(p, v, end, te_elem);
	}
	if (i == 10 && strncasecmp(l, "connection", 10) == 0)
		return each_elem(p, v, end, conn_elem);
	*sig = 0;
	return 0;
}

static int
status_line(http1_resp *p, const char *l, size_t n)
{
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' || l[8] != ' ')
		return fail(p, TS_EPROTO, "malformed status line");
	int code = 0;
	for (int i = 9; i < 12; i++) {
		if (l[i] < '0' || l[i] > '9')
			return fail(p, TS_EPROTO, "malformed status line");
		code = code * 10 + (l[i] - '0');
	}
	if (n > 12 && l[12] != ' ')
		return fail(p, TS_EPROTO, "malformed status line");
	if (code < 100 || code > 599)
		return fail(p, TS_EPROTO, "status code out of range");
	p->minor = l[7] - '0';
	p->status = code;
	return 0;
}

/* A complete head in buf[0..head_len): status line, fields, empty line. */
static int
parse_head(http1_resp *p, const char *buf, size_t head_len)
{
	size_t off = 0;
	int first = 1, prev_sig = 0, fields = 0;
	p->have_cl = p->te_seen = p->chunked = p->conn_close = p->conn_keep = 0;
	p->remaining = 0;
	for (;;) {
		size_t e = line_end(buf + off, head_len - off, head_len - off);
		long n = line_check(buf + off, e);
		if (n < 0)
			return fail(p, TS_EPROTO, "control character in the response head");
		const char *l = buf + off;
		off += e;
		if (first) {
			int rc = status_line(p, l, (size_t)n);
			if (rc != 0)
				return rc;
			first = 0;
			continue;
		}
		if (n == 0)
			break;
		if (l[0] == ' ' || l[0] == '\t') {
			/* obs-fold: part of the previous field's value */
			if (prev_sig || fields == 0)
				return fail(p, TS_EPROTO, "folded header field");
			continue;
		}
		fields++;
		int rc = field_line(p, l, (size_t)n, &prev_sig);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* After the final head: how the body is delimited. */
static int
body_start(http1_resp *p)
{
	p->keep_alive = p->minor >= 1 ? !p->conn_close : (p->conn_keep && !p->conn_close);
	if (p->no_body || p->status == 204 || p->status == 304) {
		p->remaining = 0;
		p->state = S_DONE;
		return 1;
	}
	if (p->te_seen) {
		if (!p->chunked)
			return fail(p, TS_EPROTO, "unsupported transfer coding");
		if (p->have_cl)
			p->keep_alive = 0; /* 6.1: TE wins; a smuggling attempt, so not reused */
		p->remaining = 0;
		p->state = S_CHUNK_SIZE;
		return 0;
	}
	if (p->have_cl) {
		if (p->remaining > p->max_body)
			return fail(p, TS_ELIMIT, "response body larger than the limit");
		p->state = p->remaining == 0 ? S_DONE : S_BODY_CL;
		return p->state == S_DONE;
	}
	p->keep_alive = 0;
	p->till_close = 1;
	p->state = S_TILL_CLOSE;
	return 0;
}

static int
head_step(http1_resp *p, const char *buf, size_t len, size_t *used)
{
	size_t max = len < HTTP1_MAX_HEAD ? len : HTTP1_MAX_HEAD, end = 0;
	/* the head ends at an empty line: LF (CR) LF */
	for (size_t i = 0; i < max; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < max && buf[i + 1] == '\n') {
			end = i + 2;
			break;
		}
		if (i + 2 < max && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
			end = i + 3;
			break;
		}
	}
	if (end == 0) {
		if (len >= HTTP1_MAX_HEAD)
			return fail(p, TS_ELIMIT, "response head too long");
		return 0;
	}
	if (memchr(buf, '\0', end) != NULL)
		return fail(p, TS_EPROTO, "NUL in the response head");
	int rc = parse_head(p, buf, end);
	if (rc != 0)
		return rc;
	*used = end;
	if (p->status < 200) {
		if (p->status == 101)
			return fail(p, TS_EPROTO, "unexpected 101 Switching Protocols");
		p->status = 0; /* interim: the final head follows */
		return 0;
	}
	return body_start(p);
}

static int
chunk_size_step(http1_resp *p, const char *buf, size_t len, size_t *used)
{
	size_t e = line_end(buf, len, HTTP1_MAX_CHUNK_LINE);
	if (e == 0) {
		if (len >= HTTP1_MAX_CHUNK_LINE)
			return fail(p, TS_ELIMIT, "chunk-size line too long");
		return 0;
	}
	long n = line_check(buf, e);
	if (n <= 0)
		return fail(p, TS_EPROTO, "malformed chunk size");
	size_t v = 0, i = 0;
	for (; i < (size_t)n && ts_hexval(buf[i]) >= 0; i++) {
		if (v > (SIZE_MAX >> 4))
			return fail(p, TS_EPROTO, "chunk size out of range");
		v = (v << 4) | (size_t)ts_hexval(buf[i]);
	}
	if (i == 0)
		return fail(p, TS_EPROTO, "malformed chunk size");
	const char *rest = skip_ows(buf + i, buf + n);
	if (rest != buf + n && *rest != ';')
		return fail(p, TS_EPROTO, "malformed chunk size");
	*used = e;
	if (v == 0) {
		p->state = S_TRAILER;
		return 0;
	}
	if (v > p->max_body - p->body_len)
		return fail(p, TS_ELIMIT, "response body larger than the limit");
	p->remaining = v;
	p->state = S_CHUNK_DATA;
	return 0;
}

static int
trailer_step(http1_resp *p, const char *buf, size_t len, size_t *used)
{
	size_t room = HTTP1_MAX_HEAD - p->trailer_len;
	size_t e = line_end(buf, len, room);
	if (e == 0) {
		if (len >= room)
			return fail(p, TS_ELIMIT, "trailer section too long");
		return 0;
	}
	long n = line_check(buf, e);
	if (n < 0)
		return fail(p, TS_EPROTO, "control character in the trailer section");
	*used = e;
	p->trailer_len += e;
	if (n == 0) {
		p->state = S_DONE;
		return 1;
	}
	size_t i = 0;
	while (i < (size_t)n && is_tchar((unsigned char)buf[i]))
		i++;
	if (i == 0 || i == (size_t)n || buf[i] != ':')
		return fail(p, TS_EPROTO, "malformed trailer field");
	return 0;
}

int
http1_resp_feed(http1_resp *p, const char *buf, size_t len, size_t *used, const char **body,
    size_t *body_len)
{
	*used = 0;
	*body = NULL;
	*body_len = 0;
	for (;;) {
		const char *b = buf + *used;
		size_t n = len - *used, step = 0;
		int rc = 0;
		switch (p->state) {
		case S_DONE:
			return 1;
		case S_ERR:
			return p->err;
		case S_HEAD:
			rc = head_step(p, b, n, &step);
			break;
		case S_CHUNK_SIZE:
			rc = chunk_size_step(p, b, n, &step);
			break;
		case S_TRAILER:
			rc = trailer_step(p, b, n, &step);
			break;
		case S_CHUNK_CRLF:
			if (n >= 1 && b[0] == '\n')
				step = 1;
			else if (n >= 2 && b[0] == '\r' && b[1] == '\n')
				step = 2;
			else if (n >= 1 && !(n == 1 && b[0] == '\r'))
				return fail(p, TS_EPROTO, "chunk data not followed by CRLF");
			if (step > 0)
				p->state = S_CHUNK_SIZE;
			break;
		case S_BODY_CL:
		case S_CHUNK_DATA:
		case S_TILL_CLOSE: {
			size_t take = n;
			if (p->state != S_TILL_CLOSE && take > p->remaining)
				take = p->remaining;
			if (p->state == S_TILL_CLOSE && take > p->max_body - p->body_len)
				return fail(p, TS_ELIMIT, "response body larger than the limit");
			if (take == 0)
				return 0;
			*body = b;
			*body_len = take;
			*used += take;
			p->body_len += take;
			if (p->state != S_TILL_CLOSE) {
				p->remaining -= take;
				if (p->remaining == 0) {
					if (p->state == S_BODY_CL) {
						p->state = S_DONE;
						return 1;
					}
					p->state = S_CHUNK_CRLF;
				}
			}
			return 0;
		}
		default:
			return fail(p, TS_EPROTO, "parser state corrupt");
		}
		*used += step;
		if (rc != 0)
			return rc;
		if (step == 0)
			return 0; /* need more bytes */
	}
}

int
http1_resp_eof(http1_resp *p)
{
	switch (p->state) {
	case S_DONE:
		return 1;
	case S_TILL_CLOSE:
		p->state = S_DONE;
		return 1;
	case S_ERR:
		return p->err;
	case S_HEAD:
		return fail(p, TS_EPROTO, "connection closed in the response head");
	default:
		return fail(p, TS_EPROTO, "connection closed before the end of the response body");
	}
}
