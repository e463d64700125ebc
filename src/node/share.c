/*
 * share.c — the share state machine (ARCHITECTURE.md §3):
 *
 *   requested -> eid_confirmed -> authorised -> delivered -> installed
 *   denied | failed | expired | cancel_pending -> revoked
 *
 * Each transition is one transaction that also writes the primary's event,
 * the companion's command and the provider call (outbox) it implies. Side
 * effects run after commit (push_kick / outbox_kick), so a crash before the
 * commit changes nothing and a crash after it is finished by the outbox and
 * by the companion's pending commands on restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

static int
emit(store *st, const store_share *sh, const char *type, const char *message)
{
	json_t *o = store_share_json(sh);
	if (o == NULL)
		return TS_ENOMEM;
	json_object_set_new(o, "message", json_string(message));
	char *data = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (data == NULL)
		return TS_ENOMEM;
	int rc = st->ops->event_add(st, sh->user_id, sh->id, type, data, NULL);
	free(data);
	return rc;
}

static void
set_state(store_share *sh, const char *state)
{
	snprintf(sh->state, sizeof(sh->state), "%s", state);
	sh->updated_at = ts_now();
}

/* Loads the share inside an open transaction. */
static int
load(store *st, const char *id, store_share *sh)
{
	int rc = st->ops->share_get(st, id, sh);
	if (rc != 0)
		st->ops->rollback(st);
	return rc;
}

