/*
 * profile.c — tapshare-se's profile package interpreter (card_int.h
 * se_profile_check): what the eUICC does with the decrypted profile bytes of
 * a bound package before it installs them.
 *
 * A SIM app's profile is a TCA eUICC profile package (lib/upp.h): it must
 * decode (strict DER, the PEs and services tapshare-se supports), and its
 * ProfileHeader ICCID must be the ICCID the StoreMetadata gave the profile.
 * SGP.22's install-failure reasons: a package that does not match its
 * metadata is installFailedDueToDataMismatch (13); a package tapshare-se
 * cannot process (malformed, a mandated PE or service it does not support)
 * is installFailedDueToPEProcessingError (12). The package is kept as the
 * app's payload (the IMSI, Ki and OPc it holds stay in the SE's state,
 * wiped with the app); the IMSI is logged on install (it is an identity,
 * not a secret) so that a test can see what was installed.
 *
 * Apps of other kinds (bank-ID account, service token) arrive as a
 * credential-only package: no NAA (no usim service, no USIM / AKA PE), the
 * provider's credential JSON for the credential applet in tapshare's
 * nonStandard PE (docs/protocol.md), the same ICCID check. A bare JSON
 * payload (what nodes before the profile package sent, and what the older
 * tests build) is still accepted for these kinds — it does not start with
 * the ProfileHeader tag A0 — and kept as it is.
 */
#include <string.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/upp.h"
#include "se/card_int.h"

int
se_profile_check(const se_app_rec *a, const uint8_t *profile, size_t len, int *reason)
{
	upp_sim s;
	char iccid[UPP_ICCID_DIGITS_MAX + 1];
	int rc;
	*reason = 0;
	int sim = strcmp(a->kind, "sim") == 0;
	if (!sim && (len == 0 || profile[0] != 0xA0))
		return 0; /* a bare credential (see above) */
	if ((rc = upp_decode(profile, len, &s)) != 0 ||
	    (sim ? s.imsi[0] == '\0' : s.imsi[0] != '\0' || s.app_content == NULL)) {
		/* a SIM needs its USIM; a credential has none, but its content */
		rc = rc != 0 ? rc : TS_EUNSUPP;
		log_info("%s: the profile package is refused: %s", a->app_id, ts_strerror(rc));
		upp_sim_clear(&s);
		*reason = ES10_ERR_PE_PROCESSING;
		return rc;
	}
	if (memcmp(s.iccid, a->iccid, UPP_ICCID_LEN) != 0) {
		if (upp_iccid_decode(s.iccid, iccid) != 0)
			iccid[0] = '\0';
		log_info("%s: the package's ICCID %s is not the metadata's", a->app_id, iccid);
		upp_sim_clear(&s);
		*reason = ES10_ERR_DATA_MISMATCH;
		return TS_EVERIFY;
	}
	if (upp_iccid_decode(s.iccid, iccid) != 0)
		iccid[0] = '\0';
	if (sim)
		log_info("%s: profile package %u.%u, ICCID %s, IMSI %s, Milenage", a->app_id, s.major,
		    s.minor, iccid, s.imsi);
	else
		log_info("%s: credential package %u.%u, ICCID %s, %zu bytes for the credential applet",
		    a->app_id, s.major, s.minor, iccid, s.app_content_len);
	upp_sim_clear(&s);
	return 0;
}
