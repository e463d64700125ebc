/*
 * sim_fixture.h — a SIM profile package for the tests that download a
 * "sim" app into tapshare-se (which refuses any other profile for a SIM,
 * se/profile.c): the TCA package of lib/upp.h with the given ICCID, IMSI
 * 001010123456789 and the K / OPc of 3GPP TS 35.208 test set 1; the
 * metadata m gets the same ICCID. Header-only, for tests.
 */
#ifndef TS_TEST_SIM_FIXTURE_H
#define TS_TEST_SIM_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "lib/rsp.h"
#include "lib/upp.h"

/* *out: the package (caller frees). */
static void
sim_fixture(const uint8_t iccid[UPP_ICCID_LEN], rsp_metadata *m, uint8_t **out, size_t *len)
{
	static const uint8_t k[UPP_KEY_LEN] = { 0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
		0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc };
	static const uint8_t opc[UPP_KEY_LEN] = { 0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e,
		0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf };
	upp_sim s;
	memset(&s, 0, sizeof(s));
	memcpy(s.iccid, iccid, UPP_ICCID_LEN);
	snprintf(s.imsi, sizeof(s.imsi), "001010123456789");
	s.mnc_len = 2;
	memcpy(s.ki, k, sizeof(k));
	memcpy(s.opc, opc, sizeof(opc));
	assert_int_equal(upp_encode(&s, out, len), 0);
	m->has_iccid = 1;
	memcpy(m->iccid, iccid, UPP_ICCID_LEN);
}

#endif
