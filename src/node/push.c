/*
 * push.c — server-sent-event streams held open by primaries and companions.
 * All streams live on the single event-loop thread (no thread per
 * connection). What a stream carries is always read back from the store, so a
 * stream that breaks loses nothing: the primary resumes with Last-Event-ID and
 * a companion gets every still-pending command on reconnect.
 *
 * push_kick() may be called from any thread; it activates one event and the
 * loop then walks the subscribers (O(subscribers) store queries per kick).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "lib/log.h"
#include "lib/sse.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

#define PUSH_BATCH 64

struct push_sub {
	node *n;
	struct evhttp_request *req;
	int kind; /* 0 primary, 1 companion */
	int64_t user_id;
	char device_id[65];   /* primary: the device holding the stream */
	int has_share;
	char share_id[STORE_ID_MAX];
	char eid[33];
	char peer[64];        /* companion: the peer address (caps) */
	int64_t last_id;
	int64_t last_write_ms;
	struct push_sub *prev, *next;
};

static void
unlink_sub(node *n, struct push_sub *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		n->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	n->nsubs--;
}

static void
on_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	struct push_sub *s = arg;
	log_debug("stream closed (%s %s)", s->kind ? "companion" : "primary", s->kind ? s->eid : s->share_id);
	unlink_sub(s->n, s);
	/* When the client went away in the middle of our chunked reply, libevent
	 * detaches the request from the connection and leaves it to us: ending
	 * the reply then frees it. Otherwise the connection frees it. */
	if (evhttp_request_get_connection(s->req) == NULL)
		evhttp_send_reply_end(s->req);
	free(s);
}

static void
write_event(struct push_sub *s, int64_t id, const char *type, const char *data)
{
	char idbuf[32];
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	char *txt = NULL;
	size_t len = 0;
	if (sse_format(idbuf, type, data, &txt, &len) != 0)
		return;
	struct evbuffer *b = evbuffer_new();
	if (b != NULL) {
		evbuffer_add(b, txt, len);
		evhttp_send_reply_chunk(s->req, b);
		evbuffer_free(b);
	}
	free(txt);
	s->last_write_ms = ts_mono_ms();
}

static void
deliver(node *n, struct push_sub *s)
{
	size_t got;
	if (s->kind == 0) {
		store_event ev[PUSH_BATCH];
		do {
			if (n->st->ops->events_after(n->st, s->user_id, s->has_share ? s->share_id : NULL,
				s->last_id, ev, PUSH_BATCH, &got) != 0)
				return;
			for (size_t i = 0; i < got; i++) {
				write_event(s, ev[i].id, ev[i].type, ev[i].data);
				s->last_id = ev[i].id;
			}
		} while (got == PUSH_BATCH);
	} else {
		store_cmd c[16];
		do {
			if (n->st->ops->cmds_pending(n->st, s->eid, s->last_id, c, TS_ARRAY_LEN(c), &got) != 0)
				return;
			for (size_t i = 0; i < got; i++) {
				write_event(s, c[i].id, c[i].type, c[i].data);
				s->last_id = c[i].id;
				log_info("S14 pushed %s command for share %s to companion %s", c[i].type,
				    c[i].share_id, s->eid);
			}
		} while (got == TS_ARRAY_LEN(c));
	}
}

static void
on_push(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node *n = arg;
	for (struct push_sub *s = n->subs; s != NULL; s = s->next)
		deliver(n, s);
}

void
push_kick(node *n)
{
	if (n->push_ev != NULL)
		event_active(n->push_ev, EV_READ, 0);
}

/* Ends a stream from our side (the client sees the end of the response). */
static void
end_sub(node *n, struct push_sub *s)
{
	struct evhttp_connection *c = evhttp_request_get_connection(s->req);
	if (c != NULL)
		evhttp_connection_set_closecb(c, NULL, NULL);
	unlink_sub(n, s);
	evhttp_send_reply_end(s->req);
	free(s);
}

void
push_device_revoked(node *n)
{
	int64_t count;
	if (n->st->ops->device_revocations(n->st, &count) == 0)
		n->revocations_seen = count;
	struct push_sub *next;
	for (struct push_sub *s = n->subs; s != NULL; s = next) {
		next = s->next;
		int64_t uid;
		if (s->kind != 0 || n->st->ops->device_user(n->st, s->device_id, &uid) != TS_EDENIED)
			continue;
		log_info("device %.16s… was revoked: its event stream is closed", s->device_id);
		end_sub(n, s);
	}
}

