/*
 * Fuzz target for the SGP.22 certificate-profile readers of lib/pki: any
 * DER a peer sends as an eUICC, EUM or SM-DP+ certificate goes through
 * pki_cert_from_der, the role, nameConstraints and EID readers and the
 * SGP.22 subtree rule without crashing; a prefix list that is read back is
 * digits and commas only, and what pki_eum_check accepts has prefixes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pki.h"
#include "lib/ts_err.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509 *c = NULL;
	if (size == 0 || pki_cert_from_der(data, size, &c) != 0)
		return 0;
	for (int r = PKI_ROLE_NONE; r <= PKI_ROLE_DS_AUTH + 1; r++)
		(void)pki_cert_has_role(c, r);
	char pf[128], why[300];
	int rc = pki_cert_ein_prefixes(c, pf, sizeof(pf));
	if (rc == 0)
		for (const char *p = pf; *p; p++)
			if (!((*p >= '0' && *p <= '9') || *p == ','))
				abort();
	if (pki_eum_check(c, why, sizeof(why)) == 0 && rc != 0 && rc != TS_ELIMIT)
		abort();
	(void)pki_eum_permits(c, c);
	eid_t e;
	(void)pki_cert_eid(c, &e);
	X509_free(c);
	return 0;
}
