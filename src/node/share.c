/*
 * share.c — the share service (ARCHITECTURE.md §3, patent claims 1, 20, 33).
 *
 *   step  what                                   function               transaction writes
 *   ----  -------------------------------------  ---------------------  ---------------------------------------
 *   S11   request received (primary)             share_request          share, event, outbox confirmOrder, idem
 *   S11   request received (offer, claims 20/33) share_offer_redeem     share, event, outbox, offer nonce
 *   S12   first confirmation (EID correct)       s12_first_confirmation (inside S11's transaction, see share_state.h)
 *   S13   authorised by the provider             share_authorise        share, credential, event, cmd download
 *   S13   denied by the provider                 share_deny             share, event, cmd done
 *   S14   bound package delivered                share_deliver          es9 session, share, event
 *   S15   installed (second confirmation)        share_installed        share, event, cmd done, [outbox certify]
 *   S16   cancelled by the user                  share_cancel           share, event, cmd delete, outbox cancelOrder, idem
 *   S17   deleted from the companion             share_deleted          share, event, cmd done, [outbox]
 *         expiry (the node's own tick)           share_expire           share, event, cmd delete, outbox cancelOrder
 *         move: release of the original          share_release          app, outbox release, idem
 *         failure (provider answer, SE refusal)  share_fail / share_install_failed
 *
 * Every function begins, checks the share's state against the one transition
 * table (share_state.c), writes everything the step implies and commits; the
 * push stream and outbox workers are kicked after the commit. A crash before
 * the commit changes nothing; after it the outbox and the companion's pending
 * commands finish the step on restart. svc->crash marks the points between
 * durable writes where tests kill the node.
 */
#include "node/metrics.h"
#include "node/share.h"
#include "node/smds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/eid.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"

/* ---- helpers ------------------------------------------------------------ */

