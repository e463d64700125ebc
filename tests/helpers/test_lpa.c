/*
 * test_lpa — a small standard LPA (SGP.22 LPAd), test-only, for the
 * integration tests and for trying the node by hand. It is built from the
 * project's ES9+ / ES10 client code (companion/es9client, device/se_client,
 * lib/es10*) and talks
 *   - to the eUICC only with ES10 functions through an se_driver: in the
 *     tests "pcsc:READER" (pcscd + vpcd -> tapshare-se), as src/device/se_pcsc.c;
 *   - to the node only with ES9+ / ES11 over server-authenticated TLS that
 *     trusts CA (the node's TLS CA): no client certificate, no tapshare
 *     account, no push stream.
 *
 *   test_lpa [OPTIONS] download ACTIVATION_CODE     LPA:1$<address>$<matching id>
 *   test_lpa [OPTIONS] download-smds SMDS_ADDRESS   ES11 discovery with the eUICC, then
 *                                                   download every event found
 *   test_lpa [OPTIONS] discover SMDS_ADDRESS        ES11 only: prints authenticateClient's answer
 *   test_lpa [OPTIONS] notifications                every pending notification: handleNotification
 *   test_lpa [OPTIONS] info                         the eUICC's EID (GetEID): "eid <digits>"
 *   test_lpa [OPTIONS] send-notification ADDRESS FILE  one PendingNotification (DER) as given
 *
 *   --ca FILE     the TLS CA the node's certificate must chain to (required)
 *   --se SPEC     the eUICC (device/se_driver.h), default pcsc:
 *   --no-notify   download leaves the install notification pending in the eUICC
 *   --save-notification FILE   download writes the install notification (BF37 DER)
 *   --cancel-after STEP  download stops after ES9+ STEP (authenticateClient or
 *                 getBoundProfilePackage) and cancels the session as SGP.22
 *                 §3.1.3 / §5.6.5 have an LPA do it: ES10b CancelSession on the
 *                 eUICC (BF41, the eUICC signs its CancelSessionResponse), then
 *                 ES9+ cancelSession {transactionId, cancelSessionResponse}
 *   --cancel-reason NAME  CancelSessionReason (default endUserRejection)
 *   --save-cancel FILE    writes the eUICC's CancelSessionResponse (BF41 DER)
 *
 * The download, as SGP.22 §3.1.3 (and lpac) run it: GetEuiccInfo1 +
 * GetEuiccChallenge -> initiateAuthentication {euiccChallenge, euiccInfo1,
 * smdpAddress} -> the LPA's checks on serverSigned1 -> AuthenticateServer
 * (ctxParams1 with the matching id) -> authenticateClient -> PrepareDownload
 * -> getBoundProfilePackage -> LoadBoundProfilePackage (lpa_load_bpp) ->
 * ListNotification / RetrieveNotificationsList -> handleNotification ->
 * RemoveNotificationFromList.
 *
 * Output (stdout, one line each): "installed ICCID <digits> transaction <tid>",
 * "cancelled transaction <tid> <reason>",
 * "notification <seq> <event> sent", "event <eventId> <address>"; an ES9+ /
 * ES11 refusal "refused <function>: Failed: subjectCode S reasonCode R: ...".
 * Exit 0 success, 1 failure (3 a refusal by the server), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "companion/es9client.h"
#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/actcode.h"
#include "lib/es10.h"
#include "lib/es10dl.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define LPA_EVENTS_MAX 16 /* event entries taken from one SM-DS answer */
#define LPA_NOTIF_MAX (64 * 1024)

enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2, EX_REFUSED = 3 };

enum { CANCEL_NEVER, CANCEL_AFTER_AUTH, CANCEL_AFTER_BPP };

typedef struct lpa {
	ts_httpc *http;
	se_driver *se;
	int no_notify;
	const char *save_notification;
	int cancel_after; /* CANCEL_* */
	int cancel_reason;
	const char *save_cancel;
} lpa;

/* One ES9+ / ES11 call: POST https://<address><path><fn>, the header check
 * of es9client (functionExecutionStatus). TS_EDENIED: the server refused
 * (printed as "refused ..."). */
