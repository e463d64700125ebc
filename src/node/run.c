/*
 * run.c — `tapshare-node run`: the serving loop. One libevent thread serves
 * HTTPS (primary API, companion push channel, ES9+), a 1 s tick expires
 * time-limited shares and sends keepalives; outbox worker threads call the
 * providers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "lib/log.h"
#include "lib/sdnotify.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/peerlim.h"
#include "node/web.h"

void
node_crash_point(node *n, const char *point)
{
	if (n->crash_after != NULL && strcmp(n->crash_after, point) == 0) {
		log_warn("fault injection: TAPSHARE_NODE_CRASH_AFTER=%s, killing myself with SIGKILL", point);
		raise(SIGKILL);
	}
}

static void
svc_kick(void *arg, unsigned what)
{
	node *n = arg;
	if (what & SHARE_KICK_OUTBOX)
		outbox_kick(n);
	if (what & SHARE_KICK_PUSH)
		push_kick(n);
}

static void
svc_wake(void *arg, int64_t user_id, const char *eid)
{
	node *n = arg;
	if (eid != NULL)
		push_wake_eid(n, eid);
	else
		push_wake_user(n, user_id);
}

static void
svc_crash(void *arg, const char *point)
{
	node_crash_point(arg, point);
}

void
node_svc_init(node *n)
{
	memset(&n->svc, 0, sizeof(n->svc));
	n->svc.address = n->address;
	n->svc.ein_prefixes = n->ein_prefixes;
	n->svc.device_ca = n->ca;
	n->svc.kick = svc_kick;
	n->svc.wake = svc_wake;
	n->svc.kick_arg = n;
	n->svc.crash = svc_crash;
	n->svc.crash_arg = n;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node *n = arg;
	/* The node's own expiry: it needs no companion online. A busy store is
	 * retried at the next tick. */
	size_t expired = 0;
	(void)share_expire_due(&n->svc, n->st, ts_now(), &expired);
	push_tick(n);
	/* After many connections came (TLS handshakes leave freed heap behind)
	 * or went, give the free heap back to the system: idle streams are
	 * then charged what they hold, not the handshakes' garbage. */
	static size_t trimmed_at;
	size_t ns = n->nsubs;
	if ((ns > trimmed_at ? ns - trimmed_at : trimmed_at - ns) >= 256) {
		(void)malloc_trim(0);
		trimmed_at = ns;
	}
	/* Hourly housekeeping: finished download sessions after a day,
	 * idempotency records after a week. */
	int64_t now = ts_now();
	if (now >= n->next_gc) {
		n->next_gc = now + 3600;
		if (n->st->ops->gc(n->st, now - 86400, now - 7 * 86400, now) != 0)
			log_warn("database housekeeping failed; will retry in an hour");
	}
	/* Finished shares older than [node] retention_days: a batch per tick
	 * while there is a backlog, else once an hour (every node may do it:
	 * the store skips rows another node holds). */
	if (n->retention_s > 0 && now >= n->next_prune) {
		size_t pruned = 0;
		int rc = n->st->ops->prune(n->st, now - n->retention_s, NODE_PRUNE_BATCH, &pruned);
		if (rc != 0)
			log_warn("pruning finished shares failed (%s); will retry in an hour", ts_strerror(rc));
		else if (pruned > 0)
			log_info("pruned %zu finished share(s) older than %lld days", pruned,
			    (long long)(n->retention_s / 86400));
		n->next_prune = now + (rc == 0 && pruned == NODE_PRUNE_BATCH ? 1 : 3600);
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	node *n = arg;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(n->base);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)node_reload(arg);
}

static int
split_listen(const char *listen, char *host, size_t cap, uint16_t *port)
{
	const char *colon = strrchr(listen, ':');
	if (colon == NULL || (size_t)(colon - listen) >= cap)
		return TS_ECONFIG;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	long long p;
	if (ts_parse_ll(colon + 1, 0, 65535, &p) != 0)
		return TS_ECONFIG;
	*port = (uint16_t)p;
	return 0;
}