static int
refuse(share_why *why, int rc, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
refuse(share_why *why, int rc, const char *code, const char *fmt, ...)
{
	if (why != NULL) {
		snprintf(why->code, sizeof(why->code), "%s", code);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* A store read that gave no answer (busy, timed out, failed) is no verdict
 * on what was asked: the caller answers store_busy (503, retry), never the
 * refusal a missing row earns. Only TS_ENOTFOUND means "not there". */
static int
read_failed(share_why *why, int rc)
{
	return refuse(why, rc, "store_busy", "the database is busy; retry");
}

/* Step logs ("S<n> share ...") keep the patent's step number in the
 * node's log; spelled through the macro so that the step labels in this file
 * are the table above and the step functions below. */
#define STEP_LOG(n, ...) log_info("S" #n " " __VA_ARGS__)
#define STEP_WARN(n, ...) log_warn("S" #n " " __VA_ARGS__)

static void
kick(const share_svc *svc, unsigned what)
{
	if (svc->kick != NULL)
		svc->kick(svc->kick_arg, what);
}

/* Whose streams this thread's open transaction will need to wake: emit()
 * and add_cmd() note the user / EID, finish() wakes exactly those after the
 * commit (push O(1) per event, issue 9) and forgets them either way. A
 * transaction rolled back elsewhere leaves its keys for the next finish():
 * a spurious wake only re-reads the store. More keys than fit: wake all. */
#define WAKE_KEYS 8
static _Thread_local struct {
	size_t nu, ne;
	int all;
	int64_t users[WAKE_KEYS];
	char eids[WAKE_KEYS][EID_DIGITS + 1];
} pending_wake;

static void
note_user(int64_t user_id)
{
	for (size_t i = 0; i < pending_wake.nu; i++)
		if (pending_wake.users[i] == user_id)
			return;
	if (pending_wake.nu < WAKE_KEYS)
		pending_wake.users[pending_wake.nu++] = user_id;
	else
		pending_wake.all = 1;
}

static void
note_eid(const char *eid)
{
	for (size_t i = 0; i < pending_wake.ne; i++)
		if (strcmp(pending_wake.eids[i], eid) == 0)
			return;
	if (pending_wake.ne < WAKE_KEYS && strlen(eid) <= EID_DIGITS)
		memcpy(pending_wake.eids[pending_wake.ne++], eid, strlen(eid) + 1);
	else
		pending_wake.all = 1;
}

static void
wake_pending(const share_svc *svc, unsigned what, int committed)
{
	if (committed && svc->wake != NULL && !pending_wake.all) {
		for (size_t i = 0; i < pending_wake.nu; i++)
			svc->wake(svc->kick_arg, pending_wake.users[i], NULL);
		for (size_t i = 0; i < pending_wake.ne; i++)
			svc->wake(svc->kick_arg, 0, pending_wake.eids[i]);
	} else if (committed) {
		what |= SHARE_KICK_PUSH;
	}
	if (committed)
		kick(svc, what);
	pending_wake.nu = pending_wake.ne = 0;
	pending_wake.all = 0;
}

static void
crash_point(const share_svc *svc, const char *point)
{
	if (svc->crash != NULL)
		svc->crash(svc->crash_arg, point);
}

/* activation_code: when not NULL, added to the event's share object. */
static int
emit_ac(store *st, const store_share *sh, const char *type, const char *message, const char *activation_code)
{
	const char *const extra[][2] = { { "message", message }, { "activation_code", activation_code } };
	char *data = store_share_text(sh, extra, TS_ARRAY_LEN(extra));
	if (data == NULL)
		return TS_ENOMEM;
	int rc = st->ops->event_add(st, sh->user_id, sh->id, type, data, NULL);
	free(data);
	if (rc == 0)
		note_user(sh->user_id);
	return rc;
}

static int
emit(store *st, const store_share *sh, const char *type, const char *message)
{
	return emit_ac(st, sh, type, message, NULL);
}

int
share_activation_code(const char *address, const char *matching_id, char *out, size_t cap)
{
	char bare[STORE_STR_MAX];
	if (matching_id == NULL || matching_id[0] == '\0' || smds_bare_address(address, bare, sizeof(bare)) != 0)
		return TS_EINVAL;
	return ts_snprintf(out, cap, "LPA:1$%s$%s", bare, matching_id);
}

/* Moves sh to `to` if the transition table allows it. */
static int
move(store_share *sh, enum share_state to)
{
	if (!share_state_may(sh->state, to))
		return TS_ESTATE;
	sh->state = to;
	sh->updated_at = ts_now();
	metrics_share_step(sh->id, to, sh->created_at); /* counted even if the transaction rolls back */
	return 0;
}

/* Begins and loads the share; on failure nothing is left open. */
/* Every share update goes through here: the SM-DS (ES11) event of a share
 * exists exactly while it is authorised (S13) — registered when the
 * provider's grant arrives, removed when the download is delivered or the
 * share ends — in the same transaction as the state. */
static int
save(store *st, const store_share *sh)
{
	int rc = st->ops->share_update(st, sh);
	if (rc != 0)
		return rc;
	if (sh->state == SHARE_AUTHORISED && sh->matching_id[0] != '\0')
		return st->ops->smds_event_put(st, sh->id, sh->eid, sh->matching_id, sh->updated_at);
	return st->ops->smds_event_del(st, sh->id);
}

static int
begin_load(store *st, const char *id, store_share *sh)
{
	int rc = st->ops->begin(st);
	if (rc != 0)
		return rc;
	if ((rc = st->ops->share_get(st, id, sh)) != 0)
		st->ops->rollback(st);
	return rc;
}

/* The outbox row this thread applies (share_outbox_arm): closed by the
 * next transition finish() commits on this thread. */
static _Thread_local struct {
	int armed, wake, closed;
	int64_t id, now;
	char share_id[STORE_ID_MAX];
} applying;

void
share_outbox_arm(int64_t outbox_id, const char *share_id, int64_t now, int wake)
{
	applying.armed = 1;
	applying.closed = 0;
	applying.wake = wake;
	applying.id = outbox_id;
	applying.now = now;
	snprintf(applying.share_id, sizeof(applying.share_id), "%s", share_id);
}

void
share_outbox_set_wake(int wake)
{
	if (applying.armed)
		applying.wake = wake;
}

int
share_outbox_disarm(void)
{
	int closed = applying.armed && applying.closed;
	applying.armed = applying.closed = 0;
	return closed;
}

/* Commits (or rolls back when rc != 0) and kicks after a commit. */
static int
finish(const share_svc *svc, store *st, int rc, unsigned what)
{
	int closing = rc == 0 && applying.armed && !applying.closed;
	if (closing && (rc = st->ops->outbox_done(st, applying.id)) == 0 && applying.wake)
		rc = st->ops->outbox_wake(st, applying.share_id, applying.now);
	if (rc != 0) {
		st->ops->rollback(st);
		wake_pending(svc, what, 0);
		return rc;
	}
	int64_t t0 = metrics_now_us();
	rc = st->ops->commit(st);
	metrics_store_commit(t0, rc);
	if (rc != 0) {
		st->ops->rollback(st);
		wake_pending(svc, what, 0);
		return rc;
	}
	if (closing)
		applying.closed = 1;
	wake_pending(svc, what, 1);
	return 0;
}

/* The companion command of type for the share; txt: its JSON text (taken,
 * NULL: out of memory). */
static int
add_cmd(store *st, const store_share *sh, const char *type, char *txt)
{
	int rc = txt ? st->ops->cmd_add(st, sh->eid, sh->id, type, txt, NULL) : TS_ENOMEM;
	free(txt);
	if (rc == 0)
		note_eid(sh->eid);
	return rc;
}

static int
add_delete(store *st, const store_share *sh)
{
	const char *const kv[][2] = { { "share_id", sh->id }, { "app_id", sh->assoc_app_id } };
	return add_cmd(st, sh, CMD_DELETE, ts_json_strings_text(kv, TS_ARRAY_LEN(kv)));
}

/* 1 if a command of type for the share is still pending, 0 if not, < 0
 * when the store could not tell (never taken for "not pending"). */
static int
cmd_pending(store *st, const store_share *sh, const char *type)
{
	store_cmd c[16];
	size_t n = 0;
	int64_t after = 0;
	do {
		int rc = st->ops->cmds_pending(st, sh->eid, after, c, TS_ARRAY_LEN(c), &n);
		if (rc != 0)
			return rc < 0 ? rc : TS_EDB;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(c[i].share_id, sh->id) == 0 && strcmp(c[i].type, type) == 0)
				return 1;
			after = c[i].id;
		}
	} while (n == TS_ARRAY_LEN(c));
	return 0;
}

/* Inside a transaction: 1 replayed (idem filled), 0 new, < 0 error. */
static int
idem_check(store *st, share_idem *idem, share_why *why)
{
	if (idem == NULL)
		return 0;
	char stored[65];
	int status;
	char *resp = NULL;
	int rc = st->ops->idem_get(st, idem->device_id, idem->key, stored, sizeof(stored), &status, &resp);
	if (rc == TS_ENOTFOUND)
		return 0;
	if (rc != 0)
		return refuse(why, rc, "store_error", "cannot read the idempotency record");
	if (strcmp(stored, idem->req_hash) != 0) {
		free(resp);
		return refuse(why, TS_ECONFLICT, "idempotency_conflict",
		    "this Idempotency-Key was already used for a different request");
	}
	idem->replayed = 1;
	idem->status = status;
	idem->response = resp;
	log_info("replayed request (Idempotency-Key %s) answered from the record; nothing changed", idem->key);
	return 1;
}

/* Inside a transaction: records the answer (JSON text txt, taken; NULL:
 * out of memory) for idem. */
static int
idem_record(store *st, share_idem *idem, char *txt)
{
	if (txt == NULL)
		return TS_ENOMEM;
	int rc = 0;
	if (idem != NULL && (rc = st->ops->idem_put(st, idem->device_id, idem->key, idem->req_hash, idem->status,
	    txt)) != 0) {
		free(txt);
		return rc;
	}
	if (idem != NULL)
		idem->response = txt;
	else
		free(txt);
	return 0;
}

/* ---- request ------------------------------------------------------------ */

int
share_check_eid(const share_svc *svc, const char *eid_s, eid_t *eid, share_why *why)
{
	int rc = eid_parse(eid_s, eid);
	if (rc == TS_EEIDFMT)
		return refuse(why, rc, "eid_format", "EID \"%.40s\" is not 32 decimal digits", eid_s);
	if (rc != 0) {
		char cd[3] = "??", first30[31];
		snprintf(first30, sizeof(first30), "%.30s", eid_s);
		eid_check_digits(first30, cd);
		return refuse(why, rc, "eid_check_digits",
		    "EID %s fails the ISO 7064 MOD 97-10 check: the last two digits should be %s", eid_s, cd);
	}
	if (!pki_ein_allowed(svc->ein_prefixes, eid))
		return refuse(why, TS_EDENIED, "unknown_manufacturer",
		    "EID %s has no known manufacturer: no trusted EUM permits its prefix (trusted: %s)", eid->digits,
		    svc->ein_prefixes);
	return 0;
}

/* The app the user wants to share (exists, is the user's, may be
 * shared, was not moved away). Read inside the request's transaction. */
static int
s11_check_app(store *st, const char *app_id, int64_t user_id, store_app *app, share_why *why)
{
	int rc = st->ops->app_get(st, app_id, app);
	if (rc == TS_ENOTFOUND)
		return refuse(why, TS_ENOTFOUND, "unknown_app", "no security application \"%.64s\"", app_id);
	if (rc != 0)
		return read_failed(why, rc);
	if (app->user_id != user_id)
		return refuse(why, TS_EAUTH, "app_not_owned",
		    "application \"%s\" does not belong to this device's user", app_id);
	if (!app->shareable)
		return refuse(why, TS_EDENIED, "not_shareable", "application \"%s\" may not be shared", app_id);
	if (app->released_share[0] != '\0')
		return refuse(why, TS_ESTATE, "app_moved", "application \"%s\" was moved away (share %s)", app_id,
		    app->released_share);
	return 0;
}

/* The first confirmation, inside the request's transaction: the EID was checked, the share moves from
 * requested to eid_confirmed, the primary's first confirmation is written and
 * the provider is to be asked (confirmOrder). */
static int
s12_first_confirmation(store *st, store_share *sh)
{
	int rc = move(sh, SHARE_EID_CONFIRMED);
	if (rc == 0)
		rc = st->ops->share_insert(st, sh);
	if (rc == 0)
		rc = emit(st, sh, "share.eid_confirmed", "EID received and correct");
	if (rc == 0)
		rc = st->ops->outbox_add(st, OUTBOX_CONFIRM_ORDER, sh->id, NULL);
	return rc;
}

/* Builds the new record in state requested. */
static int
s11_new_share(const share_req *req, const eid_t *eid, const store_app *app, store_share *sh)
{
	memset(sh, 0, sizeof(*sh));
	int rc = ts_random_id(sh->id);
	if (rc != 0)
		return rc;
	sh->user_id = req->user_id;
	snprintf(sh->device_id, sizeof(sh->device_id), "%s", req->device_id);
	snprintf(sh->eid, sizeof(sh->eid), "%s", eid->digits);
	snprintf(sh->app_id, sizeof(sh->app_id), "%s", app->app_id);
	snprintf(sh->provider, sizeof(sh->provider), "%s", app->provider);
	snprintf(sh->operation, sizeof(sh->operation), "%s", req->operation ? req->operation : "share");
	sh->duration_s = req->duration_s;
	sh->state = SHARE_REQUESTED;
	sh->created_at = sh->updated_at = ts_now();
	return 0;
}

static char *
first_confirmation_doc(const store_share *sh)
{
	static const char *const extra[][2] = { { "confirmation", "EID received and correct" } };
	return store_share_text(sh, extra, TS_ARRAY_LEN(extra));
}

/* S11: a companion that already holds another user's application is not
 * this user's to fill (issue 8): it belongs to the user whose share it
 * installed first, until the operator releases it. */
static int
s11_check_companion(store *st, const eid_t *eid, int64_t user_id, share_why *why)
{
	int64_t owner = 0;
	int rc = st->ops->companion_owner(st, eid->digits, &owner);
	if (rc == TS_ENOTFOUND || (rc == 0 && owner == user_id))
		return 0;
	if (rc != 0)
		return read_failed(why, rc);
	return refuse(why, TS_EDENIED, "companion_not_yours",
	    "the companion %s belongs to another user; shares from other users are refused", eid->digits);
}

int
share_request(const share_svc *svc, store *st, const share_req *req, share_idem *idem, store_share *out,
    share_why *why)
{
	STEP_LOG(11, "share request from device %.16s…: EID %.40s, app %.64s", req->device_id, req->eid,
	    req->app_id);
	const char *op = req->operation ? req->operation : "share";
	if (strcmp(op, "share") != 0 && strcmp(op, "move") != 0)
		return refuse(why, TS_EINVAL, "bad_operation", "operation must be \"share\" or \"move\"");
	if (req->duration_s < 0 || req->duration_s > SHARE_MAX_DURATION_S)
		return refuse(why, TS_EINVAL, "bad_duration", "duration_s must be 0..%lld seconds",
		    (long long)SHARE_MAX_DURATION_S);
	if (req->cc_hash != NULL && (strlen(req->cc_hash) != 64 ||
				     strspn(req->cc_hash, "0123456789abcdef") != 64))
		return refuse(why, TS_EINVAL, "bad_confirmation_code_hash",
		    "confirmation_code_hash must be SHA-256 of the code, 64 lower-case hex digits");
	int rc = st->ops->begin(st);
	if (rc != 0)
		return refuse(why, rc, "store_busy", "the database is busy; retry");
	rc = idem_check(st, idem, why);
	if (rc != 0) {
		st->ops->rollback(st);
		return rc < 0 ? rc : 0;
	}
	eid_t eid;
	store_app app;
	if ((rc = share_check_eid(svc, req->eid, &eid, why)) != 0 ||
	    (rc = s11_check_app(st, req->app_id, req->user_id, &app, why)) != 0 ||
	    (rc = s11_check_companion(st, &eid, req->user_id, why)) != 0) {
		st->ops->rollback(st);
		return rc;
	}
	if ((rc = s11_new_share(req, &eid, &app, out)) == 0 && req->cc_hash != NULL)
		rc = st->ops->cc_put(st, out->id, req->cc_hash);
	if (rc == 0 && (rc = s12_first_confirmation(st, out)) == 0)
		rc = idem_record(st, idem, first_confirmation_doc(out));
	if ((rc = finish(svc, st, rc, SHARE_KICK_OUTBOX)) != 0)
		return refuse(why, rc, "store_error", "cannot record the share");
	STEP_LOG(12, "first confirmation for share %s: EID %s received and correct", out->id, out->eid);
	crash_point(svc, "share_request");
	return 0;
}

int
share_offer_redeem(const share_svc *svc, store *st, const char *eid_s, const rsp_offer *o, store_share *out,
    share_why *why)
{
	X509 *cert = NULL;
	char key_id[65], err[256] = "";
	int rc;
	if (pki_cert_from_der(o->cert, o->cert_len, &cert) != 0 ||
	    pki_verify_chain(svc->device_ca, NULL, cert, err, sizeof(err)) != 0) {
		X509_free(cert);
		return refuse(why, TS_EVERIFY, "offer_untrusted",
		    "the offer was not signed by a device this node enrolled (%s)", err);
	}
	rc = pki_cert_pubkey_id(cert, key_id);
	X509_free(cert);
	if (rc != 0 || strcmp(key_id, o->device_id) != 0)
		return refuse(why, TS_EVERIFY, "offer_signature", "the offer's device id does not match its key");
	int64_t now = ts_now();
	if (o->expires_at <= now)
		return refuse(why, TS_EEXPIRED, "offer_expired", "the offer expired %lld s ago",
		    (long long)(now - o->expires_at));
	if (o->expires_at > now + SHARE_OFFER_MAX_TTL_S)
		return refuse(why, TS_EINVAL, "bad_offer", "offers may live at most %d s", SHARE_OFFER_MAX_TTL_S);
	if ((rc = st->ops->begin(st)) != 0)
		return refuse(why, rc, "store_busy", "the database is busy; retry");
	int64_t user_id;
	if ((rc = st->ops->device_user(st, o->device_id, &user_id)) != 0) {
		st->ops->rollback(st);
		if (rc != TS_ENOTFOUND && rc != TS_EDENIED)
			return read_failed(why, rc);
		return refuse(why, TS_EAUTH, "unknown_device", "the offering device is not enrolled");
	}
	STEP_LOG(11, "companion-initiated share request (claims 20/33): EID %.40s redeems an offer for %s "
		 "from device %.16s…", eid_s, o->app_id, o->device_id);
	eid_t eid;
	store_app app;
	share_req req = { .user_id = user_id, .device_id = o->device_id, .eid = eid_s, .app_id = o->app_id };
	if ((rc = share_check_eid(svc, eid_s, &eid, why)) != 0 ||
	    (rc = s11_check_app(st, o->app_id, user_id, &app, why)) != 0 ||
	    (rc = s11_check_companion(st, &eid, user_id, why)) != 0) {
		st->ops->rollback(st);
		return rc;
	}
	/* Bound to the EID the primary read (issue 8): whoever intercepts the
	 * offer on the link cannot redeem it for another device. */
	if (o->eid[0] == '\0') {
		st->ops->rollback(st);
		return refuse(why, TS_EINVAL, "offer_unbound",
		    "the offer names no companion EID; offers are redeemed only by the EID they were made for");
	}
	if (strcmp(o->eid, eid.digits) != 0) {
		st->ops->rollback(st);
		return refuse(why, TS_EDENIED, "offer_other_eid", "the offer was made for EID %s, not %s", o->eid,
		    eid.digits);
	}
	char nonce_hex[2 * RSP_OFFER_NONCE_LEN + 1];
	ts_hex_encode(o->nonce, RSP_OFFER_NONCE_LEN, nonce_hex, sizeof(nonce_hex));
	if ((rc = s11_new_share(&req, &eid, &app, out)) == 0 && (rc = s12_first_confirmation(st, out)) == 0)
		rc = st->ops->offer_nonce_use(st, nonce_hex, out->id, o->expires_at);
	if (rc == TS_EEXIST) {
		st->ops->rollback(st);
		return refuse(why, TS_EEXIST, "offer_replayed", "this offer was already used");
	}
	if ((rc = finish(svc, st, rc, SHARE_KICK_OUTBOX)) != 0)
		return refuse(why, rc, "store_error", "cannot record the share");
	STEP_LOG(12, "first confirmation for share %s (offer %.8s…): EID %s received and correct", out->id,
	    nonce_hex, out->eid);
	crash_point(svc, "share_offer_redeem");
	return 0;
}

/* ---- provider decision --------------------------------------------------- */

int
share_authorise(const share_svc *svc, store *st, const char *share_id, const share_grant *g)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	if (sh.state != SHARE_EID_CONFIRMED) {
		/* F2: cancelled (or failed) while the confirmOrder was in flight:
		 * the provider granted what nobody wants any more. */
		if (sh.state == SHARE_REVOKED || sh.state == SHARE_FAILED) {
			rc = st->ops->outbox_add(st, OUTBOX_CANCEL_ORDER, sh.id, NULL);
			if ((rc = finish(svc, st, rc, SHARE_KICK_OUTBOX)) == 0)
				STEP_LOG(13, "share %s is %s: the provider's late grant is cancelled", sh.id,
				    share_state_name(sh.state));
			return rc != 0 ? rc : TS_ESTATE;
		}
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	snprintf(sh.assoc_app_id, sizeof(sh.assoc_app_id), "%s", g->assoc_app_id);
	snprintf(sh.assoc_name, sizeof(sh.assoc_name), "%s", g->assoc_name);
	snprintf(sh.assoc_kind, sizeof(sh.assoc_kind), "%s", g->assoc_kind);
	sh.not_after = g->not_after;
	char mid[33];
	if ((rc = ts_random_id(mid)) == 0 && (rc = move(&sh, SHARE_AUTHORISED)) == 0) {
		snprintf(sh.matching_id, sizeof(sh.matching_id), "%s", mid);
		rc = save(st, &sh);
	}
	if (rc == 0)
		rc = st->ops->share_set_credential(st, sh.id, g->credential_json);
	/* The owner's primary learns the SGP.22 activation code, for a
	 * companion that runs some other standard LPA (issue 7). */
	char ac[2 * STORE_STR_MAX];
	if (rc == 0 && share_activation_code(svc->address, sh.matching_id, ac, sizeof(ac)) != 0)
		ac[0] = '\0';
	/* SGP.22 4.1: "$<SM-DP+ OID>$1" flags a confirmation code (no OID). */
	char cch[65];
	int cca = 0, ccr = TS_ENOTFOUND;
	if (rc == 0 && ac[0] != '\0' && (ccr = st->ops->cc_get(st, sh.id, cch, &cca)) == 0 &&
	    ts_snprintf(ac + strlen(ac), sizeof(ac) - strlen(ac), "$$1") != 0)
		ac[0] = '\0';
	if (ccr != 0 && ccr != TS_ENOTFOUND)
		rc = ccr; /* unknown whether a code is asked for: not authorised without the flag */
	if (rc == 0)
		rc = emit_ac(st, &sh, "share.authorised", "authorised by the provider", ac[0] ? ac : NULL);
	if (rc == 0) {
		const char *const kv[][2] = { { "share_id", sh.id }, { "matching_id", sh.matching_id },
			{ "smdp_address", svc->address } };
		rc = add_cmd(st, &sh, CMD_DOWNLOAD, ts_json_strings_text(kv, TS_ARRAY_LEN(kv)));
	}
	if ((rc = finish(svc, st, rc, 0)) != 0)
		return rc;
	/* The download command is only written here; push.c says S14 when a
	 * stream takes it (one S14 line per push, not two). */
	STEP_LOG(13, "share %s authorised by provider %s: associated app %s (%s), not_after %lld; download "
		     "command for companion %s", sh.id, sh.provider, sh.assoc_app_id, sh.assoc_kind,
	    (long long)sh.not_after, sh.eid);
	crash_point(svc, "share_authorise");
	return 0;
}

/* Ends a share that has not reached the SE (denied / failed). */
static int
end_share(const share_svc *svc, store *st, const char *share_id, enum share_state to, const char *type,
    const char *reason, int granted)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	int authorised = sh.state != SHARE_EID_CONFIRMED;
	if ((rc = move(&sh, to)) != 0) {
		st->ops->rollback(st);
		return rc;
	}
	snprintf(sh.reason, sizeof(sh.reason), "%s", reason);
	if ((rc = save(st, &sh)) == 0 && (rc = st->ops->cmd_done(st, sh.id, CMD_DOWNLOAD)) == 0)
		rc = emit(st, &sh, type, reason);
	/* Once authorised (or on an answer we could not use) the provider holds a
	 * grant: it is told to drop it (F2). */
	if (rc == 0 && (granted || authorised))
		rc = st->ops->outbox_add(st, OUTBOX_CANCEL_ORDER, sh.id, NULL);
	return finish(svc, st, rc, granted || authorised ? SHARE_KICK_OUTBOX : 0);
}

