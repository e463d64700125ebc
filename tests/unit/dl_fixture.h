/*
 * dl_fixture.h — the set-up of the node-side eUICC authentication tests
 * (test_smds.c, test_stream_auth.c): a fresh test PKI in a temporary
 * directory, the node's DPauth key and certificate and its CI, a SQLite
 * store, and two software SEs (inproc) for DL_EID1 and DL_EID2 of that PKI.
 * A test includes it once (after <cmocka.h>) and calls dl_fixture_setup /
 * dl_fixture_teardown from its group set-up and tear-down.
 */
#ifndef TS_TEST_DL_FIXTURE_H
#define TS_TEST_DL_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/se_driver.h"
#include "lib/pki.h"
#include "node/node.h"
#include "se/card.h"

#define DL_EID1 "89049032123451234512345678901235"
#define DL_EID2 "89049032123451234512345678901332"
#define DL_EIN "89049032"

static char dir[64];          /* the temporary directory; the PKI in dir/pki */
static store *st;
static share_svc svc;
static download_svc d;        /* the node's side: address, DPauth, CI */
static EVP_PKEY *auth_key;    /* DPauth */
static X509 *ci, *auth_cert;
static uint8_t *auth_der;     /* CERT.DPauth, DER */
static size_t auth_der_len;
static se_driver *se1, *se2;  /* DL_EID1's and DL_EID2's SE */

/* tmpl: mkdtemp template (at most 63 characters); address: the node's. */
static int
dl_fixture_setup(const char *tmpl, const char *address)
{
	char p[200], pki[128], s1[200], s2[200], spec[220];
	snprintf(dir, sizeof(dir), "%s", tmpl);
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	const char *eids[] = { DL_EID1, DL_EID2 };
	if (pki_testpki_generate(pki, DL_EIN, eids, 2) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dpauth.key", pki);
	if (pki_key_load(p, &auth_key) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dpauth.crt", pki);
	if (pki_cert_load(p, &auth_cert) != 0 || pki_cert_to_der(auth_cert, &auth_der, &auth_der_len) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/ci.crt", pki);
	if (pki_cert_load(p, &ci) != 0)
		return -1;
	snprintf(s1, sizeof(s1), "%s/se1.state", dir);
	snprintf(s2, sizeof(s2), "%s/se2.state", dir);
	if (se_card_init_state(s1, pki, DL_EID1) != 0 || se_card_init_state(s2, pki, DL_EID2) != 0)
		return -1;
	snprintf(spec, sizeof(spec), "inproc:%s", s1);
	if (se_driver_open(spec, &se1) != 0)
		return -1;
	snprintf(spec, sizeof(spec), "inproc:%s", s2);
	if (se_driver_open(spec, &se2) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/node.db", dir);
	if (store_open(p, &st) != 0)
		return -1;
	svc.address = address;
	svc.ein_prefixes = DL_EIN;
	d.share = &svc;
	d.address = address;
	d.dpauth_key = auth_key;
	d.dpauth_cert_der = auth_der;
	d.dpauth_cert_der_len = auth_der_len;
	d.ci = ci;
	return 0;
}

static int
dl_fixture_teardown(void)
{
	store_close(st);
	se_driver_free(se1);
	se_driver_free(se2);
	EVP_PKEY_free(auth_key);
	X509_free(auth_cert);
	X509_free(ci);
	free(auth_der);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