/* node.ini [limits]: caps a deployment may raise (the bench does) or lower.
 * The schema (conf.c) has already checked the ranges. */
static void
read_limits(node *n)
{
	long long v;
	if (ts_parse_ll(ts_config_get(n->cfg, "limits", "max_streams", "0"), 0, 10000000, &v) == 0)
		n->lim_max_streams = (size_t)v;
	if (ts_parse_ll(ts_config_get(n->cfg, "limits", "streams_per_peer", "0"), 0, 10000000, &v) == 0)
		n->lim_streams_per_peer = (int)v;
	if (ts_parse_ll(ts_config_get(n->cfg, "limits", "streams_per_eid", "0"), 0, 1000, &v) == 0)
		n->lim_streams_per_eid = (int)v;
	n->lim_es9_per_peer = NODE_ES9_PEER_MAX;
	if (ts_parse_ll(ts_config_get(n->cfg, "limits", "es9_sessions_per_peer_per_min", "0"), 0, 10000000,
		&v) == 0 && v > 0)
		n->lim_es9_per_peer = (int)v;
}

/* One `run` per SQLite database: a second node process on the same file
 * would serve its own event streams, and the changes it made would never
 * reach the streams held by the first (SQLite has no cross-process
 * notification; several processes need PostgreSQL, README "Scale-out").
 * An exclusive flock(2) on the database file itself, held until exit (the
 * kernel drops it when the process dies, even by SIGKILL); SQLite's own
 * locks are POSIX record locks, which flock does not touch on Linux. The
 * admin commands (user add, device revoke, ...) do not take it. */
static int
sqlite_run_lock(const char *url, int *fd_out)
{
	*fd_out = -1;
	if (strncmp(url, "postgresql:", 11) == 0 || strncmp(url, "postgres:", 9) == 0)
		return 0;
	const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
	if (strcmp(path, ":memory:") == 0)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* the store opened it: nothing to share */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK) {
			fprintf(stderr, "tapshare-node: error: another tapshare-node run serves the SQLite database "
			    "%s: several node processes need PostgreSQL (database = postgresql://..., and "
			    "[node] reuse_port = true to share one port)\n", path);
			return TS_EEXIST;
		}
		return 0; /* no flock on this file system: not refused */
	}
	*fd_out = fd;
	return 0;
}

void
node_malloc_setup(void)
{
	/* glibc's free() gives the top of a heap back (sbrk, or madvise in a
	 * worker thread's arena) as soon as 128 kB are free there, and the next
	 * request faults the same pages in again: a trim, then page faults,
	 * on every flow. Keep up to 4 MiB of free heap per arena; blocks of
	 * 1 MiB and more (scrypt's 32 MiB) are still mapped and unmapped on
	 * their own, and on_tick's malloc_trim still gives freed heap back
	 * when many streams came or went. */
	(void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 4 << 20);
	/* No fastbins (the per-thread tcache, 7 blocks per size, stays). A
	 * flow allocates ~3,400 blocks, most small, and ~22 TLS record buffers
	 * of 16.5 kB (SSL_MODE_RELEASE_BUFFERS: allocated per record, freed
	 * when idle); each large request first consolidates every fastbin
	 * block (malloc_consolidate, unlink_chunk). Without fastbins a small
	 * block beyond the tcache is merged when freed instead. Measured
	 * (perf, c=1, 2 pairs at load 5-10): glibc malloc's share of the
	 * node's samples 7.1 / 6.7 % -> 5.1 / 3.9 %. */
	(void)mallopt(M_MXFAST, 0);
}

