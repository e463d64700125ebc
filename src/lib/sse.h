/*
 * sse.h — server-sent events (text/event-stream) parser: a pure, bounded,
 * incremental parser fed with arbitrary byte chunks.
 */
#ifndef TS_SSE_H
#define TS_SSE_H

#include <stddef.h>

#define SSE_MAX_LINE 65536
#define SSE_MAX_EVENT (256u * 1024u)

/* Callback arguments are borrowed for the call only: event ("message" when
 * the stream named none), id (the last id set on the stream, "" if none;
 * persists across events) and data (data lines joined with '\n'). Return 0
 * to go on; any other value stops the parser and is returned by feed. */
typedef int (*sse_event_cb)(const char *event, const char *id, const char *data, void *arg);

typedef struct sse_parser sse_parser;

int sse_parser_new(sse_event_cb cb, void *arg, sse_parser **out);
void sse_parser_free(sse_parser *p);
/* Feeds bytes; calls cb for each complete event. Returns 0, TS_ELIMIT on an
 * over-long line/event, or the callback's nonzero return value (stop).
 * Errors are sticky: after one, every later feed returns it. */
int sse_parser_feed(sse_parser *p, const char *buf, size_t len);

/* Formats one event ("id: ..\nevent: ..\ndata: ..\n\n"); data must not hold
 * newlines (JSON compact). Caller frees *out. id / event may be NULL
 * (line omitted); TS_EINVAL if any holds CR or LF. */
int sse_format(const char *id, const char *event, const char *data, char **out, size_t *outlen);

#endif
