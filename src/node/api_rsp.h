/*
 * api_rsp.h — the SGP.22 JSON glue ES9+ (api_es9.c) and ES11 (api_es11.c)
 * share (SGP.22 §6.5): the response header, functionExecutionStatus with
 * statusCodeData from the one status table (es9_status.h), X-Admin-Protocol,
 * the base64 members, initiateAuthentication's answer.
 */
#ifndef TS_NODE_API_RSP_H
#define TS_NODE_API_RSP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "node/download.h"
#include "node/es9_status.h"
#include "node/node.h"

/* 200 {"header":{"functionExecutionStatus":{"status":"Executed-Success"}}, …body}
 * (body may be NULL; it is consumed). */
void rsp_reply_ok(struct evhttp_request *req, json_t *body);
/* A base64 member of an answer (rsp_reply_ok_b64). */
typedef struct rsp_b64 {
	const char *key;
	const uint8_t *buf;
	size_t len;
} rsp_b64;
/* rsp_reply_ok of {"transactionId": tid, m[0].key: base64(m[0]), ...} (n
 * members), byte for byte, written without a jansson tree. */
void rsp_reply_ok_b64(struct evhttp_request *req, const char *tid, const rsp_b64 *m, size_t n);
/* 200 {"header":{"functionExecutionStatus":{"status":"Failed","statusCodeData":
 * {"subjectCode","reasonCode","subjectIdentifier"?,"message"}}}}. subject_id
 * NULL or "" leaves subjectIdentifier out. */
void rsp_reply_fail(struct evhttp_request *req, es9_status s, const char *subject_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* rsp_reply_fail with a business function's refusal. */
void rsp_reply_refusal(struct evhttp_request *req, const download_why *why);
/* HTTP 204 with X-Admin-Protocol (a MEP notification's answer, SGP.22 §6.3). */
void rsp_reply_204(struct evhttp_request *req);
/* A mandatory base64 member of body: 0 with *out (caller frees), or the status
 * to answer: ES9_MISSING (absent) / ES9_INVALID (not a base64 string). */
es9_status rsp_b64_arg(const json_t *body, const char *name, uint8_t **out, size_t *len);
/* Answers with initiateAuthentication's answer (ES9+ §6.5.2.6 / ES11): transactionId,
 * serverSigned1, serverSignature1 (5F37 data object), euiccCiPKIdToBeUsed,
 * serverCertificate. */
void rsp_reply_auth1(struct evhttp_request *req, node *n, const char *tid, const uint8_t *s1, size_t s1_len,
    const uint8_t sig[64]);

/* ES11 AuthenticateClient's answer {eventEntries} (smds_authenticate); es9_path:
 * a discovery on the ES9+ path (smds_authenticate_es9), which also names the
 * transactionId. */
void rsp_events(node *n, const download_svc *d, const char *tid, const uint8_t *asr, size_t asr_len, int es9_path,
    struct evhttp_request *req);

#endif
