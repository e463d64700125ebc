/*
 * agent.c — the companion agent's run loop: S1 advertisement, the push
 * channel, the ES9+ download (S14/S15), the bank-ID certificate (stored in
 * the SE, which enables the app), delete on revoke (S17) and on expiry,
 * and re-sending of SE notifications the node has not acknowledged yet; and
 * companion-initiated sharing (claims 20/33): a share offer the primary
 * writes over the link is sent to the node with our EID.
 *
 * Durability lives in the SE and the node, not here: an install, enable or
 * delete notification stays pending in the SE until the node has accepted it
 * (se_notification_sent only after handleNotification succeeded), and the
 * node re-sends every unsettled command on each connect. So the agent keeps
 * no state on disk and a crash at any point loses nothing.
 */
#include "companion/agent.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "companion/es9client.h"
#include "companion/push.h"
#include "device/link.h"
#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/ndef.h"
#include "lib/ndef_offer.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define AGENT_URL_MAX 1024
#define AGENT_EVENT_ID_MAX 32
#define AGENT_HTTP_TIMEOUT_MS 20000L
/* Share offers received over the link and not yet sent to the node. A tap
 * is a human act, so a few are plenty; more are dropped (and logged). */
#define AGENT_MAX_OFFERS 4
/* SM-DP+ addresses other than node_url that the node named in download
 * commands (the other nodes of its cluster), kept to deliver their
 * notifications (§5.6.4) to them; the oldest is forgotten first. */
#define AGENT_SMDP_KNOWN 8

/* A command recently handled, so that the re-sends of a pending command on
 * every reconnect do not run it again and again. */
struct recent {
	char key[2 * PUSH_ID_MAX + 8];
	int64_t until_ms; /* mono ms; 0 = free slot */
	int failures;
	int kicked;       /* a reconnect was already made for this due retry */
};

struct agent {
	const agent_opts *o;
	volatile sig_atomic_t *stop;
	se_driver *se;
	eid_t eid;
	link_advertiser *adv;
	ts_httpc *stream; /* the SSE connection */
	ts_httpc *api;    /* ES9+ requests, made from inside the SSE callback */
	char events_url[AGENT_URL_MAX];
	char last_event_id[AGENT_EVENT_ID_MAX];
	int64_t next_maint_ms;
	long notif_retry_ms; /* backoff of the pending-notification re-send */
	int64_t next_notif_ms;
	int events_this_stream;
	/* The event stream's token, earned by the SE (es9_stream_auth). */
	char stream_token[PUSH_STREAM_TOKEN_LEN + 1];
	int64_t stream_token_until_ms;
	struct recent recent[AGENT_RECENT];
	/* Offers: filled by the link advertiser's thread (on_link_offer), sent
	 * from this thread (send_offers) because ts_httpc handles are not
	 * thread-safe. offer_mu guards offers / n_offers. */
	char offers_url[AGENT_URL_MAX];
	pthread_mutex_t offer_mu;
	struct {
		uint8_t *bf70;
		size_t len;
	} offers[AGENT_MAX_OFFERS];
	size_t n_offers;
	char smdp_known[AGENT_SMDP_KNOWN][ES10_ADDR_MAX + 1];
	size_t n_smdp_known, smdp_next;
};

static void send_offers(struct agent *a);

long
agent_next_backoff(long cur)
{
	if (cur < AGENT_BACKOFF_MIN_MS)
		return AGENT_BACKOFF_MIN_MS;
	if (cur >= AGENT_BACKOFF_MAX_MS / 2)
		return AGENT_BACKOFF_MAX_MS;
	return cur * 2;
}

/* host[:port] of an address or URL: after "scheme://", up to a '/'. */
static void
host_port(const char *s, const char **start, size_t *len)
{
	const char *p = strstr(s, "://");
	p = p != NULL ? p + 3 : s;
	*start = p;
	*len = strcspn(p, "/?#");
}

