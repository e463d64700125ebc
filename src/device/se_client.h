/*
 * se_client.h — the companion's LPA side of GSMA SGP.22 (LPAd): the ES10
 * functions of any SGP.22 eUICC, reached through an se_driver on a logical
 * channel of their own (SELECT ISD-R by AID, STORE DATA chaining, GET
 * RESPONSE for 61xx; see se_client.c), every request and response encoded
 * and decoded by lib/es10.h; and the tapshare credential applet
 * (lib/credapplet.h) beside the ISD-R. Then, built on both, tapshare's view:
 * an app is a profile plus its metadata in the applet. The driver is
 * borrowed by every function.
 */
#ifndef TS_SE_CLIENT_H
#define TS_SE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "device/se_driver.h"
#include "lib/eid.h"
#include "lib/credapplet.h"
#include "lib/es10.h"
#include "lib/es10dl.h"

/* Sends one ES10 STORE DATA function (cmd is the whole TLV, e.g. BF3E ...)
 * and returns the whole response TLV (caller frees). */
int se_store_data(se_driver *d, const uint8_t *cmd, size_t len, uint8_t **resp, size_t *rlen);

int se_get_eid(se_driver *d, eid_t *out);                        /* BF3E */
int se_get_challenge(se_driver *d, uint8_t out[16]);              /* BF2E */
/* BF38 AuthenticateServer (lib/es10dl.h): returns the whole BF38 response
 * (authenticateResponseOk; caller frees) to forward to the SM-DP+; an
 * authenticateResponseError is its TS_E* (TS_EVERIFY certificate, signature,
 * challenge or CI; TS_ESTATE no session; TS_EPROTO others). */
typedef struct se_auth_server_args {
	const uint8_t *server_signed1; size_t server_signed1_len; /* 30 TLV */
	const uint8_t *sig1;                                      /* 64 bytes r||s */
	const uint8_t *ci_pkid; size_t ci_pkid_len;               /* euiccCiPKIdToBeUsed value */
	const uint8_t *server_cert; size_t server_cert_len;
	const char *matching_id;      /* NULL or "" = none in ctxParams1 */
	const es10_device_info *device; /* NULL = se_lpa_device_info() */
} se_auth_server_args;
int se_authenticate_server_ex(se_driver *d, const se_auth_server_args *a, uint8_t **resp, size_t *rlen);
/* The same with euiccCiPKIdToBeUsed taken from the server certificate's
 * authorityKeyIdentifier (the CI that issued it). */
int se_authenticate_server(se_driver *d, const uint8_t *server_signed1, size_t s1len,
    const uint8_t sig1[64], const uint8_t *server_cert, size_t certlen,
    const char *matching_id, uint8_t **resp, size_t *rlen);
/* The deviceInfo tapshare's LPA declares (see se_client.c). */
void se_lpa_device_info(es10_device_info *d);
/* BF21 PrepareDownload: returns the whole BF21 response (downloadResponseOk;
 * caller frees); hash_cc (32 bytes) or NULL. */
int se_prepare_download_ex(se_driver *d, const uint8_t *smdp_signed2, size_t s2len,
    const uint8_t sig2[64], const uint8_t *hash_cc, const uint8_t *smdp_cert, size_t certlen,
    uint8_t **resp, size_t *rlen);
int se_prepare_download(se_driver *d, const uint8_t *smdp_signed2, size_t s2len,
    const uint8_t sig2[64], const uint8_t *smdp_cert, size_t certlen,
    uint8_t **resp, size_t *rlen);
/* BF36: installs a bound package, sent command by command as SGP.22 §2.5.5
 * has an LPA send it (lib/bsp.h bsp_split); returns the ProfileInstallationResult
 * (BF37, successResult; caller frees). An errorResult is returned as its
 * TS_E* (TS_EVERIFY signature / SCP03t / data mismatch, TS_EEXIST ICCID
 * exists, TS_ELIMIT memory, TS_ESTATE transaction id, TS_EDENIED PPR,
 * TS_EPROTO others), nothing in *notif: it stays pending in the SE like every
 * notification, for the SM-DP+ to be told. TS_EPROTO for a response that is
 * not a ProfileInstallationResult. */
int se_load_package(se_driver *d, const uint8_t *bpp, size_t len, uint8_t **notif, size_t *nlen);

