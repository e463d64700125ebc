/*
 * offer.c — `tapshare offer`: companion-initiated sharing (patent claims 20
 * and 33). The primary signs a share offer (lib/rsp.h, BF70) with its device
 * key, writes it to the companion over the short-range link after reading the
 * companion's identity, and the companion sends its EID and the offer to the
 * node (POST /v1/companion/offers). The primary then finds the share the node
 * started from its list and follows the share's events like `share` does.
 *
 * Nothing secret crosses the link: the offer is signed, not encrypted; what
 * it grants is decided by the node (owner, shareability, expiry, one use).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "device/link.h"
#include "lib/ndef.h"
#include "lib/ndef_offer.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "primary/cmd.h"
#include "primary/nodeapi.h"

/* How often the share list is asked while waiting for the companion's
 * request to reach the node. */
#define OFFER_POLL_MS 500

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The device key and certificate paths, as cmd.c derives them. */
static int
device_paths(const cli_opts *o, char *key, size_t kcap, char *crt, size_t ccap)
{
	char home[PATH_MAX];
	if (cli_home_dir(o->home, getenv("TAPSHARE_HOME"), getenv("HOME"), home,
	    sizeof(home)) != 0 ||
	    ts_snprintf(key, kcap, "%s/device.key", home) != 0 ||
	    ts_snprintf(crt, ccap, "%s/device.crt", home) != 0) {
		cmd_error("no usable home directory (use --home DIR or set TAPSHARE_HOME)");
		return TS_ECONFIG;
	}
	return 0;
}

/* Signs the offer for o->app_id, bound to the companion's eid ("" =
 * unbound: only for testing the node's refusal), with the device key.
 * *bf70 malloc'ed. */
static int
sign_offer(const cli_opts *o, const char *eid, json_t *doc, uint8_t **bf70, size_t *bf70_len)
{
	char key_path[PATH_MAX + 16], crt_path[PATH_MAX + 16], cert_id[65];
	char nonce_hex[2 * RSP_OFFER_NONCE_LEN + 1];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	rsp_offer off;
	int rc;

	memset(&off, 0, sizeof(off));
	if ((rc = device_paths(o, key_path, sizeof(key_path), crt_path, sizeof(crt_path))) != 0)
		goto fail;
	if ((rc = pki_key_load(key_path, &key)) != 0 || (rc = pki_cert_load(crt_path, &cert)) != 0 ||
	    (rc = pki_cert_to_der(cert, &der, &der_len)) != 0) {
		cmd_error("cannot load this device's key and certificate from %s, %s (%s)", key_path,
		    crt_path, ts_strerror(rc));
		cmd_doc_error(doc, "device_key", ts_strerror(rc));
		goto fail;
	}
	/* The node names the device by the hash of its key; the certificate
	 * sent along must be the one for this key. */
	if ((rc = pki_pubkey_id(key, off.device_id)) != 0 ||
	    (rc = pki_cert_pubkey_id(cert, cert_id)) != 0 || strcmp(cert_id, off.device_id) != 0) {
		cmd_error("%s is not the certificate of %s; enroll this device again", crt_path,
		    key_path);
		cmd_doc_error(doc, "device_key", "certificate does not match the key");
		rc = rc != 0 ? rc : TS_EVERIFY;
		goto fail;
	}
	if (ts_snprintf(off.app_id, sizeof(off.app_id), "%s", o->app_id) != 0) {
		cmd_error("--app is longer than %d bytes", RSP_STR_MAX);
		cmd_doc_error(doc, "bad_app", "application id too long");
		rc = TS_ELIMIT;
		goto fail;
	}
	off.expires_at = o->expires_at != 0 ? o->expires_at : ts_now() + o->ttl_s;
	snprintf(off.eid, sizeof(off.eid), "%s", eid ? eid : "");
	if ((rc = ts_random(off.nonce, sizeof(off.nonce))) != 0 ||
	    (rc = rsp_offer_sign(&off, key, der, der_len, bf70, bf70_len)) != 0) {
		cmd_error("cannot sign the share offer (%s)", ts_strerror(rc));
		cmd_doc_error(doc, "sign", ts_strerror(rc));
		goto fail;
	}
	ts_hex_encode(off.nonce, sizeof(off.nonce), nonce_hex, sizeof(nonce_hex));
	json_object_set_new(doc, "offer", json_pack("{s:s, s:s, s:I, s:s, s:s}", "app_id", off.app_id,
	    "device_id", off.device_id, "expires_at", (json_int_t)off.expires_at, "nonce",
	    nonce_hex, "eid", off.eid));
fail:
	EVP_PKEY_free(key);
	X509_free(cert);
	free(der);
	return rc;
}

/* --print-offer FILE: the signed offer in base64 with a newline, for tests
 * that send it to the node themselves. */