int
agent_address_is_node(const char *node_url, const char *address)
{
	if (address == NULL || address[0] == '\0')
		return 1;
	if (node_url == NULL)
		return 0;
	const char *a, *b;
	size_t al, bl;
	host_port(address, &a, &al);
	host_port(node_url, &b, &bl);
	if (al == 0 || al != bl)
		return 0;
	for (size_t i = 0; i < al; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

/* An SM-DP+ address named by the node (a download command): remembered so
 * that the notifications the eUICC addresses to it are delivered there. */
static void
remember_smdp(struct agent *a, const char *addr)
{
	if (agent_address_is_node(a->o->node_url, addr) || strlen(addr) > ES10_ADDR_MAX)
		return;
	for (size_t i = 0; i < a->n_smdp_known; i++)
		if (agent_address_is_node(a->smdp_known[i], addr))
			return;
	size_t slot = a->n_smdp_known < AGENT_SMDP_KNOWN ? a->n_smdp_known++ : a->smdp_next;
	a->smdp_next = (slot + 1) % AGENT_SMDP_KNOWN;
	snprintf(a->smdp_known[slot], sizeof(a->smdp_known[slot]), "%s", addr);
}

/* The base URL to dial for SM-DP+ address addr (SGP.22: an LPA dials the
 * address it is given): node_url when addr is the node's own (or empty),
 * else https://addr. */
static int
smdp_base(const struct agent *a, const char *addr, char *out, size_t cap)
{
	if (agent_address_is_node(a->o->node_url, addr))
		return ts_snprintf(out, cap, "%s", a->o->node_url);
	return es9_server_base(addr, out, cap);
}

/* Where a notification for address addr goes: the node, or another SM-DP+
 * address the node named (remember_smdp). TS_ENOTFOUND for any other
 * address: a profile of some other SM-DP+, whose notifications its own LPA
 * sends (they are left pending). */
static int
notification_base(const struct agent *a, const char *addr, char *out, size_t cap)
{
	if (agent_address_is_node(a->o->node_url, addr))
		return smdp_base(a, addr, out, cap);
	for (size_t i = 0; i < a->n_smdp_known; i++)
		if (agent_address_is_node(a->smdp_known[i], addr))
			return smdp_base(a, addr, out, cap);
	return TS_ENOTFOUND;
}

int
agent_link_kind(const char *spec, char *out, size_t cap)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;
	if (colon == NULL || colon == spec || cap == 0)
		return TS_EINVAL;
	size_t n = (size_t)(colon - spec);
	if (n >= cap)
		return TS_ELIMIT;
	memcpy(out, spec, n);
	out[n] = '\0';
	return 0;
}

/* profileManagementOperation (one ES10_EVENT_* bit) -> its name. */
static const char *
event_name(uint32_t ev)
{
	switch (ev) {
	case ES10_EVENT_INSTALL: return "install";
	case ES10_EVENT_ENABLE: return "enable";
	case ES10_EVENT_DISABLE: return "disable";
	case ES10_EVENT_DELETE: return "delete";
	default: return "unknown";
	}
}

/* Sleeps up to ms, waking early (100 ms granularity) when stop is set. */
static void
nap(struct agent *a, long ms)
{
	int64_t end = ts_mono_ms() + ms;
	while (!*a->stop) {
		int64_t left = end - ts_mono_ms();
		if (left <= 0)
			break;
		struct timespec ts = { 0, (long)(left < 100 ? left : 100) * 1000000L };
		nanosleep(&ts, NULL); /* EINTR from the signal is what we want */
		send_offers(a);
	}
}

/* ------------------------------------------------------------------------ */
/* Notifications                                                              */

/* What a notification is about, for logs: "delete notification 7 for
 * sim-alice-1" (the app id from the credential applet, else the ICCID). */
static void
notif_label(struct agent *a, const es10_notif_metadata *m, char *out, size_t cap)
{
	char who[CRED_STR_MAX + 1] = "?";
	cred_entry e;
	if (m->has_iccid) {
		if (se_cred_get(a->se, m->iccid, &e) == 0)
			memcpy(who, e.app_id, sizeof(who));
		else if (es10_iccid_to_digits(m->iccid, who) != 0)
			(void)ts_snprintf(who, sizeof(who), "%s", "?");
	}
	(void)ts_snprintf(out, cap, "%s notification %llu for %s", event_name(m->event),
	    (unsigned long long)m->seq, who);
}

/*
 * Sends one PendingNotification (the eUICC-signed BF37 or
 * OtherSignedNotification, as RetrieveNotificationsList returned it) with
 * ES9+ handleNotification and, once the node has acknowledged it, removes it
 * from the eUICC (NotificationSent). On failure it stays pending and
 * maintenance sends it again.
 *
 * A bank-ID app's install result goes with the public key the SE generated
 * for it (credential applet GENERATE KEY) as "tapshareAppKey", which the node
 * passes to the provider for certification. SGP.22 has no place for it in
 * ProfileInstallationResult; the node takes it only together with a valid
 * eUICC-signed install result of that transaction (docs/protocol.md).
 */
static int
send_notification(struct agent *a, const char *base, const es10_pending *p, char *errbuf, size_t errcap)
{
	json_t *body = NULL;
	int rc = es9_handle_notification_request(p->der, p->der_len, &body);
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "building handleNotification: %s", ts_strerror(rc));
		return rc;
	}
	cred_entry e;
	if (p->kind == ES10_PENDING_INSTALL && p->pir.success && p->meta.has_iccid &&
	    se_cred_get(a->se, p->meta.iccid, &e) == 0 && e.key_state == CRED_KEY_PENDING) {
		uint8_t point[CRED_PUBKEY_LEN];
		if ((rc = se_cred_generate_key(a->se, p->meta.iccid, point)) != 0 ||
		    (rc = ts_json_set_b64(body, "tapshareAppKey", point, sizeof(point))) != 0) {
			ts_errbuf(errbuf, errcap, "cannot read the key the SE generated for %s (%s)",
			    e.app_id, ts_strerror(rc));
			json_decref(body);
			return rc;
		}
	}
	rc = es9_post(a->api, base, "handleNotification", body, 1, NULL, errbuf, errcap);
	json_decref(body);
	if (rc != 0)
		return rc;
	int res = SE_RESULT_NONE;
	if ((rc = se_remove_notification(a->se, p->meta.seq, &res)) != 0) {
		/* The node has it; a repeat later is harmless (it settles by state). */
		ts_errbuf(errbuf, errcap, "node took notification %llu but the SE did not remove it (%s%s%s)",
		    (unsigned long long)p->meta.seq, ts_strerror(rc), res >= 0 ? ": " : "",
		    res >= 0 ? se_result_name(ES10_TAG_NOTIFICATION_SENT, res) : "");
		return rc;
	}
	return 0;
}

/*
 * Delivers every notification pending in the SE, as an SGP.22 LPA does:
 * ListNotification (BF28), then for each, oldest first,
 * RetrieveNotificationsList for its sequence number (BF2B), handleNotification
 * to the node, NotificationSent (BF30). Stops at the first failure (the node
 * is probably unreachable) and backs off. Returns how many were delivered;
 * *iccid_seen (may be NULL) is set when one for the profile iccid of event
 * ev was delivered.
 */
static size_t
process_notifications(struct agent *a, uint32_t ev, const uint8_t *iccid, int *iccid_seen)
{
	es10_notif_list nl;
	char why[512], label[CRED_STR_MAX + 64];
	size_t sent = 0;
	int failed = 0;

	if (iccid_seen != NULL)
		*iccid_seen = 0;
	int rc = se_list_notifications(a->se, 0, &nl);
	if (rc != 0) {
		log_warn("cannot list the notifications pending in the SE (%s)", ts_strerror(rc));
		return 0;
	}
	/* Oldest first: the node sees install before enable before delete. */
	for (size_t i = 1; i < nl.n; i++)
		for (size_t j = i; j > 0 && nl.items[j - 1].seq > nl.items[j].seq; j--) {
			es10_notif_metadata t = nl.items[j];
			nl.items[j] = nl.items[j - 1];
			nl.items[j - 1] = t;
		}
	for (size_t i = 0; i < nl.n && !failed && !*a->stop; i++) {
		const es10_notif_metadata *m = &nl.items[i];
		char base[AGENT_URL_MAX];
		if (notification_base(a, m->address, base, sizeof(base)) != 0) {
			log_debug("notification %llu is for %s, not this node: left pending",
			    (unsigned long long)m->seq, m->address);
			continue;
		}
		es10_retrieve_req rq = { .by = ES10_RETRIEVE_SEQ, .seq = m->seq };
		uint8_t *raw = NULL;
		size_t rawlen = 0;
		es10_pending_list pl;
		notif_label(a, m, label, sizeof(label));
		why[0] = '\0';
		rc = se_retrieve_notifications(a->se, &rq, &raw, &rawlen, &pl);
		if (rc == 0 && (pl.n != 1 || pl.items[0].meta.seq != m->seq)) {
			ts_errbuf(why, sizeof(why), "RetrieveNotificationsList gave %zu notifications", pl.n);
			rc = pl.n == 0 ? TS_ENOTFOUND : TS_EPROTO;
		} else if (rc != 0) {
			ts_errbuf(why, sizeof(why), "RetrieveNotificationsList: %s", ts_strerror(rc));
		}
		if (rc == 0)
			rc = send_notification(a, base, &pl.items[0], why, sizeof(why));
		if (rc == 0) {
			sent++;
			log_info("%s sent to the node (%s) and removed from the SE", label,
			    m->address[0] ? m->address : "no address");
			if (iccid_seen != NULL && iccid != NULL && m->event == ev && m->has_iccid &&
			    memcmp(m->iccid, iccid, ES10_ICCID_LEN) == 0)
				*iccid_seen = 1;
		} else if (rc == TS_ENOTFOUND) {
			log_info("%s is gone from the SE already", label); /* another LPA sent it */
		} else {
			log_warn("pending %s not sent (%s); retrying in %ld s", label, why,
			    agent_next_backoff(a->notif_retry_ms) / 1000);
			failed = 1;
		}
		if (raw != NULL) {
			es10_pending_list_clear(&pl);
			free(raw);
		}
	}
	es10_notif_list_clear(&nl);
	if (failed) {
		a->notif_retry_ms = a->notif_retry_ms == 0 ? AGENT_MAINT_INTERVAL_MS
		    : (a->notif_retry_ms >= AGENT_RETRY_MAX_MS / 2 ? AGENT_RETRY_MAX_MS
		    : a->notif_retry_ms * 2);
		a->next_notif_ms = ts_mono_ms() + a->notif_retry_ms;
	} else {
		a->notif_retry_ms = 0;
		a->next_notif_ms = 0;
	}
	return sent;
}