int
share_deny(const share_svc *svc, store *st, const char *share_id, const char *reason)
{
	int rc = end_share(svc, st, share_id, SHARE_DENIED, "share.denied", reason, 0);
	if (rc == 0) {
		STEP_LOG(13, "share %s denied by the provider: %s", share_id, reason);
		crash_point(svc, "share_deny");
	}
	return rc;
}

int
share_fail(const share_svc *svc, store *st, const char *share_id, const char *reason, int granted)
{
	int rc = end_share(svc, st, share_id, SHARE_FAILED, "share.failed", reason, granted);
	if (rc == 0) {
		log_warn("share %s failed: %s", share_id, reason);
		crash_point(svc, "share_fail");
	}
	return rc;
}

/* ---- delivery and installation -------------------------------------------- */

int
share_downloadable(const store_share *sh)
{
	return sh->state == SHARE_AUTHORISED || sh->state == SHARE_DELIVERED;
}

int
share_deliver(const share_svc *svc, store *st, const char *share_id, const store_tx *tx)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	if (!share_downloadable(&sh)) {
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	rc = st->ops->tx_put(st, tx);
	int first = sh.state == SHARE_AUTHORISED; /* a retried download adds nothing */
	if (rc == 0 && first && (rc = move(&sh, SHARE_DELIVERED)) == 0 && (rc = save(st, &sh)) == 0)
		rc = emit(st, &sh, "share.delivered", "bound package delivered to the companion");
	if ((rc = finish(svc, st, rc, 0)) != 0)
		return rc;
	STEP_LOG(14, "share %s: bound package delivered to companion %s", sh.id, sh.eid);
	crash_point(svc, "share_deliver");
	return 0;
}

