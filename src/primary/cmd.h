/*
 * cmd.h — the commands of `tapshare` (primary device). Each takes the parsed
 * options (borrowed) and returns the process exit status: 0 success, 1 the
 * operation failed (the reason is printed as "tapshare: error: ...").
 */
#ifndef TS_PRIMARY_CMD_H
#define TS_PRIMARY_CMD_H

#include "primary/cli.h"

int cmd_enroll(const cli_opts *o);
int cmd_apps(const cli_opts *o);
int cmd_share(const cli_opts *o);
int cmd_cancel(const cli_opts *o);
int cmd_move(const cli_opts *o); /* move.c */
int cmd_offer(const cli_opts *o); /* offer.c */
int cmd_watch(const cli_opts *o); /* watch.c: follow the events of all the user's shares */
int cmd_device(const cli_opts *o); /* device.c: device list | device revoke [ID] */
/* watch.c: `tapshare shares` as the primary's view (issue 3): DEVICE column,
 * --active; main.c dispatches CLI_CMD_SHARES here (cmd_shares is the older
 * table without them). */
int cmd_shares_view(const cli_opts *o);

/* Prints "tapshare: error: <fmt...>" on stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- cmd.c's helpers for commands in other files (move.c) ---- */
#include <jansson.h>

#include "lib/ndef.h"
#include "primary/nodeapi.h"

typedef struct primary_ctx primary_ctx;
/* Loads primary.ini and opens the mutual-TLS node client; a failure is
 * printed and recorded in doc (may be NULL). Free with cmd_ctx_free. */
int cmd_ctx_open(const cli_opts *o, json_t *doc, primary_ctx **out);
void cmd_ctx_free(primary_ctx *c); /* NULL ok */
nodeapi *cmd_ctx_api(const primary_ctx *c);
/* A value of primary.ini (borrowed from c), NULL when absent. */
const char *cmd_ctx_conf(const primary_ctx *c, const char *section, const char *key);
/* User authorisation (passphrase -> token), failure printed and in doc. */
int cmd_login(const cli_opts *o, primary_ctx *c, json_t *doc);
/* A step line on stdout in text mode (sanitised, flushed). */
void cmd_step(const cli_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cmd_print_json(json_t *doc);
/* At the end of main: under --json prints the envelope of the document the
 * command gave cmd_print_json (success: data; failure: its "error" member
 * as the envelope's error, the rest as data). Returns rc. */
int cmd_finish(const cli_opts *o, int rc);
/* "tapshare: error: <what> (<node error>)", recorded in doc (may be NULL). */
void cmd_node_failed(json_t *doc, const char *what, int rc, const nodeapi_error *e);
void cmd_doc_error(json_t *doc, const char *code, const char *message);
/* S1 over o->link (within o->timeout_s): as share does. */
int cmd_read_identity(const cli_opts *o, json_t *doc, ndef_identity *ident);
/* S6 (kind CLI_WAIT_INSTALL) or S8 (CLI_WAIT_REVOKE): follows the share's
 * events, printing progress, until its outcome or timeout_ms. Returns as
 * nodeapi_wait_events; on 0, *outcome is CLI_EV_SUCCESS or CLI_EV_FAILURE,
 * state the state it put the share in ("installed", "denied", ...) and line
 * the line printed for it. events (may be NULL) gets every event. */
int cmd_wait_share(const cli_opts *o, nodeapi *api, const char *share_id, int kind,
    long timeout_ms, json_t *events, int *outcome, char *state, size_t scap, char *line,
    size_t lcap, nodeapi_error *e);

#endif
