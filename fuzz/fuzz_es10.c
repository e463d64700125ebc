/*
 * Fuzz target for the ES10 codec (lib/es10.c): every decoder gets the input.
 * None may crash or read out of bounds; whatever one accepts must encode
 * again, and that encoding must decode again (the decoders and encoders
 * agree on what is valid). Also the tag-list, ICCID and extCardResource
 * parsers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/es10.h"

#define CHECK(x)              \
	do {                  \
		if (!(x))     \
			abort(); \
	} while (0)

/* out was produced by an encoder: free it after decode succeeds. */
#define AGAIN(out, len, dec) \
	do {                 \
		CHECK((dec) == 0); \
		free(out);   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *o = NULL;
	size_t ol = 0;
	static const uint32_t empty_tags[] = { ES10_TAG_GET_EUICC_INFO1, ES10_TAG_GET_EUICC_INFO2,
		ES10_TAG_EUICC_CONFIGURED_ADDRESSES, ES10_TAG_GET_RAT };
	static const uint32_t result_tags[] = { ES10_TAG_ENABLE_PROFILE, ES10_TAG_DISABLE_PROFILE,
		ES10_TAG_DELETE_PROFILE, ES10_TAG_SET_NICKNAME, ES10_TAG_NOTIFICATION_SENT,
		ES10_TAG_MEMORY_RESET, ES10_TAG_SET_DEFAULT_DP_ADDRESS };
	for (size_t i = 0; i < sizeof(empty_tags) / sizeof(empty_tags[0]); i++)
		(void)es10_empty_req_decode(empty_tags[i], data, size);
	for (size_t i = 0; i < sizeof(result_tags) / sizeof(result_tags[0]); i++) {
		int r;
		if (es10_result_decode(result_tags[i], data, size, &r) == 0) {
			CHECK(es10_result_encode(result_tags[i], r, &o, &ol) == 0);
			AGAIN(o, ol, es10_result_decode(result_tags[i], o, ol, &r));
		}
	}

	uint8_t eid[16];
	(void)es10_get_euicc_data_req_decode(data, size);
	if (es10_get_euicc_data_resp_decode(data, size, eid) == 0) {
		CHECK(es10_get_euicc_data_resp_encode(eid, &o, &ol) == 0);
		AGAIN(o, ol, es10_get_euicc_data_resp_decode(o, ol, eid));
	}

	es10_euicc_info1 i1;
	if (es10_euicc_info1_decode(data, size, &i1) == 0) {
		CHECK(es10_euicc_info1_encode(&i1, &o, &ol) == 0);
		AGAIN(o, ol, es10_euicc_info1_decode(o, ol, &i1));
	}
	es10_euicc_info2 *i2 = malloc(sizeof(*i2));
	CHECK(i2 != NULL);
	if (es10_euicc_info2_decode(data, size, i2) == 0) {
		es10_ecr ecr;
		(void)es10_ecr_decode(i2->ext_card_resource, i2->ext_card_resource_len, &ecr);
		CHECK(es10_euicc_info2_encode(i2, &o, &ol) == 0);
		AGAIN(o, ol, es10_euicc_info2_decode(o, ol, i2));
	}
	free(i2);
	es10_ecr ecr;
	(void)es10_ecr_decode(data, size, &ecr);

	es10_configured_addresses ca;
	if (es10_configured_addresses_decode(data, size, &ca) == 0) {
		CHECK(es10_configured_addresses_encode(&ca, &o, &ol) == 0);
		AGAIN(o, ol, es10_configured_addresses_decode(o, ol, &ca));
	}
	char addr[ES10_ADDR_MAX + 1];
	if (es10_set_default_dp_req_decode(data, size, addr) == 0) {
		CHECK(es10_set_default_dp_req_encode(addr, &o, &ol) == 0);
		AGAIN(o, ol, es10_set_default_dp_req_decode(o, ol, addr));
	}
	es10_rat *rat = malloc(sizeof(*rat));
	CHECK(rat != NULL);
	if (es10_rat_decode(data, size, rat) == 0) {
		CHECK(es10_rat_encode(rat, &o, &ol) == 0);
		AGAIN(o, ol, es10_rat_decode(o, ol, rat));
	}
	free(rat);

	es10_profile_info_req pr;
	if (es10_profile_info_req_decode(data, size, &pr) == 0) {
		CHECK(es10_profile_info_req_encode(&pr, &o, &ol) == 0);
		AGAIN(o, ol, es10_profile_info_req_decode(o, ol, &pr));
	}
	es10_profile_list pl;
	if (es10_profile_list_decode(data, size, &pl) == 0) {
		if (pl.error == 0) {
			CHECK(es10_profile_list_encode(pl.items, pl.n, &o, &ol) == 0);
			es10_profile_list again;
			AGAIN(o, ol, es10_profile_list_decode(o, ol, &again));
			CHECK(again.n == pl.n);
			es10_profile_list_clear(&again);
		}
		es10_profile_list_clear(&pl);
	}
	unsigned mask;
	(void)es10_tag_list_mask(data, size, &mask);

	es10_profile_id id;
	int refresh;
	uint32_t st[] = { ES10_TAG_ENABLE_PROFILE, ES10_TAG_DISABLE_PROFILE };
	for (int k = 0; k < 2; k++) {
		if (es10_switch_req_decode(st[k], data, size, &id, &refresh) == 0) {
			CHECK(es10_switch_req_encode(st[k], &id, refresh, &o, &ol) == 0);
			AGAIN(o, ol, es10_switch_req_decode(st[k], o, ol, &id, &refresh));
		}
	}
	if (es10_delete_req_decode(data, size, &id) == 0) {
		CHECK(es10_delete_req_encode(&id, &o, &ol) == 0);
		AGAIN(o, ol, es10_delete_req_decode(o, ol, &id));
	}
	uint8_t iccid[ES10_ICCID_LEN];
	char nick[ES10_NICKNAME_MAX + 1];
	if (es10_set_nickname_req_decode(data, size, iccid, nick) == 0) {
		CHECK(es10_set_nickname_req_encode(iccid, nick, &o, &ol) == 0);
		AGAIN(o, ol, es10_set_nickname_req_decode(o, ol, iccid, nick));
	}
	char digits[ES10_ICCID_DIGITS_MAX + 1];
	if (size >= ES10_ICCID_LEN)
		(void)es10_iccid_to_digits(data, digits);

	es10_notif_metadata m;
	if (es10_notif_metadata_decode(data, size, &m) == 0) {
		CHECK(es10_notif_metadata_encode(&m, &o, &ol) == 0);
		AGAIN(o, ol, es10_notif_metadata_decode(o, ol, &m));
	}
	int has;
	uint32_t ev;
	if (es10_list_notif_req_decode(data, size, &has, &ev) == 0) {
		CHECK(es10_list_notif_req_encode(has, ev, &o, &ol) == 0);
		AGAIN(o, ol, es10_list_notif_req_decode(o, ol, &has, &ev));
	}
	es10_notif_list nl;
	if (es10_notif_list_decode(data, size, &nl) == 0) {
		if (nl.error == 0) {
			CHECK(es10_notif_list_encode(nl.items, nl.n, &o, &ol) == 0);
			es10_notif_list again;
			AGAIN(o, ol, es10_notif_list_decode(o, ol, &again));
			es10_notif_list_clear(&again);
		}
		es10_notif_list_clear(&nl);
	}
	es10_retrieve_req rr;
	if (es10_retrieve_req_decode(data, size, &rr) == 0) {
		CHECK(es10_retrieve_req_encode(&rr, &o, &ol) == 0);
		AGAIN(o, ol, es10_retrieve_req_decode(o, ol, &rr));
	}
	es10_pending *pn = malloc(sizeof(*pn));
	CHECK(pn != NULL);
	if (es10_pending_decode(data, size, pn) == 0) {
		CHECK(pn->der == data && pn->der_len == size);
		CHECK(pn->tbs >= data && pn->tbs + pn->tbs_len <= data + size);
	}
	free(pn);
	es10_pending_list pel;
	if (es10_pending_list_decode(data, size, &pel) == 0) {
		if (pel.error == 0 && pel.n > 0) {
			es10_blob *b = calloc(pel.n, sizeof(*b));
			CHECK(b != NULL);
			for (size_t k = 0; k < pel.n; k++) {
				b[k].der = pel.items[k].der;
				b[k].len = pel.items[k].der_len;
			}
			CHECK(es10_pending_list_encode(b, pel.n, &o, &ol) == 0);
			es10_pending_list again;
			AGAIN(o, ol, es10_pending_list_decode(o, ol, &again));
			es10_pending_list_clear(&again);
			free(b);
		}
		es10_pending_list_clear(&pel);
	}
	uint64_t seq;
	if (es10_notif_sent_req_decode(data, size, &seq) == 0) {
		CHECK(es10_notif_sent_req_encode(seq, &o, &ol) == 0);
		AGAIN(o, ol, es10_notif_sent_req_decode(o, ol, &seq));
	}
	uint32_t opt;
	if (es10_memory_reset_req_decode(data, size, &opt) == 0) {
		CHECK(es10_memory_reset_req_encode(opt, &o, &ol) == 0);
		AGAIN(o, ol, es10_memory_reset_req_decode(o, ol, &opt));
	}
	return 0;
}
