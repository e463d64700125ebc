/*
 * ndef_offer.c — the share-offer NDEF record (see ndef_offer.h).
 */
#include "lib/ndef_offer.h"

#include <stdlib.h>
#include <string.h>

#include "lib/ndef.h"
#include "lib/ts_err.h"

/* NFC Forum RTD: external type names compare case-insensitively. */
static int
type_is_offer(const uint8_t *t, size_t n)
{
	static const char want[] = NDEF_OFFER_TYPE;
	if (n != sizeof(want) - 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t a = t[i], b = (uint8_t)want[i];
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a + ('a' - 'A'));
		if (a != b)
			return 0;
	}
	return 1;
}

int
ndef_offer_encode(const uint8_t *offer, size_t len, uint8_t **out, size_t *outlen)
{
	ndef_record rec;
	if (offer == NULL || len == 0 || out == NULL || outlen == NULL)
		return TS_EINVAL;
	if (len > NDEF_OFFER_MAX)
		return TS_ELIMIT;
	memset(&rec, 0, sizeof(rec));
	rec.tnf = NDEF_TNF_EXTERNAL;
	rec.type = (const uint8_t *)NDEF_OFFER_TYPE;
	rec.type_len = strlen(NDEF_OFFER_TYPE);
	rec.payload = offer;
	rec.payload_len = len;
	return ndef_encode(&rec, 1, out, outlen);
}

int
ndef_offer_decode(const uint8_t *buf, size_t len, const uint8_t **offer, size_t *offer_len)
{
	ndef_record recs[NDEF_MAX_RECORDS];
	size_t n = 0;
	const ndef_record *found = NULL;
	if (offer == NULL || offer_len == NULL)
		return TS_EINVAL;
	int rc = ndef_parse(buf, len, recs, NDEF_MAX_RECORDS, &n);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (recs[i].tnf != NDEF_TNF_EXTERNAL || !type_is_offer(recs[i].type, recs[i].type_len))
			continue;
		if (found != NULL)
			return TS_EPARSE; /* two offers: which one did the user mean? */
		found = &recs[i];
	}
	if (found == NULL)
		return TS_ENOTFOUND;
	if (found->payload_len == 0)
		return TS_EPARSE;
	if (found->payload_len > NDEF_OFFER_MAX)
		return TS_ELIMIT;
	*offer = found->payload;
	*offer_len = found->payload_len;
	return 0;
}