static int
lpa_post(lpa *l, const char *address, const char *path, const char *fn, json_t *body, int allow_empty,
    json_t **resp)
{
	static const char *const headers[] = {
		"X-Admin-Protocol: gsma/rsp/v2.2.0",
		"Content-Type: application/json",
		"Accept: application/json",
		NULL,
	};
	char url[600], neterr[256] = "", why[512] = "";
	long status = 0;
	json_t *r = NULL;
	if (resp != NULL)
		*resp = NULL;
	if (ts_snprintf(url, sizeof(url), "https://%s%s%s", address, path, fn) != 0)
		return TS_ELIMIT;
	int rc = ts_httpc_json(l->http, "POST", url, headers, body, &status, &r, neterr, sizeof(neterr));
	if (rc != 0) {
		fprintf(stderr, "test_lpa: %s: %s (%s)\n", fn, ts_strerror(rc), neterr[0] ? neterr : "no detail");
		return rc;
	}
	if ((rc = es9_check_status(status, r, allow_empty, why, sizeof(why))) != 0) {
		if (rc == TS_EDENIED)
			printf("refused %s: %s\n", fn, why);
		else
			fprintf(stderr, "test_lpa: %s: %s\n", fn, why);
		json_decref(r);
		return rc;
	}
	if (resp != NULL)
		*resp = r;
	else
		json_decref(r);
	return 0;
}

/* GetEuiccInfo1 (BF20) as the eUICC encodes it: sent as is in ES9+ / ES11
 * initiateAuthentication. *out: caller frees. */
static int
lpa_euicc_info1(lpa *l, uint8_t **out, size_t *len)
{
	static const uint8_t req[] = { 0xBF, 0x20, 0x00 };
	int rc = se_store_data(l->se, req, sizeof(req), out, len);
	if (rc != 0)
		fprintf(stderr, "test_lpa: GetEuiccInfo1: %s\n", ts_strerror(rc));
	return rc;
}

/* Steps 1-4 shared by ES9+ and ES11: GetEuiccInfo1, GetEuiccChallenge,
 * initiateAuthentication {euiccChallenge, euiccInfo1, <addr_key>: address},
 * the LPA's checks on serverSigned1, AuthenticateServer (matching_id NULL:
 * none in ctxParams1). *bf38: caller frees; a1 cleared by the caller. */
static int
lpa_authenticate(lpa *l, const char *address, const char *path, const char *addr_key, const char *matching_id,
    es9_auth1 *a1, uint8_t **bf38, size_t *bf38_len)
{
	uint8_t chal[RSP_CHALLENGE_LEN], *info1 = NULL;
	size_t info1_len = 0;
	json_t *req = NULL, *resp = NULL;
	char why[512] = "";
	int rc;
	if ((rc = lpa_euicc_info1(l, &info1, &info1_len)) != 0)
		goto out;
	if ((rc = se_get_challenge(l->se, chal)) != 0) {
		fprintf(stderr, "test_lpa: GetEuiccChallenge: %s\n", ts_strerror(rc));
		goto out;
	}
	req = json_pack("{s:s}", addr_key, address);
	if (req == NULL || ts_json_set_b64(req, "euiccChallenge", chal, sizeof(chal)) != 0 ||
	    ts_json_set_b64(req, "euiccInfo1", info1, info1_len) != 0) {
		rc = TS_ENOMEM;
		goto out;
	}
	if ((rc = lpa_post(l, address, path, "initiateAuthentication", req, 0, &resp)) != 0)
		goto out;
	if ((rc = es9_initiate_auth_parse(resp, a1, why, sizeof(why))) != 0 ||
	    (rc = es9_check_server_signed1(a1, chal, address, why, sizeof(why))) != 0) {
		fprintf(stderr, "test_lpa: initiateAuthentication: %s\n", why);
		goto out;
	}
	se_auth_server_args aa = {
		.server_signed1 = a1->server_signed1, .server_signed1_len = a1->server_signed1_len,
		.sig1 = a1->server_signature1, .ci_pkid = a1->ci_pkid, .ci_pkid_len = a1->ci_pkid_len,
		.server_cert = a1->server_cert, .server_cert_len = a1->server_cert_len,
		.matching_id = matching_id, .device = NULL,
	};
	if (a1->ci_pkid_len > 0)
		rc = se_authenticate_server_ex(l->se, &aa, bf38, bf38_len);
	else
		rc = se_authenticate_server(l->se, a1->server_signed1, a1->server_signed1_len, a1->server_signature1,
		    a1->server_cert, a1->server_cert_len, matching_id, bf38, bf38_len);
	if (rc != 0)
		fprintf(stderr, "test_lpa: the eUICC's AuthenticateServer: %s\n", ts_strerror(rc));
out:
	free(info1);
	json_decref(req);
	json_decref(resp);
	return rc;
}