/* ------------------------------------------------------------------------ */
/* Expiry                                                                     */

static void
delete_expired(struct agent *a)
{
	se_app apps[AGENT_MAX_APPS];
	size_t n = 0, deleted = 0;

	int rc = se_list_apps(a->se, apps, TS_ARRAY_LEN(apps), &n);
	if (rc != 0) {
		log_warn("cannot list the SE's applications (%s)", ts_strerror(rc));
		return;
	}
	int64_t now = ts_now();
	for (size_t i = 0; i < n && !*a->stop; i++) {
		if (apps[i].not_after == 0 || apps[i].not_after > now)
			continue;
		rc = se_delete(a->se, apps[i].app_id, NULL, NULL);
		if (rc != 0) {
			log_warn("%s expired at %lld but the SE did not delete it (%s)",
			    apps[i].app_id, (long long)apps[i].not_after, ts_strerror(rc));
			continue;
		}
		log_info("deleted %s (ICCID %s): its authorisation expired at %lld", apps[i].app_id,
		    apps[i].iccid, (long long)apps[i].not_after);
		deleted++;
	}
	if (deleted > 0)
		(void)process_notifications(a, 0, NULL, NULL);
}

static void
maybe_maintain(struct agent *a, int force)
{
	int64_t now = ts_mono_ms();
	if (!force && now < a->next_maint_ms)
		return;
	a->next_maint_ms = now + AGENT_MAINT_INTERVAL_MS;
	if (force || a->next_notif_ms == 0 || now >= a->next_notif_ms)
		(void)process_notifications(a, 0, NULL, NULL);
	delete_expired(a);
}

/* Called about once a second while the push stream waits (ts_httpc_set_tick):
 * housekeeping runs on the API client, never on the stream's own handle, and
 * a stop request ends the stream without waiting for data. */
