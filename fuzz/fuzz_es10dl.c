/*
 * Fuzz target for the download half of the ES10 codec (lib/es10dl.c): every
 * decoder gets the input. None may crash or read out of bounds; whatever one
 * accepts must encode again to the same bytes (the decoders accept DER only,
 * so a round trip is exact; response decoders that skip unknown elements are
 * only required to re-encode to something that decodes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/es10dl.h"

#define CHECK(x)              \
	do {                  \
		if (!(x))     \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The encoder call writes o / ol: evaluate it first, then compare. */
#define SAME(call)                                                        \
	do {                                                              \
		CHECK((call) == 0);                                       \
		CHECK(ol == size && memcmp(o, data, size) == 0);          \
		free(o);                                                  \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *o = NULL;
	size_t ol = 0;
	uint8_t ch[ES10_CHALLENGE_LEN], sig[ES10_SIG_LEN];

	if (es10_challenge_resp_decode(data, size, ch) == 0) {
		CHECK(es10_challenge_resp_encode(ch, &o, &ol) == 0);
		CHECK(es10_challenge_resp_decode(o, ol, ch) == 0);
		free(o);
	}
	(void)es10_sig_from_do(data, size, sig);
	es10_server_signed1 s1;
	if (es10_server_signed1_decode(data, size, &s1) == 0)
		SAME(es10_server_signed1_encode(&s1, &o, &ol));
	es10_ctx_params1 c;
	if (es10_ctx_params1_decode(data, size, &c) == 0)
		SAME(es10_ctx_params1_encode(&c, &o, &ol));
	es10_auth_server_req aq;
	if (es10_auth_server_req_decode(data, size, &aq, &s1) == 0)
		SAME(es10_auth_server_req_encode(&aq, &o, &ol));
	es10_euicc_signed1 e1;
	if (es10_euicc_signed1_decode(data, size, &e1) == 0) {
		/* euiccInfo2 is carried as it came; the rest is exact. */
		SAME(es10_euicc_signed1_encode(&e1, &o, &ol));
	}
	es10_auth_server_resp ar;
	if (es10_auth_server_resp_decode(data, size, &ar, &e1) == 0) {
		CHECK(es10_auth_server_resp_encode(&ar, &o, &ol) == 0);
		CHECK(es10_auth_server_resp_decode(o, ol, &ar, NULL) == 0);
		free(o);
	}
	es10_smdp_signed2 s2;
	if (es10_smdp_signed2_decode(data, size, &s2) == 0)
		SAME(es10_smdp_signed2_encode(&s2, &o, &ol));
	es10_prepare_download_req pq;
	if (es10_prepare_download_req_decode(data, size, &pq, &s2) == 0)
		SAME(es10_prepare_download_req_encode(&pq, &o, &ol));
	es10_euicc_signed2 e2;
	if (es10_euicc_signed2_decode(data, size, &e2) == 0)
		SAME(es10_euicc_signed2_encode(&e2, &o, &ol));
	es10_prepare_download_resp pr;
	if (es10_prepare_download_resp_decode(data, size, &pr, &e2) == 0) {
		CHECK(es10_prepare_download_resp_encode(&pr, &o, &ol) == 0);
		CHECK(es10_prepare_download_resp_decode(o, ol, &pr, NULL) == 0);
		free(o);
	}
	es10_cancel_session_req cq;
	if (es10_cancel_session_req_decode(data, size, &cq) == 0)
		SAME(es10_cancel_session_req_encode(&cq, &o, &ol));
	es10_cancel_signed cs;
	if (es10_cancel_signed_decode(data, size, &cs) == 0) {
		CHECK(es10_cancel_signed_encode(&cs, &o, &ol) == 0);
		CHECK(es10_cancel_signed_decode(o, ol, &cs) == 0);
		free(o);
	}
	es10_cancel_session_resp cr;
	if (es10_cancel_session_resp_decode(data, size, &cr, &cs) == 0) {
		CHECK(es10_cancel_session_resp_encode(&cr, &o, &ol) == 0);
		CHECK(es10_cancel_session_resp_decode(o, ol, &cr, NULL) == 0);
		free(o);
	}
	return 0;
}
