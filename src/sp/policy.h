/*
 * policy.h — tapshare-sp authorisation policy (policy.ini) and the decision
 * it gives for one confirmOrder. Pure: no I/O besides loading the file.
 *
 * policy.ini:
 *   [default]        decision = approve|deny   max_duration_s = N (0 = unlimited)
 *                    kind = sim|bankid|service  (when neither app nor request says)
 *   [app.<APP_ID>]   decision, max_duration_s, kind, name, scope (service tokens)
 *   [deny]           eids = EID,EID,...   (also eids.1 .. eids.99 for long lists,
 *                    since one INI line holds at most ~5 EIDs)
 */
#ifndef TS_SP_POLICY_H
#define TS_SP_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"

#define SP_APP_ID_MAX 64
#define SP_MAX_DURATION_S (10LL * 365 * 86400)
#define SP_DENY_MAX 1024

typedef struct sp_policy sp_policy;

/* Loads and validates path strictly: unknown sections and keys and bad values
 * (also in app sections) are refused with "FILE:LINE: [section] key: problem"
 * in errbuf (TS_ECONFIG). Caller frees with sp_policy_free. */
int sp_policy_load(const char *path, sp_policy **out, char *errbuf, size_t errcap);
void sp_policy_free(sp_policy *p); /* NULL ok */
/* Checks path like sp_policy_load but reports every problem ("FILE:LINE:
 * [section] key: problem"), for `tapshare-sp check`. Returns their number. */
size_t sp_policy_check(const char *path, ts_config_report_fn report, void *arg);

/* One order as the policy sees it (strings borrowed). */
typedef struct sp_order {
	const char *eid;       /* already validated (eid_parse) */
	const char *app_id;    /* primary's app id, sp_app_id_valid */
	const char *kind_hint; /* kind the node sent, NULL = none */
	const char *name_hint; /* name the node sent, NULL = none */
	long long requested_s; /* requested duration, 0 = none */
	int transfer;          /* TS.43 operation_type 3: the original leaves the primary (move) */
} sp_order;

typedef struct sp_decision {
	int approved;      /* 1 approve, 0 deny */
	char reason[160];  /* why denied (for statusCodeData.message) */
	char kind[16];     /* sim | bankid | service */
	char name[128];    /* display name of the associated application */
	char scope[64];    /* service tokens */
	int64_t not_after; /* unix s, 0 = unlimited */
} sp_decision;

/* Decides. Deny list first, then the app section's decision (else the
 * default's), then the duration: not_after = now + min(requested, max), or
 * whichever is set, or 0 when neither. Returns 0 (look at out->approved) or
 * TS_ECONFIG for a malformed app section (reason in out->reason). */
int sp_policy_decide(const sp_policy *p, const sp_order *o, int64_t now, sp_decision *out);

/* 1 if kind is sim, bankid or service. */
int sp_kind_valid(const char *kind);
/* 1 if id is 1..SP_APP_ID_MAX of [A-Za-z0-9._:-]. */
int sp_app_id_valid(const char *id);

#endif
