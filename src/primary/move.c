/*
 * move.c — `tapshare move APP_ID`: the patent's move of a security
 * application ("first performing the method and then cancelling"), issue 3.
 *
 *   M0  this phone's own secure element holds APP_ID enabled (se_list_apps),
 *       else refuse before anything is sent
 *   S1-S6  the share, through cmd.c's helpers and the same node API as share
 *   S7  after the second confirmation only: POST /v1/apps/APP_ID/release;
 *       the node records the original as moved and tells the provider
 *   S8  the original is deleted from this phone's secure element
 *
 * For the user it is one operation. Until S7 succeeds the original is never
 * touched: a failure or timeout before S6 cancels the share (best effort) and
 * says the original is unchanged; a failed release leaves the companion's
 * copy installed and the original usable, and says how to withdraw the copy.
 * The SE-signed delete notification of S8 has no one to go to (the node
 * learnt of the release in S7), so it is marked sent at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device/link.h"
#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/log.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "primary/cli.h"
#include "primary/cmd.h"
#include "primary/nodeapi.h"

#define MOVE_SE_APPS 64

/* The end of a failed move. */
enum move_result { MOVE_OK = 0, MOVE_FAILED = 1 };

static void
set_result(json_t *doc, const char *result, const char *failed_at, const char *original)
{
	json_object_set_new(doc, "result", json_string(result));
	if (failed_at != NULL)
		json_object_set_new(doc, "failed_at", json_string(failed_at));
	json_object_set_new(doc, "original", json_string(original));
}

/* M0: the original must be in this phone's SE, enabled. */
static int
check_original(const cli_opts *o, const char *spec, json_t *doc)
{
	se_driver *d = NULL;
	se_app *apps = NULL;
	size_t n = 0;
	char why[256];
	int rc = se_driver_open(spec, &d);
	if (rc != 0) {
		cmd_error("move refused at M0: cannot open this phone's secure element %s (%s); "
		    "nothing was changed", spec, ts_strerror(rc));
		cmd_doc_error(doc, "se_unavailable", ts_strerror(rc));
		goto out;
	}
	apps = calloc(MOVE_SE_APPS, sizeof(*apps));
	if (apps == NULL) {
		rc = TS_ENOMEM;
		cmd_error("out of memory");
		goto out;
	}
	if ((rc = se_list_apps(d, apps, MOVE_SE_APPS, &n)) != 0) {
		cmd_error("move refused at M0: cannot list the applications of this phone's secure "
		    "element %s (%s); nothing was changed", spec, ts_strerror(rc));
		cmd_doc_error(doc, "se_unavailable", ts_strerror(rc));
		goto out;
	}
	size_t i;
	for (i = 0; i < n; i++)
		if (strcmp(apps[i].app_id, o->app_id) == 0)
			break;
	if (i == n) {
		rc = TS_ENOTFOUND;
		cmd_error("move refused at M0: %s is not in this phone's secure element (%s); only an "
		    "application this phone holds can be moved; nothing was changed", o->app_id, spec);
		cmd_doc_error(doc, "not_in_se", "the application is not in this phone's secure element");
		goto out;
	}
	if (!apps[i].enabled) {
		rc = TS_ESTATE;
		cmd_error("move refused at M0: %s is disabled in this phone's secure element (%s); "
		    "nothing was changed", o->app_id, spec);
		cmd_doc_error(doc, "disabled_in_se", "the application is disabled in this phone's SE");
		goto out;
	}
	(void)ts_snprintf(why, sizeof(why), "%s, %s", apps[i].kind, apps[i].provider);
	cmd_step(o, "M0 %s is in this phone's secure element (%s), enabled", o->app_id, why);
	rc = 0;
out:
	free(apps);
	se_driver_free(d);
	return rc;
}

/* Before S6: withdraw the share (if it got that far) and say the original is
 * unchanged. share_id NULL = no share was created; cancel = 0 when the share
 * already ended on its own (denied, failed, ...). */
static void
fail_before_release(const cli_opts *o, nodeapi *api, json_t *doc, const char *share_id,
    int cancel, const char *at, const char *why)
{
	if (share_id != NULL && cancel) {
		json_t *resp = NULL;
		nodeapi_error e;
		int rc = nodeapi_share_cancel(api, share_id, &resp, &e);
		if (rc == 0) {
			const char *st = json_string_value(json_object_get(resp, "state"));
			json_object_set_new(doc, "share_cancel", json_string(st ? st : "requested"));
			cmd_step(o, "... share %s cancelled (%s)", share_id, st ? st : "requested");
		} else {
			json_object_set_new(doc, "share_cancel", json_string("failed"));
			cmd_error("could not cancel share %s (%s%s%s); cancel it with 'tapshare cancel %s'",
			    share_id, e.code, e.message[0] ? ": " : "", e.message, share_id);
		}
		json_decref(resp);
	}
	cmd_error("move failed at %s: %s; the original %s is unchanged and usable", at, why,
	    o->app_id);
	set_result(doc, "failed", at, "unchanged");
}