static int
print_offer(const cli_opts *o, json_t *doc, const uint8_t *bf70, size_t len)
{
	char *b64 = NULL;
	int rc = ts_b64_encode(bf70, len, &b64);
	if (rc == 0) {
		size_t n = strlen(b64);
		b64[n] = '\n'; /* replaces the NUL; written with its length */
		rc = ts_write_file_atomic(o->print_offer, (const uint8_t *)b64, n + 1, 0600);
	}
	free(b64);
	if (rc != 0) {
		cmd_error("cannot write the offer to %s (%s)", o->print_offer, ts_strerror(rc));
		cmd_doc_error(doc, "write", ts_strerror(rc));
		return rc;
	}
	json_object_set_new(doc, "file", json_string(o->print_offer));
	cmd_step(o, "offer for %s signed and written to %s (not handed over)", o->app_id,
	    o->print_offer);
	return 0;
}

/* Share ids already in the list: the one the offer creates is not among them
 * (no clock comparison between this phone and the node). */
static int
known_share(const json_t *before, const char *id)
{
	size_t i;
	const json_t *s;
	json_array_foreach(before, i, s) {
		const char *x = json_string_value(json_object_get(s, "share_id"));
		if (x != NULL && strcmp(x, id) == 0)
			return 1;
	}
	return 0;
}

/* Polls GET /v1/shares until a new share of app_id for eid, offered by this
 * device, appears. *share is a new reference. */
static int
find_new_share(nodeapi *api, const json_t *before, const char *app_id, const char *eid,
    const char *device_id, int64_t deadline, json_t **share, nodeapi_error *e)
{
	for (;;) {
		json_t *resp = NULL;
		int rc = nodeapi_shares(api, &resp, e);
		if (rc != 0)
			return rc;
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(resp, "shares"), i, s) {
			const char *id = json_string_value(json_object_get(s, "share_id"));
			const char *a = json_string_value(json_object_get(s, "app_id"));
			const char *x = json_string_value(json_object_get(s, "eid"));
			const char *d = json_string_value(json_object_get(s, "device_id"));
			if (id != NULL && a != NULL && x != NULL && strcmp(a, app_id) == 0 &&
			    strcmp(x, eid) == 0 && (d == NULL || strcmp(d, device_id) == 0) &&
			    !known_share(before, id)) {
				*share = json_incref(s);
				json_decref(resp);
				return 0;
			}
		}
		json_decref(resp);
		if (ts_mono_ms() + OFFER_POLL_MS > deadline)
			return TS_ETIMEOUT;
		sleep_ms(OFFER_POLL_MS);
	}
}