int
node_cmd_run(int argc, char **argv)
{
	static node n; /* static: large, and lives for the whole process */
	int run_lock = -1;
	memset(&n, 0, sizeof(n));
	char dir[sizeof(n.dir)];
	if (node_locate(argc, argv, dir, sizeof(dir), n.ini, sizeof(n.ini)) != 0) {
		fprintf(stderr, "tapshare-node: error: --dir or --config path too long\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	node_malloc_setup();
	if (evthread_use_pthreads() != 0) {
		fprintf(stderr, "tapshare-node: error: libevent without thread support\n");
		return 1;
	}
	if (node_load(&n, dir) != 0)
		return 1;
	const char *lvl = ts_config_get(n.cfg, "node", "log_level", "info");
	ts_log_init("tapshare-node", strcmp(lvl, "debug") == 0 ? TS_LOG_DEBUG :
	    strcmp(lvl, "warn") == 0 ? TS_LOG_WARN : strcmp(lvl, "error") == 0 ? TS_LOG_ERROR : TS_LOG_INFO);
	/* [node] log (checked: one of the four names) */
	ts_log_set_target((enum ts_log_target)ts_log_target_parse(ts_config_get(n.cfg, "node", "log", "auto")));
	n.crash_after = store_test_hook("TAPSHARE_NODE_CRASH_AFTER");
	long long crash_commits = 0;
	if (n.crash_after != NULL && strncmp(n.crash_after, "commit:", 7) == 0 &&
	    ts_parse_ll(n.crash_after + 7, 1, 1000000, &crash_commits) == 0) {
		store_crash_after_commits((long)crash_commits);
		/* no housekeeping commits at start: commit N is the flow's Nth */
		n.next_gc = ts_now() + 3600;
		n.next_prune = n.next_gc;
	}
	int rc = 1;
	/* The event-loop thread's store handle waits briefly for locks and
	 * answers 503 rather than freeze every request. */
	store_opts lo = { .wait_ms = STORE_WAIT_LOOP_MS, .secret_key = n.secret_key, .serving = 1 };
	long long wait_ms = 0;
	if (ts_parse_ll(ts_config_get(n.cfg, "node", "db_wait_ms", "0"), 0, 60000, &wait_ms) == 0 && wait_ms > 0)
		lo.wait_ms = (int)wait_ms;
	store_close(n.st);
	n.st = NULL;
	if (store_open_opts(n.db_url, &lo, &n.st) != 0) {
		fprintf(stderr, "tapshare-node: error: cannot open the database\n");
		goto out;
	}
	if (sqlite_run_lock(n.db_url, &run_lock) != 0)
		goto out;
	char host[64];
	uint16_t port;
	const char *listen = ts_config_get(n.cfg, "node", "listen", "127.0.0.1:8443");
	if (split_listen(listen, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "tapshare-node: error: node.listen must be HOST:PORT (got %s)\n", listen);
		goto out;
	}
	/* epoll changes kept in a change list and applied at the next wait:
	 * a request's "stop reading, start writing, stop writing" costs one
	 * epoll_ctl instead of three (the node dup()s no fd it gives libevent,
	 * the one case where the change list misbehaves). */
	struct event_config *ecfg = event_config_new();
	if (ecfg != NULL) {
		(void)event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		n.base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (n.base == NULL)
		n.base = event_base_new();
	if (n.base == NULL)
		goto out;
	char herr[700] = "";
	ts_httpd_opts o = { .addr = host, .port = port, .cert_file = n.tls_cert, .key_file = n.tls_key,
		.client_ca = n.ca_cert, .require_client_cert = 0, .errbuf = herr, .errcap = sizeof(herr),
		.reuse_port = node_conf_reuse_port(n.cfg),
		.ticket_key_file = ts_config_get(n.cfg, "tls", "session_ticket_key", NULL) };
	if ((rc = ts_httpd_new(n.base, &o, &n.httpd)) != 0) {
		fprintf(stderr, "tapshare-node: error: cannot serve on %s: %s\n", listen,
		    herr[0] ? herr : ts_strerror(rc));
		rc = 1;
		goto out;
	}
	rc = 1;
	uint16_t bound = ts_httpd_port(n.httpd);
	if (n.address[0] == '\0') {
		snprintf(n.address, sizeof(n.address), "https://%s:%u", host, bound);
		/* Nodes on one database may each name their own address: a
		 * download command names the node whose outbox worker wrote it,
		 * and the companion (like any SGP.22 LPA) dials that address
		 * (tests/integration/test_pg_two_addresses.sh). */
	}
	node_svc_init(&n);
	api_primary_routes(&n);
	api_es9_routes(&n);
	api_es11_routes(&n);
	api_offer_routes(&n);
	read_limits(&n);
	if (web_conf(&n) != 0) {
		fprintf(stderr, "tapshare-node: error: node.web_session_s must be 1..86400\n");
		goto out;
	}
	web_routes(&n); /* the owner's page, /owner/ (web.c) */
	if (peerlim_new(n.lim_es9_per_peer, NODE_ES9_PEER_WINDOW_S, &n.es9_peers) != 0 || push_init(&n) != 0 ||
	    auth_start(&n) != 0 || outbox_start(&n) != 0) {
		fprintf(stderr, "tapshare-node: error: cannot start the worker threads\n");
		goto out;
	}
	if (store_fault_busy(n.st, store_test_hook("TAPSHARE_NODE_STORE_BUSY")) != 0)
		goto out;
	struct timeval sec = { 1, 0 };
	n.tick_ev = event_new(n.base, -1, EV_PERSIST, on_tick, &n);
	struct event *sigterm = evsignal_new(n.base, SIGTERM, on_signal, &n);
	struct event *sigint = evsignal_new(n.base, SIGINT, on_signal, &n);
	/* SIGHUP (systemctl reload, logrotate) reloads instead of killing. */
	struct event *sighup = evsignal_new(n.base, SIGHUP, on_hup, &n);
	if (!n.tick_ev || !sigterm || !sigint || !sighup) {
		outbox_stop(&n); /* no worker may outlive the node */
		if (n.tick_ev)
			event_free(n.tick_ev);
		if (sigterm)
			event_free(sigterm);
		if (sigint)
			event_free(sigint);
		if (sighup)
			event_free(sighup);
		goto out;
	}
	event_add(n.tick_ev, &sec);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_add(sighup, NULL);
	char portfile[PATH_MAX], pbuf[16];
	snprintf(pbuf, sizeof(pbuf), "%u\n", bound);
	if (ts_snprintf(portfile, sizeof(portfile), "%s/node.port", n.dir) == 0)
		ts_write_file_atomic(portfile, (const uint8_t *)pbuf, strlen(pbuf), 0644);
	log_info("listening on https://%s:%u (trusted EID prefixes: %s)", host, bound, n.ein_prefixes);
	/* Anything committed before a crash is picked up now. */
	outbox_kick(&n);
	if (pg_listen_start(&n) != 0) {
		rc = 1;
		outbox_stop(&n);
		push_fini(&n);
		goto out_events;
	}
	const char *admin_listen = ts_config_get(n.cfg, "node", "admin_listen", NULL);
	if (admin_listen != NULL && admin_listen[0] != '\0' && admin_http_start(&n, admin_listen) != 0) {
		rc = 1;
		outbox_stop(&n);
		push_fini(&n);
		goto out_events;
	}
	n.ready = 1;
	/* systemd Type=notify: ready once the socket accepts connections. */
	if (ts_sd_notify("READY=1\nSTATUS=serving") < 0)
		log_warn("cannot notify the service manager ($NOTIFY_SOCKET)");
	event_base_dispatch(n.base);
	(void)ts_sd_notify("STOPPING=1");
	n.ready = 0;
	rc = 0;
	outbox_stop(&n);
	auth_stop(&n);
	push_fini(&n);
out_events:
	pg_listen_stop(&n); /* NULL-safe */
	admin_http_stop(&n);
	event_free(n.tick_ev);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	log_info("stopped");
out:
	auth_stop(&n); /* NULL-safe: a start that failed half-way */
	peerlim_free(n.es9_peers);
	ts_httpd_free(n.httpd);
	if (n.base) {
		ts_event_base_drain(n.base);
		event_base_free(n.base);
	}
	node_unload(&n);
	/* after the store is closed: closing any descriptor of a file drops
	 * the process's POSIX locks on it, SQLite's included */
	if (run_lock >= 0)
		close(run_lock);
	return rc;
}