void
push_tick(node *n)
{
	/* A device revoked by another process (tapshare-node device revoke)
	 * loses its open streams within a tick: one count query per tick,
	 * a walk over the streams only when the count moved. */
	int64_t count;
	if (n->st->ops->device_revocations(n->st, &count) == 0 && count != n->revocations_seen)
		push_device_revoked(n);
	int64_t now = ts_mono_ms();
	for (struct push_sub *s = n->subs; s != NULL; s = s->next) {
		if (now - s->last_write_ms < NODE_KEEPALIVE_S * 1000)
			continue;
		struct evbuffer *b = evbuffer_new();
		if (b == NULL)
			continue;
		evbuffer_add_printf(b, ": keepalive\n\n");
		evhttp_send_reply_chunk(s->req, b);
		evbuffer_free(b);
		s->last_write_ms = now;
	}
}

int
push_init(node *n)
{
	if (n->st->ops->device_revocations(n->st, &n->revocations_seen) != 0)
		return TS_EDB;
	n->push_ev = event_new(n->base, -1, 0, on_push, n);
	return n->push_ev ? 0 : TS_ENOMEM;
}

void
push_fini(node *n)
{
	while (n->subs != NULL) {
		struct push_sub *s = n->subs;
		evhttp_connection_set_closecb(evhttp_request_get_connection(s->req), NULL, NULL);
		unlink_sub(n, s);
		evhttp_send_reply_end(s->req);
		free(s);
	}
	if (n->push_ev)
		event_free(n->push_ev);
	n->push_ev = NULL;
}

static int
subscribe(node *n, struct evhttp_request *req, struct push_sub *s)
{
	if (n->nsubs >= NODE_MAX_SUBSCRIBERS) {
		free(s);
		ts_httpd_reply_error(req, 503, "too_many_streams", "too many open event streams");
		return TS_ELIMIT;
	}
	s->n = n;
	s->req = req;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_close, s);
	s->next = n->subs;
	if (n->subs)
		n->subs->prev = s;
	n->subs = s;
	n->nsubs++;
	/* An immediate comment makes the response headers flow to the client. */
	struct evbuffer *b = evbuffer_new();
	if (b) {
		evbuffer_add_printf(b, ": stream open\n\n");
		evhttp_send_reply_chunk(req, b);
		evbuffer_free(b);
	}
	s->last_write_ms = ts_mono_ms();
	deliver(n, s);
	return 0;
}

int
push_subscribe_primary(node *n, struct evhttp_request *req, int64_t user_id, const char *device_id,
    const char *share_id, int64_t after)
{
	struct push_sub *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TS_ENOMEM;
	s->kind = 0;
	s->user_id = user_id;
	snprintf(s->device_id, sizeof(s->device_id), "%s", device_id);
	if (share_id != NULL) {
		s->has_share = 1;
		snprintf(s->share_id, sizeof(s->share_id), "%s", share_id);
	}
	s->last_id = after;
	return subscribe(n, req, s);
}

int
push_subscribe_companion(node *n, struct evhttp_request *req, const char *eid, const char *peer)
{
	/* Caps: NODE_STREAMS_PER_PEER open companion streams per address
	 * (refused beyond), NODE_STREAMS_PER_EID per EID (the oldest gives way:
	 * every holder proved the SE, and a companion that reconnects before
	 * its dead connection is noticed must get through). */
	size_t per_peer = 0, per_eid = 0;
	struct push_sub *oldest = NULL;
	for (struct push_sub *o = n->subs; o != NULL; o = o->next) {
		if (o->kind != 1)
			continue;
		per_peer += strcmp(o->peer, peer) == 0;
		if (strcmp(o->eid, eid) == 0) {
			per_eid++;
			oldest = o; /* the list is newest first */
		}
	}
	if (per_peer >= NODE_STREAMS_PER_PEER) {
		ts_httpd_reply_error(req, 429, "too_many_streams", "too many companion streams from this address");
		return TS_ELIMIT;
	}
	if (per_eid >= NODE_STREAMS_PER_EID && oldest != NULL) {
		log_info("companion %s: a newer stream replaces the oldest of its %zu", eid, per_eid);
		end_sub(n, oldest);
	}
	struct push_sub *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TS_ENOMEM;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	s->kind = 1;
	snprintf(s->eid, sizeof(s->eid), "%s", eid);
	s->last_id = 0; /* every pending command, always */
	return subscribe(n, req, s);
}
