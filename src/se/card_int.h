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
#include "lib/es10.h"
#include "lib/pki.h"
#include "lib/es10dl.h"
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
/* Logical channels 0..19: 0..3 in the first inter-industry class encoding,
 * 4..19 in the further inter-industry one (ISO/IEC 7816-4 §5.4.1). */
#define SE_CHANNELS 20
/* The SGP.22 root SM-DS an eUICC is configured with (EuiccConfiguredAddresses). */
#define SE_ROOT_DS_DEFAULT "lpa.ds.gsma.com"

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
	/* SGP.22 profile identity (persisted): ICCID (es10_iccid_for_app of the
	 * EID and app id), ISD-P AID (SE_ISDP_AID_PREFIX + slot byte + 00),
	 * nickname (SetNickname, "" = none) and the address its notifications
	 * go to (the SM-DP+ address of its download; "" = none). */
	uint8_t iccid[ES10_ICCID_LEN];
	uint8_t aid[SE_ISDR_AID_LEN];
	char nickname[ES10_NICKNAME_MAX + 1];
	char notif_address[ES10_ADDR_MAX + 1];
} se_app_rec;

/* ISD-P AIDs: A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 <10 + slot> 00 (the
 * ISD-R's RID and PIX range, SGP.02 Annex H); slot 0..SE_MAX_APPS-1. */
#define SE_ISDP_AID_PREFIX "\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00"
#define SE_ISDP_AID_PREFIX_LEN 14

typedef struct se_pending {
	uint64_t seq;
	uint32_t event; /* ES10_EVENT_* */
	uint8_t *der;   /* the signed PendingNotification (BF37 or 30), owned */
	size_t len;
} se_pending;

/* What a logical channel has selected. */
enum se_app_sel { SE_SEL_NONE = 0, SE_SEL_ISDR = 1, SE_SEL_CRED = 2 };

/* One logical channel: its selection, STORE DATA chain and unread response. */
typedef struct se_channel {
	int open;
	int selected;          /* enum se_app_sel */
	uint8_t *chain;        /* STORE DATA blocks received so far */
	size_t chain_len;
	int chain_active;
	unsigned chain_blocks; /* blocks received; P2 must equal this mod 256 */
	uint8_t *resp;         /* response data waiting for GET RESPONSE */
	size_t resp_len, resp_off;
} se_channel;

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
	int has_default_dp;
	char default_dp[ES10_ADDR_MAX + 1]; /* SetDefaultDpAddress */
	char root_ds[ES10_ADDR_MAX + 1];

	/* transport (card.c); dropped on reset. Channel 0 is always open. The
	 * chains of all channels together stay within SE_STORE_MAX. */
	se_channel ch[SE_CHANNELS];

	/* ES10 session (es10.c); RAM only, dropped on reset */
	int have_challenge;
	uint8_t challenge[RSP_CHALLENGE_LEN];
	int sess;
	uint8_t tid[ES10_TID_MAX];
	size_t tid_len;
	uint8_t euicc_sig1[PKI_SIG_LEN];
	EVP_PKEY *server_pub; /* serverCertificate (DPauth) key */
	EVP_PKEY *smdp_pub;   /* smdpCertificate (DPpb) key: verifies the package */
	EVP_PKEY *otsk;       /* one-time private key, wiped after use */
	char server_address[ES10_ADDR_MAX + 1]; /* serverSigned1's, for the notifications */
	uint8_t smdp_oid[ES10_OID_MAX];       /* the DPpb certificate's, for the PIR */
	size_t smdp_oid_len;

	/* LoadBoundProfilePackage in progress, command by command (es10.c);
	 * RAM only. The session's values the PIR needs are copied into ld at
	 * the first command (the session itself is dropped there). */
	bsp_loader load;
	struct {
		uint8_t tid[ES10_TID_MAX];
		size_t tid_len;
		char address[ES10_ADDR_MAX + 1];
		uint8_t oid[ES10_OID_MAX];
		size_t oid_len;
		int have_isdp, have_md; /* BF24 / BF25 processed */
		rsp_metadata md;
		se_app_rec rec;         /* the profile being installed */
		uint8_t *resp;          /* the success PIR, until answered */
		size_t resp_len;
	} ld;
};

/* state.c */
int se_state_load(se_card *c, const char *path);
/* Writes the whole state atomically (mode 0600). */
int se_state_save(const se_card *c);
void se_state_clear(se_card *c);
void se_app_rec_clear(se_app_rec *a);

/* Fills the SGP.22 identity of a new app record (ICCID from its app id,
 * the lowest free ISD-P AID slot). TS_EEXIST when another app already has
 * that ICCID, TS_ELIMIT without a free slot. */
int se_app_identity(const se_card *c, se_app_rec *a);

/* profile.c: checks the decrypted profile bytes of a download for app a
 * (its kind, app id and ICCID set). A SIM app's profile must be a TCA
 * profile package (lib/upp.h) whose ProfileHeader ICCID is a->iccid.
 * 0 when it may be installed; else a TS_E* code with *reason the SGP.22
 * errorReason (ES10_ERR_PE_PROCESSING, ES10_ERR_DATA_MISMATCH). */
int se_profile_check(const se_app_rec *a, const uint8_t *profile, size_t len, int *reason);
void se_pending_clear(se_pending *p);

/* es10.c: runs one ES10 command (a complete TLV received through STORE
 * DATA, on any channel). On success returns 0 with *resp (malloc'ed) holding
 * the response TLV. Returns a negative TS_E* code when the command is not
 * even a well-formed ES10 request; *sw then holds the status word to answer
 * with. */
int se_es10_dispatch(se_card *c, const uint8_t *cmd, size_t len,
    uint8_t **resp, size_t *rlen, uint16_t *sw);

/* credapplet.c: one command APDU for the credential applet (lib/credapplet.h)
 * selected on a channel: cla/ins/p1/p2 and the command data. On success *resp
 * (malloc'ed, may be NULL with *rlen 0) and *sw 9000; otherwise *sw only. */
int se_cred_command(se_card *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
    const uint8_t *data, size_t len, uint8_t **resp, size_t *rlen, uint16_t *sw);

/* The app with this ICCID, or NULL. */
se_app_rec *se_app_by_iccid(se_card *c, const uint8_t iccid[ES10_ICCID_LEN], size_t *idx);
/* Drops the download session and the challenge; wipes the one-time key. */
void se_es10_reset(se_card *c);

#endif
