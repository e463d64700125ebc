/*
 * push.c — server-sent-event streams held open by primaries and companions.
 * All streams live on the single event-loop thread (no thread per
 * connection). What a stream carries is always read back from the store, so a
 * stream that breaks loses nothing: the primary resumes with Last-Event-ID and
 * a companion gets every still-pending command on reconnect.
 *
 * O(1) per event (issue 9): every stream is indexed in a hash table by its
 * key — the EID for a companion, the user for a primary — and a wake-up names
 * the key, so an event reads the store and writes only for the streams of its
 * own EID or user (O(streams of that key)), whatever the number of idle
 * streams. push_wake_eid / push_wake_user may be called from any thread
 * (share.c after a commit, and a cross-node LISTEN/NOTIFY thread): they queue
 * the key under a mutex and activate one event; the loop drains the queue.
 * push_kick (and a queue overflow) wakes every stream, the old behaviour.
 *
 * Replay is bounded: a primary stream starts after Last-Event-ID / ?after=N,
 * or, with neither, "from now" (the user's latest event id at open) — never
 * the whole history; ?share=ID replays that one share from its start. A
 * companion gets the pending commands of its EID.
 *
 * Caps (node.ini [limits], see push_limits): streams per node (default: the
 * fd limit less a reserve, so a stream is refused with a clean 503 and its
 * connection closed before accept() runs out of descriptors), companion
 * streams per peer address (429 beyond) and per EID (the oldest gives way).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <limits.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h> /* struct event inside struct push_sub */
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <event2/keyvalq_struct.h>

#include "lib/log.h"
#include "lib/sse.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

#define PUSH_BATCH 64
#define PUSH_BUCKETS 16384u     /* streams by key (EID or user); power of two */
#define PUSH_PEER_BUCKETS 1024u /* companion stream counts by peer address */
#define PUSH_WAKE_QUEUE 256     /* distinct keys queued between two loop turns */
#define PUSH_FD_RESERVE 64      /* descriptors kept for the store, providers, accept */
#define PUSH_STALL_MS 60000     /* a stream whose writes wait this long is closed (evhttp's timeout);
				 * TAPSHARE_PUSH_STALL_MS (tests only: a test hook) shortens it */

/* One allocation per stream, sized to what its kind needs (issue 9: a stream
 * lives for hours and there are tens of thousands): the strings sit in
 * tail[] behind the fixed part. A companion's peer address is its entry in
 * the per-address counts, not a copy. */
struct peer_count {
	size_t n;
	struct peer_count *next;
	char peer[]; /* the address */
};

/* A stream owns its connection (issue 9): once its response starts, the
 * SSL and the socket are taken from evhttp (ts_httpd_take_begin/_end), so
 * an idle stream holds no evhttp connection, request, bufferevent or
 * evbuffer; only this, its SSL and one event. What waits to be written
 * (a slow reader, or the loop pass before the connection is taken) is in
 * out[], allocated only then. */
struct push_sub {
	node *n;
	struct evhttp_request *req; /* until the connection is taken (on_taken) */
	SSL *ssl;                   /* from then on, with fd */
	struct event ev;            /* the take's 0 s timer, then the socket (EV_READ, + EV_WRITE while out waits) */
	char *out;                  /* bytes not yet written, or NULL */
	size_t out_len, out_off, out_cap; /* out_cap: bytes allocated at out */
	int64_t out_since;          /* when out[] began to wait */
	int fd;
	uint8_t chunked;            /* HTTP/1.1: chunked framing */
	uint8_t io_set, io_write;   /* ev is the socket's, with EV_WRITE */
	uint8_t broken;             /* a write failed: closed from the loop (fail_sub) */
	struct push_sub *prev, *next;   /* every stream, oldest last write first */
	struct push_sub *kprev, *knext; /* the streams of one bucket */
	int64_t last_id;
	int64_t last_write_ms;
	uint32_t bucket;
	uint8_t kind;      /* 0 primary, 1 companion */
	uint8_t has_share; /* primary: share_id names one share */
	union {
		int64_t user_id;         /* primary */
		struct peer_count *peer; /* companion: its address's count */
	} u;
	const char *device_id; /* primary: the device holding the stream (in tail) */
	const char *share_id;  /* primary with has_share (in tail), else "" */
	const char *eid;       /* companion (in tail), else "" */
	char tail[];
};