/* S8: deletes the original from this phone's SE. */
static int
delete_original(const cli_opts *o, const char *spec, json_t *doc)
{
	se_driver *d = NULL;
	se_app app;
	int rc = se_driver_open(spec, &d);
	if (rc == 0 && (rc = se_find_app(d, o->app_id, &app)) == 0)
		rc = se_delete(d, o->app_id, NULL, NULL);
	if (rc == TS_ENOTFOUND) {
		cmd_step(o, "... %s was already gone from this phone's secure element", o->app_id);
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	/* The node knows of the release (S7); the eUICC's disable and delete
	 * notifications have no recipient, so they must not stay pending. */
	size_t dropped = 0;
	int nrc = se_drop_notifications(d, app.id.iccid, &dropped);
	if (nrc != 0)
		log_warn("the SE's notifications for %s stay pending (%s)", o->app_id,
		    ts_strerror(nrc));
	json_object_set_new(doc, "se_notification", json_string(nrc == 0 ? "dropped" : "pending"));
out:
	se_driver_free(d);
	return rc;
}

int
cmd_move(const cli_opts *o)
{
	primary_ctx *c = NULL;
	ndef_identity ident;
	json_t *share = NULL, *rel = NULL;
	json_t *doc = json_object();
	nodeapi_error e;
	char why[512], state[32], line[512];
	int ex = MOVE_FAILED, rc, outcome = 0;

	if (doc == NULL)
		goto out;
	json_object_set_new(doc, "app_id", json_string(o->app_id));
	if (o->link != NULL && link_spec_check(o->link, why, sizeof(why)) != 0) {
		cmd_error("bad --link: %s", why);
		cmd_doc_error(doc, "bad_link", why);
		ex = 2;
		goto out;
	}
	if (cmd_ctx_open(o, doc, &c) != 0)
		goto out;
	nodeapi *api = cmd_ctx_api(c);

	/* M0, before anything leaves the phone. */
	const char *se = o->se != NULL ? o->se : cmd_ctx_conf(c, "primary", "se");
	if (se == NULL || se[0] == '\0') {
		cmd_error("move refused at M0: this phone has no secure element configured (pass --se "
		    "SPEC, or enroll with --se so that primary.ini has se = SPEC); nothing was changed");
		cmd_doc_error(doc, "no_se", "no secure element configured");
		set_result(doc, "refused", "M0", "unchanged");
		goto out;
	}
	json_object_set_new(doc, "se", json_string(se));
	if (check_original(o, se, doc) != 0) {
		set_result(doc, "refused", "M0", "unchanged");
		goto out;
	}

	/* S1: the companion. */
	memset(&ident, 0, sizeof(ident));
	if (o->eid != NULL) {
		if (ts_snprintf(ident.eid.digits, sizeof(ident.eid.digits), "%s", o->eid) != 0) {
			fail_before_release(o, api, doc, NULL, 0, "S1", "--eid is longer than an EID");
			ex = 2;
			goto out;
		}
		json_object_set_new(doc, "eid", json_string(ident.eid.digits));
		cmd_step(o, "S1 EID %s given on the command line (no link read)", ident.eid.digits);
	} else if (cmd_read_identity(o, doc, &ident) != 0) {
		fail_before_release(o, api, doc, NULL, 0, "S1", "no companion identity was read");
		goto out;
	}
	cmd_step(o, "S3 chose %s (to move)", o->app_id);

	/* S4/S5: the share, without a time limit (a move is for good). */
	if (cmd_login(o, c, doc) != 0) {
		fail_before_release(o, api, doc, NULL, 0, "S4", "no user authorisation");
		goto out;
	}
	cmd_step(o, "S4 sent share request for %s to companion %s", o->app_id, ident.eid.digits);
	rc = nodeapi_share_create_op(api, ident.eid.digits, o->app_id, 0, ident.name, "move", &share, &e);
	if (rc != 0) {
		cmd_node_failed(doc, "the node refused the share", rc, &e);
		(void)ts_snprintf(why, sizeof(why), "the node refused the share (%s)",
		    e.code[0] ? e.code : ts_strerror(rc));
		fail_before_release(o, api, doc, NULL, 0, "S4", why);
		goto out;
	}
	json_object_set_new(doc, "share", json_incref(share));
	const char *share_id = json_string_value(json_object_get(share, "share_id"));
	const char *conf = json_string_value(json_object_get(share, "confirmation"));
	cmd_step(o, "S5 first confirmation: %s (share %s)", conf ? conf : "EID received and correct",
	    share_id);

	/* S6: installed in the companion, or the move stops here. */
	json_t *events = json_array();
	json_object_set_new(doc, "events", events);
	rc = cmd_wait_share(o, api, share_id, CLI_WAIT_INSTALL, (long)o->timeout_s * 1000L, events,
	    &outcome, state, sizeof(state), line, sizeof(line), &e);
	if (rc == 0 && outcome != CLI_EV_SUCCESS) {
		/* Denied, failed, expired, revoked: the share ended by itself. */
		(void)ts_snprintf(why, sizeof(why), "share %s was not installed (%s)", share_id,
		    state[0] ? state : "failed");
		fail_before_release(o, api, doc, share_id, 0, "S6", why);
		goto out;
	}
	if (rc == TS_ETIMEOUT) {
		(void)ts_snprintf(why, sizeof(why), "no second confirmation within %lld s",
		    o->timeout_s);
		fail_before_release(o, api, doc, share_id, 1, "S6", why);
		goto out;
	}
	if (rc != 0) {
		(void)ts_snprintf(why, sizeof(why), "lost the node's event stream (%s)",
		    e.message[0] ? e.message : ts_strerror(rc));
		fail_before_release(o, api, doc, share_id, 1, "S6", why);
		goto out;
	}
	const char *assoc = NULL;
	json_int_t not_after = 0;
	size_t i;
	json_t *ev;
	json_array_foreach(events, i, ev) {
		const json_t *data = json_object_get(ev, "data");
		const char *a = json_string_value(json_object_get(data, "associated_app_id"));
		const json_t *na = json_object_get(data, "not_after");
		if (a != NULL && a[0] != '\0')
			assoc = a;
		if (json_is_integer(na) && json_integer_value(na) > 0)
			not_after = json_integer_value(na);
	}
	if (not_after > 0) {
		/* The provider's policy limited the copy: the move goes on (the user
		 * asked for it), but says so before the original is given up. */
		char until[40];
		time_t t = (time_t)not_after;
		struct tm tm;
		if (gmtime_r(&t, &tm) == NULL || strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ",
		    &tm) == 0)
			(void)ts_snprintf(until, sizeof(until), "%lld", (long long)not_after);
		json_object_set_new(doc, "not_after", json_integer(not_after));
		cmd_step(o, "... note: the provider limited the companion's copy until %s; it will not "
		    "be renewed from this phone", until);
	}

	/* S7: only now is the original given up, at the node first. */
	cmd_step(o, "S7 releasing the original %s at the node (the provider is told)", o->app_id);
	rc = nodeapi_app_release(api, o->app_id, share_id, &rel, &e);
	if (rc != 0) {
		cmd_node_failed(doc, "the node did not release the original", rc, &e);
		cmd_error("move not completed: the companion %s holds the copy%s%s (share %s), but the "
		    "original %s was NOT released and stays usable on this phone; to withdraw the "
		    "copy run 'tapshare cancel %s'", ident.eid.digits, assoc ? " " : "",
		    assoc ? assoc : "", share_id, o->app_id, share_id);
		set_result(doc, "release_failed", "S7", "unchanged");
		goto out;
	}
	json_object_set_new(doc, "release", json_incref(rel));
	const char *rassoc = json_string_value(json_object_get(rel, "associated_app_id"));
	if (rassoc != NULL && rassoc[0] != '\0')
		assoc = rassoc;
	json_object_set_new(doc, "associated_app_id", assoc ? json_string(assoc) : json_null());

	/* S8: the original leaves this phone's secure element. */
	if ((rc = delete_original(o, se, doc)) != 0) {
		cmd_error("the original %s was released at the node (the provider is told, the "
		    "companion holds %s) but deleting it from this phone's secure element %s failed "
		    "(%s); it is no longer valid: remove it from the secure element", o->app_id,
		    assoc ? assoc : "the copy", se, ts_strerror(rc));
		cmd_doc_error(doc, "se_delete", ts_strerror(rc));
		set_result(doc, "se_delete_failed", "S8", "released");
		goto out;
	}
	set_result(doc, "moved", NULL, "removed");
	cmd_step(o, "S8 move complete: %s now lives on %s as %s; original removed from this phone's "
	    "secure element", o->app_id, ident.eid.digits, assoc ? assoc : "its associated app");
	ex = MOVE_OK;
out:
	if (o->json)
		cmd_print_json(doc);
	json_decref(doc);
	json_decref(share);
	json_decref(rel);
	cmd_ctx_free(c);
	return ex;
}