int
share_installed(const share_svc *svc, store *st, const char *share_id, const char *app_key_hex)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	if (sh.state == SHARE_INSTALLED) {
		st->ops->rollback(st);
		return 0; /* a repeated notification */
	}
	if (sh.state == SHARE_REVOKED || sh.state == SHARE_EXPIRED) {
		/* Installed after the grant ended (cancelled while the package was
		 * on its way): the delete must reach the companion again, as a new
		 * command on its live stream. */
		if ((rc = cmd_pending(st, &sh, CMD_DELETE)) != 1) {
			st->ops->rollback(st);
			return rc < 0 ? rc : TS_ESTATE;
		}
		if ((rc = st->ops->cmd_done(st, sh.id, CMD_DELETE)) == 0)
			rc = add_delete(st, &sh);
		if ((rc = finish(svc, st, rc, 0)) == 0)
			STEP_LOG(15, "share %s is %s but its package was installed: delete pushed again", sh.id,
			    share_state_name(sh.state));
		return rc != 0 ? rc : TS_ESTATE;
	}
	int certify = app_key_hex != NULL && strcmp(sh.assoc_kind, "bankid") == 0;
	/* the first installed share claims the companion for its user */
	if ((rc = move(&sh, SHARE_INSTALLED)) == 0 && (rc = save(st, &sh)) == 0 &&
	    (rc = st->ops->companion_claim(st, sh.eid, sh.user_id, ts_now())) == 0 &&
	    (rc = st->ops->cmd_done(st, sh.id, CMD_DOWNLOAD)) == 0)
		rc = emit(st, &sh, "share.installed", certify ?
		    "installed in the companion; the provider is certifying the key its secure element generated" :
		    "installed in the companion");
	if (rc == 0 && certify && (rc = st->ops->share_set_app_key(st, sh.id, app_key_hex)) == 0)
		rc = st->ops->outbox_add(st, OUTBOX_CERTIFY_KEY, sh.id, NULL);
	if (rc == TS_ESTATE)
		st->ops->rollback(st);
	else
		rc = finish(svc, st, rc, certify ? SHARE_KICK_OUTBOX : 0);
	if (rc != 0)
		return rc;
	STEP_LOG(15, "share %s: installed in companion %s; second confirmation sent to the primary", sh.id, sh.eid);
	crash_point(svc, "share_installed");
	return 0;
}