struct wake_key {
	int kind; /* 0 user, 1 EID */
	int64_t user_id;
	int64_t upto; /* > 0: only streams whose cursor is below it (push_wake_user_upto) */
	char eid[33];
};

struct push_state {
	struct push_sub *tail; /* the stream written to last (n->subs: the least recently) */
	struct push_sub *bucket[PUSH_BUCKETS];
	struct peer_count *peers[PUSH_PEER_BUCKETS];
	pthread_mutex_t mu; /* the wake queue below */
	int wake_all;
	int armed;     /* push_ev activated since on_push last took the queue */
	_Atomic uint64_t arms; /* event_active calls by the wakers (push_wake_arms) */
	size_t nq;
	struct wake_key q[PUSH_WAKE_QUEUE];
	uint64_t delivers; /* streams read back from the store (loop thread) */
	uint64_t written;  /* events written to streams (loop thread) */
	uint64_t keepalives; /* keepalive comments written (loop thread) */
	int64_t last_cap_log_ms;
	uint64_t refused_since_log;
	int64_t stall_ms; /* PUSH_STALL_MS, or shorter (TAPSHARE_PUSH_STALL_MS) */
};

static uint32_t
fnv1a(uint32_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t
bucket_user(int64_t user_id)
{
	uint32_t h = fnv1a(2166136261u, "u", 1);
	return fnv1a(h, &user_id, sizeof(user_id)) & (PUSH_BUCKETS - 1);
}

static uint32_t
bucket_eid(const char *eid)
{
	uint32_t h = fnv1a(2166136261u, "e", 1);
	return fnv1a(h, eid, strlen(eid)) & (PUSH_BUCKETS - 1);
}

static struct peer_count **
peer_slot(struct push_state *ps, const char *peer)
{
	uint32_t b = fnv1a(2166136261u, peer, strlen(peer)) & (PUSH_PEER_BUCKETS - 1);
	struct peer_count **pp = &ps->peers[b];
	while (*pp != NULL && strcmp((*pp)->peer, peer) != 0)
		pp = &(*pp)->next;
	return pp;
}

static size_t
peer_streams(struct push_state *ps, const char *peer)
{
	struct peer_count *c = *peer_slot(ps, peer);
	return c != NULL ? c->n : 0;
}

/* Counts one more stream from peer; its entry, or NULL out of memory. */
static struct peer_count *
peer_add(struct push_state *ps, const char *peer)
{
	struct peer_count **pp = peer_slot(ps, peer);
	if (*pp == NULL) {
		size_t len = strlen(peer);
		struct peer_count *c = calloc(1, sizeof(*c) + len + 1);
		if (c == NULL)
			return NULL;
		memcpy(c->peer, peer, len + 1);
		*pp = c;
	}
	(*pp)->n++;
	return *pp;
}

static void
peer_del(struct push_state *ps, struct peer_count *c)
{
	if (--c->n > 0)
		return;
	struct peer_count **pp = peer_slot(ps, c->peer);
	if (*pp == c)
		*pp = c->next;
	free(c);
}

/* n->subs is ordered by the last write (every write moves its stream to
 * the tail), so the keepalive tick reads only the streams that are due,
 * not all of them every second. */
static void
list_remove(node *n, struct push_sub *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		n->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		n->push->tail = s->prev;
	s->prev = s->next = NULL;
}

static void
list_append(node *n, struct push_sub *s)
{
	struct push_state *ps = n->push;
	s->next = NULL;
	s->prev = ps->tail;
	if (ps->tail != NULL)
		ps->tail->next = s;
	else
		n->subs = s;
	ps->tail = s;
}

/* s was written to at now. */
static void
touch(node *n, struct push_sub *s, int64_t now)
{
	s->last_write_ms = now;
	if (n->push->tail != s) {
		list_remove(n, s);
		list_append(n, s);
	}
}

static void
unlink_sub(node *n, struct push_sub *s)
{
	struct push_state *ps = n->push;
	list_remove(n, s);
	if (s->kprev)
		s->kprev->knext = s->knext;
	else
		ps->bucket[s->bucket] = s->knext;
	if (s->knext)
		s->knext->kprev = s->kprev;
	if (s->kind == 1)
		peer_del(ps, s->u.peer);
	n->nsubs--;
}

static void on_io(evutil_socket_t fd, short what, void *arg);

/* The socket's events: reads always (a close, a KeyUpdate), writes while
 * out[] waits. */
static void
set_io(struct push_sub *s, int want_write)
{
	if (s->io_set && s->io_write == want_write)
		return;
	if (s->io_set)
		event_del(&s->ev);
	event_assign(&s->ev, s->n->base, s->fd, (short)(EV_READ | EV_PERSIST | (want_write ? EV_WRITE : 0)), on_io, s);
	s->io_set = event_add(&s->ev, NULL) == 0;
	s->io_write = (uint8_t)want_write;
}

/* Ends s: its connection (closed; with the chunked reply's end and a
 * close_notify when graceful), its event, its memory. */
static void
close_sub(struct push_sub *s, int graceful)
{
	unlink_sub(s->n, s);
	event_del(&s->ev);
	if (s->req != NULL)
		evhttp_connection_free(evhttp_request_get_connection(s->req)); /* not taken yet */
	if (s->ssl != NULL) {
		if (graceful && !s->broken) {
			static const char end[] = "0\r\n\r\n";
			const char *p = s->chunked ? end : "";
			size_t left = s->out_len - s->out_off;
			int r = 1;
			while (left > 0 && r > 0 && (r = SSL_write(s->ssl, s->out + s->out_off, left > INT_MAX ? INT_MAX : (int)left)) > 0) {
				s->out_off += (size_t)r;
				left -= (size_t)r;
			}
			if (left == 0 && (p[0] == '\0' || SSL_write(s->ssl, p, (int)strlen(p)) > 0))
				(void)SSL_shutdown(s->ssl);
		}
		ERR_clear_error();
		SSL_free(s->ssl);
		close(s->fd);
	}
	free(s->out);
	free(s);
}

static void
on_fail(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	close_sub(arg, 0);
}

/* A write failed: s is closed from the loop (its callers go on using it). */
static void
fail_sub(struct push_sub *s)
{
	if (s->broken)
		return;
	s->broken = 1;
	event_del(&s->ev);
	s->io_set = 0;
	event_assign(&s->ev, s->n->base, -1, 0, on_fail, s);
	event_active(&s->ev, EV_TIMEOUT, 1);
}

/* Writes what waits, as far as the socket takes it. */
static void
flush_out(struct push_sub *s)
{
	if (s->ssl == NULL || s->broken)
		return; /* not taken yet: on_taken flushes */
	while (s->out_off < s->out_len) {
		size_t left = s->out_len - s->out_off;
		int r = SSL_write(s->ssl, s->out + s->out_off, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0) {
			s->out_off += (size_t)r;
			continue;
		}
		int e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			set_io(s, e == SSL_ERROR_WANT_WRITE);
			return;
		}
		ERR_clear_error();
		fail_sub(s);
		return;
	}
	free(s->out);
	s->out = NULL;
	s->out_len = s->out_off = s->out_cap = 0;
	set_io(s, 0);
}