/* LoadBoundProfilePackage: the one place that knows how the bound package
 * goes to the eUICC. As SGP.22 §2.5.5 has an LPA send it (and lpac does):
 * one STORE DATA series per command — BF36 header + BF23, A0 with its 87s,
 * A1 header, each 88, [A2 + 87s], A3 header, each 86 — the eUICC answering
 * 90 00 without data until the last, or the PIR at the first error
 * (se_load_package, over bsp_split). A ProfileInstallationResult
 * errorResult is a TS_E* error: it stays pending in the eUICC and goes out
 * with the other notifications. */
static int
lpa_load_bpp(lpa *l, const uint8_t *bpp, size_t len, uint8_t **pir, size_t *pir_len)
{
	return se_load_package(l->se, bpp, len, pir, pir_len);
}

static const char *
event_name(uint32_t ev)
{
	switch (ev) {
	case ES10_EVENT_INSTALL: return "install";
	case ES10_EVENT_ENABLE: return "enable";
	case ES10_EVENT_DISABLE: return "disable";
	case ES10_EVENT_DELETE: return "delete";
	default: return "?";
	}
}

static int
lpa_send_notification(lpa *l, const char *address, const uint8_t *der, size_t len)
{
	json_t *body = NULL;
	int rc = es9_handle_notification_request(der, len, &body);
	if (rc == 0)
		rc = lpa_post(l, address, ES9_PATH, "handleNotification", body, 1, NULL);
	json_decref(body);
	return rc;
}

/* Every pending notification, oldest first, to its notificationAddress:
 * RetrieveNotificationsList (by sequence number), handleNotification,
 * RemoveNotificationFromList. Stops at the first that is not taken. */
static int
lpa_notifications(lpa *l)
{
	es10_notif_list nl;
	int rc = se_list_notifications(l->se, 0, &nl);
	if (rc != 0) {
		fprintf(stderr, "test_lpa: ListNotification: %s\n", ts_strerror(rc));
		return rc;
	}
	for (size_t i = 1; i < nl.n; i++)
		for (size_t j = i; j > 0 && nl.items[j - 1].seq > nl.items[j].seq; j--) {
			es10_notif_metadata t = nl.items[j];
			nl.items[j] = nl.items[j - 1];
			nl.items[j - 1] = t;
		}
	for (size_t i = 0; i < nl.n && rc == 0; i++) {
		const es10_notif_metadata *m = &nl.items[i];
		es10_retrieve_req rq = { .by = ES10_RETRIEVE_SEQ, .seq = m->seq };
		es10_pending_list pl;
		uint8_t *raw = NULL;
		size_t rawlen = 0;
		if ((rc = se_retrieve_notifications(l->se, &rq, &raw, &rawlen, &pl)) != 0) {
			fprintf(stderr, "test_lpa: RetrieveNotificationsList %llu: %s\n", (unsigned long long)m->seq,
			    ts_strerror(rc));
			break;
		}
		if (pl.n != 1 || pl.items[0].meta.seq != m->seq) {
			fprintf(stderr, "test_lpa: RetrieveNotificationsList %llu gave %zu notifications\n",
			    (unsigned long long)m->seq, pl.n);
			rc = TS_EPROTO;
		} else if ((rc = lpa_send_notification(l, m->address, pl.items[0].der, pl.items[0].der_len)) == 0) {
			int res = SE_RESULT_NONE;
			if ((rc = se_remove_notification(l->se, m->seq, &res)) != 0)
				fprintf(stderr, "test_lpa: RemoveNotificationFromList %llu: %s\n",
				    (unsigned long long)m->seq, ts_strerror(rc));
			else
				printf("notification %llu %s sent\n", (unsigned long long)m->seq, event_name(m->event));
		}
		es10_pending_list_clear(&pl);
		free(raw);
	}
	es10_notif_list_clear(&nl);
	return rc;
}

/* The LPA gives up on session tid (hex): the eUICC ends its session and
 * signs why (ES10b CancelSession), the SM-DP+ gets that signed answer
 * (ES9+ cancelSession, answered with a header only). */