/*
 * SGP.22 ES10 functions (ES10a/b/c, part 1), exactly as lib/es10.h encodes
 * and decodes them, so that they work with any SGP.22 eUICC. Out-structs are
 * filled only on success; lists are owned by the caller (clear them with the
 * es10_*_clear function named). Each function that gets a result code from
 * the eUICC stores it in *result when result != NULL (0 ok; the SGP.22 code
 * otherwise, see se_result_name) and maps it to a TS_E* code:
 *   iccidOrAidNotFound / iccidNotFound (1)        -> TS_ENOTFOUND
 *   profileNotIn{Disabled,Enabled}State (2)       -> TS_ESTATE
 *   disallowedByPolicy (3)                        -> TS_EDENIED
 *   wrongProfileReenabling (4), catBusy (5)       -> TS_ESTATE
 *   nothingToDelete (1, NotificationSent / reset) -> TS_ENOTFOUND
 *   undefinedError (127), anything else           -> TS_EPROTO
 * A response that does not decode is TS_EPROTO (the decoder's reason is
 * logged at debug level); transport errors as for se_store_data.
 */
#define SE_RESULT_NONE (-1) /* *result when no result code was received */

/* "iccidOrAidNotFound", ... for the result code of the function whose
 * response has tag fn (ES10_TAG_*); "unknown result" for others. Static. */
const char *se_result_name(uint32_t fn, int result);

int se_get_euicc_info1(se_driver *d, es10_euicc_info1 *out);            /* BF20 */
/* The EUICCInfo1 TLV as the SE answered it (checked to decode), for an LPA
 * to pass on unchanged (ES9+ initiateAuthentication). Caller frees *raw. */
int se_get_euicc_info1_raw(se_driver *d, uint8_t **raw, size_t *len);
/* CancelSession (BF41, SGP.22 §5.7.14): *raw is the eUICC's signed
 * CancelSessionResponse (cancelSessionResponseOk) for ES9+ cancelSession;
 * TS_EDENIED when the eUICC answers cancelSessionResponseError (no session
 * with that transactionId). Caller frees *raw. */
int se_cancel_session(se_driver *d, const uint8_t *tid, size_t tid_len, int reason, uint8_t **raw, size_t *len);
int se_get_euicc_info2(se_driver *d, es10_euicc_info2 *out);            /* BF22 */
int se_get_addresses(se_driver *d, es10_configured_addresses *out);     /* BF3C */
int se_set_default_dp(se_driver *d, const char *address, int *result); /* BF3F */
/* BF2D: req NULL = every profile, every field. *out: es10_profile_list_clear.
 * A ProfileInfoListError is TS_EINVAL (incorrectInputValues) or TS_EPROTO. */
int se_get_profiles(se_driver *d, const es10_profile_info_req *req, es10_profile_list *out,
    int *result);
/* BF31 / BF32 / BF33 by ICCID or ISD-P AID (id borrowed). */
int se_enable_profile(se_driver *d, const es10_profile_id *id, int refresh, int *result);
int se_disable_profile(se_driver *d, const es10_profile_id *id, int refresh, int *result);
int se_delete_profile(se_driver *d, const es10_profile_id *id, int *result);
/* BF29: nickname 0..64 bytes of UTF-8. */
int se_set_nickname(se_driver *d, const uint8_t iccid[ES10_ICCID_LEN], const char *nickname,
    int *result);
/* BF28: events 0 = every notification, else an ES10_EVENT_* mask.
 * *out: es10_notif_list_clear. */
int se_list_notifications(se_driver *d, uint32_t events, es10_notif_list *out);
/* BF2B: req NULL = all. *raw is the whole response (caller frees); the
 * entries of *out borrow from it (es10_pending_list_clear, then free *raw).
 * noResultAvailable is an empty list, not an error. */
int se_retrieve_notifications(se_driver *d, const es10_retrieve_req *req, uint8_t **raw,
    size_t *rawlen, es10_pending_list *out);
/* BF30 (RemoveNotificationFromList). */
int se_remove_notification(se_driver *d, uint64_t seq, int *result);
/* BF34: options ES10_RESET_* mask. */
int se_memory_reset(se_driver *d, uint32_t options, int *result);

/* Finds the profile a user names: s is an ICCID as the card's ProfileInfo
 * shows it (digits) or an ISD-P AID in hex (either case). On success *id
 * holds the card's own bytes (ICCID when the profile has one, else the AID)
 * and *info (may be NULL) the profile. When no profile matches, an s that is
 * a valid ICCID (19-20 digits, Luhn) or AID (5-16 bytes of hex) still goes
 * into *id, and the result is TS_ENOTFOUND: the caller may send it anyway
 * and let the eUICC answer (id->kind is ES10_ID_NONE when s is only digits
 * that make no valid ICCID). TS_EINVAL when s is neither. */
int se_find_profile(se_driver *d, const char *s, es10_profile_id *id, es10_profile_info *info);

