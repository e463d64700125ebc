/*
 * card.h — the software secure element (eUICC role): persistent state and an
 * ISO 7816-4 APDU dispatcher. Everything reaches it as command APDUs; private
 * keys never leave it. Used in-process (device/se_driver "inproc:") and by
 * tapshare-se, which serves it with the vsmartcard vpcd framing.
 *
 * State file (written atomically on every change): EID, eUICC key pair and
 * certificate, EUM and CI certificates, installed applications (app id, name,
 * kind, provider, state, not_after, credential payload; for bank-ID apps the
 * key pair the SE generated at install and the provider's certificate for
 * it), notification counter and pending notifications.
 */
#ifndef TS_SE_CARD_H
#define TS_SE_CARD_H

#include <stddef.h>
#include <stdint.h>

#define SE_APDU_MAX 65544 /* extended APDU: 7 header + 65535 data + 2 Le */
#define SE_MAX_APPS 32
#define SE_MAX_PENDING 64

typedef struct se_card se_card;

/*
 * Result codes of the download (AuthenticateServer / PrepareDownload, issue 7)
 * and, LEGACY(issue6) — remove when lpa lands —, of the old companion's
 * private forms on the basic channel. The SGP.22 ES10 result codes of part 1
 * are in lib/es10.h (enum es10_result); device/se_client maps them to TS_E*.
 *
 *   Enable/Disable/Delete { 80 result }, NotificationSent { 80 result }:
 *     0 ok, 1 not found, 2 wrong state (enable: already enabled, or a
 *     bank-ID app without its certificate yet; disable: already disabled),
 *     64 expired (enable past not_after).
 *   StoreCertificate (BF50, private use) { 80 appId, 30 certificate DER }
 *     -> BF50 { 80 result [BF2F enable notification] }: 0 ok (the app is
 *     enabled, the notification pending until NotificationSent), 1 not
 *     found, 2 wrong state (not a bank-ID app with an SE-generated key, or a
 *     certificate is already stored), 3 the certificate does not parse or
 *     does not certify the app's key, 64 expired.
 *   AuthenticateServer / PrepareDownload error { 02 code }:
 *     1 invalid certificate, 2 invalid signature, 4 no session context,
 *     5 invalid transaction id, 6 euiccChallenge mismatch, 127 undefined.
 *   LoadBoundProfilePackage failure (our choice, documented in es10.c):
 *     BF37 { 80 transactionId (when a session exists) | 02 code } with
 *     1 incorrect input, 3 invalid transaction id / no session,
 *     7 structure error, 8 security error (signature or MAC),
 *     9 app already installed, 10 no room, 64 expired, 127 undefined.
 */
enum se_result {
	SE_RES_OK = 0,
	SE_RES_NOT_FOUND = 1,
	SE_RES_WRONG_STATE = 2,
	SE_RES_EXPIRED = 64,
	SE_RES_UNDEFINED = 127,

	SE_CERT_INVALID = 3,

	SE_AUTH_INVALID_CERT = 1,
	SE_AUTH_INVALID_SIG = 2,
	SE_AUTH_NO_SESSION = 4,
	SE_AUTH_INVALID_TID = 5,
	SE_AUTH_CHALLENGE_MISMATCH = 6,

	SE_LOAD_INCORRECT_INPUT = 1,
	SE_LOAD_INVALID_TID = 3,
	SE_LOAD_STRUCTURE = 7,
	SE_LOAD_SECURITY = 8,
	SE_LOAD_EXISTS = 9,
	SE_LOAD_NO_ROOM = 10,
};

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