int
share_install_failed(const share_svc *svc, store *st, const char *share_id, const char *reason)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	if (sh.state == SHARE_DELIVERED || sh.state == SHARE_AUTHORISED) {
		st->ops->rollback(st);
		return end_share(svc, st, share_id, SHARE_FAILED, "share.failed", reason, 1);
	}
	if (sh.state == SHARE_REVOKED || sh.state == SHARE_EXPIRED || sh.state == SHARE_CANCEL_PENDING) {
		/* Nothing was installed: the pending delete is settled, a cancel
		 * waiting for the SE completes. */
		int was_pending = sh.state == SHARE_CANCEL_PENDING;
		rc = st->ops->cmd_done(st, sh.id, CMD_DELETE);
		if (rc == 0 && was_pending && (rc = move(&sh, SHARE_REVOKED)) == 0 &&
		    (rc = save(st, &sh)) == 0)
			rc = emit(st, &sh, "share.revoked", "cancelled: the companion never installed it");
		if ((rc = finish(svc, st, rc, 0)) == 0)
			log_info("share %s: the companion did not install it (%s); share %s", sh.id, reason,
			    share_state_name(sh.state));
		return rc;
	}
	st->ops->rollback(st);
	return TS_ESTATE;
}

int
share_download_cancelled(const share_svc *svc, store *st, const char *share_id, const char *kind)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	rc = st->ops->outbox_add(st, kind, sh.id, NULL);
	if ((rc = finish(svc, st, rc, SHARE_KICK_OUTBOX)) == 0)
		log_info("share %s: the companion cancelled its download; the provider will be told (%s)", sh.id,
		    kind);
	return rc;
}

