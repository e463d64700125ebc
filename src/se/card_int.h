/*
 * card_int.h — internals of the software secure element, shared by card.c
 * (APDU transport), state.c (persistent state) and es10.c (ES10 functions).
 * Not for use outside src/se/.
 *
 * Ownership: every pointer in struct se_card is owned by the card and freed
 * by se_card_free. Secrets (the eUICC private key, the one-time key of a
 * download session) never leave this struct except as signatures.
 */
#ifndef TS_SE_CARD_INT_H
#define TS_SE_CARD_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/bsp.h"
#include "lib/eid.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "se/card.h"

/* Largest ES10 command accepted through STORE DATA chaining: a whole bound
 * package plus its outer header. Checked as blocks arrive. */
#define SE_STORE_MAX (BSP_MAX_PACKAGE + 64u)
/* Largest ES10 response the card will build (ProfileInfoList with SE_MAX_APPS
 * entries, or SE_MAX_PENDING notifications, stay far below). */
#define SE_RESP_MAX (256u * 1024u)
/* Largest state file accepted on load (every app with a maximal payload,
 * base64-encoded, plus PEMs). */
#define SE_STATE_MAX (16u * 1024u * 1024u)
/* Logical channels 0..3 (first inter-industry class encoding). */
#define SE_CHANNELS 4

typedef struct se_app_rec {
	char app_id[RSP_STR_MAX + 1];
	char name[RSP_STR_MAX + 1];
	char kind[32];
	char provider[RSP_STR_MAX + 1];
	int enabled;
	int64_t not_after; /* 0 = none */
	uint8_t *payload;  /* credential bytes, owned */
	size_t payload_len;
	/* Bank-ID apps (kind "bankid" installed from a package): the P-256 key
	 * pair generated at install — persisted, used by nothing that answers
	 * with key material, freed (and so wiped) by se_app_rec_clear — and the
	 * provider's certificate for its public half (DER, owned; NULL until
	 * StoreCertificate). */
	EVP_PKEY *app_key;
	uint8_t *cert_der;
	size_t cert_der_len;
} se_app_rec;

typedef struct se_pending {
	uint64_t seq;
	uint8_t *der; /* the signed BF2F, owned */
	size_t len;
} se_pending;

enum se_session_state {
	SE_SESS_NONE = 0,
	SE_SESS_AUTHENTICATED, /* AuthenticateServer succeeded */
	SE_SESS_PREPARED,      /* PrepareDownload succeeded: one-time key exists */
};

struct se_card {
	char *path;

	/* persistent state (state.c) */
	eid_t eid;
	EVP_PKEY *euicc_key;
	X509 *euicc_cert, *eum_cert, *ci_cert;
	uint8_t *euicc_cert_der, *eum_cert_der;
	size_t euicc_cert_der_len, eum_cert_der_len;
	se_app_rec apps[SE_MAX_APPS];
	size_t n_apps;
	uint64_t notif_seq; /* last sequence number used */
	se_pending pending[SE_MAX_PENDING];
	size_t n_pending;

	/* transport (card.c); dropped on reset */
	uint8_t channels_open; /* bit n: channel n open; bit 0 always */
	uint8_t isdr_selected; /* bit n: ISD-R selected on channel n */
	uint8_t *chain;        /* STORE DATA blocks received so far */
	size_t chain_len;
	int chain_active;
	unsigned chain_blocks; /* blocks received; P2 must equal this mod 256 */
	int chain_channel;
	uint8_t *resp; /* response data waiting for GET RESPONSE */
	size_t resp_len, resp_off;

	/* ES10 session (es10.c); RAM only, dropped on reset */
	int have_challenge;
	uint8_t challenge[RSP_CHALLENGE_LEN];
	int sess;
	uint8_t tid[RSP_TID_LEN];
	uint8_t euicc_sig1[PKI_SIG_LEN];
	EVP_PKEY *server_pub; /* serverCertificate (DPauth) key */
	EVP_PKEY *smdp_pub;   /* smdpCertificate (DPpb) key: verifies the package */
	EVP_PKEY *otsk;       /* one-time private key, wiped after use */
};

/* state.c */
int se_state_load(se_card *c, const char *path);
/* Writes the whole state atomically (mode 0600). */
int se_state_save(const se_card *c);
void se_state_clear(se_card *c);
void se_app_rec_clear(se_app_rec *a);

/* es10.c: runs one ES10 command (a complete TLV received through STORE
 * DATA). On success returns 0 with *resp (malloc'ed) holding the response
 * TLV. Returns a negative TS_E* code when the command is not even a
 * well-formed ES10 request; *sw then holds the status word to answer with. */
int se_es10_dispatch(se_card *c, const uint8_t *cmd, size_t len,
    uint8_t **resp, size_t *rlen, uint16_t *sw);
/* Drops the download session and the challenge; wipes the one-time key. */
void se_es10_reset(se_card *c);

#endif