static int
finish(node *n, store *st, int rc)
{
	if (rc != 0) {
		st->ops->rollback(st);
		return rc;
	}
	if ((rc = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		return rc;
	}
	push_kick(n);
	return 0;
}

int
share_create(node *n, store *st, store_share *sh)
{
	(void)n;
	int rc = st->ops->begin(st);
	if (rc != 0)
		return rc;
	set_state(sh, "eid_confirmed");
	sh->created_at = sh->updated_at;
	if ((rc = st->ops->share_insert(st, sh)) == 0 &&
	    (rc = emit(st, sh, "share.eid_confirmed", "EID received and correct")) == 0)
		rc = st->ops->outbox_add(st, "confirm_order", sh->id, NULL);
	/* The caller commits (so its idempotency record joins the transaction). */
	if (rc != 0)
		st->ops->rollback(st);
	return rc;
}

int
share_authorised(node *n, store *st, const char *share_id, const char *assoc_app_id,
    const char *assoc_name, const char *assoc_kind, int64_t not_after, const char *credential_json)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	if (strcmp(sh.state, "eid_confirmed") != 0) {
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	snprintf(sh.assoc_app_id, sizeof(sh.assoc_app_id), "%s", assoc_app_id);
	snprintf(sh.assoc_name, sizeof(sh.assoc_name), "%s", assoc_name);
	snprintf(sh.assoc_kind, sizeof(sh.assoc_kind), "%s", assoc_kind);
	sh.not_after = not_after;
	char mid[33];
	if ((rc = ts_random_id(mid)) != 0) {
		st->ops->rollback(st);
		return rc;
	}
	snprintf(sh.matching_id, sizeof(sh.matching_id), "%s", mid);
	set_state(&sh, "authorised");
	json_t *cmd = json_pack("{s:s,s:s,s:s}", "share_id", sh.id, "matching_id", sh.matching_id,
	    "smdp_address", n->address);
	char *cmdtxt = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
	json_decref(cmd);
	if (cmdtxt == NULL)
		rc = TS_ENOMEM;
	if (rc == 0)
		rc = st->ops->share_update(st, &sh);
	if (rc == 0)
		rc = st->ops->share_set_credential(st, sh.id, credential_json);
	if (rc == 0)
		rc = emit(st, &sh, "share.authorised", "authorised by the provider");
	if (rc == 0)
		rc = st->ops->cmd_add(st, sh.eid, sh.id, "download", cmdtxt, NULL);
	free(cmdtxt);
	if ((rc = finish(n, st, rc)) != 0)
		return rc;
	log_info("S13 share %s authorised by provider %s: associated app %s (%s), not_after %lld",
	    sh.id, sh.provider, sh.assoc_app_id, sh.assoc_kind, (long long)sh.not_after);
	node_crash_point(n, "S13");
	log_info("S14 share %s: download pushed to companion %s", sh.id, sh.eid);
	return 0;
}

static int
terminal(node *n, store *st, const char *share_id, const char *state, const char *type,
    const char *reason)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	if (strcmp(sh.state, "eid_confirmed") != 0 && strcmp(sh.state, "authorised") != 0 &&
	    strcmp(sh.state, "delivered") != 0) {
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	set_state(&sh, state);
	snprintf(sh.reason, sizeof(sh.reason), "%s", reason);
	if ((rc = st->ops->share_update(st, &sh)) == 0 &&
	    (rc = st->ops->cmd_done(st, sh.id, "download")) == 0)
		rc = emit(st, &sh, type, reason);
	return finish(n, st, rc);
}

int
share_denied(node *n, store *st, const char *share_id, const char *reason)
{
	int rc = terminal(n, st, share_id, "denied", "share.denied", reason);
	if (rc == 0)
		log_info("S13 share %s denied by the provider: %s", share_id, reason);
	return rc;
}

int
share_failed(node *n, store *st, const char *share_id, const char *reason)
{
	int rc = terminal(n, st, share_id, "failed", "share.failed", reason);
	if (rc == 0)
		log_warn("share %s failed: %s", share_id, reason);
	return rc;
}

int
share_delivered(node *n, store *st, const char *share_id)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	if (strcmp(sh.state, "delivered") == 0) {
		st->ops->rollback(st);
		return 0; /* a retried download: nothing new */
	}
	if (strcmp(sh.state, "authorised") != 0) {
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	set_state(&sh, "delivered");
	if ((rc = st->ops->share_update(st, &sh)) == 0)
		rc = emit(st, &sh, "share.delivered", "bound package delivered to the companion");
	if ((rc = finish(n, st, rc)) == 0)
		log_info("S14 share %s: bound package delivered to companion %s", sh.id, sh.eid);
	return rc;
}

int
share_installed(node *n, store *st, const char *share_id, const char *app_key_hex)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	if (strcmp(sh.state, "installed") == 0) {
		st->ops->rollback(st);
		return 0;
	}
	if (strcmp(sh.state, "delivered") != 0) {
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	set_state(&sh, "installed");
	int certify = app_key_hex != NULL && strcmp(sh.assoc_kind, "bankid") == 0;
	if ((rc = st->ops->share_update(st, &sh)) == 0 &&
	    (rc = st->ops->cmd_done(st, sh.id, "download")) == 0)
		rc = emit(st, &sh, "share.installed", certify ?
		    "installed in the companion; the provider is certifying the key its secure element generated" :
		    "installed in the companion");
	if (rc == 0 && certify && (rc = st->ops->share_set_app_key(st, sh.id, app_key_hex)) == 0)
		rc = st->ops->outbox_add(st, "certify_key", sh.id, NULL);
	if ((rc = finish(n, st, rc)) == 0) {
		log_info("S15 share %s: installed in companion %s; second confirmation sent to the primary",
		    sh.id, sh.eid);
		if (certify)
			outbox_kick(n);
	}
	return rc;
}

int
share_key_certified(node *n, store *st, const char *share_id, const char *cert_b64)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	if (strcmp(sh.state, "installed") != 0) {
		st->ops->rollback(st);
		return TS_ESTATE; /* cancelled or expired meanwhile: nothing to push */
	}
	json_t *cmd = json_pack("{s:s,s:s,s:s}", "share_id", sh.id, "app_id", sh.assoc_app_id, "certificate",
	    cert_b64);
	char *txt = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
	json_decref(cmd);
	rc = txt ? st->ops->cmd_add(st, sh.eid, sh.id, "certificate", txt, NULL) : TS_ENOMEM;
	free(txt);
	if (rc == 0)
		rc = emit(st, &sh, "share.key_certified", "the provider certified the companion's own key");
	if ((rc = finish(n, st, rc)) == 0)
		log_info("S14 share %s: provider %s certified the key generated in companion %s; certificate pushed",
		    sh.id, sh.provider, sh.eid);
	return rc;
}

int
share_certify_failed(node *n, store *st, const char *share_id, const char *reason)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	rc = emit(st, &sh, "share.certify_failed", reason);
	if ((rc = finish(n, st, rc)) == 0)
		log_warn("share %s: the provider did not certify the companion's key: %s", sh.id, reason);
	return rc;
}

int
share_certified(node *n, store *st, const char *share_id)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	if ((rc = st->ops->cmd_done(st, sh.id, "certificate")) == 0)
		rc = emit(st, &sh, "share.certified",
		    "the companion stored its certificate and enabled the credential");
	if ((rc = finish(n, st, rc)) == 0)
		log_info("S15 share %s: companion %s enabled %s with its certified key", sh.id, sh.eid,
		    sh.assoc_app_id);
	return rc;
}

/* Shared by cancel and expiry: revoke the grant, tell the provider, and make
 * the companion delete what it may hold. */