int
share_key_certified(const share_svc *svc, store *st, const char *share_id, const char *cert_b64)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	if (sh.state != SHARE_INSTALLED) {
		st->ops->rollback(st);
		return TS_ESTATE; /* cancelled or expired meanwhile: nothing to push */
	}
	const char *const kv[][2] = { { "share_id", sh.id }, { "app_id", sh.assoc_app_id },
		{ "certificate", cert_b64 } };
	rc = add_cmd(st, &sh, CMD_CERTIFICATE, ts_json_strings_text(kv, TS_ARRAY_LEN(kv)));
	if (rc == 0)
		rc = emit(st, &sh, "share.key_certified", "the provider certified the companion's own key");
	if ((rc = finish(svc, st, rc, 0)) == 0) {
		STEP_LOG(14, "share %s: provider %s certified the key generated in companion %s; certificate pushed",
		    sh.id, sh.provider, sh.eid);
		crash_point(svc, "share_key_certified");
	}
	return rc;
}

int
share_certify_failed(const share_svc *svc, store *st, const char *share_id, const char *reason)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	rc = emit(st, &sh, "share.certify_failed", reason);
	if ((rc = finish(svc, st, rc, 0)) == 0)
		log_warn("share %s: the provider did not certify the companion's key: %s", sh.id, reason);
	return rc;
}

