/*
 * credential.c — associated credentials minted by tapshare-sp (credential.h).
 */
#include "sp/credential.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/ts_err.h"
#include "lib/upp.h"
#include "lib/util.h"

int
sp_luhn_check_digit(const char *digits)
{
	if (digits == NULL || digits[0] == '\0')
		return TS_EINVAL;
	size_t n = strlen(digits);
	int sum = 0;
	/* Doubling starts with the rightmost payload digit (the check digit
	 * will sit to its right). */
	for (size_t i = 0; i < n; i++) {
		char c = digits[n - 1 - i];
		if (c < '0' || c > '9')
			return TS_EINVAL;
		int d = c - '0';
		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (10 - sum % 10) % 10;
}

int
sp_luhn_valid(const char *digits)
{
	if (digits == NULL)
		return 0;
	size_t n = strlen(digits);
	if (n < 2)
		return 0;
	char payload[64];
	if (n > sizeof(payload))
		return 0;
	memcpy(payload, digits, n - 1);
	payload[n - 1] = '\0';
	int cd = sp_luhn_check_digit(payload);
	return cd >= 0 && digits[n - 1] == '0' + cd;
}

int
sp_random_digits(char *out, size_t n)
{
	size_t got = 0;
	uint8_t buf[32];
	while (got < n) {
		if (ts_random(buf, sizeof(buf)) != 0)
			return TS_ECRYPTO;
		/* Rejection sampling: 250 = 25 * 10, so bytes below it are unbiased. */
		for (size_t i = 0; i < sizeof(buf) && got < n; i++)
			if (buf[i] < 250)
				out[got++] = (char)('0' + buf[i] % 10);
	}
	out[n] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int
random_hex(size_t nbytes, char *out, size_t cap)
{
	uint8_t buf[32];
	if (nbytes > sizeof(buf) || ts_random(buf, nbytes) != 0)
		return TS_ECRYPTO;
	int rc = ts_hex_encode(buf, nbytes, out, cap);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* The SIM's profile package (lib/upp.h) from the provider's data: the
 * ICCID, IMSI (MNC of 2 digits: MCC 001 / MNC 01), Ki and OPc; *b64 is its
 * base64 (caller cleanses and frees: it holds Ki and OPc). */
static int
sim_package(const char *iccid, const char *imsi, const char *ki, const char *opc, char **b64)
{
	upp_sim s;
	uint8_t *pkg = NULL;
	size_t len = 0, n = 0;
	int rc;
	memset(&s, 0, sizeof(s));
	snprintf(s.profile_type, sizeof(s.profile_type), "tapshare SIM");
	snprintf(s.imsi, sizeof(s.imsi), "%s", imsi);
	s.mnc_len = 2;
	if ((rc = upp_iccid_encode(iccid, s.iccid)) != 0 ||
	    (rc = ts_hex_decode(ki, s.ki, sizeof(s.ki), &n)) != 0 || n != UPP_KEY_LEN ||
	    (rc = ts_hex_decode(opc, s.opc, sizeof(s.opc), &n)) != 0 || n != UPP_KEY_LEN ||
	    (rc = upp_encode(&s, &pkg, &len)) != 0) {
		rc = rc != 0 ? rc : TS_EINVAL;
		goto out;
	}
	rc = ts_b64_encode(pkg, len, b64);
out:
	if (pkg != NULL) {
		OPENSSL_cleanse(pkg, len);
		free(pkg);
	}
	upp_sim_clear(&s);
	return rc;
}

static int
mint_sim(const char *app_id, json_t **cred, char assoc[SP_ASSOC_ID_MAX])
{
	char iccid[SP_ICCID_DIGITS + 1] = "8944";
	char imsi[SP_IMSI_DIGITS + 1] = "00101";
	char ki[33], opc[33];
	char *pkg = NULL;
	int rc;
	if ((rc = sp_random_digits(iccid + 4, SP_ICCID_DIGITS - 5)) != 0)
		return rc;
	int cd = sp_luhn_check_digit(iccid);
	if (cd < 0)
		return cd;
	iccid[SP_ICCID_DIGITS - 1] = (char)('0' + cd);
	iccid[SP_ICCID_DIGITS] = '\0';
	if ((rc = sp_random_digits(imsi + 5, SP_IMSI_DIGITS - 5)) != 0)
		return rc;
	if ((rc = random_hex(16, ki, sizeof(ki))) != 0 ||
	    (rc = random_hex(16, opc, sizeof(opc))) != 0 ||
	    (rc = sim_package(iccid, imsi, ki, opc, &pkg)) != 0)
		goto out;
	*cred = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "iccid", iccid, "imsi", imsi, "ki", ki,
	    "opc", opc, "profile_package", pkg, "primary_app_id", app_id);
	rc = *cred ? ts_snprintf(assoc, SP_ASSOC_ID_MAX, "sim-%s", iccid) : TS_ENOMEM;
out:
	OPENSSL_cleanse(ki, sizeof(ki));
	OPENSSL_cleanse(opc, sizeof(opc));
	if (pkg != NULL) {
		OPENSSL_cleanse(pkg, strlen(pkg));
		free(pkg);
	}
	return rc;
}

static int
mint_bankid(const char *app_id, const char *account_in, json_t **cred,
    char assoc[SP_ASSOC_ID_MAX])
{
	char hex[17], account[SP_CRED_ACCOUNT_MAX], code[9], nonce[33], url[128];
	int rc;
	if (account_in != NULL) {
		size_t n = strlen(account_in);
		if (n == 0 || n >= sizeof(account))
			return TS_EINVAL;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)account_in[i] < 0x21 || (unsigned char)account_in[i] > 0x7e)
				return TS_EINVAL;
		memcpy(account, account_in, n + 1);
	} else if ((rc = sp_random_digits(account, SP_ACCOUNT_DIGITS)) != 0) {
		return rc;
	}
	if ((rc = random_hex(8, hex, sizeof(hex))) != 0 ||
	    (rc = sp_random_digits(code, 8)) != 0 ||
	    (rc = random_hex(16, nonce, sizeof(nonce))) != 0)
		goto out;
	if ((rc = ts_snprintf(url, sizeof(url), "https://bankid.sp.invalid/certify/%s", nonce)) != 0)
		goto out;
	*cred = json_pack("{s:s,s:s,s:s,s:s}", "account", account, "certify_url", url,
	    "activation_code", code, "primary_app_id", app_id);
	rc = *cred ? ts_snprintf(assoc, SP_ASSOC_ID_MAX, "bankid-%s", hex) : TS_ENOMEM;
out:
	OPENSSL_cleanse(code, sizeof(code));
	OPENSSL_cleanse(nonce, sizeof(nonce));
	OPENSSL_cleanse(url, sizeof(url));
	return rc;
}

