/*
 * se_client.h — ES10-shaped functions on top of an se_driver: SELECT ISD-R,
 * STORE DATA (CLA 80, INS E2, P1 11 more blocks / 91 last, P2 block number)
 * chaining of large commands, GET RESPONSE for 61xx. Byte layouts in
 * lib/rsp.h and docs/protocol.md. The driver is borrowed.
 */
#ifndef TS_SE_CLIENT_H
#define TS_SE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "device/se_driver.h"
#include "lib/eid.h"

typedef struct se_app {
	char app_id[129];
	char name[129];
	char kind[32];
	char provider[129];
	int enabled;       /* 1 enabled, 0 disabled */
	int64_t not_after; /* 0 = none */
	int certified;     /* bank-ID: -1 no SE-generated key, 0 key not yet certified, 1 certified */
} se_app;

/* Sends one ES10 STORE DATA function (cmd is the whole TLV, e.g. BF3E ...)
 * and returns the whole response TLV (caller frees). */
int se_store_data(se_driver *d, const uint8_t *cmd, size_t len, uint8_t **resp, size_t *rlen);

int se_get_eid(se_driver *d, eid_t *out);                        /* BF3E */
int se_get_challenge(se_driver *d, uint8_t out[16]);              /* BF2E */
/* BF38: returns the raw BF38 response (caller frees) to forward to the node. */
int se_authenticate_server(se_driver *d, const uint8_t *server_signed1, size_t s1len,
    const uint8_t sig1[64], const uint8_t *server_cert, size_t certlen,
    const char *matching_id, uint8_t **resp, size_t *rlen);
/* BF21: returns the raw BF21 response (caller frees). */
int se_prepare_download(se_driver *d, const uint8_t *smdp_signed2, size_t s2len,
    const uint8_t sig2[64], const uint8_t *smdp_cert, size_t certlen,
    uint8_t **resp, size_t *rlen);
/* BF36: installs a bound package; returns the signed install notification
 * (BF2F, caller frees). TS_EVERIFY if the package does not verify. */
int se_load_package(se_driver *d, const uint8_t *bpp, size_t len, uint8_t **notif, size_t *nlen);
/* BF2D */
int se_list_apps(se_driver *d, se_app *apps, size_t max, size_t *n);
/* BF31 / BF32: TS_EEXPIRED when enabling past not_after, TS_ENOTFOUND. */
int se_enable(se_driver *d, const char *app_id);
int se_disable(se_driver *d, const char *app_id);
/* BF33: deletes; returns the signed delete notification (caller frees). */
int se_delete(se_driver *d, const char *app_id, uint8_t **notif, size_t *nlen);
/* BF2B: pending signed notifications, each malloc'ed (caller frees each and
 * the array). BF30: marks one as delivered. */
int se_pending_notifications(se_driver *d, uint8_t ***notifs, size_t **lens, size_t *n);
int se_notification_sent(se_driver *d, uint64_t seq);
/* BF50 (private use): stores the provider's certificate (X.509 DER, borrowed)
 * for the key the SE generated for bank-ID app app_id, which enables the app;
 * returns the signed enable notification (BF2F, caller frees), pending in the
 * SE until se_notification_sent. TS_ENOTFOUND (no such app), TS_ESTATE (not a
 * bank-ID app, or already certified: see se_app.certified), TS_EVERIFY (not a
 * certificate for the app's key), TS_EEXPIRED. */
int se_store_certificate(se_driver *d, const char *app_id, const uint8_t *cert, size_t len,
    uint8_t **notif, size_t *nlen);

#endif