/*
 * The tapshare credential applet (lib/credapplet.h), selected by its AID on a
 * logical channel of its own beside the ISD-R's: the tapshare metadata of
 * each installed app (app id, name, kind, provider, not_after, key state by
 * ICCID), and a bank-ID app's key and certificate. Errors: TS_ENOTFOUND (no
 * such ICCID / no certificate: 6A88, or the card has no such applet: SELECT
 * 6A82), TS_ESTATE (6985: not a bank-ID app, key already certified),
 * TS_EVERIFY (6A80 to STORE CERTIFICATE: it does not certify the app's key),
 * TS_EPROTO (other status words, responses that do not decode).
 */
/* *items: caller frees with free() (NULL when empty). */
int se_cred_list(se_driver *d, cred_entry **items, size_t *n);
int se_cred_get(se_driver *d, const uint8_t iccid[CRED_ICCID_LEN], cred_entry *out);
/* The app's public key (X9.62 uncompressed); generated on first use. */
int se_cred_generate_key(se_driver *d, const uint8_t iccid[CRED_ICCID_LEN],
    uint8_t point[CRED_PUBKEY_LEN]);
/* cert: one X.509 DER certificate (borrowed). */
int se_cred_store_certificate(se_driver *d, const uint8_t iccid[CRED_ICCID_LEN],
    const uint8_t *cert, size_t len);
/* *cert: caller frees. */
int se_cred_read_certificate(se_driver *d, const uint8_t iccid[CRED_ICCID_LEN], uint8_t **cert,
    size_t *len);

/*
 * tapshare apps: an installed app is an SGP.22 profile (ICCID, ISD-P AID,
 * state) and its tapshare metadata in the credential applet (app id, name,
 * kind, provider, not_after, key state), joined by ICCID.
 */
typedef struct se_app {
	char app_id[CRED_STR_MAX + 1];
	char name[CRED_STR_MAX + 1];
	char kind[CRED_KIND_MAX + 1];
	char provider[CRED_STR_MAX + 1];
	int enabled;       /* 1 enabled, 0 disabled */
	int64_t not_after; /* 0 = none */
	int certified;     /* -1 no SE-generated key, 0 key not yet certified, 1 certified */
	char iccid[ES10_ICCID_DIGITS_MAX + 1];
	es10_profile_id id; /* the profile's ICCID, to address it */
} se_app;

/* Every app: the credential applet's entries whose profile exists (a profile
 * without applet metadata is not a tapshare app and is left out; so is an
 * entry without a profile). TS_ELIMIT when there are more than max. */
int se_list_apps(se_driver *d, se_app *apps, size_t max, size_t *n);
/* The app app_id: TS_ENOTFOUND when the SE has none. */
int se_find_app(se_driver *d, const char *app_id, se_app *out);
/* EnableProfile / DisableProfile of the app's profile (refreshFlag false):
 * TS_ENOTFOUND, TS_ESTATE (already in that state; enable: a bank-ID app
 * without its certificate), TS_EDENIED (policy, e.g. past not_after). The
 * enable / disable notification stays pending in the SE. */
int se_enable(se_driver *d, const char *app_id);
int se_disable(se_driver *d, const char *app_id);
/* Deletes the app's profile (disabling it first when it is enabled, as
 * SGP.22 requires) and returns its delete notification (the
 * OtherSignedNotification, retrieved with RetrieveNotificationsList; caller
 * frees), which stays pending in the SE until se_notification_sent.
 * notif may be NULL. TS_ENOTFOUND when the SE has no such app. */
int se_delete(se_driver *d, const char *app_id, uint8_t **notif, size_t *nlen);
/* Stores the provider's certificate (X.509 DER, borrowed) for the key the SE
 * generated for bank-ID app app_id (credential applet), then enables the
 * profile; returns the enable notification as se_delete does (notif may be
 * NULL). TS_ENOTFOUND, TS_ESTATE (not a bank-ID app, or already certified:
 * see se_app.certified), TS_EVERIFY (not a certificate for the app's key). */
int se_store_certificate(se_driver *d, const char *app_id, const uint8_t *cert, size_t len,
    uint8_t **notif, size_t *nlen);
/* Every PendingNotification (RetrieveNotificationsList), each malloc'ed
 * (caller frees each and the arrays). */
int se_pending_notifications(se_driver *d, uint8_t ***notifs, size_t **lens, size_t *n);
/* Removes, unsent, every pending notification about the profile iccid
 * (ListNotification, NotificationSent each): for an SE whose notifications
 * have no recipient (a primary's own SE after a move). *n: how many. */
int se_drop_notifications(se_driver *d, const uint8_t iccid[ES10_ICCID_LEN], size_t *n);
/* NotificationSent (RemoveNotificationFromList). TS_ENOTFOUND: nothingToDelete. */
int se_notification_sent(se_driver *d, uint64_t seq);

#endif
