/*
 * share_state.h — the share's state machine (ARCHITECTURE.md §3), as data:
 * one enum and ONE transition table (share_state.c). The service (share.c)
 * asks share_state_may() before every change, the store persists the names
 * and builds its SQL state lists from the same table (share_state_sql), so no
 * state name is spelled anywhere else.
 *
 *   requested -> eid_confirmed -> authorised -> delivered -> installed
 *   denied | failed | expired | cancel_pending -> revoked
 *
 * `requested` is the state of a share between S11 (the request is received)
 * and S12 (its EID is confirmed). share_request() runs both steps in one
 * transaction, so the state exists in memory only and never on disk: the
 * first confirmation is the synchronous answer to the primary's request (S5
 * answers S4), the EID and app checks need no outside party, and a request
 * that fails them must leave no row (a flood of bad requests cannot grow the
 * database). Every share on disk is therefore past S12.
 *
 * This module is a leaf: it includes nothing from src/node.
 */
#ifndef TS_NODE_SHARE_STATE_H
#define TS_NODE_SHARE_STATE_H

#include <stddef.h>

enum share_state {
	SHARE_REQUESTED = 0,
	SHARE_EID_CONFIRMED,
	SHARE_AUTHORISED,
	SHARE_DELIVERED,
	SHARE_INSTALLED,
	SHARE_DENIED,
	SHARE_FAILED,
	SHARE_EXPIRED,
	SHARE_CANCEL_PENDING,
	SHARE_REVOKED,
	SHARE_NSTATES
};

/* The state's name as stored and shown ("eid_confirmed"); static, never NULL
 * ("?" for a value outside the enum). */
const char *share_state_name(enum share_state s);
/* Parses a stored name; SHARE_NSTATES if unknown. */
enum share_state share_state_parse(const char *name);
/* 1 if the transition table allows from -> to. */
int share_state_may(enum share_state from, enum share_state to);
/* 1 if no transition leaves s (denied, failed, expired, revoked). */
int share_state_final(enum share_state s);
/* Writes the SQL list of the states from which `to` may be reached, e.g.
 * "'authorised','delivered','installed'" for SHARE_EXPIRED. 0, or TS_ELIMIT
 * when cap is too small. */
int share_state_sql_from(enum share_state to, char *buf, size_t cap);
/* The same for the states that are not final (a share still in progress). */
int share_state_sql_open(char *buf, size_t cap);
/* The states share_state_sql_from lists as an OR of equalities,
 * "(state='authorised' OR state='delivered' OR state='installed')", and the
 * final states as an AND of the open states' inequalities,
 * "state<>'requested' AND ... AND state<>'cancel_pending'": SQLite's partial
 * indexes and the queries that use them (an IN list there builds an
 * ephemeral table at every evaluation, a row written included). */
int share_state_sql_from_or(enum share_state to, char *buf, size_t cap);
int share_state_sql_final_and(char *buf, size_t cap);

#endif