/* Queues text as one chunk of the reply (one TLS record and write(2) when
 * the socket takes it at once) and writes it. */
static void
send_text(struct push_sub *s, const char *txt, size_t len)
{
	if (s->broken || len == 0)
		return;
	char hd[24] = "";
	size_t hl = 0;
	if (s->chunked)
		hl = (size_t)snprintf(hd, sizeof(hd), "%zx\r\n", len);
	size_t tl = s->chunked ? 2 : 0;
	if (s->out_off == s->out_len) {
		s->out_off = s->out_len = 0;
		s->out_since = ts_mono_ms();
	}
	/* Geometric growth: a replay of many events into a slow socket copies
	 * O(total) bytes, not O(n^2) as one exact-fit realloc per event did. */
	size_t need = s->out_len + hl + len + tl;
	if (need < s->out_len || ts_buf_reserve(&s->out, &s->out_cap, need) != 0) {
		fail_sub(s);
		return;
	}
	memcpy(s->out + s->out_len, hd, hl);
	memcpy(s->out + s->out_len + hl, txt, len);
	memcpy(s->out + s->out_len + hl + len, "\r\n", tl);
	s->out_len = need;
	flush_out(s);
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	struct push_sub *s = arg;
	if (what & EV_READ) {
		/* Nothing is expected from the client: read and drop, until it
		 * would block; an end (close_notify, EOF, error) closes. */
		char buf[512];
		for (;;) {
			int r = SSL_read(s->ssl, buf, sizeof(buf));
			if (r > 0)
				continue;
			int e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				break;
			if (e == SSL_ERROR_WANT_WRITE) {
				set_io(s, 1);
				break;
			}
			log_debug("stream closed (%s %s)", s->kind ? "companion" : "primary", s->kind ? s->eid : s->share_id);
			ERR_clear_error();
			close_sub(s, 0);
			return;
		}
	}
	flush_out(s);
}

