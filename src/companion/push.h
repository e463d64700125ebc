/*
 * push.h — the commands the node pushes to a companion over
 * GET /v1/companion/events (docs/protocol.md §3), parsed from one
 * server-sent event, and the stream's token answer (below). Pure: no I/O,
 * no SE.
 *
 *   event: download   data: {"share_id","matching_id","smdp_address"}   (S14)
 *   event: delete     data: {"share_id","app_id"}                       (S17)
 *   event: certificate data: {"share_id","app_id","certificate"}        (bank-ID)
 *          certificate: base64 of the provider's X.509 DER certificate for
 *          the key the SE generated for app_id (at most PUSH_CERT_MAX bytes)
 */
#ifndef TS_COMPANION_PUSH_H
#define TS_COMPANION_PUSH_H

#include <stddef.h>

#include "lib/rsp.h"

#define PUSH_ID_MAX 128
#define PUSH_CERT_MAX 4096

enum push_kind {
	PUSH_DOWNLOAD = 1,
	PUSH_DELETE = 2,
	PUSH_CERTIFICATE = 3,
};

typedef struct push_cmd {
	int kind; /* enum push_kind */
	char share_id[PUSH_ID_MAX + 1];
	char matching_id[RSP_STR_MAX + 1];  /* download only */
	char smdp_address[RSP_STR_MAX + 1]; /* download only */
	char app_id[RSP_STR_MAX + 1];       /* delete and certificate */
	uint8_t cert[PUSH_CERT_MAX];        /* certificate only: X.509 DER */
	size_t cert_len;
} push_cmd;

/* Parses one event (event name and data borrowed). Returns 0, TS_EUNSUPP for
 * an event name we do not know (callers skip it), TS_EPROTO for bad or
 * missing fields (errbuf says which), TS_EPARSE when data is not a JSON
 * object. Strings must be non-empty printable ASCII within their limits.
 * Unknown extra members are ignored (forward compatibility). */
int push_parse(const char *event, const char *data, push_cmd *out, char *errbuf, size_t errcap);

/*
 * Event stream authentication (issue 8; node: src/node/stream_auth.h). The
 * stream needs a token that the companion's secure element earns through the
 * ES9+ mutual authentication, without a share: es9_stream_auth (es9client.h)
 * runs it; push_stream_token_parse reads the node's last answer,
 *   {"header":{...}, "streamToken": 64 hex, "expiresIn": seconds}.
 */
#define PUSH_STREAM_TOKEN_LEN 64
#define PUSH_STREAM_MATCHING_ID "tapshare-event-stream"
#define PUSH_STREAM_TTL_MAX 86400

#include <jansson.h>

/* Pure. TS_EPROTO (errbuf says why) unless streamToken is 64 lowercase hex
 * characters and expiresIn an integer in 1..PUSH_STREAM_TTL_MAX. */
int push_stream_token_parse(const json_t *resp, char token[PUSH_STREAM_TOKEN_LEN + 1], long *expires_in,
    char *errbuf, size_t errcap);

#endif
