/*
 * enroll.h — enrollment of a primary device (docs/protocol.md §2): a
 * one-time code created for the user's account and the device's own CSR
 * become a device certificate issued by the node CA and a device row, in one
 * transaction. No HTTP here (api_primary.c is the glue).
 */
#ifndef TS_NODE_ENROLL_H
#define TS_NODE_ENROLL_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "node/share.h"
#include "node/store.h"

#define ENROLL_CERT_DAYS 825

/* Uses the code (SHA-256 stored), issues a TLS client certificate for the
 * CSR's key (CN name) and records the device. Outputs: device_id (SHA-256 of
 * the key), *cert_pem (caller frees), *user_id. Refusals (why->code):
 * bad_enrollment_code (unknown, used, expired), device_exists, issue_failed,
 * store_busy. ca and ca_key are borrowed. */
int enroll_device(store *st, X509 *ca, EVP_PKEY *ca_key, const char *code, X509_REQ *csr, const char *name,
    char device_id[65], char **cert_pem, int64_t *user_id, share_why *why);

#endif