int
cmd_offer(const cli_opts *o)
{
	primary_ctx *c = NULL;
	json_t *doc = json_object();
	json_t *before = NULL, *share = NULL;
	uint8_t *bf70 = NULL, *msg = NULL, *idmsg = NULL;
	size_t bf70_len = 0, msg_len = 0, idlen = 0;
	ndef_identity ident;
	nodeapi_error e;
	char why[256], state[32] = "", line[512] = "";
	long timeout_ms = (long)o->timeout_s * 1000L;
	int ex = 1, rc, outcome = 0;

	memset(&e, 0, sizeof(e));
	if (doc == NULL)
		goto out;
	if (o->link != NULL && link_spec_check(o->link, why, sizeof(why)) != 0) {
		cmd_error("bad --link: %s", why);
		cmd_doc_error(doc, "bad_link", why);
		ex = 2;
		goto out;
	}
	if (cmd_ctx_open(o, doc, &c) != 0)
		goto out;
	/* The offer is bound to the companion's EID (issue 8), so S1 comes
	 * first: read the identity, then sign, then hand the offer over. */
	ndef_identity first;
	memset(&first, 0, sizeof(first));
	if (o->print_offer == NULL && strncmp(o->link, "qr:", 3) == 0) {
		/* a QR code is read, never written to */
		cmd_error("%s cannot carry an offer to the companion (use a sim: link)", o->link);
		cmd_doc_error(doc, "link", ts_strerror(TS_EUNSUPP));
		goto out;
	}
	if (o->print_offer == NULL) {
		if (!o->json)
			fprintf(stderr, "tapshare: waiting up to %lld s for a companion on %s (%s)\n",
			    o->timeout_s, o->link, link_describe(o->link));
		if ((rc = link_read_identity(o->link, timeout_ms, &first)) != 0) {
			cmd_error("cannot read the companion's identity on %s (%s)", o->link, ts_strerror(rc));
			cmd_doc_error(doc, "link", ts_strerror(rc));
			goto out;
		}
	}
	if (sign_offer(o, o->print_offer ? o->eid : first.eid.digits, doc, &bf70, &bf70_len) != 0)
		goto out;
	if (o->print_offer != NULL) {
		if (print_offer(o, doc, bf70, bf70_len) == 0)
			ex = 0;
		goto out;
	}
	const json_t *off = json_object_get(doc, "offer");
	const char *device_id = json_string_value(json_object_get(off, "device_id"));
	json_object_set_new(doc, "link", json_string(o->link));

	/* Authorisation and the list of shares before the tap, so that the wait
	 * afterwards recognises the new share and no prompt comes mid-tap. */
	if (!o->no_wait) {
		if (cmd_login(o, c, doc) != 0)
			goto out;
		json_t *resp = NULL;
		if ((rc = nodeapi_shares(cmd_ctx_api(c), &resp, &e)) != 0) {
			cmd_node_failed(doc, "cannot list the shares", rc, &e);
			goto out;
		}
		before = json_incref(json_object_get(resp, "shares"));
		json_decref(resp);
	}

	/* S1: read the companion's identity, then write the offer to it. */
	if ((rc = ndef_offer_encode(bf70, bf70_len, &msg, &msg_len)) != 0) {
		cmd_error("the offer does not fit in an NDEF message (%s)", ts_strerror(rc));
		cmd_doc_error(doc, "offer_size", ts_strerror(rc));
		goto out;
	}
	rc = link_write(o->link, timeout_ms, msg, msg_len, &idmsg, &idlen);
	if (rc == 0)
		rc = ndef_identity_decode(idmsg, idlen, &ident);
	if (rc != 0) {
		if (rc == TS_ETIMEOUT)
			cmd_error("no companion answered on %s within %lld s", o->link, o->timeout_s);
		else if (rc == TS_EUNSUPP)
			cmd_error("%s cannot carry an offer to the companion (use a sim: link)", o->link);
		else if (rc == TS_EEIDFMT || rc == TS_EEIDCHK)
			cmd_error("the companion on %s sent an invalid EID (%s)", o->link, ts_strerror(rc));
		else
			cmd_error("cannot hand the offer over %s (%s)", o->link, ts_strerror(rc));
		cmd_doc_error(doc, "link", ts_strerror(rc));
		goto out;
	}
	if (strcmp(ident.eid.digits, first.eid.digits) != 0) {
		cmd_error("the offer was made for %s, but %s took it; it is of no use to that device",
		    first.eid.digits, ident.eid.digits);
		cmd_doc_error(doc, "link", "another companion took the offer");
		goto out;
	}
	json_object_set_new(doc, "eid", json_string(ident.eid.digits));
	json_object_set_new(doc, "companion", json_pack("{s:s, s:s}", "name", ident.name,
	    "model", ident.model));
	cmd_step(o, "S1 offer for %s handed to %s over %s", o->app_id, ident.eid.digits, o->link);

	if (o->no_wait) {
		json_object_set_new(doc, "result", json_string("handed_over"));
		cmd_step(o, "not waiting: the companion sends the request; follow it with "
		    "'tapshare shares'");
		ex = 0;
		goto out;
	}

	/* S4 happens on the companion; S5 once the node has started the share. */
	int64_t deadline = ts_mono_ms() + timeout_ms;
	rc = find_new_share(cmd_ctx_api(c), before, o->app_id, ident.eid.digits, device_id,
	    deadline, &share, &e);
	if (rc == TS_ETIMEOUT) {
		json_object_set_new(doc, "result", json_string("timeout"));
		cmd_error("the node started no share for the offer within %lld s (the companion's "
		    "log says whether the node refused it)", o->timeout_s);
		cmd_doc_error(doc, "timeout", "no share for the offer in time");
		goto out;
	}
	if (rc != 0) {
		json_object_set_new(doc, "result", json_string("unknown"));
		cmd_node_failed(doc, "cannot list the shares", rc, &e);
		goto out;
	}
	json_object_set_new(doc, "share", json_incref(share));
	const char *share_id = json_string_value(json_object_get(share, "share_id"));
	cmd_step(o, "S5 first confirmation: EID received and correct (share %s, requested by "
	    "the companion)", share_id);

	/* S6: the share's events, as for `share`. */
	json_t *events = json_array();
	json_object_set_new(doc, "events", events);
	long left = (long)(deadline - ts_mono_ms());
	rc = cmd_wait_share(o, cmd_ctx_api(c), share_id, CLI_WAIT_INSTALL, left > 0 ? left : 1,
	    events, &outcome, state, sizeof(state), line, sizeof(line), &e);
	if (rc == 0 && outcome == CLI_EV_SUCCESS) {
		json_object_set_new(doc, "result", json_string("installed"));
		ex = 0;
	} else if (rc == 0) {
		json_object_set_new(doc, "result", json_string(state));
		cmd_error("share %s was not installed: %s", share_id, line);
		cmd_doc_error(doc, state, line);
	} else if (rc == TS_ETIMEOUT) {
		json_object_set_new(doc, "result", json_string("timeout"));
		cmd_error("no second confirmation within %lld s; share %s goes on at the node, check "
		    "it with 'tapshare shares'", o->timeout_s, share_id);
		cmd_doc_error(doc, "timeout", "no second confirmation in time");
	} else {
		json_object_set_new(doc, "result", json_string("unknown"));
		cmd_node_failed(doc, "lost the node's event stream; check the share with 'tapshare "
		    "shares'", rc, &e);
	}
out:
	if (o->json)
		cmd_print_json(doc);
	json_decref(doc);
	json_decref(before);
	json_decref(share);
	free(bf70);
	free(msg);
	free(idmsg);
	cmd_ctx_free(c);
	return ex;
}
