/*
 * agent.h — the companion device agent (patent: second wireless device, the
 * LPA role of GSMA SGP.22): advertises the SE's EID on the short-range link
 * (S1), holds the node's push channel, downloads and installs bound packages
 * (S14), sends the SE-signed notifications (S15), deletes on revoke (S17)
 * and on expiry. docs/protocol.md §1, §3, §4.
 *
 * Everything runs on the calling thread except the link advertiser (its own
 * thread, see device/link.h). The SE is only touched from the calling thread.
 */
#ifndef TS_COMPANION_AGENT_H
#define TS_COMPANION_AGENT_H

#include <signal.h>
#include <stdint.h>

/* Push channel timings (docs/protocol.md §3: the node sends `: keepalive`
 * every 15 s). */
#define AGENT_BACKOFF_MIN_MS 1000
#define AGENT_BACKOFF_MAX_MS 30000
/* The push stream stays open until the node goes quiet for
 * AGENT_IDLE_TIMEOUT_MS (it sends `: keepalive` every 15 s, so that means a
 * dead connection). A tick hook on the stream (ts_httpc_set_tick, about once
 * a second) runs housekeeping and notices a stop request without reconnecting. */
#define AGENT_IDLE_TIMEOUT_MS 45000
#define AGENT_STOP_POLL_MS AGENT_IDLE_TIMEOUT_MS
/* Maintenance (pending notifications, expired apps) runs this often. */
#define AGENT_MAINT_INTERVAL_MS 5000
/* A command seen again (the node re-sends pending commands on every connect)
 * is handled again at most this often after a success / a failure. */
#define AGENT_REPEAT_AFTER_OK_MS 60000
#define AGENT_RETRY_MIN_MS 5000
#define AGENT_RETRY_MAX_MS 60000
#define AGENT_MAX_APPS 64
#define AGENT_RECENT 32

typedef struct agent_opts {
	const char *node_url;  /* "https://host:port", borrowed */
	const char *ca_file;   /* PEM CA for the node's TLS certificate */
	const char *se_spec;   /* device/se_driver.h spec */
	const char *link_spec; /* device/link.h spec, e.g. "sim:/tmp/x.sock" */
	const char *name;      /* advertised device name, NULL/"" = none */
	const char *model;     /* advertised model, NULL/"" = none */
	/* The confirmation code for a share whose smdpSigned2 sets
	 * ccRequiredFlag (SGP.22 §3.1.2), NULL = none: such a download stops
	 * before PrepareDownload and is cancelled (endUserRejection). */
	const char *confirmation_code;
} agent_opts;

/*
 * Runs the agent until *stop becomes nonzero (set it from a signal handler).
 * Start-up failures (SE, EID, link, HTTP client) are returned at once with
 * errbuf saying what failed; once running, network and node errors are
 * logged and retried, never returned. Returns 0 after a clean stop.
 */
int agent_run(const agent_opts *o, volatile sig_atomic_t *stop, char *errbuf, size_t errcap);

/*
 * One pass of SGP.22 notification handling, as `tapshare-companion
 * notification process` runs it: every notification pending in the SE at
 * o->se_spec and addressed to this node (agent_address_is_node) is
 * retrieved, sent to the node at o->node_url (ES9+ handleNotification, TLS
 * checked against o->ca_file) and, once the node acknowledged it, removed
 * from the SE. *sent / *left (may be NULL): how many were delivered / are
 * still pending for this node. Fails (errbuf says why) when the SE
 * cannot be opened or listed; a notification the node does not take stays
 * pending and makes the result TS_ENET (or the node's refusal's code).
 */
int agent_process_notifications(const agent_opts *o, size_t *sent, size_t *left, char *errbuf,
    size_t errcap);

/* Backoff step used for the push channel: doubles cur, clamped to
 * [AGENT_BACKOFF_MIN_MS, AGENT_BACKOFF_MAX_MS]. Exposed for tests. */
long agent_next_backoff(long cur);

/* 1 if a notification addressed to address (its notificationAddress: an
 * SM-DP+ FQDN[:port], tapshare's node may add a scheme) is for the node at
 * node_url: the same host and port, case-insensitive, ignoring a scheme and
 * a path. An empty address is ours too (tapshare-se leaves it empty for apps
 * that were not downloaded). Notifications for other SM-DP+s stay pending in
 * the eUICC, for the LPA that talks to them. Exposed for tests. */
int agent_address_is_node(const char *node_url, const char *address);

/* "sim:/x" -> "sim" into out (cap bytes); TS_EINVAL without a ':' scheme. */
int agent_link_kind(const char *spec, char *out, size_t cap);

#endif