int
share_certified(const share_svc *svc, store *st, const char *share_id)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	if ((rc = cmd_pending(st, &sh, CMD_CERTIFICATE)) != 1) {
		st->ops->rollback(st);
		return rc < 0 ? rc : 0; /* 0: a repeated enable notification */
	}
	if ((rc = st->ops->cmd_done(st, sh.id, CMD_CERTIFICATE)) == 0)
		rc = emit(st, &sh, "share.certified", "the companion stored its certificate and enabled the credential");
	if ((rc = finish(svc, st, rc, 0)) == 0) {
		STEP_LOG(15, "share %s: companion %s enabled %s with its certified key", sh.id, sh.eid,
		    sh.assoc_app_id);
		crash_point(svc, "share_certified");
	}
	return rc;
}

/* ---- cancel, delete, expiry, move ---------------------------------------- */

/* Shared by cancel and expiry, inside their transaction: revoke the grant,
 * tell the provider, and make the companion delete what it may hold. An
 * installed share waits in cancel_pending for the SE's delete notification;
 * one whose package was only delivered is revoked at once (it may never have
 * reached the SE, F1) and its delete stays pushed until the SE settles it. */
static int
withdraw(store *st, store_share *sh, enum share_state to, const char *message)
{
	int on_se = sh->state == SHARE_INSTALLED || sh->state == SHARE_DELIVERED;
	int authorised = on_se || sh->state == SHARE_AUTHORISED;
	if (to == SHARE_CANCEL_PENDING && sh->state != SHARE_INSTALLED)
		to = SHARE_REVOKED;
	int rc = move(sh, to);
	if (rc == 0)
		rc = st->ops->cmd_done(st, sh->id, CMD_DOWNLOAD);
	if (rc == 0 && on_se)
		rc = add_delete(st, sh);
	if (rc == 0 && authorised)
		rc = st->ops->outbox_add(st, OUTBOX_CANCEL_ORDER, sh->id, NULL);
	if (rc == 0)
		rc = save(st, sh);
	if (rc == 0) {
		char type[40];
		snprintf(type, sizeof(type), "share.%s", share_state_name(sh->state));
		rc = emit(st, sh, type, message);
	}
	return rc;
}

static char *
cancel_doc(const store_share *sh)
{
	return store_share_text(sh, NULL, 0);
}

int
share_cancel(const share_svc *svc, store *st, int64_t user_id, const char *share_id, share_idem *idem,
    store_share *out, share_why *why)
{
	int rc = st->ops->begin(st);
	if (rc != 0)
		return refuse(why, rc, "store_busy", "the database is busy; retry");
	if ((rc = share_get_owned(st, user_id, share_id, out)) != 0) {
		st->ops->rollback(st);
		if (rc != TS_ENOTFOUND)
			return read_failed(why, rc);
		return refuse(why, TS_ENOTFOUND, "unknown_share", "no such share");
	}
	if ((rc = idem_check(st, idem, why)) != 0) {
		st->ops->rollback(st);
		return rc < 0 ? rc : 0;
	}
	STEP_LOG(16, "cancel requested for share %s", share_id);
	/* Cancellable: every state the user's cancel leads out of (a
	 * cancel_pending share only waits for the SE's delete). */
	int cancellable = share_state_may(out->state, SHARE_CANCEL_PENDING) ||
	    (share_state_may(out->state, SHARE_REVOKED) && out->state != SHARE_CANCEL_PENDING);
	if (!cancellable) {
		st->ops->rollback(st);
		return refuse(why, TS_ESTATE, "not_cancellable", "share %s is %s and cannot be cancelled", share_id,
		    share_state_name(out->state));
	}
	int authorised = out->state != SHARE_EID_CONFIRMED;
	rc = withdraw(st, out, SHARE_CANCEL_PENDING, "cancelled by the user: grant revoked");
	if (rc == 0)
		rc = idem_record(st, idem, cancel_doc(out));
	if ((rc = finish(svc, st, rc, authorised ? SHARE_KICK_OUTBOX : 0)) != 0)
		return refuse(why, rc, "store_error", "cannot record the cancellation");
	STEP_LOG(16, "share %s: grant revoked, provider %s, state %s", share_id,
	    authorised ? "to be told" : "never granted it", share_state_name(out->state));
	crash_point(svc, "share_cancel");
	return 0;
}

