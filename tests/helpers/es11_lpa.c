/*
 * es11_lpa — the SM-DS discovery of a standard LPA, for the integration
 * tests: ES11 initiateAuthentication at NODE, the eUICC's AuthenticateServer
 * (ES10b, no matchingId) on SE, ES11 authenticateClient; prints the last
 * answer (JSON) on stdout. Exit 0 when both calls answered Executed-Success.
 *
 *   es11_lpa NODE_URL CA_FILE SE_SPEC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/es10dl.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/util.h"

static int
success(const json_t *r)
{
	const char *s = json_string_value(json_object_get(
	    json_object_get(json_object_get(r, "header"), "functionExecutionStatus"), "status"));
	return s != NULL && strcmp(s, "Executed-Success") == 0;
}

static int
post(ts_httpc *c, const char *base, const char *fn, json_t *body, json_t **resp)
{
	char url[512];
	long status = 0;
	char err[256] = "";
	snprintf(url, sizeof(url), "%s/gsma/rsp2/es11/%s", base, fn);
	int rc = ts_httpc_json(c, "POST", url, NULL, body, &status, resp, err, sizeof(err));
	json_decref(body);
	if (rc != 0 || status != 200 || *resp == NULL) {
		fprintf(stderr, "es11_lpa: %s: rc %d status %ld %s\n", fn, rc, status, err);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: es11_lpa NODE_URL CA_FILE SE_SPEC\n");
		return 2;
	}
	ts_httpc_opts o = { .ca_file = argv[2] };
	ts_httpc *c = NULL;
	se_driver *se = NULL;
	json_t *r = NULL;
	uint8_t chal[16], *s1 = NULL, *sig = NULL, *cert = NULL, *bf38 = NULL;
	size_t s1l = 0, sigl = 0, certl = 0, bf38l = 0;
	int ex = 1;
	if (ts_httpc_new(&o, &c) != 0 || se_driver_open(argv[3], &se) != 0 || se_get_challenge(se, chal) != 0)
		goto out;
	json_t *b = json_object();
	ts_json_set_b64(b, "euiccChallenge", chal, sizeof(chal));
	/* the bare address, as an LPA takes it from the default SM-DS setting */
	const char *bare = strstr(argv[1], "://") ? strstr(argv[1], "://") + 3 : argv[1];
	json_object_set_new(b, "smdsAddress", json_string(bare));
	if (post(c, argv[1], "initiateAuthentication", b, &r) != 0)
		goto out;
	if (!success(r)) {
		puts(json_dumps(r, JSON_COMPACT));
		goto out;
	}
	char tid[40];
	snprintf(tid, sizeof(tid), "%s", json_string_value(json_object_get(r, "transactionId")));
	uint8_t raw[64];
	if (ts_json_b64(r, "serverSigned1", &s1, &s1l) != 0 || ts_json_b64(r, "serverSignature1", &sig, &sigl) != 0 ||
	    es10_sig_from_do(sig, sigl, raw) != 0 || ts_json_b64(r, "serverCertificate", &cert, &certl) != 0)
		goto out;
	if (se_authenticate_server(se, s1, s1l, raw, cert, certl, NULL, &bf38, &bf38l) != 0) {
		fprintf(stderr, "es11_lpa: the eUICC refused the SM-DS\n");
		goto out;
	}
	json_decref(r);
	r = NULL;
	b = json_pack("{s:s}", "transactionId", tid);
	ts_json_set_b64(b, "authenticateServerResponse", bf38, bf38l);
	if (post(c, argv[1], "authenticateClient", b, &r) != 0)
		goto out;
	char *text = json_dumps(r, JSON_COMPACT);
	puts(text != NULL ? text : "null");
	free(text);
	ex = success(r) ? 0 : 1;
out:
	json_decref(r);
	free(s1);
	free(sig);
	free(cert);
	free(bf38);
	se_driver_free(se);
	ts_httpc_free(c);
	return ex;
}