static int
stream_tick(void *arg)
{
	struct agent *a = arg;
	if (*a->stop)
		return 1;
	send_offers(a);
	maybe_maintain(a, 0);
	/* A command that failed is due again: reconnect, and the node re-sends
	 * every command still pending (it stays the source of truth). */
	int64_t now = ts_mono_ms();
	for (size_t i = 0; i < TS_ARRAY_LEN(a->recent); i++)
		if (a->recent[i].failures > 0 && a->recent[i].until_ms != 0 && a->recent[i].until_ms <= now &&
		    !a->recent[i].kicked) {
			a->recent[i].kicked = 1;
			return 1;
		}
	return *a->stop ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* S14 / S15: download                                                        */

/* SGP.22 cancellation (§3.1.3 / §5.6.5): the SE ends its session and signs
 * the CancelSessionResponse, which the node verifies before it ends its own.
 * Without an SE session (the failure came before AuthenticateServer) there is
 * nothing signed to send: the node's half-open session just expires. */
static void
cancel_session(struct agent *a, const char *base, const char *share_id, const char *tid, int reason)
{
	json_t *body = NULL;
	char why[512] = "";
	uint8_t t[ES10_TID_MAX], *csr = NULL;
	size_t tlen = 0, csr_len = 0;
	const char *rname = es10_cancel_reason_name(reason);
	int rc = ts_hex_decode(tid, t, sizeof(t), &tlen);
	if (rc == 0)
		rc = se_cancel_session(a->se, t, tlen, reason, &csr, &csr_len);
	if (rc != 0) {
		log_warn("S14 share %s: the secure element did not cancel session %s (%s)", share_id, tid,
		    ts_strerror(rc));
		return;
	}
	rc = es9_cancel_session_request(tid, csr, csr_len, &body);
	free(csr);
	if (rc != 0) {
		log_warn("S14 share %s: cannot build cancelSession", share_id);
		return;
	}
	rc = es9_post(a->api, base, "cancelSession", body, 0, NULL, why, sizeof(why));
	json_decref(body);
	if (rc == 0)
		log_info("S14 share %s: session %s cancelled (%s)", share_id, tid, rname ? rname : "?");
	else
		log_warn("S14 share %s: cancelSession for %s failed (%s)", share_id, tid, why);
}

/* Runs the whole ES9+ download for one `download` command. Returns 0 when
 * the package is installed (even if the install notification is still to be
 * delivered: the SE keeps it pending). */
static int
do_download(struct agent *a, const push_cmd *cmd)
{
	uint8_t challenge[RSP_CHALLENGE_LEN];
	json_t *req = NULL, *resp = NULL;
	es9_auth1 a1;
	es9_auth2 a2;
	uint8_t *bf38 = NULL, *bf21 = NULL, *bpp = NULL, *notif = NULL;
	size_t bf38_len = 0, bf21_len = 0, bpp_len = 0, notif_len = 0;
	char why[512] = "";
	const char *step = "";
	int reason = ES10_CANCEL_UNDEFINED_REASON;
	int se_session = 0; /* the SE holds a session for tid (after AuthenticateServer) */
	uint8_t *info1 = NULL;
	size_t info1_len = 0;
	char tid[ES9_TID_HEX_MAX + 1] = "";
	char base[AGENT_URL_MAX];
	int rc;

	memset(&a1, 0, sizeof(a1));
	memset(&a2, 0, sizeof(a2));
	/* SGP.22 §5.6.1: the LPA dials the smdpAddress it was given. With
	 * several nodes on one database that may be another node than the one
	 * this stream is on (its outbox wrote the command): that node is the
	 * one that accepts this smdpAddress. */
	if ((rc = smdp_base(a, cmd->smdp_address, base, sizeof(base))) != 0) {
		log_error("S14 download for share %s: SM-DP+ address \"%.64s\" is not an https address (%s)",
		    cmd->share_id, cmd->smdp_address, ts_strerror(rc));
		return rc;
	}
	remember_smdp(a, cmd->smdp_address);
	log_info("S14 download for share %s: starting (matching id %s, SM-DP+ %s, dialling %s)",
	    cmd->share_id, cmd->matching_id, cmd->smdp_address, base);

	step = "SE GetEuiccChallenge";
	if ((rc = se_get_challenge(a->se, challenge)) != 0) {
		ts_errbuf(why, sizeof(why), "%s", ts_strerror(rc));
		goto fail;
	}

	step = "SE GetEuiccInfo1";
	if ((rc = se_get_euicc_info1_raw(a->se, &info1, &info1_len)) != 0) {
		ts_errbuf(why, sizeof(why), "%s", ts_strerror(rc));
		goto fail;
	}

	step = "initiateAuthentication";
	if ((rc = es9_initiate_auth_request(challenge, info1, info1_len, cmd->smdp_address, cmd->matching_id,
	    &req)) != 0) {
		ts_errbuf(why, sizeof(why), "building the request: %s", ts_strerror(rc));
		goto fail;
	}
	rc = es9_post(a->api, base, "initiateAuthentication", req, 0, &resp, why,
	    sizeof(why));
	json_decref(req);
	req = NULL;
	if (rc != 0)
		goto fail;
	rc = es9_initiate_auth_parse(resp, &a1, why, sizeof(why));
	if (rc != 0)
		goto fail;
	memcpy(tid, a1.transaction_id, sizeof(tid));
	json_decref(resp);
	resp = NULL;

	step = "checking serverSigned1";
	if ((rc = es9_check_server_signed1(&a1, challenge, cmd->smdp_address, why,
	    sizeof(why))) != 0)
		goto fail;

	step = "SE AuthenticateServer";
	{
		/* SGP.22 LPA: the SE checks the server and signs euiccSigned1
		 * with our ctxParams1 (the matching ID, deviceInfo). */
		se_auth_server_args aa = {
			.server_signed1 = a1.server_signed1, .server_signed1_len = a1.server_signed1_len,
			.sig1 = a1.server_signature1, .ci_pkid = a1.ci_pkid, .ci_pkid_len = a1.ci_pkid_len,
			.server_cert = a1.server_cert, .server_cert_len = a1.server_cert_len,
			.matching_id = cmd->matching_id, .device = NULL,
		};
		if (a1.ci_pkid_len > 0)
			rc = se_authenticate_server_ex(a->se, &aa, &bf38, &bf38_len);
		else
			rc = se_authenticate_server(a->se, a1.server_signed1, a1.server_signed1_len,
			    a1.server_signature1, a1.server_cert, a1.server_cert_len, cmd->matching_id, &bf38,
			    &bf38_len);
		if (rc != 0) {
			ts_errbuf(why, sizeof(why), "%s", ts_strerror(rc));
			goto fail;
		}
		se_session = 1;
	}

	step = "authenticateClient";
	if ((rc = es9_authenticate_client_request(tid, bf38, bf38_len, &req)) != 0) {
		ts_errbuf(why, sizeof(why), "building the request: %s", ts_strerror(rc));
		goto fail;
	}
	rc = es9_post(a->api, base, "authenticateClient", req, 0, &resp, why,
	    sizeof(why));
	json_decref(req);
	req = NULL;
	if (rc != 0)
		goto fail;
	if ((rc = es9_authenticate_client_parse(resp, &a2, why, sizeof(why))) != 0)
		goto fail;
	json_decref(resp);
	resp = NULL;
	if (a2.has_metadata)
		log_info("S14 download for share %s: node authenticated the SE; package is %s "
		    "(\"%s\", %s from %s)", cmd->share_id, a2.metadata.app_id, a2.metadata.name,
		    a2.metadata.kind, a2.metadata.provider);

	step = "confirmation code";
	{
		/* SGP.22 §3.1.2: ccRequiredFlag asks the end user for the code;
		 * the eUICC signs hashCc = SHA-256(SHA-256(code) || transactionId). */
		es10_smdp_signed2 ss2;
		uint8_t hcc[ES10_HASHCC_LEN];
		int with_cc = 0;
		if ((rc = es10_smdp_signed2_decode(a2.smdp_signed2, a2.smdp_signed2_len, &ss2)) != 0) {
			ts_errbuf(why, sizeof(why), "smdpSigned2 does not decode");
			goto fail;
		}
		if (ss2.cc_required) {
			const char *cc = a->o->confirmation_code;
			if (cc == NULL || cc[0] == '\0') {
				/* not refused: the share waits until the user gives the
				 * code (postponed keeps it at the node; endUserRejection
				 * would end it: docs/protocol.md, CancelSession) */
				reason = ES10_CANCEL_POSTPONED;
				rc = TS_EDENIED;
				ts_errbuf(why, sizeof(why), "the share asks for a confirmation code (the primary was "
				    "shown it): run with --confirmation-code CODE or the confirmation_code key");
				goto fail;
			}
			if ((rc = es10_hash_cc(cc, ss2.tid, ss2.tid_len, hcc)) != 0)
				goto fail;
			with_cc = 1;
		}
		step = "SE PrepareDownload";
		rc = se_prepare_download_ex(a->se, a2.smdp_signed2, a2.smdp_signed2_len, a2.smdp_signature2,
		    with_cc ? hcc : NULL, a2.smdp_cert, a2.smdp_cert_len, &bf21, &bf21_len);
		OPENSSL_cleanse(hcc, sizeof(hcc));
		if (rc != 0) {
			ts_errbuf(why, sizeof(why), "%s", ts_strerror(rc));
			goto fail;
		}
	}

	step = "getBoundProfilePackage";
	if ((rc = es9_get_bpp_request(tid, bf21, bf21_len, &req)) != 0) {
		ts_errbuf(why, sizeof(why), "building the request: %s", ts_strerror(rc));
		goto fail;
	}
	rc = es9_post(a->api, base, "getBoundProfilePackage", req, 0, &resp, why,
	    sizeof(why));
	json_decref(req);
	req = NULL;
	if (rc != 0)
		goto fail;
	if ((rc = es9_get_bpp_parse(resp, &bpp, &bpp_len, why, sizeof(why))) != 0)
		goto fail;
	json_decref(resp);
	resp = NULL;

	step = "SE LoadBoundProfilePackage";
	reason = ES10_CANCEL_LOAD_BPP_EXECUTION_ERROR;
	if ((rc = se_load_package(a->se, bpp, bpp_len, &notif, &notif_len)) != 0) {
		ts_errbuf(why, sizeof(why), "%s", ts_strerror(rc));
		/* The eUICC's errorResult is pending like any notification: the
		 * node learns from it why (it marks the share failed). */
		(void)process_notifications(a, 0, NULL, NULL);
		goto fail;
	}

	es10_pending pn;
	memset(&pn, 0, sizeof(pn));
	char label[ES10_ICCID_DIGITS_MAX + CRED_STR_MAX + 16] = "?";
	if (es10_pending_decode(notif, notif_len, &pn) == 0 && pn.meta.has_iccid) {
		char iccid[ES10_ICCID_DIGITS_MAX + 1];
		if (es10_iccid_to_digits(pn.meta.iccid, iccid) == 0)
			(void)ts_snprintf(label, sizeof(label), "%s (ICCID %s)",
			    a2.has_metadata ? a2.metadata.app_id : "?", iccid);
	}
	log_info("S14 download for share %s: authenticated, package received, installed %s",
	    cmd->share_id, label);

	int seen = 0;
	(void)process_notifications(a, ES10_EVENT_INSTALL, pn.meta.iccid, &seen);
	if (seen)
		log_info("S15 install notification sent for share %s (%s, seq %llu)", cmd->share_id,
		    label, (unsigned long long)pn.meta.seq);
	else
		log_warn("S15 install notification for share %s not sent yet; the SE keeps it and "
		    "it will be re-sent", cmd->share_id);
	rc = 0;
	goto done;

fail:
	{
		/* es9_post already names the function; do not say it twice. */
		const char *detail = why[0] ? why : ts_strerror(rc);
		size_t sl = strlen(step);
		if (strncmp(detail, step, sl) == 0 && detail[sl] == ':' && detail[sl + 1] == ' ')
			detail += sl + 2;
		log_error("S14 download for share %s failed at %s: %s", cmd->share_id, step, detail);
	}
	if (se_session)
		cancel_session(a, base, cmd->share_id, tid, reason);
	if (rc == 0)
		rc = TS_EPROTO;
done:
	json_decref(req);
	json_decref(resp);
	es9_auth1_clear(&a1);
	es9_auth2_clear(&a2);
	free(info1);
	free(bf38);
	free(bf21);
	if (bpp != NULL)
		OPENSSL_cleanse(bpp, bpp_len);
	free(bpp);
	free(notif);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* S17: delete on revoke                                                      */

static int
do_delete(struct agent *a, const push_cmd *cmd)
{
	se_app app;
	int rc = se_find_app(a->se, cmd->app_id, &app);
	if (rc == 0)
		rc = se_delete(a->se, cmd->app_id, NULL, NULL);
	if (rc == TS_ENOTFOUND) {
		/* The SE can only sign a delete notification for an app it holds;
		 * the node settles an absent app on its side. */
		log_info("S17 %s is not on the SE (revoke of share %s): nothing to delete",
		    cmd->app_id, cmd->share_id);
		return 0;
	}
	if (rc != 0) {
		log_error("S17 revoke of share %s: the SE did not delete %s (%s)", cmd->share_id,
		    cmd->app_id, ts_strerror(rc));
		return rc;
	}
	log_info("S17 deleted %s (ICCID %s) on revoke of share %s", cmd->app_id, app.iccid,
	    cmd->share_id);
	int seen = 0;
	(void)process_notifications(a, ES10_EVENT_DELETE, app.id.iccid, &seen);
	if (seen)
		log_info("S17 delete notification sent for share %s (%s)", cmd->share_id, cmd->app_id);
	else
		log_warn("S17 delete notification for share %s not sent yet; the SE keeps it "
		    "and it will be re-sent", cmd->share_id);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Bank-ID: the provider's certificate for the key our SE generated           */

/*
 * Stores the certificate in the SE's credential applet (which checks it
 * certifies the app's own key), enables the profile (ES10 EnableProfile) and
 * sends the eUICC's enable notification; the node settles the command when it
 * has that notification. A certificate the SE already holds means an earlier
 * attempt got that far: then only the enable may be missing.
 */
static int
do_certificate(struct agent *a, const push_cmd *cmd)
{
	se_app app;
	memset(&app, 0, sizeof(app));
	int rc = se_find_app(a->se, cmd->app_id, &app);
	if (rc == 0)
		rc = se_store_certificate(a->se, cmd->app_id, cmd->cert, cmd->cert_len, NULL, NULL);
	if (rc == TS_ESTATE && app.certified == 1) {
		rc = se_enable(a->se, cmd->app_id);
		if (rc == TS_ESTATE) {
			log_info("S14 bank-ID key of %s already certified and enabled (share %s); "
			    "nothing to store", cmd->app_id, cmd->share_id);
			return 0;
		}
	}
	if (rc != 0) {
		log_error("S14 share %s: the SE did not store the provider's certificate for %s (%s)",
		    cmd->share_id, cmd->app_id, rc == TS_EVERIFY ?
		    "it does not certify the key the SE generated" : ts_strerror(rc));
		return rc;
	}
	log_info("S14 bank-ID key of %s certified by the provider; credential enabled", cmd->app_id);
	int seen = 0;
	(void)process_notifications(a, ES10_EVENT_ENABLE, app.id.iccid, &seen);
	if (seen)
		log_info("S15 enable notification sent for share %s (%s)", cmd->share_id, cmd->app_id);
	else
		log_warn("S15 enable notification for share %s not sent yet; the SE keeps it "
		    "and it will be re-sent", cmd->share_id);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Push channel                                                               */

static struct recent *
recent_find(struct agent *a, const char *key, int create)
{
	struct recent *free_slot = NULL, *oldest = NULL;
	int64_t now = ts_mono_ms();
	for (size_t i = 0; i < AGENT_RECENT; i++) {
		struct recent *r = &a->recent[i];
		if (r->until_ms != 0 && strcmp(r->key, key) == 0)
			return r;
		if (r->until_ms == 0 || (r->until_ms < now && r->failures == 0)) {
			if (free_slot == NULL)
				free_slot = r;
		} else if (oldest == NULL || r->until_ms < oldest->until_ms) {
			oldest = r;
		}
	}
	if (!create)
		return NULL;
	struct recent *r = free_slot ? free_slot : oldest;
	memset(r, 0, sizeof(*r));
	(void)ts_snprintf(r->key, sizeof(r->key), "%s", key);
	return r;
}

static void
handle_command(struct agent *a, const push_cmd *cmd)
{
	char key[sizeof(((struct recent *)0)->key)];
	char kc = cmd->kind == PUSH_DOWNLOAD ? 'D' : cmd->kind == PUSH_CERTIFICATE ? 'C' : 'X';
	const char *what = cmd->kind == PUSH_DOWNLOAD ? "download"
	    : cmd->kind == PUSH_CERTIFICATE ? "certificate" : "delete";
	if (ts_snprintf(key, sizeof(key), "%c/%s/%s", kc, cmd->share_id,
	    cmd->kind == PUSH_DOWNLOAD ? cmd->matching_id : cmd->app_id) != 0)
		return;
	int64_t now = ts_mono_ms();
	struct recent *r = recent_find(a, key, 0);
	if (r != NULL && now < r->until_ms) {
		log_debug("%s for share %s seen again; handled %s, next attempt in %lld ms",
		    what, cmd->share_id,
		    r->failures ? "unsuccessfully" : "already", (long long)(r->until_ms - now));
		return;
	}
	int rc = cmd->kind == PUSH_DOWNLOAD ? do_download(a, cmd)
	    : cmd->kind == PUSH_CERTIFICATE ? do_certificate(a, cmd) : do_delete(a, cmd);
	r = recent_find(a, key, 1);
	r->kicked = 0;
	if (rc == 0) {
		r->failures = 0;
		r->until_ms = ts_mono_ms() + AGENT_REPEAT_AFTER_OK_MS;
	} else {
		long delay = AGENT_RETRY_MIN_MS;
		for (int i = 0; i < r->failures && delay < AGENT_RETRY_MAX_MS; i++)
			delay *= 2;
		if (delay > AGENT_RETRY_MAX_MS)
			delay = AGENT_RETRY_MAX_MS;
		r->failures++;
		r->until_ms = ts_mono_ms() + delay;
		log_info("share %s: will try again when the node re-sends it (not before %ld s)",
		    cmd->share_id, delay / 1000);
	}
}

static int
valid_event_id(const char *id)
{
	size_t n = strnlen(id, AGENT_EVENT_ID_MAX);
	if (n == 0 || n >= AGENT_EVENT_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (id[i] < '0' || id[i] > '9')
			return 0;
	return 1;
}

static int
on_event(const char *event, const char *id, const char *data, void *arg)
{
	struct agent *a = arg;
	push_cmd cmd;
	char why[256] = "";

	if (*a->stop)
		return 1;
	a->events_this_stream++;
	/* The node is up again (it sends): notifications waiting out a backoff
	 * are re-sent at the next tick instead of after up to a minute. */
	if (a->notif_retry_ms > 0) {
		a->notif_retry_ms = 0;
		a->next_notif_ms = 0;
		a->next_maint_ms = 0;
	}
	int rc = push_parse(event ? event : "message", data ? data : "", &cmd, why, sizeof(why));
	if (rc != 0) {
		/* Pending commands come again on every connect: say it once. */
		char key[sizeof(((struct recent *)0)->key)];
		(void)ts_snprintf(key, sizeof(key), "U/%.40s/%.40s", id ? id : "", event ? event : "");
		struct recent *r = recent_find(a, key, 0);
		if (r == NULL || ts_mono_ms() >= r->until_ms) {
			if (rc == TS_EUNSUPP)
				log_warn("push channel: ignoring %s (id %s)", why, id ? id : "none");
			else
				log_warn("push channel: ignoring malformed event %s (%s)",
				    id ? id : "none", why);
			r = recent_find(a, key, 1);
			r->failures = 0;
			r->until_ms = ts_mono_ms() + AGENT_REPEAT_AFTER_OK_MS;
		}
	} else {
		handle_command(a, &cmd);
	}
	send_offers(a);
	/* The node re-sends pending commands on connect anyway, so remembering
	 * the last id only spares it replaying settled history. */
	if (id != NULL && valid_event_id(id))
		memcpy(a->last_event_id, id, strlen(id) + 1);
	maybe_maintain(a, 0);
	return *a->stop ? 1 : 0;
}

/* The stream's Authorization header (in buf): the cached token while it has
 * a minute left, else a new one the SE earns; NULL (why says why) when the
 * SE or the node refused. */
static const char *
stream_authz(struct agent *a, char *buf, size_t cap, char *why, size_t whycap)
{
	int64_t now = ts_mono_ms();
	if (a->stream_token[0] == '\0' || now + 60000 >= a->stream_token_until_ms) {
		long ttl = 0;
		int rc = es9_stream_auth(a->api, a->se, a->o->node_url, a->eid.digits, a->stream_token, &ttl, why,
		    whycap);
		if (rc != 0) {
			a->stream_token[0] = '\0';
			return NULL;
		}
		a->stream_token_until_ms = now + (int64_t)ttl * 1000;
		log_info("event stream: the SE proved EID %s to the node (token for %ld s)", a->eid.digits, ttl);
	}
	return ts_snprintf(buf, cap, "Authorization: Bearer %s", a->stream_token) == 0 ? buf : NULL;
}

static void
push_loop(struct agent *a)
{
	long backoff = 0;
	int online = -1; /* unknown */
	char why[512];

	while (!*a->stop) {
		send_offers(a);
		maybe_maintain(a, 0);
		if (*a->stop)
			break;
		a->events_this_stream = 0;
		why[0] = '\0';
		char authz[PUSH_STREAM_TOKEN_LEN + 32];
		const char *hdrs[] = { stream_authz(a, authz, sizeof(authz), why, sizeof(why)), NULL };
		int rc = hdrs[0] == NULL ? TS_EAUTH : ts_httpc_sse(a->stream, a->events_url, hdrs,
		    a->last_event_id[0] ? a->last_event_id : NULL, AGENT_STOP_POLL_MS, on_event, a,
		    why, sizeof(why));
		if (*a->stop)
			break;
		/* A poll window that ended without data is the normal idle case:
		 * the connection was up (errors end a request faster than that). */
		if (rc == TS_ETIMEOUT || (rc == TS_EIO && a->events_this_stream > 0) || rc == 0) {
			if (online != 1)
				log_info("push channel to the node is up (%s)", a->events_url);
			online = 1;
			backoff = 0;
			/* A node that closes right after sending must not make us spin. */
			if (rc == TS_EIO)
				nap(a, AGENT_BACKOFF_MIN_MS);
			continue;
		}
		/* The stream was up and then broke (the node restarted): that
		 * reconnect succeeded, so the next one starts from the minimum
		 * again instead of growing with every restart. */
		if (ts_httpc_sse_was_open(a->stream))
			backoff = 0;
		backoff = agent_next_backoff(backoff);
		a->stream_token[0] = '\0'; /* earn a new one: it may be what was refused */
		if (online != 0)
			log_warn("push channel: %s (%s); reconnecting in %ld s", ts_strerror(rc),
			    why[0] ? why : "no detail", backoff / 1000);
		else
			log_debug("push channel still down: %s (%s); next try in %ld s",
			    ts_strerror(rc), why, backoff / 1000);
		online = 0;
		nap(a, backoff);
	}
}

/* ------------------------------------------------------------------------ */
/* Companion-initiated sharing (claims 20/33)                                 */

/* On the advertiser's thread: the primary wrote a message back over the
 * link. Only checks that it is a well-formed, self-consistently signed offer
 * (whether its signer is trusted and owns the app is the node's call), then
 * queues a copy for the agent's thread. */
static void
on_link_offer(const uint8_t *msg, size_t len, void *arg)
{
	struct agent *a = arg;
	const uint8_t *bf70 = NULL;
	size_t blen = 0;
	rsp_offer o;
	int rc = ndef_offer_decode(msg, len, &bf70, &blen);
	if (rc != 0) {
		log_warn("link: ignoring a %zu-byte message from the reader: not a share offer (%s)",
		    len, ts_strerror(rc));
		return;
	}
	if ((rc = rsp_offer_decode(bf70, blen, &o)) != 0) {
		log_warn("link: ignoring a share offer that does not decode (%s)", ts_strerror(rc));
		return;
	}
	uint8_t *copy = malloc(blen);
	if (copy == NULL)
		return;
	memcpy(copy, bf70, blen);
	pthread_mutex_lock(&a->offer_mu);
	if (a->n_offers < AGENT_MAX_OFFERS) {
		a->offers[a->n_offers].bf70 = copy;
		a->offers[a->n_offers].len = blen;
		a->n_offers++;
		copy = NULL;
	}
	pthread_mutex_unlock(&a->offer_mu);
	if (copy != NULL) {
		log_warn("link: too many share offers waiting; dropped the one for %s", o.app_id);
		free(copy);
		return;
	}
	log_info("S1 share offer for %s received over the link from device %.16s…", o.app_id,
	    o.device_id);
}

/* POST /v1/companion/offers {eid, offer}: the node checks the offer and, on
 * 201, runs the share; the download then comes through the push channel. */
static void
send_offer(struct agent *a, const uint8_t *bf70, size_t len)
{
	static const char *const headers[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		NULL,
	};
	rsp_offer o;
	json_t *body = NULL, *resp = NULL;
	char why[256] = "";
	long status = 0;

	if (rsp_offer_decode(bf70, len, &o) != 0)
		return; /* checked when queued */
	body = json_pack("{s:s}", "eid", a->eid.digits);
	if (body == NULL || ts_json_set_b64(body, "offer", bf70, len) != 0) {
		log_error("S4 cannot build the share request for %s", o.app_id);
		goto done;
	}
	log_info("S4 companion-initiated share request for %s sent (offer from device %.16s…)",
	    o.app_id, o.device_id);
	int rc = ts_httpc_json(a->api, "POST", a->offers_url, headers, body, &status, &resp, why,
	    sizeof(why));
	if (rc != 0) {
		log_error("S5 no answer from the node to the share request for %s (%s: %s)", o.app_id,
		    ts_strerror(rc), why[0] ? why : "no detail");
		goto done;
	}
	if (status == 201) {
		const char *conf = ts_json_str(resp, "confirmation");
		const char *sid = ts_json_str(resp, "share_id");
		log_info("S5 first confirmation: %.200s (share %.64s, %s)",
		    conf ? conf : "EID received and correct", sid ? sid : "?", o.app_id);
		goto done;
	}
	const json_t *err = json_object_get(resp, "error");
	const char *code = ts_json_str(err, "code");
	const char *message = ts_json_str(err, "message");
	log_error("S5 the node refused the share request for %s: HTTP %ld %.64s: %.300s", o.app_id,
	    status, code ? code : "error", message ? message : "no message");
done:
	json_decref(body);
	json_decref(resp);
}

/* Sends every queued offer, on the agent's thread. */
static void
send_offers(struct agent *a)
{
	for (;;) {
		uint8_t *bf70 = NULL;
		size_t len = 0;
		pthread_mutex_lock(&a->offer_mu);
		if (a->n_offers > 0) {
			bf70 = a->offers[0].bf70;
			len = a->offers[0].len;
			memmove(&a->offers[0], &a->offers[1], (a->n_offers - 1) * sizeof(a->offers[0]));
			a->n_offers--;
		}
		pthread_mutex_unlock(&a->offer_mu);
		if (bf70 == NULL)
			return;
		send_offer(a, bf70, len);
		free(bf70);
	}
}

/* ------------------------------------------------------------------------ */
/* Start-up and shutdown                                                      */

static int
start_advertising(struct agent *a, char *errbuf, size_t errcap)
{
	ndef_identity id;
	uint8_t *msg = NULL;
	size_t len = 0;
	char kind[32];

	memset(&id, 0, sizeof(id));
	id.eid = a->eid;
	if (a->o->name != NULL &&
	    ts_snprintf(id.name, sizeof(id.name), "%s", a->o->name) != 0) {
		ts_errbuf(errbuf, errcap, "device name longer than %d bytes", NDEF_TS_NAME_MAX);
		return TS_ELIMIT;
	}
	if (a->o->model != NULL &&
	    ts_snprintf(id.model, sizeof(id.model), "%s", a->o->model) != 0) {
		ts_errbuf(errbuf, errcap, "model longer than %d bytes", NDEF_TS_NAME_MAX);
		return TS_ELIMIT;
	}
	int rc = ndef_identity_encode(&id, &msg, &len);
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "cannot encode the NDEF identity (%s)", ts_strerror(rc));
		return rc;
	}
	rc = link_advertise_ex(a->o->link_spec, msg, len, on_link_offer, a, &a->adv);
	free(msg);
	if (rc != 0) {
		ts_errbuf(errbuf, errcap, "cannot advertise on link %s (%s)", a->o->link_spec,
		    ts_strerror(rc));
		return rc;
	}
	if (agent_link_kind(a->o->link_spec, kind, sizeof(kind)) != 0)
		(void)ts_snprintf(kind, sizeof(kind), "%s", "short-range");
	log_info("S1 advertising EID %s over %s link%s", a->eid.digits, kind,
	    strcmp(kind, "sim") == 0 ? " (simulator)" : "");
	return 0;
}

int
agent_run(const agent_opts *o, volatile sig_atomic_t *stop, char *errbuf, size_t errcap)
{
	struct agent *a = NULL;
	int rc;

	if (o == NULL || stop == NULL || o->node_url == NULL || o->ca_file == NULL ||
	    o->se_spec == NULL || o->link_spec == NULL)
		return TS_EINVAL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return TS_ENOMEM;
	a->o = o;
	a->stop = stop;
	pthread_mutex_init(&a->offer_mu, NULL);

	if ((rc = se_driver_open(o->se_spec, &a->se)) != 0) {
		ts_errbuf(errbuf, errcap, "cannot open secure element %s (%s)", o->se_spec,
		    ts_strerror(rc));
		goto fail;
	}
	if ((rc = se_get_eid(a->se, &a->eid)) != 0) {
		ts_errbuf(errbuf, errcap, "cannot read the EID from %s (%s)", o->se_spec,
		    ts_strerror(rc));
		goto fail;
	}
	log_info("secure element %s: EID %s", o->se_spec, a->eid.digits);

	size_t bl = strlen(o->node_url);
	while (bl > 0 && o->node_url[bl - 1] == '/')
		bl--;
	if (bl == 0 || bl > 512 ||
	    ts_snprintf(a->events_url, sizeof(a->events_url), "%.*s/v1/companion/events?eid=%s",
	    (int)bl, o->node_url, a->eid.digits) != 0 ||
	    ts_snprintf(a->offers_url, sizeof(a->offers_url), "%.*s/v1/companion/offers", (int)bl,
	    o->node_url) != 0) {
		ts_errbuf(errbuf, errcap, "bad node URL");
		rc = TS_EINVAL;
		goto fail;
	}
	ts_httpc_opts hopts = { .ca_file = o->ca_file, .timeout_ms = AGENT_HTTP_TIMEOUT_MS };
	if ((rc = ts_httpc_new(&hopts, &a->stream)) != 0 ||
	    (rc = ts_httpc_new(&hopts, &a->api)) != 0) {
		ts_errbuf(errbuf, errcap, "cannot set up the HTTPS client (CA %s: %s)", o->ca_file,
		    ts_strerror(rc));
		goto fail;
	}
	ts_httpc_set_tick(a->stream, stream_tick, a);

	if ((rc = start_advertising(a, errbuf, errcap)) != 0)
		goto fail;

	/* Catch up first: notifications the node has not acknowledged, and
	 * applications whose authorisation ran out while we were off. */
	maybe_maintain(a, 1);
	push_loop(a);
	log_info("stopping");
	rc = 0;
fail:
	link_advertiser_free(a->adv); /* joins its thread: no offer arrives after this */
	for (size_t i = 0; i < a->n_offers; i++)
		free(a->offers[i].bf70);
	pthread_mutex_destroy(&a->offer_mu);
	ts_httpc_free(a->stream);
	ts_httpc_free(a->api);
	se_driver_free(a->se);
	free(a);
	return rc;
}

int
agent_process_notifications(const agent_opts *o, size_t *sent, size_t *left, char *errbuf,
    size_t errcap)
{
	static volatile sig_atomic_t never;
	struct agent *a = NULL;
	es10_notif_list nl;
	int rc;
	if (o == NULL || o->node_url == NULL || o->ca_file == NULL || o->se_spec == NULL)
		return TS_EINVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return TS_ENOMEM;
	a->o = o;
	a->stop = &never;
	pthread_mutex_init(&a->offer_mu, NULL);
	if ((rc = se_driver_open(o->se_spec, &a->se)) != 0) {
		ts_errbuf(errbuf, errcap, "cannot open secure element %s (%s)", o->se_spec,
		    ts_strerror(rc));
		goto done;
	}
	ts_httpc_opts hopts = { .ca_file = o->ca_file, .timeout_ms = AGENT_HTTP_TIMEOUT_MS };
	if ((rc = ts_httpc_new(&hopts, &a->api)) != 0) {
		ts_errbuf(errbuf, errcap, "cannot set up the HTTPS client (CA %s: %s)", o->ca_file,
		    ts_strerror(rc));
		goto done;
	}
	size_t n = process_notifications(a, 0, NULL, NULL);
	if (sent != NULL)
		*sent = n;
	if ((rc = se_list_notifications(a->se, 0, &nl)) != 0) {
		ts_errbuf(errbuf, errcap, "cannot list the notifications pending in the SE (%s)",
		    ts_strerror(rc));
		goto done;
	}
	size_t ours = 0;
	for (size_t i = 0; i < nl.n; i++)
		ours += (size_t)agent_address_is_node(o->node_url, nl.items[i].address);
	if (left != NULL)
		*left = ours;
	if (ours > 0) {
		ts_errbuf(errbuf, errcap, "%zu notification%s for this node still pending (see the log)",
		    ours, ours == 1 ? "" : "s");
		rc = TS_ENET;
	}
	if (nl.n > ours)
		log_info("%zu notification%s for other SM-DP+ addresses left pending", nl.n - ours,
		    nl.n - ours == 1 ? "" : "s");
	es10_notif_list_clear(&nl);
done:
	pthread_mutex_destroy(&a->offer_mu);
	ts_httpc_free(a->api);
	se_driver_free(a->se);
	free(a);
	return rc;
}
