/*
 * enroll.c — enrollment of a primary device (enroll.h).
 */
#include "node/enroll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

static int
refuse(share_why *why, int rc, const char *code, const char *msg)
{
	snprintf(why->code, sizeof(why->code), "%s", code);
	snprintf(why->msg, sizeof(why->msg), "%s", msg);
	return rc;
}

int
enroll_device(store *st, X509 *ca, EVP_PKEY *ca_key, const char *code, X509_REQ *csr, const char *name,
    char device_id[65], char **cert_pem, int64_t *user_id, share_why *why)
{
	X509 *cert = NULL;
	char ch[65];
	*cert_pem = NULL;
	secret_hash(code, ch);
	int rc = st->ops->begin(st);
	if (rc != 0)
		return refuse(why, rc, "store_busy", "the database is busy; retry");
	if ((rc = st->ops->enroll_code_use(st, ch, ts_now(), user_id)) != 0) {
		st->ops->rollback(st);
		if (rc != TS_ENOTFOUND && rc != TS_ESTATE && rc != TS_EEXPIRED) /* busy: no verdict on the code */
			return refuse(why, rc, "store_busy", "the database is busy; retry");
		return refuse(why, rc, "bad_enrollment_code", rc == TS_ESTATE ? "the enrollment code is already used" :
		    rc == TS_EEXPIRED ? "the enrollment code is expired" : "the enrollment code is unknown");
	}
	pki_issue_opts o = { .profile = PKI_PROFILE_TLS_CLIENT, .cn = name, .org = "tapshare device",
		.days = ENROLL_CERT_DAYS };
	if (pki_issue_csr(ca, ca_key, csr, &o, &cert) != 0 || pki_cert_pubkey_id(cert, device_id) != 0 ||
	    pki_cert_to_pem(cert, cert_pem) != 0) {
		st->ops->rollback(st);
		X509_free(cert);
		free(*cert_pem);
		*cert_pem = NULL;
		return refuse(why, TS_ECRYPTO, "issue_failed", "could not issue the device certificate");
	}
	X509_free(cert);
	if ((rc = st->ops->device_add(st, device_id, *user_id, name)) != 0 || (rc = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		free(*cert_pem);
		*cert_pem = NULL;
		return refuse(why, rc, rc == TS_EEXIST ? "device_exists" : "store_error",
		    rc == TS_EEXIST ? "a device with this key is already enrolled" : "cannot record the device");
	}
	return 0;
}
