/*
 * card.h — the software secure element (eUICC role): persistent state and an
 * ISO 7816-4 APDU dispatcher. Everything reaches it as command APDUs; private
 * keys never leave it. Used in-process (device/se_driver "inproc:") and by
 * tapshare-se, which serves it with the vsmartcard vpcd framing.
 *
 * State file (written atomically on every change): EID, eUICC key pair and
 * certificate, EUM and CI certificates, installed applications (app id, name,
 * kind, provider, state, not_after, credential payload, ICCID, ISD-P AID,
 * nickname, notification address; for bank-ID apps the key pair the SE
 * generated and the provider's certificate for it), default SM-DP+ and root
 * SM-DS addresses, notification counter and pending notifications.
 */
#ifndef TS_SE_CARD_H
#define TS_SE_CARD_H

#include <stddef.h>
#include <stdint.h>

#define SE_APDU_MAX 65544 /* extended APDU: 7 header + 65535 data + 2 Le */
#define SE_MAX_APPS 32
#define SE_MAX_PENDING 64

typedef struct se_card se_card;

/* The download's error codes are SGP.22's AuthenticateErrorCode and
 * DownloadErrorCode (lib/es10dl.h); the result codes of the other ES10
 * functions are in lib/es10.h. */

/* AID of the ISD-R (SGP.22). */
#define SE_ISDR_AID "\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00\x01\x00"
#define SE_ISDR_AID_LEN 16

/* Creates a new state file from a test PKI: the eUICC key/cert for eid in
 * pki_dir (euicc-<EID>.key/.crt), eum.crt and ci.crt. Fails with TS_EEXIST if
 * state_path exists. */
int se_card_init_state(const char *state_path, const char *pki_dir, const char *eid);

/* Manufacture / operator personalisation of a PRIMARY device's own SE,
 * outside the share flow (tapshare-se init --preinstall): adds an enabled
 * application app_id with an empty credential to an existing state file.
 * name NULL or "" = app_id. kind: sim, bankid or service. TS_EINVAL (bad or
 * over-long value), TS_EEXIST (app_id installed), TS_ELIMIT (SE_MAX_APPS). */
int se_card_preinstall(const char *state_path, const char *app_id, const char *kind,
    const char *provider, const char *name);

/* Loads the state file. */
int se_card_open(const char *state_path, se_card **out);
void se_card_free(se_card *c); /* NULL ok */

/* Power-on reset: closes logical channels and drops the session state (one-time keys). */
void se_card_reset(se_card *c);
/* The ATR this card reports. */
size_t se_card_atr(const se_card *c, uint8_t *out, size_t cap);

/* Processes one command APDU, writes the response APDU (data || SW1 SW2).
 * Returns 0 (the SW tells success or failure), or TS_EINVAL if rcap < 2. */
int se_card_apdu(se_card *c, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen);

#endif
