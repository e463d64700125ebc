/*
 * test_es10_credapplet.c — the credential applet encodings (lib/credapplet.c)
 * against vectors written by hand from lib/credapplet.h: exact bytes, round
 * trips and refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "lib/credapplet.h"
#include "lib/ts_err.h"

#include "../hex_fixture.h"

#define ICCID_HEX "98 44 05 10 20 91 38 40 28 F6"
#define ENTRY_HEX                                  \
	"E1 2F"                                    \
	" 5A 0A " ICCID_HEX                        /* iccid */ \
	" 80 06 62 61 6E 6B 2D 31"                 /* appId "bank-1" */ \
	" 81 04 42 61 6E 6B"                       /* name "Bank" */ \
	" 82 06 62 61 6E 6B 69 64"                 /* kind "bankid" */ \
	" 83 02 42 31"                             /* provider "B1" */ \
	" 84 04 00 80 00 00"                       /* notAfter 8388608 (00: positive) */ \
	" 85 01 01"                                /* keyState: awaiting its certificate */

static void
test_entry(void **st)
{
	(void)st;
	vec v = hx(ENTRY_HEX);
	cred_entry e;
	assert_int_equal(cred_entry_decode(v.b, v.n, &e), 0);
	assert_string_equal(e.app_id, "bank-1");
	assert_string_equal(e.name, "Bank");
	assert_string_equal(e.kind, "bankid");
	assert_string_equal(e.provider, "B1");
	assert_int_equal(e.not_after, 0x800000);
	assert_int_equal(e.key_state, CRED_KEY_PENDING);
	uint8_t *o = NULL;
	size_t l = 0;
	assert_int_equal(cred_entry_encode(&e, &o, &l), 0);
	assert_int_equal(l, v.n);
	assert_memory_equal(o, v.b, v.n);
	free(o);

	vec list = hx("E0 62 " ENTRY_HEX " " ENTRY_HEX);
	cred_entry *items = NULL;
	size_t n = 0;
	assert_int_equal(cred_list_decode(list.b, list.n, &items, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cred_list_encode(items, n, &o, &l), 0);
	assert_int_equal(l, list.n);
	assert_memory_equal(o, list.b, list.n);
	free(o);
	free(items);
	vec empty = hx("E0 00");
	assert_int_equal(cred_list_decode(empty.b, empty.n, &items, &n), 0);
	assert_int_equal(n, 0);
	assert_null(items);

	/* Refusals: keyState 3, negative notAfter, no appId, out of order,
	 * trailing bytes, a list entry that is no E1. */
	vec bad = hx("E1 2F 5A 0A " ICCID_HEX " 80 06 62 61 6E 6B 2D 31 81 04 42 61 6E 6B 82 06 62 61 6E 6B 69 64"
	             " 83 02 42 31 84 04 00 80 00 00 85 01 03");
	assert_int_equal(cred_entry_decode(bad.b, bad.n, &e), TS_EPARSE);
	bad = hx("E1 2E 5A 0A " ICCID_HEX " 80 06 62 61 6E 6B 2D 31 81 04 42 61 6E 6B 82 06 62 61 6E 6B 69 64"
	         " 83 02 42 31 84 03 80 00 00 85 01 01");
	assert_int_equal(cred_entry_decode(bad.b, bad.n, &e), TS_EPARSE);
	bad = hx("E1 29 5A 0A " ICCID_HEX " 80 00 81 04 42 61 6E 6B 82 06 62 61 6E 6B 69 64"
	         " 83 02 42 31 84 04 00 80 00 00 85 01 01");
	assert_int_equal(cred_entry_decode(bad.b, bad.n, &e), TS_EPARSE);
	bad = hx("E1 2F 80 06 62 61 6E 6B 2D 31 5A 0A " ICCID_HEX " 81 04 42 61 6E 6B 82 06 62 61 6E 6B 69 64"
	         " 83 02 42 31 84 04 00 80 00 00 85 01 01");
	assert_int_equal(cred_entry_decode(bad.b, bad.n, &e), TS_EPARSE);
	bad = hx(ENTRY_HEX " 00");
	assert_int_equal(cred_entry_decode(bad.b, bad.n, &e), TS_ETRAILING);
	bad = hx("E0 02 E2 00");
	assert_int_equal(cred_list_decode(bad.b, bad.n, &items, &n), TS_EPARSE);
}

static void
test_key_and_cert(void **st)
{
	(void)st;
	uint8_t iccid[10], point[65];
	vec q = hx("5A 0A " ICCID_HEX);
	assert_int_equal(cred_iccid_decode(q.b, q.n, iccid), 0);
	uint8_t *o = NULL;
	size_t l = 0;
	assert_int_equal(cred_iccid_encode(iccid, &o, &l), 0);
	assert_int_equal(l, q.n);
	assert_memory_equal(o, q.b, q.n);
	free(o);
	vec bad = hx("5A 09 98 44 05 10 20 91 38 40 28");
	assert_int_equal(cred_iccid_decode(bad.b, bad.n, iccid), TS_EPARSE);

	char kh[400];
	/* E2 { iccid, 86 X9.62 uncompressed } */
	size_t kl = (size_t)snprintf(kh, sizeof(kh), "E2 4F 5A 0A " ICCID_HEX " 86 41 04");
	for (int i = 0; i < 64 && kl < sizeof(kh); i++)
		kl += (size_t)snprintf(kh + kl, sizeof(kh) - kl, " 11");
	assert_true(kl < sizeof(kh));
	vec k = hx(kh);
	assert_int_equal(cred_key_decode(k.b, k.n, iccid, point), 0);
	assert_int_equal(point[0], 0x04);
	assert_int_equal(point[64], 0x11);
	assert_int_equal(cred_key_encode(iccid, point, &o, &l), 0);
	assert_int_equal(l, k.n);
	assert_memory_equal(o, k.b, k.n);
	free(o);
	k.b[14] = 0x02; /* a compressed point: refused */
	assert_int_equal(cred_key_decode(k.b, k.n, iccid, point), TS_EPARSE);

	vec sc = hx("5A 0A " ICCID_HEX " 30 05 30 03 02 01 01"); /* iccid, certificate */
	const uint8_t *cert;
	size_t cl;
	assert_int_equal(cred_store_cert_decode(sc.b, sc.n, iccid, &cert, &cl), 0);
	assert_ptr_equal(cert, sc.b + 12);
	assert_int_equal(cl, 7);
	assert_int_equal(cred_store_cert_encode(iccid, cert, cl, &o, &l), 0);
	assert_int_equal(l, sc.n);
	assert_memory_equal(o, sc.b, sc.n);
	free(o);
	bad = hx("5A 0A " ICCID_HEX " 30 05 30 03 02 01 01 00");
	assert_int_equal(cred_store_cert_decode(bad.b, bad.n, iccid, &cert, &cl), TS_ETRAILING);
	bad = hx("5A 0A " ICCID_HEX " 31 00");
	assert_int_equal(cred_store_cert_decode(bad.b, bad.n, iccid, &cert, &cl), TS_EPARSE);
	bad = hx("30 05 30 03 02 01 01");
	assert_int_equal(cred_store_cert_decode(bad.b, bad.n, iccid, &cert, &cl), TS_EPARSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_key_and_cert),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
