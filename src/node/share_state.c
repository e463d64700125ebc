/*
 * share_state.c — names and the one transition table of a share.
 */
#include "node/share_state.h"

#include <string.h>

#include "lib/ts_err.h"
#include "lib/util.h"

static const char *const names[SHARE_NSTATES] = {
	[SHARE_REQUESTED] = "requested",
	[SHARE_EID_CONFIRMED] = "eid_confirmed",
	[SHARE_AUTHORISED] = "authorised",
	[SHARE_DELIVERED] = "delivered",
	[SHARE_INSTALLED] = "installed",
	[SHARE_DENIED] = "denied",
	[SHARE_FAILED] = "failed",
	[SHARE_EXPIRED] = "expired",
	[SHARE_CANCEL_PENDING] = "cancel_pending",
	[SHARE_REVOKED] = "revoked",
};

#define T(s) (1u << (s))

/* allowed[from] = set of states `from` may move to, with the step that does it. */
static const unsigned allowed[SHARE_NSTATES] = {
	/* S12 first confirmation */
	[SHARE_REQUESTED] = T(SHARE_EID_CONFIRMED),
	/* S13 authorised / denied; S13 failed (no usable answer); S16 cancel
	 * before S13 (nothing granted yet, or a grant in flight the provider is
	 * told to drop) */
	[SHARE_EID_CONFIRMED] = T(SHARE_AUTHORISED) | T(SHARE_DENIED) | T(SHARE_FAILED) | T(SHARE_REVOKED),
	/* S14 package delivered; expiry; S16 cancel (nothing on the SE) */
	[SHARE_AUTHORISED] = T(SHARE_DELIVERED) | T(SHARE_FAILED) | T(SHARE_EXPIRED) | T(SHARE_REVOKED),
	/* S15 installed; the SE refused the package (failed); expiry; S16 cancel:
	 * the package may never have reached the SE, so the grant is revoked at
	 * once and the delete stays pushed until the SE settles it */
	[SHARE_DELIVERED] = T(SHARE_INSTALLED) | T(SHARE_FAILED) | T(SHARE_EXPIRED) | T(SHARE_REVOKED),
	/* S16 cancel (waits for the SE's delete); expiry; S17 deleted on the
	 * companion's own initiative */
	[SHARE_INSTALLED] = T(SHARE_CANCEL_PENDING) | T(SHARE_EXPIRED) | T(SHARE_REVOKED),
	/* S17 the SE deleted it (or never could install it) */
	[SHARE_CANCEL_PENDING] = T(SHARE_REVOKED),
};

const char *
share_state_name(enum share_state s)
{
	return (unsigned)s < SHARE_NSTATES ? names[s] : "?";
}

enum share_state
share_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i < SHARE_NSTATES; i++)
		if (strcmp(names[i], name) == 0)
			return (enum share_state)i;
	return SHARE_NSTATES;
}

int
share_state_may(enum share_state from, enum share_state to)
{
	if ((unsigned)from >= SHARE_NSTATES || (unsigned)to >= SHARE_NSTATES)
		return 0;
	return (allowed[from] & T(to)) != 0;
}

int
share_state_final(enum share_state s)
{
	return (unsigned)s < SHARE_NSTATES && allowed[s] == 0;
}

/* The states of sql_list's choice as SQL: an IN list ("'a','b'"), an OR of
 * equalities ("(state='a' OR state='b')") or an AND of inequalities
 * ("state<>'a' AND state<>'b'"). */
enum sql_style { SQL_IN, SQL_OR, SQL_AND_NOT };

static int
sql_list(int to, enum sql_style style, char *buf, size_t cap)
{
	static const char *const sep[] = { ",", " OR ", " AND " };
	static const char *const op[] = { "", "state=", "state<>" };
	size_t len = 0;
	if (cap == 0)
		return TS_ELIMIT;
	buf[0] = '\0';
	if (style == SQL_OR && ts_snprintf(buf, cap, "(") != 0)
		return TS_ELIMIT;
	len = strlen(buf);
	size_t first = len;
	for (int i = 0; i < SHARE_NSTATES; i++) {
		if (to >= 0 ? !share_state_may((enum share_state)i, (enum share_state)to) :
			      share_state_final((enum share_state)i))
			continue;
		if (ts_snprintf(buf + len, cap - len, "%s%s'%s'", len > first ? sep[style] : "", op[style], names[i]) != 0)
			return TS_ELIMIT;
		len += strlen(buf + len);
	}
	if (style == SQL_OR && ts_snprintf(buf + len, cap - len, ")") != 0)
		return TS_ELIMIT;
	return 0;
}

int
share_state_sql_from(enum share_state to, char *buf, size_t cap)
{
	return sql_list((int)to, SQL_IN, buf, cap);
}

int
share_state_sql_open(char *buf, size_t cap)
{
	return sql_list(-1, SQL_IN, buf, cap);
}

int
share_state_sql_from_or(enum share_state to, char *buf, size_t cap)
{
	return sql_list((int)to, SQL_OR, buf, cap);
}

int
share_state_sql_final_and(char *buf, size_t cap)
{
	return sql_list(-1, SQL_AND_NOT, buf, cap);
}