static int
lpa_cancel(lpa *l, const char *address, const char *tid)
{
	uint8_t t[ES10_TID_MAX], *csr = NULL;
	size_t tlen = 0, csr_len = 0;
	json_t *body = NULL;
	const char *rname = es10_cancel_reason_name(l->cancel_reason);
	int rc = ts_hex_decode(tid, t, sizeof(t), &tlen);
	if (rc == 0 && (rc = se_cancel_session(l->se, t, tlen, l->cancel_reason, &csr, &csr_len)) != 0)
		fprintf(stderr, "test_lpa: the eUICC's CancelSession: %s\n", ts_strerror(rc));
	if (rc == 0 && l->save_cancel != NULL && (rc = ts_write_file_atomic(l->save_cancel, csr, csr_len, 0600)) != 0)
		fprintf(stderr, "test_lpa: cannot write %s: %s\n", l->save_cancel, ts_strerror(rc));
	if (rc == 0 && (rc = es9_cancel_session_request(tid, csr, csr_len, &body)) == 0 &&
	    (rc = lpa_post(l, address, ES9_PATH, "cancelSession", body, 1, NULL)) == 0)
		printf("cancelled transaction %s %s\n", tid, rname ? rname : "?");
	json_decref(body);
	free(csr);
	return rc;
}

/* The whole download of the profile <address, matching_id>. */
static int
lpa_download(lpa *l, const char *address, const char *matching_id)
{
	es9_auth1 a1;
	es9_auth2 a2;
	json_t *req = NULL, *resp = NULL;
	uint8_t *bf38 = NULL, *bf21 = NULL, *bpp = NULL, *pir = NULL;
	size_t bf38_len = 0, bf21_len = 0, bpp_len = 0, pir_len = 0;
	char why[512] = "";
	int rc;
	memset(&a1, 0, sizeof(a1));
	memset(&a2, 0, sizeof(a2));
	if ((rc = lpa_authenticate(l, address, ES9_PATH, "smdpAddress", matching_id, &a1, &bf38, &bf38_len)) != 0)
		goto out;
	if ((rc = es9_authenticate_client_request(a1.transaction_id, bf38, bf38_len, &req)) != 0 ||
	    (rc = lpa_post(l, address, ES9_PATH, "authenticateClient", req, 0, &resp)) != 0)
		goto out;
	if ((rc = es9_authenticate_client_parse(resp, &a2, why, sizeof(why))) != 0) {
		fprintf(stderr, "test_lpa: authenticateClient: %s\n", why);
		goto out;
	}
	json_decref(req);
	json_decref(resp);
	req = resp = NULL;
	if (l->cancel_after == CANCEL_AFTER_AUTH) {
		rc = lpa_cancel(l, address, a1.transaction_id);
		goto out;
	}
	/* (A phone asks the user here: profileMetadata, confirmation code.) */
	if ((rc = se_prepare_download(l->se, a2.smdp_signed2, a2.smdp_signed2_len, a2.smdp_signature2,
	    a2.smdp_cert, a2.smdp_cert_len, &bf21, &bf21_len)) != 0) {
		fprintf(stderr, "test_lpa: the eUICC's PrepareDownload: %s\n", ts_strerror(rc));
		goto out;
	}
	if ((rc = es9_get_bpp_request(a1.transaction_id, bf21, bf21_len, &req)) != 0 ||
	    (rc = lpa_post(l, address, ES9_PATH, "getBoundProfilePackage", req, 0, &resp)) != 0)
		goto out;
	if ((rc = es9_get_bpp_parse(resp, &bpp, &bpp_len, why, sizeof(why))) != 0) {
		fprintf(stderr, "test_lpa: getBoundProfilePackage: %s\n", why);
		goto out;
	}
	if (l->cancel_after == CANCEL_AFTER_BPP) {
		rc = lpa_cancel(l, address, a1.transaction_id);
		goto out;
	}
	if ((rc = lpa_load_bpp(l, bpp, bpp_len, &pir, &pir_len)) != 0) {
		fprintf(stderr, "test_lpa: the eUICC's LoadBoundProfilePackage: %s\n", ts_strerror(rc));
		/* its errorResult is pending: the SM-DP+ learns why from it */
		if (!l->no_notify)
			(void)lpa_notifications(l);
		goto out;
	}
	es10_pending p;
	char iccid[ES10_ICCID_DIGITS_MAX + 1] = "?";
	if (es10_pending_decode(pir, pir_len, &p) == 0 && p.meta.has_iccid)
		(void)es10_iccid_to_digits(p.meta.iccid, iccid);
	printf("installed ICCID %s transaction %s\n", iccid, a1.transaction_id);
	if (l->save_notification != NULL &&
	    (rc = ts_write_file_atomic(l->save_notification, pir, pir_len, 0600)) != 0) {
		fprintf(stderr, "test_lpa: cannot write %s: %s\n", l->save_notification, ts_strerror(rc));
		goto out;
	}
	if (!l->no_notify)
		rc = lpa_notifications(l);
out:
	json_decref(req);
	json_decref(resp);
	es9_auth1_clear(&a1);
	es9_auth2_clear(&a2);
	free(bf38);
	free(bf21);
	if (bpp != NULL)
		OPENSSL_cleanse(bpp, bpp_len);
	free(bpp);
	free(pir);
	return rc;
}

