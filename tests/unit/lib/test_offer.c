/*
 * Share offers (claims 20/33): sign/decode round trip, forged and tampered
 * offers refused, strict parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/eid.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"

static EVP_PKEY *key, *other;
static uint8_t *cert;
static size_t cert_len;
static char key_id[65];

static int
setup(void **state)
{
	(void)state;
	X509 *x = NULL;
	pki_issue_opts o = { .profile = PKI_PROFILE_ROOT_CA, .cn = "device", .days = 1 };
	if (pki_keygen(&key) != 0 || pki_keygen(&other) != 0 || pki_issue(NULL, key, key, &o, &x) != 0 ||
	    pki_cert_to_der(x, &cert, &cert_len) != 0 || pki_pubkey_id(key, key_id) != 0)
		return -1;
	X509_free(x);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	free(cert);
	return 0;
}

static void
make(rsp_offer *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->app_id, sizeof(o->app_id), "sim-alice");
	memcpy(o->device_id, key_id, 65);
	o->expires_at = 1800000000;
	for (int i = 0; i < RSP_OFFER_NONCE_LEN; i++)
		o->nonce[i] = (uint8_t)(i * 7 + 1);
}

static void
test_round_trip(void **state)
{
	(void)state;
	rsp_offer o, d;
	make(&o);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(rsp_offer_sign(&o, key, cert, cert_len, &buf, &len), 0);
	assert_int_equal(buf[0], 0xBF);
	assert_int_equal(buf[1], 0x70);
	assert_int_equal(rsp_offer_decode(buf, len, &d), 0);
	assert_string_equal(d.app_id, "sim-alice");
	assert_string_equal(d.device_id, key_id);
	assert_int_equal(d.expires_at, 1800000000);
	assert_memory_equal(d.nonce, o.nonce, RSP_OFFER_NONCE_LEN);
	assert_int_equal(d.cert_len, cert_len);
	assert_memory_equal(d.cert, cert, cert_len);
	/* trailing byte */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_int_not_equal(rsp_offer_decode(longer, len + 1, &d), 0);
	free(longer);
	/* truncated */
	assert_int_not_equal(rsp_offer_decode(buf, len - 1, &d), 0);
	free(buf);
}

/* The offer bound to an EID (issue 8): 84 20 <32 ASCII digits> at the end of
 * the signed body; a changed digit breaks the signature; unbound decodes "". */
static void
test_eid_binding(void **state)
{
	(void)state;
	static const char eid[] = "89049032123451234512345678901235";
	rsp_offer o, d;
	make(&o);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(rsp_offer_sign(&o, key, cert, cert_len, &buf, &len), 0);
	assert_int_equal(rsp_offer_decode(buf, len, &d), 0);
	assert_string_equal(d.eid, "");
	free(buf);
	memcpy(o.eid, eid, sizeof(eid));
	assert_int_equal(rsp_offer_sign(&o, key, cert, cert_len, &buf, &len), 0);
	uint8_t want[2 + 32];
	want[0] = 0x84;
	want[1] = 0x20;
	memcpy(want + 2, eid, 32);
	uint8_t *at = NULL;
	for (size_t i = 0; i + sizeof(want) <= len; i++)
		if (memcmp(buf + i, want, sizeof(want)) == 0)
			at = buf + i;
	assert_non_null(at);
	/* right after the nonce (83 10 ...) */
	assert_int_equal(at[-18], 0x83);
	assert_int_equal(rsp_offer_decode(buf, len, &d), 0);
	assert_string_equal(d.eid, eid);
	at[2 + 31] = '4'; /* another EID, same length */
	assert_int_equal(rsp_offer_decode(buf, len, &d), TS_EVERIFY);
	free(buf);
	/* only 32 digits are an EID */
	snprintf(o.eid, sizeof(o.eid), "8904903212345123451234567890123");
	assert_int_equal(rsp_offer_sign(&o, key, cert, cert_len, &buf, &len), TS_EINVAL);
	snprintf(o.eid, sizeof(o.eid), "8904903212345123451234567890123x");
	assert_int_equal(rsp_offer_sign(&o, key, cert, cert_len, &buf, &len), TS_EINVAL);
}

static void
test_forged_and_tampered(void **state)
{
	(void)state;
	rsp_offer o, d;
	make(&o);
	uint8_t *buf = NULL;
	size_t len = 0;
	/* signed with another key than the certificate's: forged */
	assert_int_equal(rsp_offer_sign(&o, other, cert, cert_len, &buf, &len), 0);
	assert_int_equal(rsp_offer_decode(buf, len, &d), TS_EVERIFY);
	free(buf);
	/* a changed app id breaks the signature */
	assert_int_equal(rsp_offer_sign(&o, key, cert, cert_len, &buf, &len), 0);
	uint8_t *p = NULL;
	for (size_t i = 0; i + 9 <= len && p == NULL; i++)
		if (memcmp(buf + i, "sim-alice", 9) == 0)
			p = buf + i;
	assert_non_null(p);
	p[4] = 'b';
	assert_int_equal(rsp_offer_decode(buf, len, &d), TS_EVERIFY);
	free(buf);
	/* bad device id length is refused at signing */
	o.device_id[10] = '\0';
	assert_int_equal(rsp_offer_sign(&o, key, cert, cert_len, &buf, &len), TS_EINVAL);
}

/* Install notifications of bank-ID apps carry the SE-generated public key. */
static void
test_notification_app_key(void **state)
{
	(void)state;
	rsp_notification n, d;
	memset(&n, 0, sizeof(n));
	n.seq = 9;
	n.event = RSP_EVENT_INSTALL;
	snprintf(n.app_id, sizeof(n.app_id), "bankid-1");
	assert_int_equal(eid_parse("89049032123451234512345678901235", &n.eid), 0);
	n.has_app_key = 1;
	assert_int_equal(pki_pubkey_to_point(other, n.app_key), 0);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(rsp_notification_sign(&n, key, &buf, &len), 0);
	assert_int_equal(rsp_notification_decode(buf, len, key, &d), 0);
	assert_int_equal(d.has_app_key, 1);
	assert_memory_equal(d.app_key, n.app_key, PKI_PUBKEY_LEN);
	/* the key is signed: the wrong verifying key refuses it */
	assert_int_equal(rsp_notification_decode(buf, len, other, &d), TS_EVERIFY);
	free(buf);
	/* without the key the field is absent */
	n.has_app_key = 0;
	assert_int_equal(rsp_notification_sign(&n, key, &buf, &len), 0);
	assert_int_equal(rsp_notification_decode(buf, len, key, &d), 0);
	assert_int_equal(d.has_app_key, 0);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_eid_binding),
		cmocka_unit_test(test_forged_and_tampered),
		cmocka_unit_test(test_notification_app_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
