/*
 * sse.c — text/event-stream parser and formatter (WHATWG HTML, "Server-sent
 * events", section "Interpreting an event stream").
 *
 * Lines end in CRLF, LF or CR (a CR at the end of one chunk followed by LF at
 * the start of the next is one line end). A blank line dispatches the event
 * when at least one data field was seen; "event" defaults to "message"; the
 * id is the last one set (it persists across events, as the spec's "last
 * event ID"), "" if none. Lines starting with ':' are comments. Unknown
 * fields and "retry" are ignored; so is any field line holding a NUL byte,
 * since the callback receives C strings. A UTF-8 BOM at the start is skipped.
 */
#include "lib/sse.h"

#include <stdlib.h>
#include <string.h>

#include "lib/ts_err.h"

#define SSE_MAX_FIELD 1024 /* event type and id */

struct sse_parser {
	sse_event_cb cb;
	void *arg;
	char *line;           /* current line, SSE_MAX_LINE + 1 bytes */
	size_t line_len;
	int line_nul;         /* current line holds a NUL byte */
	int last_cr;          /* previous byte was CR */
	size_t bom_seen;      /* bytes of the BOM matched so far; 3+ = done */
	char *data;           /* SSE_MAX_EVENT + 1 bytes */
	size_t data_len;
	int have_data;
	char event[SSE_MAX_FIELD + 1];
	char id[SSE_MAX_FIELD + 1];
	int err;              /* sticky: once set, every feed returns it */
};

int
sse_parser_new(sse_event_cb cb, void *arg, sse_parser **out)
{
	if (cb == NULL || out == NULL)
		return TS_EINVAL;
	sse_parser *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return TS_ENOMEM;
	p->line = malloc(SSE_MAX_LINE + 1);
	p->data = malloc(SSE_MAX_EVENT + 1);
	if (p->line == NULL || p->data == NULL) {
		sse_parser_free(p);
		return TS_ENOMEM;
	}
	p->cb = cb;
	p->arg = arg;
	*out = p;
	return 0;
}

void
sse_parser_free(sse_parser *p)
{
	if (p == NULL)
		return;
	free(p->line);
	free(p->data);
	free(p);
}

static int
sse_dispatch(sse_parser *p)
{
	int rc = 0;
	if (p->have_data) {
		p->data[p->data_len] = '\0';
		rc = p->cb(p->event[0] != '\0' ? p->event : "message", p->id, p->data, p->arg);
	}
	p->data_len = 0;
	p->have_data = 0;
	p->event[0] = '\0';
	return rc;
}

static void
set_field(char *dst, const char *v, size_t vlen)
{
	if (vlen > SSE_MAX_FIELD)
		vlen = SSE_MAX_FIELD; /* bounded; longer names/ids are not ours */
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
}

static int
sse_line(sse_parser *p)
{
	const char *l = p->line;
	size_t n = p->line_len;

	if (n == 0)
		return sse_dispatch(p);
	if (l[0] == ':' || p->line_nul)
		return 0;
	const char *colon = memchr(l, ':', n);
	size_t flen = colon != NULL ? (size_t)(colon - l) : n;
	const char *v = colon != NULL ? colon + 1 : l + n;
	size_t vlen = n - (size_t)(v - l);
	if (vlen > 0 && v[0] == ' ') {
		v++;
		vlen--;
	}
	if (flen == 4 && memcmp(l, "data", 4) == 0) {
		size_t need = vlen + (p->have_data ? 1 : 0);
		if (need > SSE_MAX_EVENT - p->data_len)
			return TS_ELIMIT;
		if (p->have_data)
			p->data[p->data_len++] = '\n';
		memcpy(p->data + p->data_len, v, vlen);
		p->data_len += vlen;
		p->have_data = 1;
	} else if (flen == 5 && memcmp(l, "event", 5) == 0) {
		set_field(p->event, v, vlen);
	} else if (flen == 2 && memcmp(l, "id", 2) == 0) {
		set_field(p->id, v, vlen);
	}
	return 0;
}

int
sse_parser_feed(sse_parser *p, const char *buf, size_t len)
{
	static const char bom[3] = { '\xef', '\xbb', '\xbf' };
	if (p == NULL || (buf == NULL && len != 0))
		return TS_EINVAL;
	if (p->err != 0)
		return p->err;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (p->bom_seen < 3) {
			if (c == bom[p->bom_seen]) {
				p->bom_seen++;
				continue;
			}
			/* Not a BOM after all: replay what matched as line bytes. */
			for (size_t k = 0; k < p->bom_seen; k++)
				p->line[p->line_len++] = bom[k];
			p->bom_seen = 3;
		}
		if (c == '\n' && p->last_cr) {
			p->last_cr = 0;
			continue;
		}
		p->last_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			int rc = sse_line(p);
			p->line_len = 0;
			p->line_nul = 0;
			if (rc != 0) {
				p->err = rc;
				return rc;
			}
			continue;
		}
		if (p->line_len >= SSE_MAX_LINE) {
			p->err = TS_ELIMIT;
			return p->err;
		}
		if (c == '\0')
			p->line_nul = 1;
		p->line[p->line_len++] = c;
	}
	return 0;
}

static int
has_newline(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

int
sse_format(const char *id, const char *event, const char *data, char **out, size_t *outlen)
{
	if (data == NULL || out == NULL || has_newline(id) || has_newline(event) ||
	    has_newline(data))
		return TS_EINVAL;
	size_t il = id != NULL ? strlen(id) : 0;
	size_t el = event != NULL ? strlen(event) : 0;
	size_t dl = strlen(data);
	if (il > SSE_MAX_FIELD || el > SSE_MAX_FIELD || dl > SSE_MAX_EVENT)
		return TS_ELIMIT;
	/* Bounded above, so the sum cannot wrap. */
	size_t cap = (id != NULL ? 4 + il + 1 : 0) + (event != NULL ? 7 + el + 1 : 0) +
	    6 + dl + 2 + 1;
	char *s = malloc(cap);
	if (s == NULL)
		return TS_ENOMEM;
	size_t o = 0;
	if (id != NULL) {
		memcpy(s + o, "id: ", 4);
		memcpy(s + o + 4, id, il);
		o += 4 + il;
		s[o++] = '\n';
	}
	if (event != NULL) {
		memcpy(s + o, "event: ", 7);
		memcpy(s + o + 7, event, el);
		o += 7 + el;
		s[o++] = '\n';
	}
	memcpy(s + o, "data: ", 6);
	memcpy(s + o + 6, data, dl);
	o += 6 + dl;
	s[o++] = '\n';
	s[o++] = '\n';
	s[o] = '\0';
	*out = s;
	if (outlen != NULL)
		*outlen = o;
	return 0;
}