static int
mint_service(const char *app_id, const char *scope, int64_t not_after, json_t **cred,
    char assoc[SP_ASSOC_ID_MAX])
{
	char hex[17], token[65];
	int rc;
	if ((rc = random_hex(8, hex, sizeof(hex))) != 0 ||
	    (rc = random_hex(32, token, sizeof(token))) != 0)
		goto out;
	*cred = json_pack("{s:s,s:s,s:I,s:s}", "token", token, "scope",
	    scope ? scope : "companion", "expires_at", (json_int_t)not_after,
	    "primary_app_id", app_id);
	rc = *cred ? ts_snprintf(assoc, SP_ASSOC_ID_MAX, "svc-%s", hex) : TS_ENOMEM;
out:
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}

int
sp_cred_mint(const char *kind, const char *primary_app_id, const char *scope,
    int64_t not_after, json_t **cred, char assoc_id[SP_ASSOC_ID_MAX])
{
	return sp_cred_mint_account(kind, primary_app_id, scope, not_after, NULL, cred, assoc_id);
}

int
sp_cred_mint_account(const char *kind, const char *primary_app_id, const char *scope,
    int64_t not_after, const char *account, json_t **cred, char assoc_id[SP_ASSOC_ID_MAX])
{
	if (kind == NULL || primary_app_id == NULL || cred == NULL || assoc_id == NULL)
		return TS_EINVAL;
	*cred = NULL;
	assoc_id[0] = '\0';
	int rc;
	if (strcmp(kind, "sim") == 0)
		rc = mint_sim(primary_app_id, cred, assoc_id);
	else if (strcmp(kind, "bankid") == 0)
		rc = mint_bankid(primary_app_id, account, cred, assoc_id);
	else if (strcmp(kind, "service") == 0)
		rc = mint_service(primary_app_id, scope, not_after, cred, assoc_id);
	else
		return TS_EUNSUPP;
	if (rc != 0) {
		json_decref(*cred);
		*cred = NULL;
		assoc_id[0] = '\0';
	}
	return rc;
}
