/*
 * nfc_none.c — the `nfc:` link in a build without libnfc: every call says
 * so. Built instead of nfc_libnfc.c when pkg-config does not find libnfc.
 */
#include "device/nfc.h"

#include <stdio.h>

#include "lib/log.h"
#include "lib/ts_err.h"

#define NFC_NONE_MSG \
	"this build has no NFC support (libnfc was not found when it was built); " \
	"install libnfc-dev and rebuild, see docs/nfc.md"

int
nfc_link_check(const char *arg, char *errbuf, size_t errcap)
{
	(void)arg;
	if (errbuf != NULL && errcap > 0)
		(void)snprintf(errbuf, errcap, "%s", NFC_NONE_MSG);
	return TS_EUNSUPP;
}

int
nfc_link_read(const char *arg, long timeout_ms, uint8_t **out, size_t *outlen)
{
	(void)arg;
	(void)timeout_ms;
	(void)out;
	(void)outlen;
	log_error("nfc link: %s", NFC_NONE_MSG);
	return TS_EUNSUPP;
}

int
nfc_link_advertise(const char *arg, const uint8_t *msg, size_t len, void **handle)
{
	(void)arg;
	(void)msg;
	(void)len;
	(void)handle;
	log_error("nfc link: %s", NFC_NONE_MSG);
	return TS_EUNSUPP;
}

void
nfc_link_stop(void *handle)
{
	(void)handle;
}
