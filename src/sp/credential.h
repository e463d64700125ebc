/*
 * credential.h — minting the associated security application's parameters
 * that tapshare-sp returns in confirmOrder (opaque to the node).
 *
 *   sim      {"iccid","imsi","ki","opc","profile_package","primary_app_id"};
 *            associatedAppId "sim-<iccid>"
 *            ICCID: 19 digits, "8944" + 14 random + Luhn check digit (ITU-T E.118)
 *            IMSI: 15 digits, test network MCC 001 / MNC 01 + 10 random digits
 *            Ki, OPc: 16 random bytes each, lower-case hex
 *            profile_package: base64 of the SIM's TCA profile package
 *            (lib/upp.h) built from these values: what the node delivers
 *            as the profile and tapshare-se installs
 *   bankid   {"account","certify_url","activation_code","primary_app_id"}; "bankid-<hex>"
 *            account: the bank account of the primary's app (sp_store accounts,
 *            12 digits), so the companion's credential is certified under the
 *            same account (certifyKey, sp.h)
 *   service  {"token","scope","expires_at","primary_app_id"}; "svc-<hex>"
 */
#ifndef TS_SP_CREDENTIAL_H
#define TS_SP_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SP_ICCID_DIGITS 19
#define SP_IMSI_DIGITS 15
#define SP_ASSOC_ID_MAX 64

/* Mints a credential of kind for the primary's app_id. *cred is a new JSON
 * object (caller decrefs); assoc_id receives the associated app id.
 * scope is used for service tokens (NULL = "companion"). */
int sp_cred_mint(const char *kind, const char *primary_app_id, const char *scope,
    int64_t not_after, json_t **cred, char assoc_id[SP_ASSOC_ID_MAX]);

/* As sp_cred_mint, with the bank account for a bankid credential (12 digits
 * or another printable account id up to SP_CRED_ACCOUNT_MAX - 1 chars;
 * NULL = a random 12-digit one). Ignored for other kinds. */
#define SP_CRED_ACCOUNT_MAX 33
#define SP_ACCOUNT_DIGITS 12
int sp_cred_mint_account(const char *kind, const char *primary_app_id, const char *scope,
    int64_t not_after, const char *account, json_t **cred, char assoc_id[SP_ASSOC_ID_MAX]);

/* Luhn (mod 10) check digit for a digit string: 0..9, or TS_EINVAL. */
int sp_luhn_check_digit(const char *digits);
/* 1 if the digit string (check digit last) passes Luhn, else 0. */
int sp_luhn_valid(const char *digits);
/* n random decimal digits (unbiased) into out (n+1 bytes). */
int sp_random_digits(char *out, size_t n);

#endif