/* A loop pass after the response started: the connection is the stream's. */
static void
on_taken(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct push_sub *s = arg;
	int sfd = -1;
	SSL *ssl = ts_httpd_take_end(s->req, &sfd);
	s->req = NULL;
	if (ssl == NULL) {
		log_warn("event stream: cannot take its connection (out of descriptors?); closed");
		close_sub(s, 0);
		return;
	}
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	s->ssl = ssl;
	s->fd = sfd;
	s->io_set = 0;
	if (s->out == NULL)
		set_io(s, 0);
	flush_out(s);
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
	send_text(s, txt, len);
	free(txt);
	touch(s->n, s, ts_mono_ms());
	s->n->push->written++;
}

static void
deliver(node *n, struct push_sub *s)
{
	size_t got;
	n->push->delivers++;
	if (s->kind == 0) {
		store_event ev[PUSH_BATCH];
		do {
			if (n->st->ops->events_after(n->st, s->u.user_id, s->has_share ? s->share_id : NULL,
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

/* Delivers to the streams of one key only. next is read before deliver():
 * a write may not free s (closes come from the loop later), but keep the
 * walk safe anyway. */
static void
deliver_key(node *n, const struct wake_key *k)
{
	uint32_t b = k->kind == 0 ? bucket_user(k->user_id) : bucket_eid(k->eid);
	struct push_sub *next;
	for (struct push_sub *s = n->push->bucket[b]; s != NULL; s = next) {
		next = s->knext;
		if (k->kind == 0 ? (s->kind == 0 && s->u.user_id == k->user_id && (k->upto <= 0 || s->last_id < k->upto)) :
				   (s->kind == 1 && strcmp(s->eid, k->eid) == 0))
			deliver(n, s);
	}
}

static void
on_push(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node *n = arg;
	struct push_state *ps = n->push;
	/* static: the loop thread only; the queue is copied out so that the
	 * wakers never wait for store reads. */
	static struct wake_key q[PUSH_WAKE_QUEUE];
	pthread_mutex_lock(&ps->mu);
	int all = ps->wake_all;
	size_t nq = ps->nq;
	memcpy(q, ps->q, nq * sizeof(q[0]));
	ps->wake_all = 0;
	ps->nq = 0;
	ps->armed = 0;
	pthread_mutex_unlock(&ps->mu);
	if (all) {
		/* a delivery moves its stream to the tail: stop at the tail of now */
		struct push_sub *next, *last = ps->tail;
		for (struct push_sub *s = n->subs; s != NULL; s = next) {
			next = s->next;
			int stop = s == last;
			deliver(n, s);
			if (stop)
				break;
		}
		return;
	}
	for (size_t i = 0; i < nq; i++)
		deliver_key(n, &q[i]);
}

static void
arm_push(node *n)
{
	atomic_fetch_add(&n->push->arms, 1);
	event_active(n->push_ev, EV_READ, 0);
}

/* Queues a key (deduplicated); a full queue turns into a wake of everything. */
static void
wake(node *n, const struct wake_key *k)
{
	struct push_state *ps = n->push;
	if (ps == NULL || n->push_ev == NULL)
		return;
	pthread_mutex_lock(&ps->mu);
	if (!ps->wake_all) {
		size_t i;
		for (i = 0; i < ps->nq; i++) {
			const struct wake_key *o = &ps->q[i];
			if (o->kind == k->kind && (k->kind == 0 ? o->user_id == k->user_id : strcmp(o->eid, k->eid) == 0))
				break;
		}
		if (i < ps->nq) {
			ps->q[i].upto = 0; /* one wake for both: every stream of the key */
		} else {
			if (ps->nq < PUSH_WAKE_QUEUE)
				ps->q[ps->nq++] = *k;
			else
				ps->wake_all = 1;
		}
	}
	/* Once per batch: a worker's event_active holds libevent's base lock,
	 * which the loop thread, woken by the first one, then waited for
	 * (0.32 waits per flow, bench c=1). */
	int arm = !ps->armed;
	ps->armed = 1;
	pthread_mutex_unlock(&ps->mu);
	if (arm)
		arm_push(n);
}

void
push_wake_eid(node *n, const char *eid)
{
	struct wake_key k = { .kind = 1 };
	if (eid == NULL || eid[0] == '\0' || strlen(eid) >= sizeof(k.eid)) {
		push_wake_all(n);
		return;
	}
	memcpy(k.eid, eid, strlen(eid) + 1);
	wake(n, &k);
}

void
push_wake_user(node *n, int64_t user_id)
{
	struct wake_key k = { .kind = 0, .user_id = user_id };
	wake(n, &k);
}

void
push_wake_user_upto(node *n, int64_t user_id, int64_t upto)
{
	struct wake_key k = { .kind = 0, .user_id = user_id, .upto = upto };
	wake(n, &k);
}

void
push_wake_all(node *n)
{
	struct push_state *ps = n->push;
	if (ps == NULL || n->push_ev == NULL)
		return;
	pthread_mutex_lock(&ps->mu);
	ps->wake_all = 1;
	int arm = !ps->armed;
	ps->armed = 1;
	pthread_mutex_unlock(&ps->mu);
	if (arm)
		arm_push(n);
}

void
push_kick(node *n)
{
	push_wake_all(n);
}

void
push_stats(const node *n, uint64_t *delivers, uint64_t *written)
{
	*delivers = n->push ? n->push->delivers : 0;
	*written = n->push ? n->push->written : 0;
}

uint64_t
push_wake_arms(const node *n)
{
	return n->push != NULL ? atomic_load(&n->push->arms) : 0;
}

uint64_t
push_keepalives(const node *n)
{
	return n->push ? n->push->keepalives : 0;
}

/* Ends a stream from our side (the client sees the end of the response). */
static void
end_sub(node *n, struct push_sub *s)
{
	(void)n;
	close_sub(s, 1);
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
	/* Oldest write first: the walk ends at the first stream not due, and
	 * each one written goes to the tail (at most nsubs steps). */
	int64_t now = ts_mono_ms();
	static const char ka[] = ": keepalive\n\n";
	while (n->subs != NULL && now - n->subs->last_write_ms >= NODE_KEEPALIVE_S * 1000) {
		struct push_sub *s = n->subs;
		if (s->out != NULL && now - s->out_since >= n->push->stall_ms) {
			log_info("event stream: its writes waited %lld ms; closed", (long long)n->push->stall_ms);
			fail_sub(s); /* a reader that stopped reading */
		} else if (!s->broken) {
			send_text(s, ka, sizeof(ka) - 1);
			n->push->keepalives++;
		}
		touch(n, s, now);
	}
}

/* The streams one process may hold: [limits] max_streams, else (0) the fd
 * limit less PUSH_FD_RESERVE (each stream is one descriptor). */
static size_t
default_max_streams(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return NODE_MAX_SUBSCRIBERS;
	if (rl.rlim_cur <= 2 * PUSH_FD_RESERVE)
		return rl.rlim_cur / 4 > 0 ? (size_t)(rl.rlim_cur / 4) : 1;
	return (size_t)(rl.rlim_cur - PUSH_FD_RESERVE);
}

int
push_init(node *n)
{
	if (n->st->ops->device_revocations(n->st, &n->revocations_seen) != 0)
		return TS_EDB;
	n->push = calloc(1, sizeof(*n->push));
	if (n->push == NULL)
		return TS_ENOMEM;
	pthread_mutex_init(&n->push->mu, NULL);
	/* The stall close is checked on the keepalive walk (push_tick): a
	 * stalled stream is closed at its first keepalive due once its writes
	 * waited stall_ms (tests/integration/test_stream_stall.sh). */
	n->push->stall_ms = PUSH_STALL_MS;
	long long stall;
	const char *env = store_test_hook("TAPSHARE_PUSH_STALL_MS");
	if (env != NULL && ts_parse_ll(env, 1, PUSH_STALL_MS, &stall) == 0)
		n->push->stall_ms = stall;
	if (n->lim_max_streams == 0)
		n->lim_max_streams = default_max_streams();
	if (n->lim_streams_per_eid <= 0)
		n->lim_streams_per_eid = NODE_STREAMS_PER_EID;
	if (n->lim_streams_per_peer <= 0)
		n->lim_streams_per_peer = NODE_STREAMS_PER_PEER;
	log_info("event streams: at most %zu per process, %d per companion address, %d per EID",
	    n->lim_max_streams, n->lim_streams_per_peer, n->lim_streams_per_eid);
	n->push_ev = event_new(n->base, -1, 0, on_push, n);
	return n->push_ev ? 0 : TS_ENOMEM;
}

void
push_fini(node *n)
{
	while (n->subs != NULL)
		close_sub(n->subs, 1);
	if (n->push_ev)
		event_free(n->push_ev);
	n->push_ev = NULL;
	if (n->push != NULL) {
		for (size_t i = 0; i < PUSH_PEER_BUCKETS; i++) {
			while (n->push->peers[i] != NULL) {
				struct peer_count *c = n->push->peers[i];
				n->push->peers[i] = c->next;
				free(c);
			}
		}
		pthread_mutex_destroy(&n->push->mu);
		free(n->push);
		n->push = NULL;
	}
}

/* A refusal that also closes the connection: a client refused for lack of
 * room must not keep holding a descriptor on a keep-alive connection. */
static void
refuse_stream(node *n, struct evhttp_request *req, int status, const char *code, const char *msg)
{
	struct push_state *ps = n->push;
	int64_t now = ts_mono_ms();
	ps->refused_since_log++;
	if (now - ps->last_cap_log_ms >= 10000) {
		log_warn("event streams: refused %llu stream(s) in the last interval (%s; %zu open)",
		    (unsigned long long)ps->refused_since_log, code, n->nsubs);
		ps->last_cap_log_ms = now;
		ps->refused_since_log = 0;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	ts_httpd_reply_error(req, status, code, "%s", msg);
}

static int
subscribe(node *n, struct evhttp_request *req, struct push_sub *s, const char *peer)
{
	struct push_state *ps = n->push;
	if (n->nsubs >= n->lim_max_streams) {
		free(s);
		refuse_stream(n, req, 503, "too_many_streams", "too many open event streams");
		return TS_ELIMIT;
	}
	if (s->kind == 1 && (s->u.peer = peer_add(ps, peer)) == NULL) {
		free(s);
		ts_httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		return TS_ENOMEM;
	}
	s->n = n;
	s->fd = -1;
	s->bucket = s->kind == 0 ? bucket_user(s->u.user_id) : bucket_eid(s->eid);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	char *head = NULL;
	size_t hl = 0;
	int chunked = 0;
	int rc = ts_httpd_take_begin(req, 200, "OK", &head, &hl, &chunked);
	if (rc != 0) {
		if (s->kind == 1)
			peer_del(ps, s->u.peer);
		free(s);
		ts_httpd_reply_error(req, 503, "out_of_memory", "cannot start the stream");
		return rc;
	}
	/* The head waits in out[] with what follows; the connection becomes
	 * the stream's in the next loop pass (on_taken), which writes it. */
	s->req = req;
	s->chunked = (uint8_t)chunked;
	s->out = head;
	s->out_len = s->out_cap = hl;
	s->last_write_ms = s->out_since = ts_mono_ms();
	list_append(n, s);
	s->knext = ps->bucket[s->bucket];
	if (s->knext)
		s->knext->kprev = s;
	ps->bucket[s->bucket] = s;
	n->nsubs++;
	/* ev first: a failed write (fail_sub) turns it into the close */
	static const struct timeval now0 = { 0, 0 };
	event_assign(&s->ev, n->base, -1, 0, on_taken, s);
	if (event_add(&s->ev, &now0) != 0)
		fail_sub(s);
	/* An immediate comment makes the response headers flow to the client. */
	static const char open_txt[] = ": stream open\n\n";
	send_text(s, open_txt, sizeof(open_txt) - 1);
	deliver(n, s);
	return 0;
}

int
push_subscribe_primary(node *n, struct evhttp_request *req, int64_t user_id, const char *device_id,
    const char *share_id, int64_t after)
{
	if (after < 0 && share_id == NULL) {
		/* From now: the latest event id at open; nothing older is sent. */
		int64_t last = 0;
		if (n->st->ops->events_last(n->st, user_id, &last) != 0) {
			ts_httpd_reply_error(req, 503, "store_busy", "the database is busy; retry");
			return TS_EDB;
		}
		after = last;
	}
	if (after < 0)
		after = 0;
	size_t dl = strlen(device_id), sl = share_id != NULL ? strlen(share_id) : 0;
	struct push_sub *s = calloc(1, sizeof(*s) + dl + 1 + sl + 1);
	if (s == NULL) {
		ts_httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		return TS_ENOMEM;
	}
	s->kind = 0;
	s->u.user_id = user_id;
	memcpy(s->tail, device_id, dl + 1);
	s->device_id = s->tail;
	memcpy(s->tail + dl + 1, share_id != NULL ? share_id : "", sl + 1);
	s->share_id = s->tail + dl + 1;
	s->has_share = share_id != NULL;
	s->eid = s->tail + dl; /* "" */
	s->last_id = after;
	return subscribe(n, req, s, NULL);
}

int
push_subscribe_companion(node *n, struct evhttp_request *req, const char *eid, const char *peer)
{
	/* Caps: lim_streams_per_peer open companion streams per address
	 * (refused beyond), lim_streams_per_eid per EID (the oldest gives way:
	 * every holder proved the SE, and a companion that reconnects before
	 * its dead connection is noticed must get through). Both O(1): a count
	 * per peer, and the EID's own bucket. */
	struct push_state *ps = n->push;
	if (peer_streams(ps, peer) >= (size_t)n->lim_streams_per_peer) {
		refuse_stream(n, req, 429, "too_many_streams", "too many companion streams from this address");
		return TS_ELIMIT;
	}
	size_t per_eid = 0;
	struct push_sub *oldest = NULL;
	for (struct push_sub *o = ps->bucket[bucket_eid(eid)]; o != NULL; o = o->knext) {
		if (o->kind == 1 && strcmp(o->eid, eid) == 0) {
			per_eid++;
			oldest = o; /* each bucket is newest first */
		}
	}
	if (per_eid >= (size_t)n->lim_streams_per_eid && oldest != NULL) {
		log_info("companion %s: a newer stream replaces the oldest of its %zu", eid, per_eid);
		end_sub(n, oldest);
	}
	size_t el = strlen(eid);
	struct push_sub *s = calloc(1, sizeof(*s) + el + 1);
	if (s == NULL) {
		ts_httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		return TS_ENOMEM;
	}
	s->kind = 1;
	memcpy(s->tail, eid, el + 1);
	s->eid = s->tail;
	s->device_id = s->share_id = s->tail + el; /* "" */
	s->last_id = 0; /* every pending command, always */
	return subscribe(n, req, s, peer);
}