/* ES11 with the eUICC: *resp is authenticateClient's answer (caller decrefs). */
static int
lpa_discover(lpa *l, const char *smds, json_t **resp)
{
	es9_auth1 a1;
	uint8_t *bf38 = NULL;
	size_t bf38_len = 0;
	json_t *req = NULL;
	memset(&a1, 0, sizeof(a1));
	*resp = NULL;
	int rc = lpa_authenticate(l, smds, "/gsma/rsp2/es11/", "smdsAddress", NULL, &a1, &bf38, &bf38_len);
	if (rc == 0 && (rc = es9_authenticate_client_request(a1.transaction_id, bf38, bf38_len, &req)) == 0)
		rc = lpa_post(l, smds, "/gsma/rsp2/es11/", "authenticateClient", req, 0, resp);
	json_decref(req);
	es9_auth1_clear(&a1);
	free(bf38);
	return rc;
}

static int
lpa_download_smds(lpa *l, const char *smds)
{
	json_t *resp = NULL;
	int rc = lpa_discover(l, smds, &resp);
	if (rc != 0)
		return rc;
	const json_t *ev = json_object_get(resp, "eventEntries");
	size_t n = json_is_array(ev) ? json_array_size(ev) : 0;
	if (!json_is_array(ev) || n > LPA_EVENTS_MAX) {
		fprintf(stderr, "test_lpa: ES11 authenticateClient: eventEntries missing or more than %d\n", LPA_EVENTS_MAX);
		json_decref(resp);
		return TS_EPROTO;
	}
	/* SGP.22 §3.6.2: each event names the SM-DP+ and the eventId, which
	 * is the matching id there. */
	char ids[LPA_EVENTS_MAX][AC_MATCHING_ID_MAX + 1], addrs[LPA_EVENTS_MAX][AC_ADDR_MAX + 1];
	for (size_t i = 0; i < n; i++) {
		const char *id = ts_json_str(json_array_get(ev, i), "eventId");
		const char *a = ts_json_str(json_array_get(ev, i), "rspServerAddress");
		if (id == NULL || a == NULL || ts_snprintf(ids[i], sizeof(ids[i]), "%s", id) != 0 ||
		    ts_snprintf(addrs[i], sizeof(addrs[i]), "%s", a) != 0) {
			fprintf(stderr, "test_lpa: event entry %zu lacks eventId / rspServerAddress\n", i);
			json_decref(resp);
			return TS_EPROTO;
		}
		printf("event %s %s\n", ids[i], addrs[i]);
	}
	json_decref(resp);
	if (n == 0)
		fprintf(stderr, "test_lpa: the SM-DS has no event for this eUICC\n");
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = lpa_download(l, addrs[i], ids[i]);
	return n == 0 ? TS_ENOTFOUND : rc;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: test_lpa --ca FILE [--se SPEC] [--no-notify] [--save-notification FILE]\n"
	    "  [--cancel-after authenticateClient|getBoundProfilePackage] [--cancel-reason NAME]\n"
	    "  [--save-cancel FILE] COMMAND\n"
	    "  download ACTIVATION_CODE | download-smds SMDS_ADDRESS | discover SMDS_ADDRESS |\n"
	    "  notifications | send-notification ADDRESS FILE | info\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ca", required_argument, NULL, 'c' },
		{ "se", required_argument, NULL, 's' },
		{ "no-notify", no_argument, NULL, 'n' },
		{ "save-notification", required_argument, NULL, 'w' },
		{ "cancel-after", required_argument, NULL, 'a' },
		{ "cancel-reason", required_argument, NULL, 'r' },
		{ "save-cancel", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca = NULL, *se_spec = "pcsc:";
	lpa l;
	memset(&l, 0, sizeof(l));
	l.cancel_reason = ES10_CANCEL_END_USER_REJECTION;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': ca = optarg; break;
		case 's': se_spec = optarg; break;
		case 'n': l.no_notify = 1; break;
		case 'w': l.save_notification = optarg; break;
		case 'a':
			l.cancel_after = strcmp(optarg, "authenticateClient") == 0 ? CANCEL_AFTER_AUTH
			    : strcmp(optarg, "getBoundProfilePackage") == 0 ? CANCEL_AFTER_BPP : -1;
			if (l.cancel_after < 0) {
				usage();
				return EX_USAGE;
			}
			break;
		case 'r':
			if ((l.cancel_reason = es10_cancel_reason_parse(optarg)) < 0) {
				fprintf(stderr, "test_lpa: unknown CancelSessionReason %s\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'x': l.save_cancel = optarg; break;
		default: usage(); return EX_USAGE;
		}
	}
	if (ca == NULL || optind >= argc) {
		usage();
		return EX_USAGE;
	}
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	char *const *args = argv + optind + 1;
	int want = strcmp(cmd, "notifications") == 0 || strcmp(cmd, "info") == 0 ? 0
	    : strcmp(cmd, "send-notification") == 0 ? 2 : 1;
	if (nargs != want) {
		usage();
		return EX_USAGE;
	}
	ts_httpc_opts o = { .ca_file = ca }; /* server-authenticated TLS only */
	int rc = ts_httpc_new(&o, &l.http);
	if (rc == 0 && (rc = se_driver_open(se_spec, &l.se)) != 0)
		fprintf(stderr, "test_lpa: cannot open the eUICC %s: %s\n", se_spec, ts_strerror(rc));
	if (rc != 0) {
		ts_httpc_free(l.http);
		return EX_FAIL;
	}
	if (strcmp(cmd, "download") == 0) {
		ac_code ac;
		if ((rc = ac_parse(args[0], strlen(args[0]), &ac)) != 0) {
			fprintf(stderr, "test_lpa: not an SGP.22 activation code: %s\n", ts_strerror(rc));
		} else if (ac.cc_required) {
			fprintf(stderr, "test_lpa: the code asks for a confirmation code; this LPA has none\n");
			rc = TS_EUNSUPP;
		} else {
			rc = lpa_download(&l, ac.address, ac.matching_id[0] ? ac.matching_id : NULL);
		}
	} else if (strcmp(cmd, "download-smds") == 0) {
		rc = lpa_download_smds(&l, args[0]);
	} else if (strcmp(cmd, "discover") == 0) {
		json_t *r = NULL;
		rc = lpa_discover(&l, args[0], &r);
		char *text = r != NULL ? json_dumps(r, JSON_COMPACT) : NULL;
		if (text != NULL)
			puts(text);
		free(text);
		json_decref(r);
	} else if (strcmp(cmd, "notifications") == 0) {
		rc = lpa_notifications(&l);
	} else if (strcmp(cmd, "info") == 0) {
		eid_t eid;
		if ((rc = se_get_eid(l.se, &eid)) == 0)
			printf("eid %s\n", eid.digits);
		else
			fprintf(stderr, "test_lpa: GetEID: %s\n", ts_strerror(rc));
	} else if (strcmp(cmd, "send-notification") == 0) {
		uint8_t *der = NULL;
		size_t len = 0;
		if ((rc = ts_read_file(args[1], LPA_NOTIF_MAX, &der, &len)) != 0)
			fprintf(stderr, "test_lpa: cannot read %s: %s\n", args[1], ts_strerror(rc));
		else
			rc = lpa_send_notification(&l, args[0], der, len);
		free(der);
	} else {
		usage();
		rc = TS_EINVAL;
		se_driver_free(l.se);
		ts_httpc_free(l.http);
		return EX_USAGE;
	}
	se_driver_free(l.se);
	ts_httpc_free(l.http);
	return rc == 0 ? EX_OK : rc == TS_EDENIED ? EX_REFUSED : EX_FAIL;
}