int
share_deleted(const share_svc *svc, store *st, const char *share_id)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	unsigned what = 0;
	switch (sh.state) {
	case SHARE_EXPIRED:
	case SHARE_REVOKED:
		/* Stays where it is; only the companion command is settled. */
		if ((rc = cmd_pending(st, &sh, CMD_DELETE)) != 1) {
			st->ops->rollback(st);
			return rc < 0 ? rc : TS_ESTATE;
		}
		rc = st->ops->cmd_done(st, sh.id, CMD_DELETE);
		if (rc == 0)
			rc = emit(st, &sh, sh.state == SHARE_EXPIRED ? "share.expired" : "share.revoked",
			    "deleted from the companion");
		break;
	case SHARE_CANCEL_PENDING:
		if ((rc = move(&sh, SHARE_REVOKED)) == 0 && (rc = st->ops->cmd_done(st, sh.id, CMD_DELETE)) == 0 &&
		    (rc = save(st, &sh)) == 0)
			rc = emit(st, &sh, "share.revoked", "deleted from the companion");
		break;
	case SHARE_INSTALLED:
		/* The companion deleted it on its own: past not_after that is an
		 * expiry, else (e.g. the user did) a revocation; the provider is
		 * told either way. */
		what = SHARE_KICK_OUTBOX;
		if (sh.not_after > 0 && sh.not_after <= ts_now()) {
			if ((rc = move(&sh, SHARE_EXPIRED)) == 0)
				rc = emit(st, &sh, "share.expired", "time limit reached: deleted from the companion");
		} else if ((rc = move(&sh, SHARE_REVOKED)) == 0) {
			rc = emit(st, &sh, "share.revoked", "deleted from the companion");
		}
		if (rc == 0)
			rc = st->ops->outbox_add(st, OUTBOX_CANCEL_ORDER, sh.id, NULL);
		if (rc == 0)
			rc = save(st, &sh);
		break;
	default:
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	if ((rc = finish(svc, st, rc, what)) != 0)
		return rc;
	STEP_LOG(17, "share %s: companion %s deleted %s; share %s", sh.id, sh.eid, sh.assoc_app_id,
	    share_state_name(sh.state));
	crash_point(svc, "share_deleted");
	return 0;
}

int
share_expire(const share_svc *svc, store *st, const char *share_id)
{
	store_share sh;
	int rc = begin_load(st, share_id, &sh);
	if (rc != 0)
		return rc;
	if (!share_state_may(sh.state, SHARE_EXPIRED)) {
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	rc = withdraw(st, &sh, SHARE_EXPIRED, "time limit reached: grant expired");
	if ((rc = finish(svc, st, rc, SHARE_KICK_OUTBOX)) != 0)
		return rc;
	STEP_LOG(16, "share %s expired (not_after %lld): grant revoked, provider told, delete pushed", sh.id,
	    (long long)sh.not_after);
	crash_point(svc, "share_expire");
	return 0;
}

int
share_expire_due(const share_svc *svc, store *st, int64_t now, size_t *n)
{
	char ids[SHARE_EXPIRE_BATCH][STORE_ID_MAX];
	size_t got = 0;
	*n = 0;
	int rc = st->ops->shares_expired(st, now, ids, SHARE_EXPIRE_BATCH, &got);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < got; i++)
		if (share_expire(svc, st, ids[i]) == 0)
			(*n)++;
	return 0;
}

int
share_release(const share_svc *svc, store *st, int64_t user_id, const char *app_id, const char *share_id,
    share_idem *idem, share_why *why)
{
	int rc = st->ops->begin(st);
	if (rc != 0)
		return refuse(why, rc, "store_busy", "the database is busy; retry");
	if ((rc = idem_check(st, idem, why)) != 0) {
		st->ops->rollback(st);
		return rc < 0 ? rc : 0;
	}
	store_app app;
	store_share sh;
	if ((rc = st->ops->app_get(st, app_id, &app)) != 0 || app.user_id != user_id) {
		st->ops->rollback(st);
		if (rc != 0 && rc != TS_ENOTFOUND)
			return read_failed(why, rc);
		return refuse(why, TS_ENOTFOUND, "unknown_app", "no application \"%s\" held by this user", app_id);
	}
	if ((rc = share_get_owned(st, user_id, share_id, &sh)) != 0 || strcmp(sh.app_id, app_id) != 0) {
		st->ops->rollback(st);
		if (rc != 0 && rc != TS_ENOTFOUND)
			return read_failed(why, rc);
		return refuse(why, TS_ENOTFOUND, "unknown_share", "no share %s of \"%s\"", share_id, app_id);
	}
	/* Only after the second confirmation (installed; S6 on the primary): the
	 * original must not be given up before its copy is installed. */
	if (sh.state != SHARE_INSTALLED) {
		st->ops->rollback(st);
		return refuse(why, TS_ESTATE, "move_incomplete",
		    "share %s is %s: the original is released only after the companion installed its copy", share_id,
		    share_state_name(sh.state));
	}
	rc = st->ops->app_release(st, app_id, share_id);
	if (rc == TS_ESTATE) {
		st->ops->rollback(st);
		return refuse(why, TS_EEXIST, "app_moved", "application \"%s\" was already released", app_id);
	}
	if (rc == 0)
		rc = st->ops->outbox_add(st, OUTBOX_RELEASE_ORIGINAL, share_id, NULL);
	if (rc == 0) {
		const char *const kv[][2] = { { "app_id", app_id }, { "state", "moved" }, { "share_id", share_id },
			{ "associated_app_id", sh.assoc_app_id } };
		rc = idem_record(st, idem, ts_json_strings_text(kv, TS_ARRAY_LEN(kv)));
	}
	if ((rc = finish(svc, st, rc, SHARE_KICK_OUTBOX)) != 0)
		return refuse(why, rc, "store_error", "cannot record the release");
	STEP_LOG(16, "move: original %s released after share %s installed %s; provider to be told", app_id, share_id,
	    sh.assoc_app_id);
	crash_point(svc, "share_release");
	return 0;
}

/* ---- reads -------------------------------------------------------------- */

int
share_get_owned(store *st, int64_t user_id, const char *share_id, store_share *out)
{
	int rc = st->ops->share_get(st, share_id, out);
	if (rc != 0)
		return rc; /* TS_ENOTFOUND, or the store's error (busy: not "no such share") */
	return out->user_id == user_id ? 0 : TS_ENOTFOUND;
}

int
share_credential(store *st, const char *share_id, char **out)
{
	return st->ops->share_get_credential(st, share_id, out);
}