static int
withdraw(node *n, store *st, store_share *sh, const char *final_state, const char *type,
    const char *message)
{
	(void)n;
	int holds = strcmp(sh->state, "delivered") == 0 || strcmp(sh->state, "installed") == 0;
	int authorised = holds || strcmp(sh->state, "authorised") == 0;
	int rc = st->ops->cmd_done(st, sh->id, "download");
	if (rc == 0 && holds) {
		json_t *cmd = json_pack("{s:s,s:s}", "share_id", sh->id, "app_id", sh->assoc_app_id);
		char *txt = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
		json_decref(cmd);
		rc = txt ? st->ops->cmd_add(st, sh->eid, sh->id, "delete", txt, NULL) : TS_ENOMEM;
		free(txt);
	}
	if (rc == 0 && authorised)
		rc = st->ops->outbox_add(st, "cancel_order", sh->id, NULL);
	set_state(sh, holds ? final_state : (strcmp(final_state, "expired") == 0 ? "expired" : "revoked"));
	if (rc == 0)
		rc = st->ops->share_update(st, sh);
	if (rc == 0)
		rc = emit(st, sh, holds ? type : (strcmp(final_state, "expired") == 0 ? "share.expired" : "share.revoked"),
		    message);
	return rc;
}

int
share_cancel(node *n, store *st, const char *share_id, store_share *out)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	if (strcmp(sh.state, "eid_confirmed") != 0 && strcmp(sh.state, "authorised") != 0 &&
	    strcmp(sh.state, "delivered") != 0 && strcmp(sh.state, "installed") != 0) {
		st->ops->rollback(st);
		*out = sh;
		return TS_ESTATE;
	}
	rc = withdraw(n, st, &sh, "cancel_pending", "share.cancel_pending",
	    "cancelled by the user: grant revoked");
	*out = sh;
	/* The caller commits with its idempotency record. */
	if (rc != 0)
		st->ops->rollback(st);
	return rc;
}

int
share_deleted(node *n, store *st, const char *share_id)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	if (strcmp(sh.state, "cancel_pending") != 0 && strcmp(sh.state, "expired") != 0 &&
	    strcmp(sh.state, "installed") != 0) {
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	if (strcmp(sh.state, "expired") == 0) {
		/* Stays expired; only the companion command is settled. */
		rc = st->ops->cmd_done(st, sh.id, "delete");
		if (rc == 0)
			rc = emit(st, &sh, "share.expired", "expired share deleted from the companion");
	} else if (strcmp(sh.state, "installed") == 0 && sh.not_after > 0 && sh.not_after <= ts_now()) {
		/* The companion deleted an app whose time ran out before our expiry
		 * tick saw it: that is an expiry, with the same effects. */
		rc = st->ops->outbox_add(st, "cancel_order", sh.id, NULL);
		set_state(&sh, "expired");
		if (rc == 0)
			rc = st->ops->share_update(st, &sh);
		if (rc == 0)
			rc = emit(st, &sh, "share.expired", "time limit reached: deleted from the companion");
	} else {
		/* installed: the companion deleted it on its own (e.g. the user did). */
		if (strcmp(sh.state, "installed") == 0)
			rc = st->ops->outbox_add(st, "cancel_order", sh.id, NULL);
		set_state(&sh, "revoked");
		if (rc == 0)
			rc = st->ops->cmd_done(st, sh.id, "delete");
		if (rc == 0)
			rc = st->ops->share_update(st, &sh);
		if (rc == 0)
			rc = emit(st, &sh, "share.revoked", "deleted from the companion");
	}
	if ((rc = finish(n, st, rc)) == 0) {
		log_info("S17 share %s: companion %s deleted %s; share %s", sh.id, sh.eid, sh.assoc_app_id,
		    sh.state);
		outbox_kick(n);
	}
	return rc;
}

int
share_expire(node *n, store *st, const char *share_id)
{
	store_share sh;
	int rc = st->ops->begin(st);
	if (rc != 0 || (rc = load(st, share_id, &sh)) != 0)
		return rc;
	if (strcmp(sh.state, "authorised") != 0 && strcmp(sh.state, "delivered") != 0 &&
	    strcmp(sh.state, "installed") != 0) {
		st->ops->rollback(st);
		return TS_ESTATE;
	}
	rc = withdraw(n, st, &sh, "expired", "share.expired", "time limit reached: grant expired");
	if ((rc = finish(n, st, rc)) == 0) {
		log_info("S16 share %s expired (not_after %lld): grant revoked, provider told, delete pushed",
		    sh.id, (long long)sh.not_after);
		outbox_kick(n);
	}
	return rc;
}

int
share_credential(store *st, const char *share_id, char **out)
{
	return st->ops->share_get_credential(st, share_id, out);
}
